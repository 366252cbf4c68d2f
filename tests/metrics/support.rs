//! Helpers that read exposition text the way a scraper would: line by line, by exact series.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hostrisk_operator::crd::HostRiskWatchStatus;
use hostrisk_operator::hss::ratelimit::RateLimiter;
use hostrisk_operator::hss::Credentials;
use hostrisk_operator::metrics::{
    GroupFigures, HostSnapshot, Metrics, PollerView, RiskTotals, WatchSnapshot,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

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
    use hostrisk_operator::hss::Operation::ListHostsRisk;
    metrics.record_status_write_error();
    metrics.record_hss_request(
        ListHostsRisk,
        HssOutcome::Ok,
        Some(200),
        Duration::from_millis(120),
    );
    metrics.record_hss_request(
        ListHostsRisk,
        HssOutcome::Throttled,
        Some(429),
        Duration::from_millis(80),
    );
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
    metrics.set_watch_status(
        "team-a",
        "prod",
        &status(&[
            ("Ready", "False", "Throttled"),
            ("CredentialsValid", "True", "Accepted"),
        ]),
        Duration::from_secs(600),
    );
    metrics.set_watch_last_success(
        "team-a",
        "prod",
        "2026-01-02T03:04:05Z".parse().expect("timestamp"),
    );
    metrics.record_event(true);
    let limiter = RateLimiter::new(5, Duration::from_secs(60));
    limiter.reserve(&Credentials::ak_sk("AKEXAMPLE", "not-shown").identity());
    metrics.observe_quota(limiter);
    metrics.observe_poller(Some(Arc::new(FixedPoller(vec![GroupFigures {
        group: "https://hss.example/ project=p eps=- identity=ak:AKEXAMPLE".into(),
        watches: 2,
        hosts: 3,
        queued: 1,
        last_sweep: Some(Duration::from_secs(42)),
    }]))));
    // Node conditions and taints.
    metrics.set_node_posture(&hostrisk_operator::metrics::NodePostureFigures {
        conditions: vec![("HostSecurityAtRisk", [1, 2, 0])],
        problems: vec![("unprotected", 1, 1, 1)],
        dry_run: true,
    });
    metrics.record_taint_change("unprotected", true, false);
    metrics.record_node_write("conditions", true);
    // Policy reports.
    metrics.seed_policy_report_families();
    metrics.record_policy_report("written");
    metrics.record_policy_report_error("Forbidden");
}

/// A poller whose groups look like this.
pub struct FixedPoller(pub Vec<GroupFigures>);

impl PollerView for FixedPoller {
    fn groups(&self) -> Vec<GroupFigures> {
        self.0.clone()
    }
}

/// A status with these `(type, status, reason)` conditions.
pub fn status(conditions: &[(&str, &str, &str)]) -> HostRiskWatchStatus {
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
