//! The reading walks of structured-merge-diff the stand-in needs: the typed check and the field
//! set of an apply configuration, and the comparison of two objects (merge.rs changes values).
//!
//! copies (structured-merge-diff `typed`): `ToFieldSet` (leaves, atomic lists and maps, list
//! items and undeclared map keys are members; a field holding null or `{}` is a member),
//! `Compare` (added / modified / removed, atomic nodes and nodes empty on both sides compared as
//! leaves, a node absent on one side added or removed).

use serde_json::{Map, Value};

use super::set::{display, FieldSet, Pe};
use super::types::{ListKind, Node, Shape};

/// Added, modified and removed paths between two objects.
#[derive(Debug, Default)]
pub struct Comparison {
    /// In the new object only.
    pub added: FieldSet,
    /// In both, different.
    pub modified: FieldSet,
    /// In the old object only.
    pub removed: FieldSet,
}

/// The path element of list item `item`; Err describes why there is none.
pub fn item_pe(kind: &ListKind, items: Node<'_>, item: &Value) -> Result<Pe, String> {
    match kind {
        ListKind::Set => Ok(Pe::Value(serde_json::to_string(item).unwrap_or_default())),
        ListKind::Map(keys) => {
            let Some(obj) = item.as_object() else {
                return Err("expected map, got a non-object item".into());
            };
            let mut k = Map::new();
            for key in keys {
                match obj.get(key).or_else(|| items.key_default(key)) {
                    Some(v) => {
                        k.insert(key.clone(), v.clone());
                    }
                    None => {
                        return Err(format!(
                            "associative list with keys has an element that omits key field {key:?} (and doesn't have default value)"
                        ))
                    }
                }
            }
            Ok(Pe::Key(
                serde_json::to_string(&Value::Object(k)).unwrap_or_default(),
            ))
        }
        ListKind::Atomic => Err("atomic lists have no item paths".into()),
    }
}

fn empty_or_null(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    }
}

/// copies: `TypedValue.ToFieldSet()` of an apply configuration; Err is the error a real server
/// reports while converting the configuration to a typed object.
pub fn to_set(
    value: &Value,
    node: Node<'_>,
    path: &mut Vec<Pe>,
    set: &mut FieldSet,
) -> Result<(), String> {
    match node.shape(Some(value)) {
        Shape::Scalar | Shape::List(ListKind::Atomic) | Shape::Map { atomic: true } => {
            set.insert(path);
        }
        Shape::List(kind) => {
            let Some(items) = value.as_array() else {
                if !value.is_null() {
                    set.insert(path);
                }
                return Ok(());
            };
            let mut seen = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let pe = item_pe(&kind, node.items(), item)
                    .map_err(|e| format!("{}: element {i}: {e}", display(path)))?;
                if seen.contains(&pe) {
                    let mut p = path.clone();
                    p.push(pe);
                    return Err(format!(
                        "{}: duplicate entries for key {}",
                        display(path),
                        display(&p[p.len() - 1..])
                    ));
                }
                seen.push(pe.clone());
                path.push(pe);
                to_set(item, node.items(), path, set)?;
                set.insert(path);
                path.pop();
            }
        }
        Shape::Map { atomic: false } => {
            let Some(map) = value.as_object() else {
                if !value.is_null() {
                    set.insert(path);
                }
                return Ok(());
            };
            for (k, v) in map {
                path.push(Pe::Field(k.clone()));
                let (child, declared) = node
                    .child(k)
                    .map_err(|_| format!("{}: field not declared in schema", display(path)))?;
                to_set(v, child, path, set)?;
                if v.is_null() || v.as_object().is_some_and(Map::is_empty) || !declared {
                    set.insert(path);
                }
                path.pop();
            }
        }
    }
    Ok(())
}

