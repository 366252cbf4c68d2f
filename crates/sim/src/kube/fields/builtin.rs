//! The type information of the built-in kinds the stand-in serves, for server-side apply and
//! strategic merge patch: only what differs from "deduced" (granular maps, atomic lists) is
//! spelled out, with the markers Kubernetes' OpenAPI carries for those fields.
//!
//! copies (k8s.io/api `core/v1/types.go`, `meta/v1/types.go`):
//! - ObjectMeta: `finalizers` a set (`patchStrategy=merge`), `ownerReferences` a map keyed by
//!   `uid` (`patchMergeKey=uid`), `labels` / `annotations` granular maps, fixed fields only;
//! - Node: `spec.taints` `+listType=atomic` with no patch strategy (an apply or a strategic
//!   merge patch that sets taints replaces the whole list), `spec.podCIDRs` a set,
//!   `status.conditions` and `status.addresses` maps keyed by `type` (`patchMergeKey=type`);
//! - Namespace and CRD `status.conditions` maps keyed by `type`; ServiceAccount `secrets` a map
//!   keyed by `name`.
//!
//! Everything else of a built-in is deduced here; the real schema declares every field, so
//! an apply of an unknown built-in field is refused there and accepted here (documented gap).

use std::sync::OnceLock;

use serde_json::{json, Value};

fn object_meta() -> Value {
    let s = json!({"type": "string"});
    json!({"type": "object", "properties": {
        "name": s, "generateName": s, "namespace": s, "selfLink": s, "uid": s,
        "resourceVersion": s, "generation": {"type": "integer"}, "creationTimestamp": s,
        "deletionTimestamp": s, "deletionGracePeriodSeconds": {"type": "integer"},
        "labels": {"type": "object", "additionalProperties": s},
        "annotations": {"type": "object", "additionalProperties": s},
        "finalizers": {"type": "array", "items": s, "x-kubernetes-list-type": "set",
                       "x-kubernetes-patch-strategy": "merge"},
        "ownerReferences": {"type": "array", "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["uid"], "x-kubernetes-patch-strategy": "merge",
            "x-kubernetes-patch-merge-key": "uid",
            "items": {"type": "object", "properties": {
                "apiVersion": s, "kind": s, "name": s, "uid": s,
                "controller": {"type": "boolean"}, "blockOwnerDeletion": {"type": "boolean"}}}},
        "managedFields": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
    }})
}

fn keyed(key: &str) -> Value {
    json!({"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": [key],
           "x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": key,
           "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}})
}

fn open(properties: Value) -> Value {
    json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": properties})
}

/// The root schema of a custom resource: its CRD schema with type meta and ObjectMeta.
pub fn custom_root(schema: Option<&Value>) -> Value {
    let mut root = schema
        .cloned()
        .unwrap_or_else(|| json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
    if !root.get("properties").is_some_and(Value::is_object) {
        root["properties"] = json!({});
    }
    root["type"] = json!("object");
    root["properties"]["apiVersion"] = json!({"type": "string"});
    root["properties"]["kind"] = json!({"type": "string"});
    root["properties"]["metadata"] = object_meta();
    root
}

fn builtin_root(group: &str, plural: &str) -> Value {
    let mut props = json!({"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": object_meta()});
    match (group, plural) {
        ("", "nodes") => {
            props["spec"] = open(json!({
                "taints": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
                "podCIDRs": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set",
                             "x-kubernetes-patch-strategy": "merge"},
            }));
            props["status"] =
                open(json!({"conditions": keyed("type"), "addresses": keyed("type")}));
        }
        ("", "namespaces") | ("apiextensions.k8s.io", "customresourcedefinitions") => {
            props["status"] = open(json!({"conditions": keyed("type")}));
        }
        ("", "serviceaccounts") => {
            props["secrets"] = keyed("name");
        }
        _ => {}
    }
    open(props)
}

/// The root schema of a built-in resource (cached).
pub fn builtin(group: &str, plural: &str) -> &'static Value {
    static TYPES: OnceLock<Vec<((&'static str, &'static str), Value)>> = OnceLock::new();
    static OTHER: OnceLock<Value> = OnceLock::new();
    let types = TYPES.get_or_init(|| {
        [
            ("", "nodes"),
            ("", "namespaces"),
            ("apiextensions.k8s.io", "customresourcedefinitions"),
            ("", "serviceaccounts"),
        ]
        .into_iter()
        .map(|(g, p)| ((g, p), builtin_root(g, p)))
        .collect()
    });
    types
        .iter()
        .find(|((g, p), _)| *g == group && *p == plural)
        .map(|(_, v)| v)
        .unwrap_or_else(|| OTHER.get_or_init(|| builtin_root("", "")))
}
