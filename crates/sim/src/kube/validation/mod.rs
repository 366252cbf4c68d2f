//! Validation of writes, as the registry strategies run it after pruning and defaulting.
//!
//! - custom resources: the OpenAPI schema of the version written (openapi.rs), list-type and
//!   embedded-resource invariants (listtype.rs), then CEL rules (cel.rs) unless a blocking
//!   error came first; on update, errors on values the update did not change are dropped
//!   (`CRDValidationRatcheting`, on by default since 1.30, GA in 1.33);
//! - every object: name, labels, annotations, finalizers (meta.rs);
//! - Nodes: taints and the update rules (node.rs).
//!
//! Answers: 422 `Invalid` with one cause per error (field.rs).

pub mod cel;
mod composition;
pub mod crd;
pub mod field;
mod formats;
pub mod listtype;
pub mod meta;
pub mod node;
pub mod openapi;

use kube::core::cel::RootContext;
use serde_json::Value;

use field::{ErrorType, FieldError};

/// One step of a field path: `spec`, `[3]`.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// Splits `spec.hostIds[3].name` into steps (a map key holding dots is split too: callers
/// only use this where that is harmless).
fn steps(path: &str) -> Option<Vec<Step>> {
    if path == "<nil>" || path.is_empty() {
        return Some(Vec::new());
    }
    let mut out = Vec::new();
    for part in path.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            out.push(Step::Key(name.to_string()));
        }
        while let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            out.push(Step::Index(r[..end].parse().ok()?));
            rest = &r[end + 1..];
        }
    }
    Some(out)
}

/// The schema node at a field path (properties, items, additionalProperties).
pub fn schema_at<'a>(schema: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = schema;
    for step in steps(path)? {
        cur = match step {
            Step::Key(k) => cur
                .pointer(&format!(
                    "/properties/{}",
                    k.replace('~', "~0").replace('/', "~1")
                ))
                .or_else(|| cur.get("additionalProperties").filter(|a| a.is_object()))?,
            Step::Index(_) => cur.get("items")?,
        };
    }
    Some(cur)
}

fn value_at<'a>(obj: &'a Value, path: &str) -> Option<Option<&'a Value>> {
    let mut cur = Some(obj);
    for step in steps(path)? {
        cur = match (cur, step) {
            (Some(v), Step::Key(k)) => v.get(k.as_str()),
            (Some(v), Step::Index(i)) => v.get(i),
            (None, _) => None,
        };
    }
    Some(cur)
}

/// Whether the value an error is about is the same before and after an update (so the
/// error is ratcheted). A Required error is about its parent object.
fn unchanged(e: &FieldError, new: &Value, old: &Value) -> bool {
    let path = if e.kind == ErrorType::Required {
        match e.field.rfind('.') {
            Some(i) => e.field[..i].to_string(),
            None => String::new(),
        }
    } else {
        e.field.clone()
    };
    if path == "<nil>" {
        return false;
    }
    match (value_at(new, &path), value_at(old, &path)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// The schema of one served version of a CRD.
#[derive(Debug)]
pub struct VersionSchema {
    /// `openAPIV3Schema`, if the version has one.
    pub schema: Option<Value>,
    /// Its compiled CEL rules.
    pub rules: Option<cel::Rules>,
    /// The schema with type meta and ObjectMeta, for field ownership (fields/).
    pub typed: Value,
}

impl VersionSchema {
    /// Compiles `schema`'s rules.
    pub fn new(schema: Option<Value>) -> Self {
        let rules = schema.as_ref().map(cel::Rules::compile);
        let typed = super::fields::builtin::custom_root(schema.as_ref());
        Self {
            schema,
            rules,
            typed,
        }
    }

    /// Schema, list-type and CEL errors of a custom resource (`old` on update).
    pub fn validate(
        &self,
        obj: &Value,
        old: Option<&Value>,
        root: &RootContext,
    ) -> Vec<FieldError> {
        let Some(schema) = &self.schema else {
            return Vec::new();
        };
        let mut errors = openapi::validate(obj, schema);
        errors.extend(listtype::validate(obj, schema));
        if let Some(old) = old {
            errors.retain(|e| !unchanged(e, obj, old));
        }
        let Some(rules) = self.rules.as_ref().filter(|r| r.any()) else {
            return errors;
        };
        if errors.iter().any(|e| e.kind.blocks_cel()) {
            errors.push(cel::not_checked());
            return errors;
        }
        {
            let mut failed = rules.validate(schema, obj, old, root);
            if let Some(old) = old {
                failed.retain(|e| !unchanged(e, obj, old));
            }
            errors.extend(failed);
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_resolve_in_values_and_schemas() {
        let obj = json!({"spec": {"l": [{"a": 1}, {"a": 2}]}});
        assert_eq!(value_at(&obj, "spec.l[1].a"), Some(Some(&json!(2))));
        assert_eq!(value_at(&obj, "spec.x"), Some(None));
        let schema = json!({"properties": {"spec": {"properties": {"l": {"items": {"properties": {"a": {"type": "integer"}}}}}}}});
        assert_eq!(
            schema_at(&schema, "spec.l[0].a"),
            Some(&json!({"type": "integer"}))
        );
    }

    #[test]
    fn unchanged_invalid_values_are_ratcheted() {
        let vs = VersionSchema::new(Some(
            json!({"type": "object", "properties": {"spec": {"type": "object",
            "properties": {"a": {"type": "string", "maxLength": 2}, "b": {"type": "string", "maxLength": 2}}}}}),
        ));
        let root = RootContext::default();
        let old = json!({"spec": {"a": "long", "b": "ok"}});
        let touched = json!({"spec": {"a": "long", "b": "xy"}});
        assert!(vs.validate(&touched, Some(&old), &root).is_empty());
        let worse = json!({"spec": {"a": "long", "b": "long"}});
        let errs: Vec<String> = vs
            .validate(&worse, Some(&old), &root)
            .iter()
            .map(FieldError::message)
            .collect();
        assert_eq!(errs, ["spec.b: Too long: may not be longer than 2"]);
    }
}