/// copies: the typed conversion of a configuration: every field of every map (inside atomic
/// lists too) must be declared, every list-map item must have its keys, no key twice.
pub fn check_typed(value: &Value, node: Node<'_>, path: &mut Vec<Pe>) -> Result<(), String> {
    match node.shape(Some(value)) {
        Shape::Scalar => Ok(()),
        Shape::List(kind) => {
            let Some(items) = value.as_array() else {
                return Ok(());
            };
            let mut seen = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let pe = match &kind {
                    ListKind::Atomic => Pe::Index(i),
                    keyed => {
                        let pe = item_pe(keyed, node.items(), item)
                            .map_err(|e| format!("{}: element {i}: {e}", display(path)))?;
                        if seen.contains(&pe) {
                            return Err(format!(
                                "{}: duplicate entries for key {}",
                                display(path),
                                pe.display()
                            ));
                        }
                        seen.push(pe.clone());
                        pe
                    }
                };
                path.push(pe);
                check_typed(item, node.items(), path)?;
                path.pop();
            }
            Ok(())
        }
        Shape::Map { .. } => {
            let Some(map) = value.as_object() else {
                return Ok(());
            };
            for (k, v) in map {
                path.push(Pe::Field(k.clone()));
                let (child, _) = node
                    .child(k)
                    .map_err(|_| format!("{}: field not declared in schema", display(path)))?;
                check_typed(v, child, path)?;
                path.pop();
            }
            Ok(())
        }
    }
}

fn leaf(l: Option<&Value>, r: Option<&Value>, path: &[Pe], cmp: &mut Comparison) {
    match (l, r) {
        (None, _) => cmp.added.insert(path),
        (_, None) => cmp.removed.insert(path),
        (Some(a), Some(b)) if a != b => cmp.modified.insert(path),
        _ => {}
    }
}

/// Items of a list by path element, first occurrence of each, in order.
fn indexed<'v>(kind: &ListKind, items: Node<'_>, list: Option<&'v Value>) -> Vec<(Pe, &'v Value)> {
    let mut out: Vec<(Pe, &Value)> = Vec::new();
    for item in list
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        if let Ok(pe) = item_pe(kind, items, item) {
            if !out.iter().any(|(p, _)| *p == pe) {
                out.push((pe, item));
            }
        }
    }
    out
}

/// copies: `TypedValue.Compare()`.
pub fn compare(
    l: Option<&Value>,
    r: Option<&Value>,
    node: Node<'_>,
    path: &mut Vec<Pe>,
    cmp: &mut Comparison,
) {
    let shape = node.shape(r.or(l));
    let is_leaf = match &shape {
        Shape::Scalar | Shape::List(ListKind::Atomic) | Shape::Map { atomic: true } => true,
        Shape::List(_) => {
            empty_or_null(l) && empty_or_null(r)
                || !l.is_none_or(Value::is_array)
                || !r.is_none_or(Value::is_array)
        }
        Shape::Map { .. } => {
            empty_or_null(l) && empty_or_null(r)
                || !l.is_none_or(|v| v.is_object() || v.is_null())
                || !r.is_none_or(|v| v.is_object() || v.is_null())
        }
    };
    if is_leaf {
        leaf(l, r, path, cmp);
        return;
    }
    match shape {
        Shape::List(kind) => {
            let items = node.items();
            let lhs = indexed(&kind, items, l);
            let rhs = indexed(&kind, items, r);
            for (pe, rv) in &rhs {
                let lv = lhs.iter().find(|(p, _)| p == pe).map(|(_, v)| *v);
                path.push(pe.clone());
                compare(lv, Some(rv), items, path, cmp);
                path.pop();
            }
            for (pe, lv) in &lhs {
                if !rhs.iter().any(|(p, _)| p == pe) {
                    path.push(pe.clone());
                    compare(Some(lv), None, items, path, cmp);
                    path.pop();
                }
            }
        }
        Shape::Map { .. } => {
            let empty = Map::new();
            let lm = l.and_then(Value::as_object).unwrap_or(&empty);
            let rm = r.and_then(Value::as_object).unwrap_or(&empty);
            let mut keys: Vec<&String> = lm.keys().chain(rm.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let child = node.child(k).map(|(c, _)| c).unwrap_or(Node::Deduced);
                path.push(Pe::Field(k.clone()));
                compare(lm.get(k.as_str()), rm.get(k.as_str()), child, path, cmp);
                path.pop();
            }
        }
        Shape::Scalar => {}
    }
    match (l, r) {
        (None, _) => cmp.added.insert(path),
        (_, None) => cmp.removed.insert(path),
        _ => {}
    }
}

