//! Nodes and `nodes/status` as the kubelet, an administrator and the operator write them
//! (node_ownership.rs: server-side apply beside other writers).

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{json, Value};

use super::support::{json_patch, status, unique};
use super::{Cluster, Row};

/// Every row of this module.
pub const ROWS: &[Row] = crate::rows![
    a_node_is_created_with_its_status,
    the_main_resource_ignores_status_and_status_ignores_spec,
    strategic_merge_patch_merges_conditions_by_type,
    taints_are_validated,
    a_stale_resource_version_conflicts,
    a_failed_json_patch_test_is_refused,
];

pub fn pp(manager: &str) -> PatchParams {
    PatchParams {
        field_manager: Some(manager.into()),
        ..Default::default()
    }
}

pub async fn node(c: &dyn Cluster, prefix: &str, body: Value) -> (Api<Node>, String) {
    let nodes: Api<Node> = Api::all(c.admin());
    let name = unique(prefix);
    let mut body = body;
    body["metadata"]["name"] = json!(name);
    let node: Node = serde_json::from_value(body).unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    (nodes, name)
}

pub fn condition_types(n: &Node) -> Vec<String> {
    n.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .map(|cs| cs.iter().map(|c| c.type_.clone()).collect())
        .unwrap_or_default()
}

pub fn condition(n: &Node, type_: &str) -> Option<String> {
    n.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status.clone())
}

pub fn ready(status: &str) -> Value {
    json!({"type": "Ready", "status": status, "reason": "KubeletReady", "message": "kubelet is posting ready status",
           "lastHeartbeatTime": "2024-05-01T10:00:00Z", "lastTransitionTime": "2024-05-01T10:00:00Z"})
}

pub fn ours(status: &str) -> Value {
    json!({"type": "HostSecurityAtRisk", "status": status, "reason": "VulnerabilitiesFound",
           "message": "watch security/web-tier: 3 vulnerabilities", "lastHeartbeatTime": "2024-05-01T10:00:00Z",
           "lastTransitionTime": "2024-05-01T10:00:00Z"})
}

/// A server-side apply of `config` to Node `name` by the operator's manager.
pub async fn apply_node(
    nodes: &Api<Node>,
    name: &str,
    config: &Value,
) -> Result<Node, kube::Error> {
    nodes
        .patch(
            name,
            &PatchParams::apply("hostrisk-operator"),
            &Patch::Apply(config),
        )
        .await
}

pub fn apply_status(name: &str, conditions: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "status": {"conditions": conditions}})
}

async fn a_node_is_created_with_its_status(c: &dyn Cluster) {
    let (nodes, name) = node(
        c,
        "created",
        json!({"metadata": {}, "status": {"conditions": [ready("True")]}}),
    )
    .await;
    let got = nodes.get(&name).await.unwrap();
    assert_eq!(
        condition(&got, "Ready").as_deref(),
        Some("True"),
        "Nodes keep status on create"
    );
}

async fn the_main_resource_ignores_status_and_status_ignores_spec(c: &dyn Cluster) {
    let (nodes, name) = node(
        c,
        "split",
        json!({"metadata": {}, "spec": {"unschedulable": false}}),
    )
    .await;
    let through_main =
        json!({"spec": {"unschedulable": true}, "status": {"conditions": [ready("True")]}});
    let after = nodes
        .patch(&name, &pp("admin"), &Patch::Merge(&through_main))
        .await
        .unwrap();
    assert_eq!(
        after.spec.as_ref().and_then(|s| s.unschedulable),
        Some(true)
    );
    assert!(
        condition_types(&after).is_empty(),
        "status through the main resource is ignored"
    );
    let through_status = json!({"metadata": {"labels": {"via": "status"}}, "spec": {"unschedulable": false},
                                "status": {"conditions": [ready("True")]}});
    let after = nodes
        .patch_status(&name, &pp("kubelet"), &Patch::Merge(&through_status))
        .await
        .unwrap();
    assert_eq!(
        after.spec.as_ref().and_then(|s| s.unschedulable),
        Some(true),
        "spec through /status is ignored"
    );
    assert_eq!(condition(&after, "Ready").as_deref(), Some("True"));
    assert_eq!(
        after
            .metadata
            .labels
            .unwrap_or_default()
            .get("via")
            .map(String::as_str),
        Some("status"),
        "the Node status strategy keeps metadata changes"
    );
}

async fn strategic_merge_patch_merges_conditions_by_type(c: &dyn Cluster) {
    let (nodes, name) = node(
        c,
        "smp",
        json!({"metadata": {}, "status": {"conditions": [ready("True"), ours("True")]}}),
    )
    .await;
    let patch = json!({"status": {
        "$setElementOrder/conditions": [{"type": "Ready"}, {"type": "HostSecurityAtRisk"}],
        "conditions": [{"type": "Ready", "status": "False"}]
    }});
    let after = nodes
        .patch_status(&name, &pp("kubelet"), &Patch::Strategic(&patch))
        .await
        .unwrap();
    assert_eq!(condition_types(&after), ["Ready", "HostSecurityAtRisk"]);
    assert_eq!(condition(&after, "Ready").as_deref(), Some("False"));
    assert_eq!(
        condition(&after, "HostSecurityAtRisk").as_deref(),
        Some("True")
    );
    let delete =
        json!({"status": {"conditions": [{"type": "HostSecurityAtRisk", "$patch": "delete"}]}});
    let after = nodes
        .patch_status(&name, &pp("operator"), &Patch::Strategic(&delete))
        .await
        .unwrap();
    assert_eq!(condition_types(&after), ["Ready"]);
}

