//! Value validation of a custom resource by its CRD's OpenAPI v3 schema.
//!
//! copies: kube-openapi's `validate.SchemaValidator` as apiextensions runs it
//! (`ValidateCustomResource(nil, obj, validator)`) and `kubeOpenAPIResultToFieldErrors`:
//! - validators per node in kube-openapi's order: type, allOf/anyOf/oneOf/not, string
//!   (maxLength, minLength, pattern), format, number, array (items first, then minItems,
//!   maxItems), enum, object (minProperties / maxProperties end the node's checks early, then
//!   additionalProperties, properties, required);
//! - paths: `spec.x`, list items `spec.l[0]`, map values `spec.m.key`;
//! - `type` mismatch → TypeInvalid with the value's JSON type (`spec.n in body must be of type
//!   integer: "string"`); an integral float passes as `integer`, an integer as `number`;
//!   `x-kubernetes-int-or-string` means `integer,string`; null only where `nullable`;
//! - `enum` → NotSupported; `required` → Required; `maxLength` → TooLong; `maxItems` and
//!   `maxProperties` → TooMany; everything else → Invalid with kube-openapi's message
//!   (`spec.x in body should be greater than or equal to 1`, `... should match '^a$'`, `...
//!   should have at least 1 items`, `... should be at least 1 chars long`);
//! - `format`: only the formats apiextensions validates (see formats.rs); `int32`, `int64`,
//!   `float`, `double` are not checked, exactly as on a real server;
//! - lengths count characters (runes), patterns are RE2 (the `regex` crate has RE2's syntax).
//!
//! `metadata` is left to object-meta validation (meta.rs), as the real schema is `type: object`.

use serde_json::{json, Value};

use super::field::FieldError;
use super::formats;

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
    }
}

