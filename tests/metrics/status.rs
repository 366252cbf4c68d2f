//! The series set from a watch's status (conditions, the Ready reason, its interval), the seed a
//! starting operator takes from stored statuses, and the series read at scrape time from the
//! rate limiter and the poller.

use std::sync::Arc;
use std::time::Duration;

use hostrisk_operator::crd::validation::ValidationPolicy;
use hostrisk_operator::crd::{HostRiskSummary, HostRiskWatch, HostRiskWatchSpec};
use hostrisk_operator::hss::ratelimit::RateLimiter;
use hostrisk_operator::hss::Credentials;
use hostrisk_operator::metrics::{GroupFigures, Metrics, MetricsOptions};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::support::{sample, samples_containing, status, two_host_snapshot, FixedPoller};

const W: &str = "namespace=\"team-a\",name=\"prod\"";

fn policy() -> ValidationPolicy {
    ValidationPolicy {
        default_interval: Duration::from_secs(600),
        ..ValidationPolicy::default()
    }
}

#[test]
fn a_watch_has_one_ready_reason_series_and_free_text_never_becomes_a_label() {
    let metrics = Metrics::new(MetricsOptions::default());
    let ten_minutes = Duration::from_secs(600);
    metrics.set_watch_status(
        "team-a",
        "prod",
        &status(&[("Ready", "True", "Synced")]),
        ten_minutes,
    );
    metrics.set_watch_status(
        "team-a",
        "prod",
        &status(&[("Ready", "False", "Throttled")]),
        ten_minutes,
    );
    let text = metrics.encode().expect("encode");
    assert_eq!(
        samples_containing(&text, "hostrisk_watch_ready_reason{"),
        [format!(
            "hostrisk_watch_ready_reason{{{W},reason=\"Throttled\"}} 1"
        )]
    );
    assert_eq!(
        sample(&text, &format!("hostrisk_watch_interval_seconds{{{W}}}")),
        Some(600.0)
    );
    metrics.set_watch_status(
        "team-a",
        "prod",
        &status(&[("Ready", "False", "polling failed: 503")]),
        ten_minutes,
    );
    let text = metrics.encode().expect("encode");
    assert_eq!(
        samples_containing(&text, "hostrisk_watch_ready_reason{"),
        [format!(
            "hostrisk_watch_ready_reason{{{W},reason=\"Other\"}} 1"
        )]
    );
}

/// A watch as the API server stores it after a successful poll by a previous operator process.
fn stored_watch(interval: Option<&str>) -> HostRiskWatch {
    let mut watch = HostRiskWatch::new(
        "prod",
        HostRiskWatchSpec {
            interval: interval.map(str::to_owned),
            ..serde_json::from_value(serde_json::json!({
                "projectId": "p", "region": "ap-southeast-1", "hostIds": ["h-1"],
                "credentialsSecretRef": {"name": "hss"},
            }))
            .expect("spec")
        },
    );
    watch.metadata.namespace = Some("team-a".into());
    let mut stored = status(&[
        ("Ready", "True", "QuotaLimited"),
        ("CredentialsValid", "True", "Accepted"),
        ("ApiReachable", "True", "Reachable"),
    ]);
    stored.summary = Some(HostRiskSummary {
        hosts_requested: 3,
        hosts_found: 2,
        hosts_not_found: 1,
        agent_online: 2,
        protection_opened: 2,
        detect_risk: 1,
        detect_clean: 1,
        vulnerability_total: 7,
        intrusion_total: 1,
        asset_total: 12,
        ..HostRiskSummary::default()
    });
    stored.last_sync_time = Some(Time("2026-01-02T03:04:05Z".parse().expect("time")));
    stored.effective_interval = Some("15m".into());
    watch.status = Some(stored);
    watch
}

