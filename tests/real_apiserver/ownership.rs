//! Server-side apply ownership: a GitOps tool (`kubectl apply --server-side`, its own field
//! manager) owns the spec, the operator (`hostrisk-operator`) owns the status subresource.
//! Re-applying a changed spec after the operator wrote status neither conflicts nor clobbers
//! the status, and managedFields show who owns what.

use std::path::Path;
use std::process::Command;

use hostrisk_envtest::ControlPlane;
use hostrisk_operator::crd::HostRiskWatch;
use k8s_openapi::api::core::v1::Secret;
use kube::api::PostParams;
use kube::Api;

use crate::e2e_story::{demo_secret, is_ready, simulator, wait_for};
use crate::support::*;

const GITOPS: &str = "gitops-sync";

fn manifest(endpoint: &str, interval: &str) -> String {
    format!(
        "apiVersion: hostrisk.io/v1alpha1
kind: HostRiskWatch
metadata:
  name: fleet
  namespace: apps
spec:
  projectId: {project}
  endpoint: {endpoint}
  hostIds: [demo-web-01, demo-db-01]
  credentialsSecretRef: {{name: creds}}
  interval: {interval}
",
        project = hostrisk_sim::hss::DEMO_PROJECT_ID
    )
}

/// `kubectl apply --server-side --field-manager=gitops-sync -f file`; returns stdout, panics
/// with stderr on failure (a conflict is a failure).
fn kubectl_apply(plane: &ControlPlane, file: &Path) -> String {
    let output = Command::new(kubectl())
        .args(["apply", "--server-side", "--field-manager", GITOPS, "-f"])
        .arg(file)
        .env("KUBECONFIG", plane.kubeconfig_path())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", kubectl().display()));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "kubectl apply --server-side failed:\n{stdout}{stderr}"
    );
    assert!(!stderr.to_lowercase().contains("conflict"), "{stderr}");
    stdout
}

fn owns(watch: &HostRiskWatch, manager: &str, subresource: Option<&str>, field: &str) -> bool {
    watch.metadata.managed_fields.iter().flatten().any(|entry| {
        entry.manager.as_deref() == Some(manager)
            && entry.subresource.as_deref() == subresource
            && entry
                .fields_v1
                .as_ref()
                .is_some_and(|f| f.0.pointer(field).is_some())
    })
}

#[tokio::test]
async fn gitops_apply_of_the_spec_neither_conflicts_with_nor_clobbers_the_operators_status() {
    let Some(plane) = cluster(
        "gitops_apply_of_the_spec_neither_conflicts_with_nor_clobbers_the_operators_status",
        false,
    )
    .await
    else {
        return;
    };
    let client = plane.client();
    let sim = simulator().await;
    let mut operator = admin_operator(&plane, sim.base_url().as_str(), "ssa", &[]).await;
    create_namespace_named(&client, "apps").await;
    Api::<Secret>::namespaced(client.clone(), "apps")
        .create(&PostParams::default(), &demo_secret("creds"))
        .await
        .unwrap();
    let watches: Api<HostRiskWatch> = Api::namespaced(client.clone(), "apps");
    let file = plane.dir().join("fleet.yaml");
    std::fs::write(&file, manifest(sim.base_url().as_str(), "1h")).unwrap();
    let out = kubectl_apply(&plane, &file);
    assert!(out.contains("serverside-applied"), "{out}");
    let first = wait_for(&watches, "fleet", "Ready", is_ready).await;
    let status = first.status.clone().unwrap();
    assert_eq!(status.hosts.len(), 2);
    assert!(
        owns(
            &first,
            "hostrisk-operator",
            Some("status"),
            "/f:status/f:conditions"
        ),
        "the operator's status ownership in managedFields: {:#?}",
        first.metadata.managed_fields
    );
    assert!(owns(&first, GITOPS, None, "/f:spec/f:interval"));
    assert!(
        !owns(&first, GITOPS, None, "/f:status"),
        "the GitOps manager owns status"
    );

    // The GitOps tool changes the spec with the same manifest minus nothing but the interval.
    std::fs::write(&file, manifest(sim.base_url().as_str(), "2h")).unwrap();
    let out = kubectl_apply(&plane, &file);
    assert!(out.contains("serverside-applied"), "{out}");
    let applied = watches.get("fleet").await.unwrap();
    assert_eq!(applied.metadata.generation, Some(2));
    assert_eq!(applied.spec.interval.as_deref(), Some("2h"));
    let kept = applied.status.clone().expect("status kept");
    assert_eq!(kept.hosts, status.hosts, "the apply clobbered status.hosts");
    assert_eq!(
        kept.summary, status.summary,
        "the apply clobbered status.summary"
    );
    assert!(owns(
        &applied,
        "hostrisk-operator",
        Some("status"),
        "/f:status/f:hosts"
    ));

    // The operator observes the new generation and still owns status; GitOps still the spec.
    let second = wait_for(&watches, "fleet", "observedGeneration 2", is_ready).await;
    assert_eq!(second.status.as_ref().unwrap().hosts, status.hosts);
    assert!(owns(
        &second,
        "hostrisk-operator",
        Some("status"),
        "/f:status/f:observedGeneration"
    ));
    assert!(owns(&second, GITOPS, None, "/f:spec/f:hostIds"));
    let managers: Vec<String> = second
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .map(|e| {
            format!(
                "{} {} {}",
                e.manager.as_deref().unwrap_or("?"),
                e.operation.as_deref().unwrap_or("?"),
                e.subresource.as_deref().unwrap_or("-")
            )
        })
        .collect();
    eprintln!("managedFields: {managers:?}");
    assert_eq!(operator.terminate(), Some(0));
    sim.shutdown().await;
    plane.stop().await;
}
