//! Discovery documents: `/api`, `/api/v1`, `/apis`, `/apis/{group}`, `/apis/{group}/{version}`,
//! and aggregated discovery (`apidiscovery.k8s.io/v2`) for `/api` and `/apis`.
//!
//! copies: the shapes of `APIVersions`, `APIGroupList`, `APIGroup`, `APIResourceList` and
//! `APIGroupDiscoveryList`; aggregated discovery is answered when the Accept header asks for
//! `as=APIGroupDiscoveryList;g=apidiscovery.k8s.io;v=v2` (as kube's `Discovery::run_aggregated`
//! does), the legacy documents otherwise. A group's versions are listed in Kubernetes-aware
//! order, the preferred (highest) first, whatever the storage version.

use serde_json::{json, Value};

use super::resources::{compare_kube_aware, ResourceType};

const VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const STATUS_VERBS: [&str; 3] = ["get", "patch", "update"];

/// Whether the Accept header asks for aggregated discovery v2.
pub fn wants_aggregated(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| {
        a.split(',').next().is_some_and(|first| {
            first.contains("as=APIGroupDiscoveryList") && first.contains("v=v2")
        })
    })
}

/// The `Content-Type` of an aggregated discovery answer.
pub const AGGREGATED_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// `GET /api`.
pub fn core_versions() -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
}

/// `GET /api/v1` or `GET /apis/{group}/{version}`; None if nothing is served there.
pub fn resource_list(types: &[ResourceType], group: &str, version: &str) -> Option<Value> {
    let served: Vec<&ResourceType> = types
        .iter()
        .filter(|t| t.group == group && t.versions.iter().any(|v| v == version))
        .collect();
    if served.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for t in served {
        resources.push(json!({
            "name": t.plural, "singularName": t.singular, "namespaced": t.namespaced,
            "kind": t.kind, "verbs": VERBS, "shortNames": t.short_names,
        }));
        if t.status_subresource {
            resources.push(json!({
                "name": format!("{}/status", t.plural), "singularName": "", "namespaced": t.namespaced,
                "kind": t.kind, "verbs": STATUS_VERBS,
            }));
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

/// The versions served in `group`, preferred first (copies: Kubernetes-aware version order).
fn group_versions(types: &[ResourceType], group: &str) -> Vec<String> {
    let mut versions: Vec<String> = Vec::new();
    for t in types.iter().filter(|t| t.group == group) {
        for v in t.discovery_versions() {
            if !versions.contains(&v) {
                versions.push(v);
            }
        }
    }
    versions.sort_by(|a, b| compare_kube_aware(b, a));
    versions
}

fn group_doc(types: &[ResourceType], group: &str) -> Option<Value> {
    let versions = group_versions(types, group);
    let preferred = versions.first()?.clone();
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    Some(json!({
        "name": group, "versions": vs,
        "preferredVersion": {"groupVersion": format!("{group}/{preferred}"), "version": preferred},
    }))
}

fn named_groups(types: &[ResourceType]) -> Vec<String> {
    let mut groups: Vec<String> = Vec::new();
    for t in types.iter().filter(|t| !t.group.is_empty()) {
        if !groups.contains(&t.group) {
            groups.push(t.group.clone());
        }
    }
    groups
}

/// `GET /apis`.
pub fn group_list(types: &[ResourceType]) -> Value {
    let groups: Vec<Value> = named_groups(types)
        .iter()
        .filter_map(|g| group_doc(types, g))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /apis/{group}`.
pub fn group(types: &[ResourceType], group: &str) -> Option<Value> {
    let mut doc = group_doc(types, group)?;
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

fn aggregated_group(types: &[ResourceType], group: &str) -> Value {
    let versions = group_versions(types, group);
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| {
            let resources: Vec<Value> = types
                .iter()
                .filter(|t| t.group == group && t.versions.contains(v))
                .map(|t| {
                    let kind = json!({"group": group, "version": v, "kind": t.kind});
                    let mut r = json!({
                        "resource": t.plural, "responseKind": kind.clone(),
                        "scope": if t.namespaced { "Namespaced" } else { "Cluster" },
                        "singularResource": t.singular, "verbs": VERBS, "shortNames": t.short_names,
                    });
                    if t.status_subresource {
                        r["subresources"] = json!([{"subresource": "status", "responseKind": kind, "verbs": STATUS_VERBS}]);
                    }
                    r
                })
                .collect();
            json!({"version": v, "resources": resources, "freshness": "Current"})
        })
        .collect();
    json!({"metadata": {"name": group, "creationTimestamp": null}, "versions": vs})
}

/// Aggregated `GET /api` (core = true) or `GET /apis`.
pub fn aggregated(types: &[ResourceType], core: bool) -> Value {
    let items: Vec<Value> = if core {
        vec![aggregated_group(types, "")]
    } else {
        named_groups(types)
            .iter()
            .map(|g| aggregated_group(types, g))
            .collect()
    };
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}
