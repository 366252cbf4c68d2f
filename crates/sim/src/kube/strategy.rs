//! The registry strategies' steps that create and update share: reading the body (type meta,
//! pruning and defaulting), what a status or main-resource write keeps, and validation.

use kube::core::cel::RootContext;
use serde_json::Value;

use super::resources::ResourceType;
use super::schema::prune_and_default;
use super::status::ApiError;
use super::target::Target;
use super::validation::field::FieldError;
use super::validation::{crd, meta, node};

/// copies: the registry strategies' `PrepareForUpdate` of a status write: custom resources and
/// CRDs keep everything from the stored object but `.status` (metadata included); Nodes and
/// Namespaces only keep `.spec` (their status strategies let metadata change).
pub fn status_write(rt: &ResourceType, old: &Value, mut obj: Value) -> Value {
    if rt.custom || rt.is_crd() {
        let status = obj.get("status").cloned();
        obj = old.clone();
        match status {
            Some(s) => obj["status"] = s,
            None => {
                if let Some(m) = obj.as_object_mut() {
                    m.remove("status");
                }
            }
        }
        return obj;
    }
    match old.get("spec") {
        Some(s) => obj["spec"] = s.clone(),
        None => {
            if let Some(m) = obj.as_object_mut() {
                m.remove("spec");
            }
        }
    }
    obj
}

/// copies: a write to the main resource of a type with a status subresource keeps the stored
/// status.
pub fn main_write(old: &Value, mut obj: Value) -> Value {
    match old.get("status") {
        Some(s) => obj["status"] = s.clone(),
        None => {
            if let Some(m) = obj.as_object_mut() {
                m.remove("status");
            }
        }
    }
    obj
}

/// copies: the decoder's checks of the body's type meta.
pub fn check_type_meta(t: &Target<'_>, obj: &Value) -> Result<(), ApiError> {
    if !obj.is_object() {
        return Err(ApiError::bad_request(
            "Object 'Kind' is missing in request body",
        ));
    }
    let kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or(&t.rt.kind);
    if kind != t.rt.kind {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({})",
            t.rt.kind
        )));
    }
    let want = t.rt.api_version(t.version);
    if let Some(v) = obj.get("apiVersion").and_then(Value::as_str) {
        if v != want {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({want})"
            )));
        }
    }
    Ok(())
}

/// Prunes and defaults a body by the request version's schema (the API server's decoder);
/// with strict field validation, unknown fields are refused.
pub fn decode(t: &Target<'_>, obj: &mut Value) -> Result<(), ApiError> {
    let Some(schema) = t.rt.schema(t.version).and_then(|s| s.schema.as_ref()) else {
        return Ok(());
    };
    let removed = prune_and_default(obj, schema);
    if t.strict_fields && !removed.is_empty() {
        let fields: Vec<String> = removed
            .iter()
            .map(|p| format!("unknown field \"{}\"", p.trim_start_matches('.')))
            .collect();
        return Err(ApiError::bad_request(format!(
            "strict decoding error: {}",
            fields.join(", ")
        )));
    }
    Ok(())
}

/// The strategy's validation of a create (`old` None) or update.
pub fn validate(
    t: &Target<'_>,
    obj: &Value,
    old: Option<&Value>,
    via_status: bool,
) -> Vec<FieldError> {
    let mut errors = meta::validate_labels_annotations(obj);
    if t.unvalidated {
        return errors;
    }
    if t.rt.is_crd() {
        errors.extend(crd::validate(obj));
    }
    if t.rt.group.is_empty() && t.rt.plural == "nodes" {
        errors.extend(node::validate(obj, old, via_status));
    }
    if let Some(schema) = t.rt.schema(t.version) {
        let root = RootContext {
            api_version: t.rt.api_version(t.version),
            api_group: t.rt.group.clone(),
            kind: t.rt.kind.clone(),
        };
        errors.extend(schema.validate(obj, old, &root));
    }
    errors
}