/// The field set of a whole value with no schema errors reported (for `before-first-apply`).
pub fn set_of(value: &Value, node: Node<'_>) -> FieldSet {
    let mut set = FieldSet::default();
    let _ = to_set(value, node, &mut Vec::new(), &mut set);
    set
}

#[cfg(test)]
mod tests {
    use super::super::merge::merge;
    use super::*;
    use serde_json::json;

    fn node_schema() -> Value {
        json!({"type": "object", "properties": {
            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {
                "taints": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}},
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {
                "conditions": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"],
                    "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}})
    }

    #[test]
    fn list_maps_merge_by_key_and_atomic_lists_replace() {
        let schema = node_schema();
        let node = Node::Typed(&schema);
        let live = json!({"spec": {"taints": [{"key": "a", "effect": "NoSchedule"}]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "MemoryPressure", "status": "False"}]}});
        let config = json!({"spec": {"taints": [{"key": "b", "effect": "NoSchedule"}]},
            "status": {"conditions": [{"type": "HostSecurityAtRisk", "status": "True"}, {"type": "Ready", "status": "False"}]}});
        let merged = merge(&live, &config, node);
        assert_eq!(
            merged["spec"]["taints"],
            json!([{"key": "b", "effect": "NoSchedule"}])
        );
        assert_eq!(
            merged["status"]["conditions"],
            json!([{"type": "HostSecurityAtRisk", "status": "True"}, {"type": "Ready", "status": "False"}, {"type": "MemoryPressure", "status": "False"}])
        );
        let mut set = FieldSet::default();
        to_set(&config, node, &mut Vec::new(), &mut set).unwrap();
        let v1 = set.to_fields_v1();
        assert_eq!(v1["f:spec"], json!({"f:taints": {}}));
        assert_eq!(
            v1["f:status"]["f:conditions"]["k:{\"type\":\"Ready\"}"],
            json!({".": {}, "f:status": {}, "f:type": {}})
        );
        let mut cmp = Comparison::default();
        compare(Some(&live), Some(&merged), node, &mut Vec::new(), &mut cmp);
        let modified: Vec<String> = cmp.modified.paths().iter().map(|p| display(p)).collect();
        assert_eq!(
            modified,
            [".spec.taints", ".status.conditions[type=\"Ready\"].status"]
        );
        let added: Vec<String> = cmp.added.paths().iter().map(|p| display(p)).collect();
        assert!(
            added.contains(&".status.conditions[type=\"HostSecurityAtRisk\"]".to_string()),
            "{added:?}"
        );
    }

    #[test]
    fn undeclared_fields_and_missing_keys_are_errors() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}}}});
        let err = to_set(
            &json!({"spec": {"b": 1}}),
            Node::Typed(&schema),
            &mut Vec::new(),
            &mut FieldSet::default(),
        );
        assert_eq!(
            err,
            Err(".spec.b: field not declared in schema".to_string())
        );
        let schema = node_schema();
        let err = to_set(
            &json!({"status": {"conditions": [{"status": "True"}]}}),
            Node::Typed(&schema),
            &mut Vec::new(),
            &mut FieldSet::default(),
        );
        assert_eq!(err, Err(".status.conditions: element 0: associative list with keys has an element that omits key field \"type\" (and doesn't have default value)".to_string()));
    }
}