async fn taints_are_validated(c: &dyn Cluster) {
    let (nodes, name) = node(c, "bad-taints", json!({"metadata": {}})).await;
    let bogus =
        json!({"spec": {"taints": [{"key": "hostrisk.io/at-risk", "effect": "Sometimes"}]}});
    let refused = status(
        nodes
            .patch(&name, &pp("admin"), &Patch::Merge(&bogus))
            .await,
    );
    assert_eq!(
        refused.message,
        format!("Node \"{name}\" is invalid: metadata.taints[0].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"")
    );
    let twice = json!({"spec": {"taints": [
        {"key": "hostrisk.io/at-risk", "effect": "NoSchedule"},
        {"key": "hostrisk.io/at-risk", "value": "x", "effect": "NoSchedule"}]}});
    let refused = status(
        nodes
            .patch(&name, &pp("admin"), &Patch::Merge(&twice))
            .await,
    );
    let cause = refused.details.unwrap().causes.remove(0);
    assert_eq!(
        (cause.reason.as_str(), cause.field.as_str()),
        ("FieldValueDuplicate", "metadata.taints[1]")
    );
    assert!(
        cause
            .message
            .ends_with("taints must be unique by key and effect pair"),
        "{}",
        cause.message
    );
    let bad_key = json!({"spec": {"taints": [{"key": "bad key", "effect": "NoSchedule"}]}});
    let refused = status(
        nodes
            .patch(&name, &pp("admin"), &Patch::Merge(&bad_key))
            .await,
    );
    assert_eq!(
        refused.details.unwrap().causes[0].field,
        "metadata.taints[0].key"
    );
}

async fn a_stale_resource_version_conflicts(c: &dyn Cluster) {
    let (nodes, name) = node(c, "rv", json!({"metadata": {}})).await;
    let read = nodes.get(&name).await.unwrap();
    let rv = read.metadata.resource_version.clone().unwrap();
    nodes
        .patch(
            &name,
            &pp("admin"),
            &Patch::Merge(&json!({"metadata": {"labels": {"a": "b"}}})),
        )
        .await
        .unwrap();
    let stale = json!({"metadata": {"resourceVersion": rv}, "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]}});
    let refused = status(
        nodes
            .patch(&name, &pp("admin"), &Patch::Merge(&stale))
            .await,
    );
    assert_eq!((refused.code, refused.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        refused.message,
        format!("Operation cannot be fulfilled on nodes \"{name}\": the object has been modified; please apply your changes to the latest version and try again")
    );
    // The same through the status subresource and by a replace.
    let refused = status(
        nodes
            .patch_status(
                &name,
                &pp("kubelet"),
                &Patch::Merge(
                    &json!({"metadata": {"resourceVersion": rv}, "status": {"phase": "Running"}}),
                ),
            )
            .await,
    );
    assert_eq!(refused.code, 409);
    let refused = status(nodes.replace(&name, &PostParams::default(), &read).await);
    assert_eq!(refused.code, 409);
    // An apply configuration naming a resourceVersion is a precondition too.
    let config = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "resourceVersion": rv},
        "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]}});
    let refused = status(apply_node(&nodes, &name, &config).await);
    assert_eq!((refused.code, refused.reason.as_str()), (409, "Conflict"));
}

async fn a_failed_json_patch_test_is_refused(c: &dyn Cluster) {
    let (nodes, name) = node(
        c,
        "jsonpatch",
        json!({"metadata": {}, "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]}}),
    )
    .await;
    let path = format!("/api/v1/nodes/{name}?fieldManager=admin");
    let failing = json!([
        {"op": "test", "path": "/spec/taints/0/key", "value": "other"},
        {"op": "remove", "path": "/spec/taints/0"}
    ]);
    let refused = status(json_patch(&c.admin(), &path, &failing).await);
    assert_eq!((refused.code, refused.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        refused.message,
        "the server rejected our request due to an error in our request"
    );
    let after = nodes.get(&name).await.unwrap();
    assert_eq!(
        after.spec.unwrap().taints.unwrap().len(),
        1,
        "nothing was written"
    );
    let holding = json!([
        {"op": "test", "path": "/spec/taints/0/key", "value": "k"},
        {"op": "remove", "path": "/spec/taints/0"}
    ]);
    let after = json_patch(&c.admin(), &path, &holding).await.unwrap();
    assert!(
        after["spec"].get("taints").is_none_or(|t| t == &json!([])),
        "{after}"
    );
}
