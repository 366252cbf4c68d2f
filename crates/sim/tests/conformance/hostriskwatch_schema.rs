//! The repository's HostRiskWatch CRD on the API server: its CEL rules, list sets, and status
//! writes validated like any write.

use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{json, Value};

use super::support::{
    assert_causes, dynamic, install_crds, namespace, object, status, HOSTRISKWATCH_CRD,
};
use super::{Cluster, Row};

/// Every row of this module.
pub const ROWS: &[Row] = crate::rows![
    hostriskwatch_cel_rules_refuse_with_their_message,
    blocking_schema_errors_skip_cel_rules,
    list_sets_refuse_duplicates,
    status_writes_validate_the_status,
];

/// The HostRiskWatch API of a fresh namespace, the CRD installed.
pub async fn watches(c: &dyn Cluster, prefix: &str) -> Api<DynamicObject> {
    install_crds(&c.admin(), HOSTRISKWATCH_CRD).await;
    let ns = namespace(&c.admin(), prefix).await;
    dynamic(
        &c.admin(),
        "hostrisk.io/v1alpha1",
        "HostRiskWatch",
        "hostriskwatches",
        &ns,
    )
}

fn watch(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "hostrisk.io/v1alpha1", "kind": "HostRiskWatch", "metadata": {"name": name}, "spec": spec})
}

fn valid_spec() -> Value {
    json!({"projectId": "0a1b2c3d4e5f40718293a4b5c6d7e8f9", "region": "ap-southeast-1",
           "hostIds": ["h-1", "h-2"], "credentialsSecretRef": {"name": "creds"}})
}

async fn hostriskwatch_cel_rules_refuse_with_their_message(c: &dyn Cluster) {
    let watches = watches(c, "cel").await;
    let mut spec = valid_spec();
    spec["endpoint"] = json!("https://hss.example.internal");
    let refused = status(
        watches
            .create(&PostParams::default(), &object(watch("both", spec)))
            .await,
    );
    assert_eq!(
        refused.message,
        "HostRiskWatch.hostrisk.io \"both\" is invalid: spec: Invalid value: \"object\": spec.region and spec.endpoint are mutually exclusive: set exactly one of them"
    );
    assert_causes(&refused, &[("spec", "FieldValueInvalid")]);
    watches
        .create(&PostParams::default(), &object(watch("ok", valid_spec())))
        .await
        .unwrap();
    // Rules hold on update too (a merge patch adding the endpoint).
    let patch = json!({"spec": {"endpoint": "https://hss.example.internal"}});
    let refused = status(
        watches
            .patch("ok", &PatchParams::default(), &Patch::Merge(&patch))
            .await,
    );
    assert_causes(&refused, &[("spec", "FieldValueInvalid")]);
}

async fn blocking_schema_errors_skip_cel_rules(c: &dyn Cluster) {
    let watches = watches(c, "blocking").await;
    let mut spec = valid_spec();
    spec["endpoint"] = json!("https://hss.example.internal");
    spec["interval"] = json!(600);
    let refused = status(
        watches
            .create(&PostParams::default(), &object(watch("typed", spec)))
            .await,
    );
    assert_causes(
        &refused,
        &[
            ("<nil>", "FieldValueInvalid"),
            ("spec.interval", "FieldValueTypeInvalid"),
        ],
    );
    assert!(
        refused.message.contains("<nil>: Invalid value: \"null\": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"),
        "{}",
        refused.message
    );
}

async fn list_sets_refuse_duplicates(c: &dyn Cluster) {
    let watches = watches(c, "sets").await;
    let mut spec = valid_spec();
    spec["hostIds"] = json!(["h-1", "h-2", "h-1"]);
    let refused = status(
        watches
            .create(&PostParams::default(), &object(watch("dup", spec)))
            .await,
    );
    assert!(
        refused
            .message
            .contains("spec.hostIds[2]: Duplicate value: \"h-1\""),
        "{}",
        refused.message
    );
}

async fn status_writes_validate_the_status(c: &dyn Cluster) {
    let watches = watches(c, "status").await;
    watches
        .create(&PostParams::default(), &object(watch("w", valid_spec())))
        .await
        .unwrap();
    let condition = json!({"type": "Ready", "status": "True", "reason": "Synced", "message": "ok",
                           "lastTransitionTime": "not a time"});
    let patch = json!({"status": {"conditions": [condition]}});
    let refused = status(
        watches
            .patch_status("w", &PatchParams::default(), &Patch::Merge(&patch))
            .await,
    );
    // A type error blocks the CRD's CEL rules: they are reported as not checked.
    assert_causes(
        &refused,
        &[
            ("<nil>", "FieldValueInvalid"),
            (
                "status.conditions[0].lastTransitionTime",
                "FieldValueTypeInvalid",
            ),
        ],
    );
    let mut fixed = condition.clone();
    fixed["lastTransitionTime"] = json!("2024-05-01T10:00:00Z");
    let missing = json!({"type": "CredentialsValid", "status": "True"});
    let patch = json!({"status": {"conditions": [fixed, missing]}});
    let refused = status(
        watches
            .patch_status("w", &PatchParams::default(), &Patch::Merge(&patch))
            .await,
    );
    assert_causes(
        &refused,
        &[
            ("<nil>", "FieldValueInvalid"),
            (
                "status.conditions[1].lastTransitionTime",
                "FieldValueRequired",
            ),
            ("status.conditions[1].message", "FieldValueRequired"),
            ("status.conditions[1].reason", "FieldValueRequired"),
        ],
    );
    let patch = json!({"status": {"conditions": [fixed]}});
    let written = watches
        .patch_status("w", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    assert_eq!(written.data["status"]["conditions"][0]["reason"], "Synced");
}
