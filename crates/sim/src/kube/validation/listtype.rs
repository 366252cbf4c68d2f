//! `x-kubernetes-list-type` invariants and embedded resources.
//!
//! copies: apiextensions `listtype.ValidateListSetsAndMaps`: a `set` may not hold the same
//! value twice (`spec.l[2]: Duplicate value: "a"`), a `map` may not hold two items with the
//! same `x-kubernetes-list-map-keys` values (`status.conditions[1]: Duplicate value:
//! map[string]interface {}{"type":"Ready"}`; a missing key counts as its default, else as
//! "unspecified") and its items must be objects; and `schemaobjectmeta.Validate` for
//! `x-kubernetes-embedded-resource` objects: `apiVersion` and `kind` must not be empty.

use serde_json::{json, Map, Value};

use super::super::meta::string_list;
use super::field::{BadValue, FieldError};

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn key_of(item: &Value, keys: &[String], item_schema: &Value) -> Value {
    let mut k = Map::new();
    for key in keys {
        let v = item
            .get(key)
            .cloned()
            .or_else(|| {
                item_schema
                    .pointer(&format!("/properties/{key}/default"))
                    .cloned()
            })
            .unwrap_or_else(|| json!({"<unspecified>": true}));
        k.insert(key.clone(), v);
    }
    Value::Object(k)
}

fn list(items: &[Value], schema: &Value, path: &str, errors: &mut Vec<FieldError>) {
    match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("set") => {
            for (i, item) in items.iter().enumerate() {
                if items[..i].contains(item) {
                    errors.push(FieldError::duplicate(
                        &format!("{path}[{i}]"),
                        BadValue::Json(item.clone()),
                    ));
                }
            }
        }
        Some("map") => {
            if let Some(i) = items.iter().position(|x| !x.is_object() && !x.is_null()) {
                errors.push(FieldError::invalid(
                    &format!("{path}[{i}]"),
                    items[i].clone(),
                    "must be an object for an array of list-type map",
                ));
                return;
            }
            let keys: Vec<String> = string_list(schema.get("x-kubernetes-list-map-keys"));
            let item_schema = schema.get("items").cloned().unwrap_or(Value::Null);
            let seen: Vec<Value> = items
                .iter()
                .map(|x| key_of(x, &keys, &item_schema))
                .collect();
            for i in 0..seen.len() {
                if seen[..i].contains(&seen[i]) {
                    errors.push(FieldError::duplicate(
                        &format!("{path}[{i}]"),
                        BadValue::Raw(super::field::go_sharp_v(&seen[i])),
                    ));
                }
            }
        }
        _ => {}
    }
}

fn walk(v: &Value, schema: &Value, path: &str, root: bool, errors: &mut Vec<FieldError>) {
    match v {
        Value::Object(map) => {
            if !root
                && schema
                    .get("x-kubernetes-embedded-resource")
                    .and_then(Value::as_bool)
                    == Some(true)
            {
                for f in ["apiVersion", "kind"] {
                    if map.get(f).and_then(Value::as_str).is_none_or(str::is_empty) {
                        errors.push(FieldError::required(&join(path, f), "must not be empty"));
                    }
                }
            }
            let props = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for k in keys {
                if root && k == "metadata" {
                    continue;
                }
                let child = props.and_then(|p| p.get(k.as_str())).or(additional);
                if let Some(child) = child {
                    walk(&map[k.as_str()], child, &join(path, k), false, errors);
                }
            }
        }
        Value::Array(items) => {
            list(items, schema, path, errors);
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    walk(item, item_schema, &format!("{path}[{i}]"), false, errors);
                }
            }
        }
        _ => {}
    }
}

/// List-type and embedded-resource errors of a whole custom resource.
pub fn validate(obj: &Value, schema: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    walk(obj, schema, "", true, &mut errors);
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_and_maps_refuse_duplicates() {
        let schema = json!({"type": "object", "properties": {
            "s": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            "m": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"],
                  "items": {"type": "object", "properties": {"type": {"type": "string"}}}},
            "e": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true}
        }});
        let errs: Vec<String> = validate(
            &json!({"s": ["a", "b", "a"], "m": [{"type": "Ready"}, {"type": "Ready", "x": 1}], "e": {"kind": "Pod"}}),
            &schema,
        )
        .iter()
        .map(FieldError::message)
        .collect();
        assert_eq!(
            errs,
            [
                "e.apiVersion: Required value: must not be empty",
                "m[1]: Duplicate value: map[string]interface {}{\"type\":\"Ready\"}",
                "s[2]: Duplicate value: \"a\"",
            ]
        );
    }
}
