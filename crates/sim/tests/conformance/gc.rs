//! Owner references and deletion propagation on an API server without kube-controller-manager
//! (envtest; the stand-in before `enable_garbage_collector`): nothing is collected, so a test
//! there can only check the references and the finalizers the API server adds.

use hostrisk_sim::kube::PolicyReportApi;
use kube::api::{DeleteParams, DynamicObject, PostParams};
use serde_json::json;

use super::support::{
    dynamic, install_crds, install_policy_reports, namespace, object, HOSTRISKWATCH_CRD,
};
use super::{Cluster, Row};

/// Every row of this module.
pub const ROWS: &[Row] = crate::rows![
    dependents_outlive_their_owner_without_a_collector,
    propagation_policies_leave_their_finalizer_without_a_collector,
    owner_references_must_be_complete,
];

async fn owner_and_report(
    c: &dyn Cluster,
    prefix: &str,
) -> (
    kube::Api<DynamicObject>,
    kube::Api<DynamicObject>,
    DynamicObject,
) {
    install_crds(&c.admin(), HOSTRISKWATCH_CRD).await;
    install_policy_reports(&c.admin(), PolicyReportApi::OpenReports).await;
    let ns = namespace(&c.admin(), prefix).await;
    let watches = dynamic(
        &c.admin(),
        "hostrisk.io/v1alpha1",
        "HostRiskWatch",
        "hostriskwatches",
        &ns,
    );
    let reports = dynamic(
        &c.admin(),
        "openreports.io/v1alpha1",
        "Report",
        "reports",
        &ns,
    );
    let owner = watches
        .create(
            &PostParams::default(),
            &object(json!({"apiVersion": "hostrisk.io/v1alpha1", "kind": "HostRiskWatch", "metadata": {"name": "w"},
                "spec": {"projectId": "0a1b2c3d4e5f40718293a4b5c6d7e8f9", "region": "ap-southeast-1",
                         "hostIds": ["h-1"], "credentialsSecretRef": {"name": "creds"}}})),
        )
        .await
        .unwrap();
    (watches, reports, owner)
}

fn owned_report(owner: &DynamicObject) -> DynamicObject {
    object(
        json!({"apiVersion": "openreports.io/v1alpha1", "kind": "Report", "metadata": {"name": "hostrisk-w",
        "ownerReferences": [{"apiVersion": "hostrisk.io/v1alpha1", "kind": "HostRiskWatch", "name": "w",
            "uid": owner.metadata.uid, "controller": true, "blockOwnerDeletion": true}]},
        "results": []}),
    )
}

async fn dependents_outlive_their_owner_without_a_collector(c: &dyn Cluster) {
    let (watches, reports, owner) = owner_and_report(c, "gc-background").await;
    let report = reports
        .create(&PostParams::default(), &owned_report(&owner))
        .await
        .unwrap();
    let refs = report.metadata.owner_references.unwrap();
    assert_eq!(
        (
            refs[0].kind.as_str(),
            refs[0].uid.as_str(),
            refs[0].controller
        ),
        (
            "HostRiskWatch",
            owner.metadata.uid.as_deref().unwrap(),
            Some(true)
        )
    );
    watches.delete("w", &DeleteParams::default()).await.unwrap();
    assert!(watches.get_opt("w").await.unwrap().is_none());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        reports.get_opt("hostrisk-w").await.unwrap().is_some(),
        "no collector: the Report stays"
    );
}

async fn propagation_policies_leave_their_finalizer_without_a_collector(c: &dyn Cluster) {
    let (watches, reports, owner) = owner_and_report(c, "gc-policies").await;
    reports
        .create(&PostParams::default(), &owned_report(&owner))
        .await
        .unwrap();
    watches
        .delete("w", &DeleteParams::foreground())
        .await
        .unwrap();
    let pending = watches.get("w").await.unwrap();
    assert!(pending.metadata.deletion_timestamp.is_some());
    assert_eq!(
        pending.metadata.finalizers,
        Some(vec!["foregroundDeletion".to_string()])
    );
    let (watches, _reports, _owner) = owner_and_report(c, "gc-orphan").await;
    watches.delete("w", &DeleteParams::orphan()).await.unwrap();
    let pending = watches.get("w").await.unwrap();
    assert_eq!(
        pending.metadata.finalizers,
        Some(vec!["orphan".to_string()])
    );
}

async fn owner_references_must_be_complete(c: &dyn Cluster) {
    let (_watches, reports, owner) = owner_and_report(c, "gc-refs").await;
    let mut incomplete = owned_report(&owner);
    incomplete.metadata.owner_references.as_mut().unwrap()[0].uid = String::new();
    let refused = super::support::status(reports.create(&PostParams::default(), &incomplete).await);
    assert_eq!(
        refused.message,
        "Report.openreports.io \"hostrisk-w\" is invalid: metadata.ownerReferences.uid: Invalid value: \"\": uid must not be empty"
    );
    let mut two = owned_report(&owner);
    let mut second = two.metadata.owner_references.as_ref().unwrap()[0].clone();
    second.name = "other".into();
    second.uid = "5c4d0f3a-2f7e-4a51-9c1b-0e2f8a7b6c5d".into();
    two.metadata.owner_references.as_mut().unwrap().push(second);
    let refused = super::support::status(reports.create(&PostParams::default(), &two).await);
    assert!(
        refused.message.contains("Only one reference can have Controller set to true. Found \"true\" in references for HostRiskWatch/w and HostRiskWatch/other"),
        "{}",
        refused.message
    );
}