#[test]
fn a_stored_status_seeds_every_per_watch_series_once() {
    let metrics = Metrics::new(MetricsOptions::default());
    assert!(metrics.seed_watch(&stored_watch(Some("10m")), &policy()));
    let text = metrics.encode().expect("encode");
    let at = |family: &str, extra: &str| sample(&text, &format!("hostrisk_{family}{{{W}{extra}}}"));
    assert_eq!(
        at("watch_condition", ",type=\"Ready\",status=\"True\""),
        Some(1.0)
    );
    assert_eq!(
        at("watch_ready_reason", ",reason=\"QuotaLimited\""),
        Some(1.0)
    );
    assert_eq!(at("watch_interval_seconds", ""), Some(600.0));
    assert_eq!(at("watch_effective_interval_seconds", ""), Some(900.0));
    assert_eq!(at("watch_interval_lag_seconds", ""), Some(300.0));
    assert_eq!(
        at("watch_last_success_timestamp_seconds", ""),
        Some(1_767_323_045.0)
    );
    assert_eq!(
        at("watch_hosts_by_detect_result", ",detect_result=\"risk\""),
        Some(1.0)
    );
    assert_eq!(at("watch_risks", ",kind=\"intrusion\""), Some(1.0));
    assert_eq!(at("watch_assets", ""), Some(12.0));
    assert_eq!(at("watch_hosts_not_found", ""), Some(1.0));

    // What this process exported itself is newer than any stored status: a re-list does not
    // overwrite it.
    metrics.set_watch_gauges("team-a", "prod", &two_host_snapshot());
    assert!(!metrics.seed_watch(&stored_watch(Some("10m")), &policy()));
    let text = metrics.encode().expect("encode");
    assert_eq!(
        sample(&text, &format!("hostrisk_watch_assets{{{W}}}")),
        Some(2.0)
    );
}

#[test]
fn a_watch_without_spec_interval_is_seeded_with_the_default_and_one_without_status_not_at_all() {
    let metrics = Metrics::new(MetricsOptions::default());
    assert!(metrics.seed_watch(&stored_watch(None), &policy()));
    let text = metrics.encode().expect("encode");
    assert_eq!(
        sample(&text, &format!("hostrisk_watch_interval_seconds{{{W}}}")),
        Some(600.0)
    );
    let mut fresh = stored_watch(None);
    fresh.status = None;
    fresh.metadata.name = Some("new".into());
    assert!(!metrics.seed_watch(&fresh, &policy()));
    assert!(!metrics.encode().expect("encode").contains("name=\"new\""));
}

#[test]
fn quota_use_is_read_from_the_rate_limiter_at_each_scrape() {
    let metrics = Metrics::new(MetricsOptions::default());
    let limiter = RateLimiter::new(5, Duration::from_secs(60));
    metrics.observe_quota(limiter.clone());
    assert!(!metrics
        .encode()
        .expect("encode")
        .contains("hss_quota_calls{"));
    let identity = Credentials::ak_sk("AKEXAMPLE", "never-shown").identity();
    limiter.reserve(&identity);
    limiter.reserve(&identity);
    let text = metrics.encode().expect("encode");
    let credential = "credential=\"ak:AKEXAMPLE\"";
    assert_eq!(
        sample(&text, &format!("hostrisk_hss_quota_calls{{{credential}}}")),
        Some(2.0)
    );
    assert_eq!(
        sample(&text, &format!("hostrisk_hss_quota_limit{{{credential}}}")),
        Some(5.0)
    );
    assert_eq!(
        sample(&text, "hostrisk_hss_quota_window_seconds"),
        Some(60.0)
    );
    assert!(!text.contains("never-shown"));
}

#[test]
fn poller_groups_are_read_at_each_scrape_and_go_with_the_poller() {
    let metrics = Metrics::new(MetricsOptions::default());
    let figures = |queued, sweep| GroupFigures {
        group: "https://hss.example/ project=p eps=- identity=ak:AK".into(),
        watches: 2,
        hosts: 150,
        queued,
        last_sweep: Some(Duration::from_secs(sweep)),
    };
    // Two groups differing only in secret material (a rotation) share a name.
    metrics.observe_poller(Some(Arc::new(FixedPoller(vec![
        figures(1, 40),
        figures(2, 90),
    ]))));
    let text = metrics.encode().expect("encode");
    let group = "group=\"https://hss.example/ project=p eps=- identity=ak:AK\"";
    let at = |family: &str| sample(&text, &format!("hostrisk_{family}{{{group}}}"));
    assert_eq!(at("poller_queue_depth"), Some(3.0));
    assert_eq!(at("poller_watches"), Some(4.0));
    assert_eq!(at("poller_hosts"), Some(300.0));
    assert_eq!(at("poller_sweep_duration_seconds"), Some(90.0));
    metrics.observe_poller(None);
    assert!(!metrics
        .encode()
        .expect("encode")
        .contains("hostrisk_poller_"));
}
