//! Strategic merge patch for the built-in kinds (custom resources refuse it with 415).
//!
//! copies (k8s.io/apimachinery `util/strategicpatch`), driven by the fields' patch strategies
//! (fields/builtin.rs: `patchStrategy=merge` + `patchMergeKey` on ObjectMeta `ownerReferences`
//! and `finalizers`, Node `status.conditions` and `status.addresses`, ...):
//! - maps merge key by key, `null` deletes a key, `$patch: replace` replaces a map, `$patch:
//!   delete` deletes it, `$retainKeys` keeps only the listed keys;
//! - a list with `patchStrategy=merge` and a merge key merges item by item by that key (an item
//!   `{<key>: x, $patch: delete}` deletes item x, a `{$patch: replace}` item replaces the list);
//!   a primitive list with `patchStrategy=merge` takes the patch's new values (`$deleteFromPrimitiveList/<f>`
//!   removes values); every other list (Node `spec.taints` among them) is replaced;
//! - `$setElementOrder/<f>` (as client-go and kubectl send it) orders the merged list: the
//!   items it names in its order, the others after them in their previous order.
//!
//! An item of a merge-keyed list without its key answers 500 `map: ... does not contain
//! declared merge key: type`, as the real server does.
//! Not copied: the precise interleaving of server-only items when `$setElementOrder` is used.

use serde_json::{Map, Value};

use super::fields::types::Node;
use super::fields::{self};
use super::resources::ResourceType;
use super::status::ApiError;

fn strategy(node: Node<'_>) -> (bool, Option<String>) {
    match node {
        Node::Typed(s) => (
            s.get("x-kubernetes-patch-strategy")
                .and_then(Value::as_str)
                .is_some_and(|st| st.split(',').any(|p| p == "merge")),
            s.get("x-kubernetes-patch-merge-key")
                .and_then(Value::as_str)
                .map(str::to_string),
        ),
        Node::Deduced => (false, None),
    }
}

fn no_merge_key(item: &Value, key: &str) -> ApiError {
    ApiError::new(
        500,
        "",
        format!("map: {item} does not contain declared merge key: {key}"),
    )
}

fn without_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), without_directives(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(
            a.iter()
                .filter(|i| i.get("$patch").and_then(Value::as_str) != Some("delete"))
                .map(without_directives)
                .collect(),
        ),
        other => other.clone(),
    }
}

fn merge_list(original: &[Value], patch: &[Value], node: Node<'_>) -> Result<Vec<Value>, ApiError> {
    let (merge, key) = strategy(node);
    if !merge {
        return Ok(patch.iter().map(without_directives).collect());
    }
    let Some(key) = key else {
        let mut out = original.to_vec();
        for p in patch {
            if !out.contains(p) {
                out.push(p.clone());
            }
        }
        return Ok(out);
    };
    if patch
        .iter()
        .any(|p| p.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        return Ok(patch
            .iter()
            .filter(|p| p.get("$patch").is_none())
            .map(without_directives)
            .collect());
    }
    let mut out = original.to_vec();
    for p in patch {
        let k = p.get(&key).ok_or_else(|| no_merge_key(p, &key))?;
        let pos = out.iter().position(|o| o.get(&key) == Some(k));
        if p.get("$patch").and_then(Value::as_str) == Some("delete") {
            if let Some(i) = pos {
                out.remove(i);
            }
            continue;
        }
        match pos {
            Some(i) => {
                let mut merged = out[i].clone();
                merge_map(&mut merged, p, node.items())?;
                out[i] = merged;
            }
            None => out.push(without_directives(p)),
        }
    }
    Ok(out)
}

fn order(list: &mut Vec<Value>, order: &[Value], key: Option<&str>) {
    let id = |v: &Value| match key {
        Some(k) => v.get(k).cloned(),
        None => Some(v.clone()),
    };
    let named: Vec<Value> = order
        .iter()
        .filter_map(|o| id(o).or(Some(o.clone())))
        .collect();
    let mut first: Vec<Value> = Vec::new();
    for n in &named {
        if let Some(i) = list.iter().position(|v| id(v).as_ref() == Some(n)) {
            first.push(list.remove(i));
        }
    }
    first.append(list);
    *list = first;
}

