//! Pruning and defaulting of custom resources by their CRD's structural schema.
//!
//! copies (apiextensions-apiserver, structural schemas):
//! - unknown fields are dropped silently (what `fieldValidation=Ignore|Warn` does; the
//!   stand-in sends no warning header) unless `x-kubernetes-preserve-unknown-fields: true`;
//! - `properties` prune and recurse, `additionalProperties` (a schema) recurses into every
//!   value, `items` recurses into every element; an `object` with neither properties,
//!   additionalProperties nor preserve-unknown-fields keeps no fields;
//! - at the root, and in `x-kubernetes-embedded-resource` objects, `apiVersion`, `kind`
//!   and `metadata` are kept (metadata is never pruned by the CR schema);
//! - `null` in a property that is not `nullable` is dropped before defaulting (then defaulted
//!   if the property has a `default`); `null` list items and map values are kept (and
//!   refused by validation);
//! - a `default` is set for a missing property of an object that exists;
//! - with `fieldValidation=Strict` a write that would prune fields answers 400
//!   `strict decoding error: unknown field "spec.x"` instead (see write.rs).
//!
//! The schema is the one of the version written (and of the storage version when the object is
//! converted for storage, see resources.rs). Value validation is validation/.

use serde_json::{Map, Value};

fn preserves(schema: &Value) -> bool {
    schema
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        == Some(true)
}

fn is_type_meta(k: &str) -> bool {
    matches!(k, "apiVersion" | "kind" | "metadata")
}

/// Prunes and defaults `obj` (a whole custom resource) in place; returns the pruned
/// field paths (e.g. `.spec.bogus`), for `fieldValidation=Strict`.
pub fn prune_and_default(obj: &mut Value, schema: &Value) -> Vec<String> {
    let mut removed = Vec::new();
    if let Some(map) = obj.as_object_mut() {
        walk_object(map, schema, true, "", &mut removed, true);
    }
    removed
}

/// Prunes `obj` (a whole custom resource) in place, without defaulting.
pub fn prune(obj: &mut Value, schema: &Value) -> Vec<String> {
    let mut removed = Vec::new();
    if let Some(map) = obj.as_object_mut() {
        walk_object(map, schema, true, "", &mut removed, false);
    }
    removed
}

fn prune_keys(
    map: &mut Map<String, Value>,
    keep: impl Fn(&str) -> bool,
    path: &str,
    removed: &mut Vec<String>,
) {
    map.retain(|k, _| {
        let kept = keep(k);
        if !kept {
            removed.push(format!("{path}.{k}"));
        }
        kept
    });
}

fn walk_object(
    map: &mut Map<String, Value>,
    schema: &Value,
    keep_type_meta: bool,
    path: &str,
    removed: &mut Vec<String>,
    defaulting: bool,
) {
    let props = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties");
    if !preserves(schema) {
        match (props, additional) {
            (Some(p), _) => prune_keys(
                map,
                |k| p.contains_key(k) || (keep_type_meta && is_type_meta(k)),
                path,
                removed,
            ),
            (None, Some(Value::Object(_))) | (None, Some(Value::Bool(true))) => {}
            (None, _) if schema.get("type").and_then(Value::as_str) == Some("object") => {
                prune_keys(map, |k| keep_type_meta && is_type_meta(k), path, removed)
            }
            (None, _) => {}
        }
    }
    if let Some(p) = props {
        for (k, child_schema) in p {
            if keep_type_meta && is_type_meta(k) {
                continue;
            }
            let nullable = child_schema.get("nullable").and_then(Value::as_bool) == Some(true);
            if defaulting && !nullable && map.get(k).is_some_and(Value::is_null) {
                map.remove(k);
            }
            if defaulting && !map.contains_key(k) {
                if let Some(d) = child_schema.get("default") {
                    map.insert(k.clone(), d.clone());
                }
            }
            if let Some(child) = map.get_mut(k) {
                walk(
                    child,
                    child_schema,
                    &format!("{path}.{k}"),
                    removed,
                    defaulting,
                );
            }
        }
    } else if let Some(ap @ Value::Object(_)) = additional {
        for (k, child) in map.iter_mut() {
            walk(child, ap, &format!("{path}.{k}"), removed, defaulting);
        }
    }
}

fn walk(v: &mut Value, schema: &Value, path: &str, removed: &mut Vec<String>, defaulting: bool) {
    match v {
        Value::Object(map) => {
            let embedded = schema
                .get("x-kubernetes-embedded-resource")
                .and_then(Value::as_bool)
                == Some(true);
            walk_object(map, schema, embedded, path, removed, defaulting);
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    walk(
                        item,
                        item_schema,
                        &format!("{path}[{i}]"),
                        removed,
                        defaulting,
                    );
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prunes_unknown_fields_and_sets_defaults() {
        let schema = json!({
            "type": "object",
            "properties": {
                "spec": {"type": "object", "properties": {
                    "size": {"type": "integer", "default": 3},
                    "tags": {"type": "array", "items": {"type": "object", "properties": {"k": {"type": "string"}}}},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "empty": {"type": "object"}
                }},
                "status": {"type": "object", "properties": {"ok": {"type": "boolean"}}}
            }
        });
        let mut obj = json!({
            "apiVersion": "g/v1", "kind": "K", "metadata": {"name": "n", "x": 1},
            "spec": {"bogus": 1, "tags": [{"k": "a", "z": 1}], "labels": {"a": "b"}, "free": {"any": {"thing": 1}}, "empty": {"gone": 1}},
            "status": {"ok": true, "extra": 1},
            "top": 1
        });
        let removed = prune_and_default(&mut obj, &schema);
        assert_eq!(
            removed,
            [
                ".top",
                ".spec.bogus",
                ".spec.empty.gone",
                ".spec.tags[0].z",
                ".status.extra"
            ]
        );
        assert_eq!(
            obj,
            json!({
                "apiVersion": "g/v1", "kind": "K", "metadata": {"name": "n", "x": 1},
                "spec": {"size": 3, "tags": [{"k": "a"}], "labels": {"a": "b"}, "free": {"any": {"thing": 1}}, "empty": {}},
                "status": {"ok": true}
            })
        );
    }
}
