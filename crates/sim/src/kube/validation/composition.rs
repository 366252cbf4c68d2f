//! `allOf`, `anyOf`, `oneOf` and `not` (structural schemas allow them for value validation).
//!
//! copies: kube-openapi's `schemaPropsValidator`: allOf merges every branch's errors and adds
//! `<path> must validate all the schemas (allOf)`; anyOf adds `must validate at least one schema
//! (anyOf)` and the closest branch's errors; oneOf `must validate one and only one schema (oneOf).
//! Found none valid` (or `Found N valid alternatives`); not `must not validate the schema (not)`.
//! These errors have no field name, so apiextensions reports them at `<nil>`.

use serde_json::{json, Value};

use super::field::FieldError;

/// Adds the composition errors of `data` at `path`; `validate` checks `data` against a branch.
pub fn check(
    data: &Value,
    schema: &Value,
    path: &str,
    errors: &mut Vec<FieldError>,
    validate: impl Fn(&Value, &Value, &str) -> Vec<FieldError>,
) {
    let valid = |s: &Value| validate(data, s, path);
    let whole = "<nil>";
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        let mut failed = 0;
        for s in all {
            let errs = valid(s);
            if !errs.is_empty() {
                failed += 1;
            }
            errors.extend(errs);
        }
        if failed > 0 {
            let none = if failed == all.len() {
                ". None validated"
            } else {
                ""
            };
            errors.push(FieldError::invalid(
                whole,
                json!(""),
                format!("{path} must validate all the schemas (allOf){none}"),
            ));
        }
    }
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        let results: Vec<Vec<FieldError>> = any.iter().map(valid).collect();
        if !results.iter().any(Vec::is_empty) {
            errors.push(FieldError::invalid(
                whole,
                json!(""),
                format!("{path} must validate at least one schema (anyOf)"),
            ));
            if let Some(best) = results.into_iter().min_by_key(Vec::len) {
                errors.extend(best);
            }
        }
    }
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
        let results: Vec<Vec<FieldError>> = one.iter().map(valid).collect();
        let passed = results.iter().filter(|r| r.is_empty()).count();
        if passed != 1 {
            let extra = if passed == 0 {
                "Found none valid".to_string()
            } else {
                format!("Found {passed} valid alternatives")
            };
            errors.push(FieldError::invalid(
                whole,
                json!(""),
                format!("{path} must validate one and only one schema (oneOf). {extra}"),
            ));
            if passed == 0 {
                if let Some(best) = results.into_iter().min_by_key(Vec::len) {
                    errors.extend(best);
                }
            }
        }
    }
    if let Some(not) = schema.get("not") {
        if valid(not).is_empty() {
            errors.push(FieldError::invalid(
                whole,
                json!(""),
                format!("{path} must not validate the schema (not)"),
            ));
        }
    }
}