fn merge_map(original: &mut Value, patch: &Value, node: Node<'_>) -> Result<(), ApiError> {
    let Some(pm) = patch.as_object() else {
        *original = patch.clone();
        return Ok(());
    };
    match pm.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            *original = without_directives(patch);
            return Ok(());
        }
        Some("delete") => {
            *original = Value::Null;
            return Ok(());
        }
        _ => {}
    }
    if !original.is_object() {
        *original = Value::Object(Map::new());
    }
    let Some(om) = original.as_object_mut() else {
        return Ok(());
    };
    let mut orders: Vec<(String, Vec<Value>)> = Vec::new();
    for (k, pv) in pm {
        if let Some(field) = k.strip_prefix("$setElementOrder/") {
            orders.push((
                field.to_string(),
                pv.as_array().cloned().unwrap_or_default(),
            ));
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(list), Some(gone)) = (
                om.get_mut(field).and_then(Value::as_array_mut),
                pv.as_array(),
            ) {
                list.retain(|v| !gone.contains(v));
            }
            continue;
        }
        if k.starts_with('$') {
            continue;
        }
        let child = node.child(k).map(|(c, _)| c).unwrap_or(Node::Deduced);
        if pv.is_null() {
            om.remove(k);
            continue;
        }
        match (om.get_mut(k), pv) {
            (Some(ov @ Value::Object(_)), Value::Object(_)) => {
                merge_map(ov, pv, child)?;
                if ov.is_null() {
                    om.remove(k);
                }
            }
            (Some(Value::Array(ol)), Value::Array(pl)) => {
                let merged = merge_list(ol, pl, child)?;
                *ol = merged;
            }
            (_, Value::Array(pl)) => {
                let merged = merge_list(&[], pl, child)?;
                om.insert(k.clone(), Value::Array(merged));
            }
            _ => {
                om.insert(k.clone(), without_directives(pv));
            }
        }
    }
    if let Some(keep) = pm.get("$retainKeys").and_then(Value::as_array) {
        om.retain(|k, _| keep.iter().any(|r| r.as_str() == Some(k)));
    }
    for (field, wanted) in orders {
        let child = node.child(&field).map(|(c, _)| c).unwrap_or(Node::Deduced);
        let key = strategy(child).1;
        if let Some(list) = om.get_mut(&field).and_then(Value::as_array_mut) {
            order(list, &wanted, key.as_deref());
        }
    }
    Ok(())
}

/// Applies a strategic merge patch to `doc` (an object of `rt` at `version`).
pub fn strategic_merge_patch(
    doc: &mut Value,
    patch: &Value,
    rt: &ResourceType,
    version: &str,
) -> Result<(), ApiError> {
    if !patch.is_object() {
        return Err(ApiError::bad_request(
            "couldn't get version/kind; json parse error: the patch is not a JSON object",
        ));
    }
    merge_map(doc, patch, fields::root(rt, version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node_type() -> ResourceType {
        super::super::resources::builtins()
            .into_iter()
            .find(|t| t.plural == "nodes")
            .unwrap()
    }

    #[test]
    fn node_conditions_merge_by_type_and_taints_replace() {
        let mut node = json!({"metadata": {"name": "n", "finalizers": ["a"]},
            "spec": {"taints": [{"key": "x", "effect": "NoSchedule"}]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "HostSecurityAtRisk", "status": "False"}]}});
        let patch = json!({
            "metadata": {"finalizers": ["b"]},
            "spec": {"taints": [{"key": "y", "effect": "NoSchedule"}]},
            "status": {
                "$setElementOrder/conditions": [{"type": "HostSecurityAtRisk"}, {"type": "Ready"}],
                "conditions": [{"type": "Ready", "status": "False", "reason": "KubeletNotReady"}]
            }
        });
        strategic_merge_patch(&mut node, &patch, &node_type(), "v1").unwrap();
        assert_eq!(node["metadata"]["finalizers"], json!(["a", "b"]));
        assert_eq!(
            node["spec"]["taints"],
            json!([{"key": "y", "effect": "NoSchedule"}])
        );
        assert_eq!(
            node["status"]["conditions"],
            json!([{"type": "HostSecurityAtRisk", "status": "False"}, {"type": "Ready", "status": "False", "reason": "KubeletNotReady"}])
        );
        let delete =
            json!({"status": {"conditions": [{"type": "HostSecurityAtRisk", "$patch": "delete"}]}});
        strategic_merge_patch(&mut node, &delete, &node_type(), "v1").unwrap();
        assert_eq!(
            node["status"]["conditions"].as_array().map(Vec::len),
            Some(1)
        );
        let keyless = json!({"status": {"conditions": [{"status": "True"}]}});
        let err = strategic_merge_patch(&mut node, &keyless, &node_type(), "v1").unwrap_err();
        assert_eq!(err.code, 500);
    }
}
