//! Server-side apply on Nodes beside other writers: the kubelet's conditions and the
//! operator's coexist (a list map keyed by `type`), while `spec.taints` is atomic.

use kube::api::{Patch, PatchParams};
use serde_json::json;

use super::nodes::{apply_node, apply_status, condition, condition_types, node, ours, pp, ready};
use super::support::status;
use super::{Cluster, Row};

/// Every row of this module.
pub const ROWS: &[Row] = crate::rows![
    kubelet_and_operator_conditions_coexist_under_apply,
    taints_are_atomic_under_apply,
];

async fn kubelet_and_operator_conditions_coexist_under_apply(c: &dyn Cluster) {
    let (nodes, name) = node(c, "coexist", json!({"metadata": {}})).await;
    // The kubelet writes its conditions with a strategic merge patch on nodes/status.
    let kubelet = json!({"status": {"conditions": [ready("True")]}});
    nodes
        .patch_status(&name, &pp("kubelet"), &Patch::Strategic(&kubelet))
        .await
        .unwrap();
    let op = PatchParams::apply("hostrisk-operator");
    let applied = nodes
        .patch_status(
            &name,
            &op,
            &Patch::Apply(&apply_status(&name, json!([ours("True")]))),
        )
        .await
        .unwrap();
    assert_eq!(condition(&applied, "Ready").as_deref(), Some("True"));
    assert_eq!(
        condition(&applied, "HostSecurityAtRisk").as_deref(),
        Some("True")
    );
    let entry = applied
        .metadata
        .managed_fields
        .clone()
        .unwrap()
        .into_iter()
        .find(|m| m.manager.as_deref() == Some("hostrisk-operator"))
        .unwrap();
    assert_eq!(
        (entry.operation.as_deref(), entry.subresource.as_deref()),
        (Some("Apply"), Some("status"))
    );
    let owned = entry.fields_v1.unwrap().0;
    assert!(
        owned["f:status"]["f:conditions"]
            .get("k:{\"type\":\"HostSecurityAtRisk\"}")
            .is_some(),
        "{owned}"
    );
    assert!(
        owned["f:status"]["f:conditions"]
            .get("k:{\"type\":\"Ready\"}")
            .is_none(),
        "{owned}"
    );
    // The kubelet flips Ready: ours stays. Then we change ours: no conflict, Ready stays.
    let kubelet = json!({"status": {"conditions": [ready("False")]}});
    let after = nodes
        .patch_status(&name, &pp("kubelet"), &Patch::Strategic(&kubelet))
        .await
        .unwrap();
    assert_eq!(
        condition(&after, "HostSecurityAtRisk").as_deref(),
        Some("True")
    );
    let after = nodes
        .patch_status(
            &name,
            &op,
            &Patch::Apply(&apply_status(&name, json!([ours("False")]))),
        )
        .await
        .unwrap();
    assert_eq!(condition(&after, "Ready").as_deref(), Some("False"));
    assert_eq!(
        condition(&after, "HostSecurityAtRisk").as_deref(),
        Some("False")
    );
    // Applying no conditions removes ours only.
    let after = nodes
        .patch_status(&name, &op, &Patch::Apply(&apply_status(&name, json!([]))))
        .await
        .unwrap();
    assert_eq!(condition_types(&after), ["Ready"]);
    // Applying the kubelet's condition with another value conflicts with the kubelet.
    let refused = status(
        nodes
            .patch_status(
                &name,
                &op,
                &Patch::Apply(&apply_status(&name, json!([ready("True")]))),
            )
            .await,
    );
    assert_eq!(refused.code, 409);
    assert!(
        refused
            .message
            .contains("conflict with \"kubelet\" with subresource \"status\" using v1"),
        "{}",
        refused.message
    );
}

async fn taints_are_atomic_under_apply(c: &dyn Cluster) {
    let admin_taint = json!({"key": "dedicated", "value": "db", "effect": "NoSchedule"});
    let (nodes, name) = node(c, "taints", json!({"metadata": {}})).await;
    nodes
        .patch(
            &name,
            &pp("admin"),
            &Patch::Merge(&json!({"spec": {"taints": [admin_taint]}})),
        )
        .await
        .unwrap();
    let ours = json!({"key": "hostrisk.io/unprotected", "effect": "PreferNoSchedule"});
    let config = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": {"taints": [ours]}});
    let refused = status(apply_node(&nodes, &name, &config).await);
    assert_eq!(
        refused.message,
        "Apply failed with 1 conflict: conflict with \"admin\" using v1: .spec.taints"
    );
    // Forced, the apply owns the whole list: the administrator's taint is gone.
    let forced = nodes
        .patch(
            &name,
            &PatchParams::apply("hostrisk-operator").force(),
            &Patch::Apply(&config),
        )
        .await
        .unwrap();
    let keys: Vec<String> = forced
        .spec
        .unwrap()
        .taints
        .unwrap_or_default()
        .into_iter()
        .map(|t| t.key)
        .collect();
    assert_eq!(keys, ["hostrisk.io/unprotected"]);
}
