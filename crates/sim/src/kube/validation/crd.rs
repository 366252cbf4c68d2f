//! The CustomResourceDefinition checks the stand-in copies.
//!
//! copies (`ValidateCustomResourceDefinition`, the parts tests meet): `metadata.name` must be
//! `<plural>.<group>`; `spec.group`, `spec.names.plural`, `spec.names.kind` required;
//! `spec.scope` `Namespaced` or `Cluster`; exactly one storage version.
//! Not copied: structural-schema checks, CEL rule compilation and cost checks (a CRD the real
//! server would refuse for its schema is accepted here).

use serde_json::{json, Value};

use super::field::FieldError;

/// Field errors of a CRD (empty: valid).
pub fn validate(crd: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let text = |p: &str| crd.pointer(p).and_then(Value::as_str);
    for (pointer, field) in [
        ("/spec/group", "spec.group"),
        ("/spec/names/plural", "spec.names.plural"),
        ("/spec/names/kind", "spec.names.kind"),
    ] {
        if text(pointer).is_none_or(str::is_empty) {
            errors.push(FieldError::required(field, ""));
        }
    }
    let scope = text("/spec/scope").unwrap_or("");
    if !matches!(scope, "Namespaced" | "Cluster") {
        errors.push(FieldError::not_supported(
            "spec.scope",
            json!(scope),
            &["Cluster".to_string(), "Namespaced".to_string()],
        ));
    }
    let name = text("/metadata/name").unwrap_or("");
    let want = format!(
        "{}.{}",
        text("/spec/names/plural").unwrap_or(""),
        text("/spec/group").unwrap_or("")
    );
    if name != want {
        errors.push(FieldError::invalid(
            "metadata.name",
            json!(name),
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    match crd.pointer("/spec/versions").and_then(Value::as_array) {
        None => errors.push(FieldError::required("spec.versions", "")),
        Some(versions) => {
            let storage = versions
                .iter()
                .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
                .count();
            if storage != 1 {
                errors.push(FieldError::invalid(
                    "spec.versions",
                    Value::Array(versions.clone()),
                    "must have exactly one version marked as storage version",
                ));
            }
        }
    }
    errors
}
