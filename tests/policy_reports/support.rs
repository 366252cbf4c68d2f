//! The suite's set-up: a harness writing reports in one format, its CRDs, a fleet watch.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hostrisk_operator::reports::{ReportFormat, ReportOptions, ReportSettings};
use hostrisk_sim::kube::PolicyReportApi;
use serde_json::Value;

use crate::harness::{condition_is, is_synced, Harness, Options, NS};
use crate::reading::report_of;

/// Every state of the simulator's demo fleet and a host HSS does not know.
pub const FLEET: [&str; 5] = [
    "demo-web-01",
    "demo-db-01",
    "demo-batch-01",
    "demo-new-01",
    "no-such-host",
];

pub fn settings(format: ReportFormat) -> ReportSettings {
    ReportSettings {
        format: Some(format),
        cleanup: true,
        ..ReportSettings::default()
    }
}

pub fn options(format: ReportFormat) -> ReportOptions {
    settings(format).options().expect("on")
}

pub fn crds(format: ReportFormat) -> PolicyReportApi {
    match format {
        ReportFormat::OpenReports => PolicyReportApi::OpenReports,
        ReportFormat::WgPolicyK8s => PolicyReportApi::WgPolicyK8s,
    }
}

/// A controller writing `format` with its CRDs installed (when `installed`).
pub async fn start(format: ReportFormat, installed: bool) -> Harness {
    let h = Harness::start(Options {
        policy_reports: settings(format),
        ..Options::controller()
    })
    .await;
    if installed {
        h.kube
            .install_policy_report_crds(crds(format))
            .await
            .unwrap();
    }
    h.create_demo_secret(NS, "hss-creds").await;
    h
}

/// Ready, and its report written for the current status.
pub async fn written(h: &Harness, name: &str) -> hostrisk_operator::crd::HostRiskWatch {
    h.wait_for(NS, name, "Ready and its report written", |w, s| {
        is_synced(w, s) && condition_is(s, "ReportsWritten", "True", "Written")
    })
    .await
}

/// Waits until the report of `name` satisfies `check` (`None`: there is none).
pub async fn wait_report(
    h: &Harness,
    format: ReportFormat,
    name: &str,
    what: &str,
    check: impl Fn(Option<&Value>) -> bool,
) -> Option<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let report = report_of(&h.client, format, NS, name).await;
        if check(report.as_ref()) {
            return report;
        }
        assert!(Instant::now() < deadline, "timed out: {what}: {report:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Requests the stand-in served so far, by `verb resource[/subresource]`.
pub fn requests(h: &Harness) -> BTreeMap<String, u64> {
    h.kube
        .request_counts()
        .into_iter()
        .map(|(k, n)| {
            let resource = if k.subresource.is_empty() {
                k.resource
            } else {
                format!("{}/{}", k.resource, k.subresource)
            };
            (format!("{} {resource}", k.verb), n)
        })
        .collect()
}

/// What was requested between two [`requests`] snapshots.
pub fn since(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    after
        .iter()
        .filter_map(|(k, n)| {
            let delta = n - before.get(k).copied().unwrap_or(0);
            (delta > 0).then(|| (k.clone(), delta))
        })
        .collect()
}
