use std::io::Write;
use std::path::{Path, PathBuf};

use hostrisk_sim::kube::policy_reports::{self, PolicyReportApi};

use crate::support::*;

/// The copy the project shares (`shared/testdata/policy-reports` beside the checkout), found
/// from this crate upwards.
fn shared_copy() -> Option<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("shared/testdata/policy-reports"))
        .find(|dir| dir.is_dir())
}

#[test]
fn test_data_is_byte_identical_to_the_shared_copy() {
    for (file, text) in policy_reports::FILES {
        let ours = std::fs::read(policy_reports::dir().join(file)).unwrap();
        assert_eq!(
            ours,
            text.as_bytes(),
            "{file}: the embedded text is the file"
        );
    }
    let Some(shared) = shared_copy() else {
        let _ = writeln!(
            std::io::stderr(),
            "SKIP test_data_is_byte_identical_to_the_shared_copy: no shared/testdata/policy-reports above {}",
            env!("CARGO_MANIFEST_DIR")
        );
        return;
    };
    let mut names: Vec<String> = std::fs::read_dir(&shared)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut ours: Vec<String> = policy_reports::FILES
        .iter()
        .map(|(f, _)| f.to_string())
        .collect();
    ours.sort();
    assert_eq!(names, ours, "the same files as {}", shared.display());
    for (file, text) in policy_reports::FILES {
        let theirs = std::fs::read(shared.join(file)).unwrap();
        assert!(
            theirs == text.as_bytes(),
            "{file} differs from {}",
            shared.display()
        );
    }
}

#[tokio::test]
async fn both_apis_install_and_serve_their_kinds() {
    let (server, client) = server().await;
    let names = server
        .install_policy_report_crds(PolicyReportApi::OpenReports)
        .await
        .unwrap();
    assert_eq!(
        names,
        ["reports.openreports.io", "clusterreports.openreports.io"]
    );
    server
        .install_policy_report_crds(PolicyReportApi::WgPolicyK8s)
        .await
        .unwrap();
    let discovery = kube::Discovery::new(client).run().await.unwrap();
    let kinds: Vec<(String, String)> = discovery
        .groups()
        .flat_map(|g| g.recommended_resources())
        .map(|(ar, _)| (ar.api_version, ar.kind))
        .filter(|(v, _)| v.starts_with("openreports.io") || v.starts_with("wgpolicyk8s.io"))
        .collect();
    for want in [
        ("openreports.io/v1alpha1", "Report"),
        ("openreports.io/v1alpha1", "ClusterReport"),
        ("wgpolicyk8s.io/v1beta1", "PolicyReport"),
        ("wgpolicyk8s.io/v1beta1", "ClusterPolicyReport"),
    ] {
        assert!(
            kinds.contains(&(want.0.to_string(), want.1.to_string())),
            "{want:?} in {kinds:?}"
        );
    }
}
