//! Per-type defaults the apiserver's registry strategies set on create.

use serde_json::{json, Value};

use super::meta::{fold_string_data, now_timestamp, set_meta};
use super::resources::ResourceType;

/// copies: Secret `type: Opaque` + `stringData` folding; Namespace `spec.finalizers:
/// [kubernetes]`, `status.phase: Active`, label `kubernetes.io/metadata.name`; CRD
/// `Established` / `NamesAccepted` conditions, `acceptedNames`, `storedVersions`.
pub fn apply_type_defaults(rt: &ResourceType, obj: &mut Value, name: &str) {
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
}
