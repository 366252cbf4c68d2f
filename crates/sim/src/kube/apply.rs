//! Server-side apply, simplified.
//!
//! copies: `fieldManager` is required (422); applying to a missing object creates it;
//! fields set by one apply manager and changed to a different value by another apply
//! manager answer 409 Conflict unless `force=true` (then ownership moves); fields a manager
//! applied before and leaves out now are removed when no other apply manager owns them.
//!
//! Simplified (documented gaps): ownership is tracked only between *apply* managers, at
//! leaf granularity (objects recurse, every list is atomic, as for CRD lists without
//! `x-kubernetes-list-type`); non-apply writes (PUT/merge patch) take no ownership and never
//! conflict; `metadata.managedFields` is not written.

use std::collections::BTreeMap;

use serde_json::Value;

use super::status::{ApiError, Subject};

/// A leaf path, e.g. `["spec", "interval"]`.
pub type FieldPath = Vec<String>;

/// Identity paths that every apply config carries and that are never removed.
fn is_identity(path: &FieldPath) -> bool {
    matches!(
        path.first().map(String::as_str),
        Some("apiVersion") | Some("kind")
    ) || (path.first().map(String::as_str) == Some("metadata")
        && !matches!(
            path.get(1).map(String::as_str),
            Some("labels") | Some("annotations")
        ))
}

/// Every leaf path of a document.
pub fn leaf_paths(v: &Value) -> Vec<FieldPath> {
    fn walk(v: &Value, prefix: &mut FieldPath, out: &mut Vec<FieldPath>) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, child) in m {
                    prefix.push(k.clone());
                    walk(child, prefix, out);
                    prefix.pop();
                }
            }
            _ => out.push(prefix.clone()),
        }
    }
    let mut out = Vec::new();
    walk(v, &mut Vec::new(), &mut out);
    out.retain(|p| !p.is_empty());
    out
}

fn get<'a>(v: &'a Value, path: &FieldPath) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, k| cur.get(k))
}

fn set(v: &mut Value, path: &FieldPath, value: Value) {
    let mut cur = v;
    for k in &path[..path.len() - 1] {
        if !cur.get(k).is_some_and(Value::is_object) {
            cur[k.as_str()] = Value::Object(Default::default());
        }
        cur = &mut cur[k.as_str()];
    }
    if let Some(last) = path.last() {
        cur[last.as_str()] = value;
    }
}

fn remove(v: &mut Value, path: &FieldPath) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = v;
    for k in parents {
        match cur.get_mut(k) {
            Some(next) => cur = next,
            None => return,
        }
    }
    if let Some(m) = cur.as_object_mut() {
        m.remove(last);
    }
}

/// Applies `config` for `manager` onto `current` (None: object absent), updating `owners`.
pub fn apply(
    current: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    owners: &mut BTreeMap<String, Vec<FieldPath>>,
    subject: &Subject<'_>,
) -> Result<Value, ApiError> {
    let applied = leaf_paths(config);
    let mut result = current
        .cloned()
        .unwrap_or_else(|| Value::Object(Default::default()));
    let mut conflicts = Vec::new();
    for path in applied.iter().filter(|p| !is_identity(p)) {
        for (other, paths) in owners.iter() {
            if other != manager && paths.contains(path) && get(&result, path) != get(config, path) {
                conflicts.push(format!("conflict with \"{other}\": .{}", path.join(".")));
            }
        }
    }
    if !conflicts.is_empty() && !force {
        let mut e = ApiError::conflict(subject);
        e.message = format!(
            "Apply failed with {} conflict{}: {}",
            conflicts.len(),
            if conflicts.len() == 1 { "" } else { "s" },
            conflicts.join(", ")
        );
        return Err(e);
    }
    let previous = owners.remove(manager).unwrap_or_default();
    for path in previous
        .iter()
        .filter(|p| !is_identity(p) && !applied.contains(p))
    {
        if !owners.values().any(|ps| ps.contains(path)) {
            remove(&mut result, path);
        }
    }
    for path in &applied {
        if let Some(v) = get(config, path) {
            set(&mut result, path, v.clone());
        }
    }
    if force {
        for paths in owners.values_mut() {
            paths.retain(|p| !applied.contains(p));
        }
    }
    owners.insert(manager.to_string(), applied);
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn subject() -> Subject<'static> {
        Subject {
            group: "g",
            plural: "things",
            name: "n",
        }
    }

    #[test]
    fn apply_removes_dropped_fields_and_detects_conflicts() {
        let mut owners = BTreeMap::new();
        let s = subject();
        let a = apply(
            None,
            &json!({"spec": {"x": 1, "y": 2}}),
            "a",
            false,
            &mut owners,
            &s,
        )
        .map_err(|e| e.message);
        let a = a.unwrap();
        let b = apply(
            Some(&a),
            &json!({"spec": {"x": 1}}),
            "a",
            false,
            &mut owners,
            &s,
        )
        .map_err(|e| e.message);
        assert_eq!(b.clone().unwrap(), json!({"spec": {"x": 1}}));
        let c = apply(
            Some(&b.unwrap()),
            &json!({"spec": {"x": 5}}),
            "b",
            false,
            &mut owners,
            &s,
        );
        assert_eq!(c.map_err(|e| e.code), Err(409));
        let d = apply(
            Some(&json!({"spec": {"x": 1}})),
            &json!({"spec": {"x": 5}}),
            "b",
            true,
            &mut owners,
            &s,
        );
        assert_eq!(d.map_err(|e| e.code), Ok(json!({"spec": {"x": 5}})));
        assert_eq!(owners.get("a").map(Vec::len), Some(0));
    }
}