fn schema_types(schema: &Value) -> Vec<String> {
    if schema
        .get("x-kubernetes-int-or-string")
        .and_then(Value::as_bool)
        == Some(true)
    {
        return vec!["integer".into(), "string".into()];
    }
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

fn number(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// Prints a bound the way Go's `%v` prints it for the data's kind (int64 for integers).
fn bound(b: f64, data: &Value) -> String {
    if data.is_i64() || data.is_u64() {
        (b as i64).to_string()
    } else {
        super::field::go_value(&json!(b))
    }
}

struct Walker<'a> {
    errors: &'a mut Vec<FieldError>,
}

impl Walker<'_> {
    fn in_body(path: &str, rest: &str) -> String {
        format!("{path} in body {rest}")
    }

    fn node(&mut self, data: &Value, schema: &Value, path: &str) {
        let types = schema_types(schema);
        let nullable = schema.get("nullable").and_then(Value::as_bool) == Some(true);
        if data.is_null() {
            if !types.is_empty() && !nullable {
                self.errors.push(FieldError::type_invalid(
                    path,
                    json!("null"),
                    format!(
                        "{path} in body must be of type {}: \"null\"",
                        types.join(",")
                    ),
                ));
            }
            self.enumeration(data, schema, path);
            return;
        }
        let actual = json_type(data);
        if !types.is_empty() {
            let integral_float = actual == "number"
                && data.as_f64().is_some_and(|f| f.fract() == 0.0)
                && types.iter().any(|t| t == "integer");
            let int_as_number = actual == "integer" && types.iter().any(|t| t == "number");
            if !(types.iter().any(|t| t == actual) || integral_float || int_as_number) {
                self.errors.push(FieldError::type_invalid(
                    path,
                    json!(actual),
                    format!(
                        "{path} in body must be of type {}: {}",
                        types.join(","),
                        super::field::go_quote(actual)
                    ),
                ));
            }
        }
        super::composition::check(data, schema, path, self.errors, |d, s, p| {
            let mut errs = Vec::new();
            Walker { errors: &mut errs }.node(d, s, p);
            errs
        });
        if let Value::String(s) = data {
            self.string(s, schema, path);
        }
        if data.is_number() {
            self.number(data, schema, path);
        }
        if let Value::Array(items) = data {
            self.array(items, schema, path);
        }
        self.enumeration(data, schema, path);
        if let Value::Object(map) = data {
            self.object(map, schema, path);
        }
    }

    fn string(&mut self, s: &str, schema: &Value, path: &str) {
        let len = s.chars().count() as i64;
        if let Some(max) = schema.get("maxLength").and_then(Value::as_i64) {
            if len > max {
                self.errors.push(FieldError::too_long(path, json!(s), max));
            }
        }
        if let Some(min) = schema.get("minLength").and_then(Value::as_i64) {
            if len < min {
                self.errors.push(FieldError::invalid(
                    path,
                    json!(s),
                    Self::in_body(path, &format!("should be at least {min} chars long")),
                ));
            }
        }
        if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
            let matched = regex::Regex::new(pattern).map(|re| re.is_match(s));
            match matched {
                Ok(true) => {}
                Ok(false) => self.errors.push(FieldError::invalid(
                    path,
                    json!(s),
                    Self::in_body(path, &format!("should match '{pattern}'")),
                )),
                Err(e) => self.errors.push(FieldError::invalid(
                    path,
                    json!(s),
                    Self::in_body(
                        path,
                        &format!("should match '{pattern}, but pattern is invalid: {e}'"),
                    ),
                )),
            }
        }
        if let Some(format) = schema.get("format").and_then(Value::as_str) {
            if !formats::valid(format, s) {
                self.errors.push(FieldError::type_invalid(
                    path,
                    json!(s),
                    format!(
                        "{path} in body must be of type {format}: {}",
                        super::field::go_quote(s)
                    ),
                ));
            }
        }
    }

    fn number(&mut self, data: &Value, schema: &Value, path: &str) {
        let Some(x) = number(data) else { return };
        if let Some(factor) = schema.get("multipleOf").and_then(number) {
            let ratio = if factor < 1.0 {
                x * (1.0 / factor)
            } else {
                x / factor
            };
            if factor > 0.0 && ratio.fract() != 0.0 {
                self.errors.push(FieldError::invalid(
                    path,
                    data.clone(),
                    Self::in_body(
                        path,
                        &format!("should be a multiple of {}", bound(factor, data)),
                    ),
                ));
            }
        }
        if let Some(max) = schema.get("maximum").and_then(number) {
            let exclusive = schema.get("exclusiveMaximum").and_then(Value::as_bool) == Some(true);
            if (exclusive && x >= max) || (!exclusive && x > max) {
                let rel = if exclusive {
                    "less than"
                } else {
                    "less than or equal to"
                };
                self.errors.push(FieldError::invalid(
                    path,
                    data.clone(),
                    Self::in_body(path, &format!("should be {rel} {}", bound(max, data))),
                ));
            }
        }
        if let Some(min) = schema.get("minimum").and_then(number) {
            let exclusive = schema.get("exclusiveMinimum").and_then(Value::as_bool) == Some(true);
            if (exclusive && x <= min) || (!exclusive && x < min) {
                let rel = if exclusive {
                    "greater than"
                } else {
                    "greater than or equal to"
                };
                self.errors.push(FieldError::invalid(
                    path,
                    data.clone(),
                    Self::in_body(path, &format!("should be {rel} {}", bound(min, data))),
                ));
            }
        }
    }

    fn array(&mut self, items: &[Value], schema: &Value, path: &str) {
        if let Some(item_schema) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                self.node(item, item_schema, &format!("{path}[{i}]"));
            }
        }
        let size = items.len() as i64;
        if let Some(min) = schema.get("minItems").and_then(Value::as_i64) {
            if size < min {
                self.errors.push(FieldError::invalid(
                    path,
                    json!(size),
                    Self::in_body(path, &format!("should have at least {min} items")),
                ));
            }
        }
        if let Some(max) = schema.get("maxItems").and_then(Value::as_i64) {
            if size > max {
                self.errors.push(FieldError::too_many(path, size, max));
            }
        }
    }

    fn enumeration(&mut self, data: &Value, schema: &Value, path: &str) {
        let Some(allowed) = schema.get("enum").and_then(Value::as_array) else {
            return;
        };
        let same = |a: &Value| a == data || (a.as_f64().is_some() && a.as_f64() == data.as_f64());
        if !data.is_null() && allowed.iter().any(same) {
            return;
        }
        let supported: Vec<String> = allowed
            .iter()
            .map(|a| match a {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        self.errors
            .push(FieldError::not_supported(path, data.clone(), &supported));
    }

    fn object(&mut self, map: &serde_json::Map<String, Value>, schema: &Value, path: &str) {
        let keys = map.len() as i64;
        if let Some(min) = schema.get("minProperties").and_then(Value::as_i64) {
            if keys < min {
                self.errors.push(FieldError::invalid(
                    path,
                    json!(keys),
                    Self::in_body(path, &format!("should have at least {min} properties")),
                ));
                return;
            }
        }
        if let Some(max) = schema.get("maxProperties").and_then(Value::as_i64) {
            if keys > max {
                self.errors.push(FieldError::too_many(path, keys, max));
                return;
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        if let Some(additional @ Value::Object(_)) = schema.get("additionalProperties") {
            for (k, v) in map {
                if props.is_none_or(|p| !p.contains_key(k)) {
                    self.node(v, additional, &join(path, k));
                }
            }
        }
        if let Some(props) = props {
            let mut names: Vec<&String> = props.keys().collect();
            names.sort();
            for name in names {
                if path.is_empty() && name == "metadata" {
                    continue;
                }
                if let Some(v) = map.get(name) {
                    self.node(v, &props[name.as_str()], &join(path, name));
                }
            }
        }
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for k in required.iter().filter_map(Value::as_str) {
                if !map.contains_key(k) {
                    self.errors.push(FieldError::required(&join(path, k), ""));
                }
            }
        }
    }
}

/// Validates a whole custom resource (its root schema) and returns the field errors.
pub fn validate(obj: &Value, schema: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    Walker {
        errors: &mut errors,
    }
    .node(obj, schema, "");
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(obj: Value, schema: Value) -> Vec<String> {
        validate(&obj, &schema)
            .iter()
            .map(FieldError::message)
            .collect()
    }

    #[test]
    fn each_keyword_answers_like_kube_openapi() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object",
        "required": ["id"],
        "properties": {
            "id": {"type": "string", "minLength": 1, "maxLength": 3, "pattern": "^[a-z]+$"},
            "n": {"type": "integer", "minimum": 1, "maximum": 5},
            "f": {"type": "number", "exclusiveMinimum": true, "minimum": 0.5},
            "e": {"type": "string", "enum": ["a", "b"]},
            "l": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "string"}},
            "m": {"type": "object", "maxProperties": 1, "additionalProperties": {"type": "integer"}},
            "ios": {"x-kubernetes-int-or-string": true},
            "t": {"type": "string", "format": "date-time"},
            "i32": {"type": "integer", "format": "int32"}
        }}}});
        assert_eq!(
            messages(json!({"spec": {"id": "Toolong", "n": 0, "f": 0.5, "e": "c", "l": [], "m": {"a": 1, "b": 2},
                "ios": true, "t": "yesterday", "i32": 9_999_999_999_i64}}), schema.clone()),
            [
                "spec.e: Unsupported value: \"c\": supported values: \"a\", \"b\"",
                "spec.f: Invalid value: 0.5: spec.f in body should be greater than 0.5",
                "spec.id: Too long: may not be longer than 3",
                "spec.id: Invalid value: \"Toolong\": spec.id in body should match '^[a-z]+$'",
                "spec.ios: Invalid value: \"boolean\": spec.ios in body must be of type integer,string: \"boolean\"",
                "spec.l: Invalid value: 0: spec.l in body should have at least 1 items",
                "spec.m: Too many: 2: must have at most 1 items",
                "spec.n: Invalid value: 0: spec.n in body should be greater than or equal to 1",
                "spec.t: Invalid value: \"yesterday\": spec.t in body must be of type date-time: \"yesterday\"",
            ]
        );
        assert_eq!(
            messages(json!({"spec": {"n": "3", "l": ["a", 1, "c"]}}), schema.clone()),
            [
                "spec.l[1]: Invalid value: \"integer\": spec.l[1] in body must be of type string: \"integer\"",
                "spec.l: Too many: 3: must have at most 2 items",
                "spec.n: Invalid value: \"string\": spec.n in body must be of type integer: \"string\"",
                "spec.id: Required value",
            ]
        );
        assert!(messages(
            json!({"spec": {"id": "ab", "n": 5.0, "ios": "50%", "t": "2024-01-02T03:04:05Z"}}),
            schema
        )
        .is_empty());
    }
}
