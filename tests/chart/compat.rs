//! The chart on the Kubernetes versions it supports, through Helm's own install action
//! (`render-chart.py install`: `helm install --dry-run=client --kube-version V`), which checks the
//! chart's `kubeVersion` against the cluster's version before rendering anything.

use super::files::kube_floor_minor;
use super::render::{parse_stream, repo, run_script, values_file};

/// The newest minor the operator is checked on outside this repository (README, "Compatibility").
const NEWEST_CHECKED_MINOR: u32 = 36;

fn install(kube_version: &str, set: &str) -> Result<String, String> {
    let file = values_file(set);
    run_script(&[
        "install",
        "--kube-version",
        kube_version,
        "-f",
        file.to_str().expect("utf-8"),
    ])
}

#[test]
fn the_chart_installs_from_the_floor_to_the_newest_checked_minor() {
    let floor = kube_floor_minor();
    assert_eq!(floor, 30, "README and docs/compatibility.md speak of 1.30");
    for version in [
        format!("v1.{floor}.0"),
        // Vendor builds carry a suffix, which semver reads as a pre-release: `-0` in the
        // constraint admits them.
        format!("v1.{floor}.4-r0"),
        format!("v1.{}.0", floor + 2),
        format!("v1.{NEWEST_CHECKED_MINOR}.0"),
    ] {
        for set in ["defaults", "everything"] {
            let manifest = install(&version, set)
                .unwrap_or_else(|err| panic!("{version}, value set {set}: refused:\n{err}"));
            let rendered = parse_stream(set, &manifest);
            assert_eq!(rendered.deployments.len(), 1, "{version} {set}");
        }
    }
}

/// An older cluster gets Helm's own refusal naming the floor, and the README quotes it verbatim.
#[test]
fn an_older_cluster_is_refused_with_the_floor_in_the_message() {
    let floor = kube_floor_minor();
    let older = format!("v1.{}.15", floor - 1);
    let refusal = install(&older, "defaults").expect_err("the chart installed on an older cluster");
    let message = refusal.trim();
    assert_eq!(
        message,
        format!(
            "chart requires kubeVersion: >=1.{floor}.0-0 which is incompatible with Kubernetes {older}"
        )
    );
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    assert!(
        readme.contains(&format!("```\n{message}\n```")),
        "README's Compatibility section should quote Helm's refusal as it is:\n{message}"
    );
    assert!(readme.contains(&format!("v1.{NEWEST_CHECKED_MINOR}")));
}
