//! A sample of per-watch series used by the exposition tests: every per-watch family, a watch
//! replaced with fewer categories, a forgotten watch, an unknown category and condition status.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use super::{HostSnapshot, Metrics, RiskTotals, WatchSnapshot};
use crate::crd::HostRiskWatchStatus;

pub(crate) fn status(conditions: &[(&str, &str, &str)]) -> HostRiskWatchStatus {
    HostRiskWatchStatus {
        conditions: conditions
            .iter()
            .map(|(type_, status, reason)| Condition {
                type_: (*type_).into(),
                status: (*status).into(),
                reason: (*reason).into(),
                message: String::new(),
                observed_generation: Some(1),
                last_transition_time: Time(jiff::Timestamp::UNIX_EPOCH),
            })
            .collect(),
        ..HostRiskWatchStatus::default()
    }
}

fn counts(pairs: &[(&str, u64)]) -> std::collections::BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

fn host(id: &str, node: Option<&str>, agent: &str, vulnerability: u64) -> HostSnapshot {
    HostSnapshot {
        host_id: id.to_owned(),
        node: node.map(str::to_owned),
        agent_status: agent.to_owned(),
        protect_status: "opened".to_owned(),
        detect_result: "risk".to_owned(),
        risks: RiskTotals {
            asset: 3,
            vulnerability,
            baseline: 2,
            intrusion: 1,
        },
    }
}

pub(crate) fn snapshot(agent: &[(&str, u64)], hosts: Vec<HostSnapshot>) -> WatchSnapshot {
    WatchSnapshot {
        hosts_by_agent_status: counts(agent),
        hosts_by_protect_status: counts(&[("opened", 2), ("closed", 1)]),
        hosts_by_detect_result: counts(&[("risk", 2), ("clean", 1)]),
        risks: RiskTotals {
            asset: 12,
            vulnerability: 7,
            baseline: 4,
            intrusion: 0,
        },
        hosts_requested: 4,
        hosts_found: 3,
        hosts_not_found: 1,
        hosts,
    }
}

/// Fills `metrics` with the sample.
pub(crate) fn fill(metrics: &Metrics) {
    let at = |text: &str| text.parse::<jiff::Timestamp>().unwrap_or_default();
    // A complete watch, set twice: the second snapshot drops `offline` and host h-2.
    metrics.set_watch_status(
        "team-a",
        "prod",
        &status(&[
            ("Ready", "False", "Throttled"),
            ("CredentialsValid", "True", "Accepted"),
            ("ApiReachable", "Maybe", "Odd"),
        ]),
        Duration::from_secs(600),
    );
    metrics.set_watch_gauges(
        "team-a",
        "prod",
        &snapshot(
            &[("online", 2), ("offline", 1)],
            vec![
                host("h-1", None, "online", 3),
                host("h-2", None, "offline", 4),
            ],
        ),
    );
    metrics.set_watch_gauges(
        "team-a",
        "prod",
        &snapshot(
            &[("online", 3), ("strange", 5)],
            vec![host("h-1", None, "online", 5)],
        ),
    );
    metrics.set_watch_status(
        "team-a",
        "prod",
        &status(&[("Ready", "True", "Polled")]),
        Duration::from_millis(90_500),
    );
    metrics.set_watch_schedule(
        "team-a",
        "prod",
        Duration::from_secs(900),
        Duration::from_millis(300_250),
    );
    metrics.set_watch_last_success("team-a", "prod", at("2026-01-02T03:04:05.678Z"));
    // A node-backed watch with only a schedule and a snapshot.
    metrics.set_watch_schedule("infra", "nodes", Duration::from_secs(60), Duration::ZERO);
    metrics.set_watch_gauges(
        "infra",
        "nodes",
        &snapshot(
            &[("not_installed", 1)],
            vec![host("n-1", Some("node-1"), "not_installed", 0)],
        ),
    );
    // A watch with conditions only, and one forgotten after having every series.
    metrics.set_watch_status(
        "b-ns",
        "only-status",
        &status(&[("NodesResolved", "Unknown", "Pending")]),
        Duration::from_secs(300),
    );
    metrics.set_watch_status(
        "gone",
        "w",
        &status(&[("Ready", "True", "Polled")]),
        Duration::from_secs(60),
    );
    metrics.set_watch_gauges(
        "gone",
        "w",
        &snapshot(&[("online", 1)], vec![host("g-1", None, "online", 1)]),
    );
    metrics.set_watch_schedule("gone", "w", Duration::from_secs(60), Duration::ZERO);
    metrics.set_watch_last_success("gone", "w", at("2026-01-02T03:04:05Z"));
    metrics.forget_watch("gone", "w");
}

#[cfg(test)]
mod capture {
    use super::*;
    use crate::metrics::{ExpositionFormat, MetricsOptions};

    #[test]
    fn capture_old() {
        for per_host in [false, true] {
            let metrics = Metrics::with_version(MetricsOptions { per_host }, "1.2.3");
            fill(&metrics);
            for format in [
                ExpositionFormat::OpenMetrics,
                ExpositionFormat::PrometheusText,
            ] {
                let text = metrics.encode_as(format).unwrap();
                std::fs::write(format!("/tmp/m3exp/new_{per_host}_{format:?}.txt"), text).unwrap();
            }
        }
    }
}
