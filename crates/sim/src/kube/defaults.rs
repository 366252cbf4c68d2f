//! Per-type defaults the apiserver's registry strategies set on create.

use serde_json::{json, Value};

use super::meta::{fold_string_data, now_timestamp, set_meta};
use super::resources::{validate_crd, ResourceType};
use super::status::{ApiError, Subject};

/// copies: Secret `type: Opaque` + `stringData` folding; Namespace `spec.finalizers:
/// [kubernetes]`, `status.phase: Active`, label `kubernetes.io/metadata.name`; CRD
/// validation and `Established` / `NamesAccepted` conditions, `acceptedNames`, `storedVersions`.
pub fn apply_type_defaults(rt: &ResourceType, obj: &mut Value, name: &str) -> Result<(), ApiError> {
    match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "secrets") => {
            fold_string_data(obj);
            if obj.get("type").is_none() {
                obj["type"] = json!("Opaque");
            }
        }
        ("", "namespaces") => {
            obj["spec"] = json!({"finalizers": ["kubernetes"]});
            obj["status"] = json!({"phase": "Active"});
            let mut labels = obj
                .pointer("/metadata/labels")
                .cloned()
                .unwrap_or_else(|| json!({}));
            labels["kubernetes.io/metadata.name"] = json!(name);
            set_meta(obj, "labels", labels);
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            validate_crd(obj).map_err(|m| {
                ApiError::invalid(
                    &Subject {
                        group: &rt.group,
                        plural: &rt.plural,
                        name,
                    },
                    "CustomResourceDefinition.apiextensions.k8s.io",
                    m,
                )
            })?;
            let storage = obj
                .pointer("/spec/versions")
                .and_then(Value::as_array)
                .and_then(|vs| {
                    vs.iter()
                        .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
                })
                .and_then(|v| v.get("name").cloned())
                .unwrap_or(Value::Null);
            let now = now_timestamp();
            obj["status"] = json!({
                "acceptedNames": obj.pointer("/spec/names").cloned().unwrap_or(Value::Null),
                "storedVersions": [storage],
                "conditions": [
                    {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now},
                    {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now},
                ]
            });
        }
        _ => {}
    }
    Ok(())
}

/// copies: per-type update validation of the registry strategies the stand-in serves. Nodes:
/// `spec.providerID` may only change from "" (ValidateNodeUpdate).
pub fn check_update(rt: &ResourceType, old: &Value, new: &Value) -> Result<(), String> {
    if rt.group.is_empty() && rt.plural == "nodes" {
        let provider_id = |v: &Value| {
            v.pointer("/spec/providerID")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let (before, after) = (provider_id(old), provider_id(new));
        if !before.is_empty() && before != after {
            return Err("spec.providerID: Forbidden: node updates may not change providerID except from \"\" to valid".into());
        }
    }
    Ok(())
}
