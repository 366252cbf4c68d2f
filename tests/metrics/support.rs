//! Helpers that read exposition text the way a scraper would: line by line, by exact series.

use std::collections::BTreeMap;
use std::time::Duration;

use hostrisk_operator::metrics::{HostSnapshot, Metrics, RiskTotals, WatchSnapshot};

/// Value of the sample whose name-and-labels part is exactly `series`
/// (e.g. `hostrisk_reconciles_total{result="ok"}`), if the text has one.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(series)?.strip_prefix(' ')?;
        rest.trim().parse::<f64>().ok()
    })
}

/// Sample lines (not comments) that contain `needle`.
pub fn samples_containing<'a>(text: &'a str, needle: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|l| !l.starts_with('#') && l.contains(needle))
        .collect()
}

pub fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

pub fn host(id: &str, agent: &str, vulnerability: u64) -> HostSnapshot {
    HostSnapshot {
        host_id: id.to_owned(),
        node: None,
        agent_status: agent.to_owned(),
        protect_status: "opened".to_owned(),
        detect_result: "risk".to_owned(),
        risks: RiskTotals {
            asset: 1,
            vulnerability,
            baseline: 2,
            intrusion: 0,
        },
    }
}

/// A two-host watch as a poll would report it.
pub fn two_host_snapshot() -> WatchSnapshot {
    WatchSnapshot {
        hosts_by_agent_status: counts(&[("online", 1), ("offline", 1)]),
        hosts_by_protect_status: counts(&[("opened", 2)]),
        hosts_by_detect_result: counts(&[("risk", 2)]),
        risks: RiskTotals {
            asset: 2,
            vulnerability: 7,
            baseline: 4,
            intrusion: 0,
        },
        hosts_requested: 3,
        hosts_found: 2,
        hosts_not_found: 1,
        hosts: vec![host("h-1", "online", 3), host("h-2", "offline", 4)],
    }
}

/// Calls every recording method once so every family has at least one series.
pub fn exercise_everything(metrics: &Metrics) {
    use hostrisk_operator::metrics::{HssOutcome, ReconcileOutcome};
    metrics.record_reconcile(ReconcileOutcome::Ok, Duration::from_millis(20));
    metrics.record_reconcile(
        ReconcileOutcome::Error("SecretNotFound"),
        Duration::from_millis(5),
    );
    metrics.record_status_write(true);
    metrics.record_status_write(false);
    metrics.record_hss_request(HssOutcome::Ok, Some(200), Duration::from_millis(120));
    metrics.record_hss_request(HssOutcome::Throttled, Some(429), Duration::from_millis(80));
    metrics.record_retry();
    metrics.record_quota_wait(Duration::from_secs(12));
    metrics.set_leader(true);
    metrics.set_watch_schedule(
        "team-a",
        "prod",
        Duration::from_secs(900),
        Duration::from_secs(300),
    );
    metrics.set_watch_gauges("team-a", "prod", &two_host_snapshot());
    metrics.set_watch_conditions(
        "team-a",
        "prod",
        &[("Ready", "False"), ("CredentialsValid", "True")],
    );
    metrics.set_watch_last_success(
        "team-a",
        "prod",
        "2026-01-02T03:04:05Z".parse().expect("timestamp"),
    );
    metrics.record_event(true);
}
