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
mod tests {
    use super::*;
    use crate::metrics::{ExpositionFormat, MetricsOptions};

    /// The text split into families (comment lines, then the sorted samples): series order
    /// within a family is not part of the format, and the label-keyed families had none.
    fn families(text: &str) -> Vec<(Vec<&str>, Vec<&str>)> {
        let mut out: Vec<(Vec<&str>, Vec<&str>)> = Vec::new();
        for line in text.lines() {
            let starts_family = line.starts_with("# HELP ") || line == "# EOF";
            match out.last_mut() {
                Some((_, samples)) if !starts_family && !line.starts_with('#') => {
                    samples.push(line)
                }
                Some((comments, samples)) if !starts_family && samples.is_empty() => {
                    comments.push(line)
                }
                _ => out.push((vec![line], Vec::new())),
            }
        }
        for (_, samples) in &mut out {
            samples.sort_unstable();
        }
        out
    }

    fn encoded(per_host: bool, format: ExpositionFormat) -> String {
        let metrics = Metrics::with_version(MetricsOptions { per_host }, "1.2.3");
        fill(&metrics);
        metrics.encode_as(format).unwrap_or_default()
    }

    /// The texts the sample produced when every series was a gauge in a label-keyed family.
    const LABELLED: [(bool, ExpositionFormat, &str); 4] = [
        (
            false,
            ExpositionFormat::OpenMetrics,
            include_str!("testdata/watches.om.txt"),
        ),
        (
            false,
            ExpositionFormat::PrometheusText,
            include_str!("testdata/watches.prom.txt"),
        ),
        (
            true,
            ExpositionFormat::OpenMetrics,
            include_str!("testdata/watches_per_host.om.txt"),
        ),
        (
            true,
            ExpositionFormat::PrometheusText,
            include_str!("testdata/watches_per_host.prom.txt"),
        ),
    ];

    #[test]
    fn the_records_write_what_the_labelled_families_wrote() {
        for (per_host, format, expected) in LABELLED {
            let text = encoded(per_host, format);
            assert_eq!(
                families(&text),
                families(expected),
                "{format:?} per_host={per_host}"
            );
        }
    }

    #[test]
    fn series_come_in_the_same_order_at_every_scrape() {
        let metrics = Metrics::with_version(MetricsOptions { per_host: false }, "1.2.3");
        fill(&metrics);
        let first = metrics.encode().unwrap_or_default();
        assert_eq!(metrics.encode().unwrap_or_default(), first);
        let watches: Vec<&str> = first
            .lines()
            .filter(|l| l.starts_with("hostrisk_watch_interval_lag_seconds{"))
            .collect();
        assert_eq!(
            watches,
            [
                r#"hostrisk_watch_interval_lag_seconds{namespace="infra",name="nodes"} 0.0"#,
                r#"hostrisk_watch_interval_lag_seconds{namespace="team-a",name="prod"} 300.25"#,
            ]
        );
    }

    #[test]
    fn stale_categories_and_forgotten_watches_leave_no_series() {
        let text = encoded(true, ExpositionFormat::OpenMetrics);
        assert!(!text.contains(r#"namespace="gone""#));
        assert!(!text.contains(r#"agent_status="offline""#));
        assert!(!text.contains(r#"host_id="h-2""#));
        assert!(text.contains(r#"hostrisk_watch_hosts_by_agent_status{namespace="team-a",name="prod",agent_status="strange"} 5"#));

        let metrics = Metrics::with_version(MetricsOptions { per_host: true }, "1.2.3");
        fill(&metrics);
        for (namespace, name) in [
            ("team-a", "prod"),
            ("infra", "nodes"),
            ("b-ns", "only-status"),
        ] {
            metrics.forget_watch(namespace, name);
        }
        let text = metrics.encode().unwrap_or_default();
        // No series, and like any labelled family without series, no HELP or TYPE either.
        assert!(!text.contains("hostrisk_watch_"), "{text}");
        assert!(!text.contains("hostrisk_host_"), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }
}
