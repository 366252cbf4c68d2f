//! CRD upgrade: objects created (and given a status by the operator) under the installed CRD
//! stay valid and readable after `kubectl apply --server-side -f crds/` (the documented step
//! before `helm upgrade`): the stored version is still served and still the storage version,
//! every stored object reads back as the current type, passes the current schema on a full
//! re-validation, and the operator keeps reconciling it.

use std::process::Command;
use std::time::Duration;

use hostrisk_operator::crd::HostRiskWatch;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ListParams, PostParams};
use kube::Api;

use crate::e2e_story::{
    demo_secret, is_ready, refresh, simulator, wait_for, wait_for_hss_call, watch_of,
};
use crate::support::*;

#[tokio::test]
async fn objects_stay_valid_and_readable_after_reapplying_crds() {
    let Some(plane) = cluster(
        "objects_stay_valid_and_readable_after_reapplying_crds",
        false,
    )
    .await
    else {
        return;
    };
    let client = plane.client();
    let sim = simulator().await;
    let mut operator = admin_operator(&plane, sim.base_url().as_str(), "crd", &[]).await;
    create_namespace_named(&client, "apps").await;
    Api::<Secret>::namespaced(client.clone(), "apps")
        .create(&PostParams::default(), &demo_secret("creds"))
        .await
        .unwrap();
    let watches: Api<HostRiskWatch> = Api::namespaced(client.clone(), "apps");
    for (name, hosts) in [
        ("one", vec!["demo-web-01"]),
        ("two", vec!["demo-web-01", "demo-db-01", "no-such-host"]),
    ] {
        watches
            .create(
                &PostParams::default(),
                &watch_of(name, &sim, &hosts, "creds"),
            )
            .await
            .unwrap();
        wait_for(&watches, name, "Ready", is_ready).await;
    }
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let before = crds.get(CRD_NAME).await.unwrap();
    let stored_before = before.status.clone().unwrap().stored_versions.unwrap();

    let output = Command::new(kubectl())
        .args(["apply", "--server-side", "-f"])
        .arg(repo().join("crds"))
        .env("KUBECONFIG", plane.kubeconfig_path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "kubectl apply --server-side -f crds/: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    // Every stored version is still served, and one of them is the storage version.
    let after = crds.get(CRD_NAME).await.unwrap();
    let stored_after = after.status.clone().unwrap().stored_versions.unwrap();
    assert_eq!(stored_after, stored_before, "storedVersions changed");
    for stored in &stored_after {
        let version = after
            .spec
            .versions
            .iter()
            .find(|v| &v.name == stored)
            .unwrap_or_else(|| panic!("stored version {stored} dropped from the CRD"));
        assert!(version.served, "stored version {stored} no longer served");
    }
    assert!(
        after
            .spec
            .versions
            .iter()
            .any(|v| v.storage && stored_after.contains(&v.name)),
        "the storage version moved without a migration"
    );
    let established = after
        .status
        .unwrap()
        .conditions
        .unwrap_or_default()
        .iter()
        .any(|c| c.type_ == "Established" && c.status == "True");
    assert!(established);

    // Readable as the current type (status included) and valid under the current schema:
    // a copy of each spec is accepted on create (full validation, no ratcheting).
    let listed = watches.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), 2);
    for watch in &listed.items {
        let status = watch.status.as_ref().expect("status readable");
        assert!(!status.hosts.is_empty());
        let mut copy = watch_of("x", &sim, &[], "creds");
        copy.metadata.name = Some(format!("{}-copy", watch.metadata.name.as_deref().unwrap()));
        copy.spec = watch.spec.clone();
        watches
            .create(&PostParams::default(), &copy)
            .await
            .unwrap_or_else(|e| panic!("a stored spec no longer validates: {e}"));
    }
    // The operator keeps reconciling the existing objects.
    let calls = sim.counters().hss_requests;
    refresh(&watches, "two", "after-crd-apply").await;
    wait_for_hss_call(
        &sim,
        calls,
        Duration::from_secs(30),
        "refresh after the CRD apply",
    )
    .await;
    wait_for(&watches, "two", "Ready after the CRD apply", is_ready).await;
    wait_for(&watches, "one-copy", "the copy Ready", is_ready).await;
    assert!(operator.exited().is_none(), "{}", operator.log());
    assert_eq!(operator.terminate(), Some(0));
    sim.shutdown().await;
    plane.stop().await;
}
