//! The metrics registry through its public API: what a scraper of `/metrics` would see.

#[path = "metrics/support.rs"]
mod support;

#[path = "metrics/http.rs"]
mod http;

#[path = "metrics/readme.rs"]
mod readme;

#[path = "metrics/status.rs"]
mod status;

use std::time::Duration;

use hostrisk_operator::hss::Operation::{IamToken, ListHostsRisk};
use hostrisk_operator::metrics::{
    ExpositionFormat, HssOutcome, Metrics, MetricsOptions, ReconcileOutcome, WatchSnapshot,
};
use support::{counts, exercise_everything, sample, samples_containing, two_host_snapshot};

const FAMILIES: [(&str, &str); 36] = [
    ("hostrisk_build", "info"),
    ("hostrisk_leader", "gauge"),
    ("hostrisk_reconciles", "counter"),
    ("hostrisk_reconcile_errors", "counter"),
    ("hostrisk_reconcile_duration_seconds", "histogram"),
    ("hostrisk_status_writes", "counter"),
    ("hostrisk_status_writes_skipped", "counter"),
    ("hostrisk_status_write_errors", "counter"),
    ("hostrisk_events", "counter"),
    ("hostrisk_hss_requests", "counter"),
    ("hostrisk_hss_request_duration_seconds", "histogram"),
    ("hostrisk_hss_retries", "counter"),
    ("hostrisk_hss_quota_wait_seconds", "histogram"),
    ("hostrisk_hss_quota_calls", "gauge"),
    ("hostrisk_hss_quota_limit", "gauge"),
    ("hostrisk_hss_quota_window_seconds", "gauge"),
    ("hostrisk_poller_queue_depth", "gauge"),
    ("hostrisk_poller_watches", "gauge"),
    ("hostrisk_poller_hosts", "gauge"),
    ("hostrisk_poller_sweep_duration_seconds", "gauge"),
    ("hostrisk_watch_condition", "gauge"),
    ("hostrisk_watch_ready_reason", "gauge"),
    ("hostrisk_watch_interval_seconds", "gauge"),
    ("hostrisk_watch_last_success_timestamp_seconds", "gauge"),
    ("hostrisk_watch_effective_interval_seconds", "gauge"),
    ("hostrisk_watch_interval_lag_seconds", "gauge"),
    ("hostrisk_watch_hosts_by_agent_status", "gauge"),
    ("hostrisk_watch_hosts_by_protect_status", "gauge"),
    ("hostrisk_watch_hosts_by_detect_result", "gauge"),
    ("hostrisk_watch_risks", "gauge"),
    ("hostrisk_watch_assets", "gauge"),
    ("hostrisk_watch_hosts_requested", "gauge"),
    ("hostrisk_watch_hosts_found", "gauge"),
    ("hostrisk_watch_hosts_not_found", "gauge"),
    ("hostrisk_host_risks", "gauge"),
    ("hostrisk_host_assets", "gauge"),
];

fn per_host() -> Metrics {
    Metrics::new(MetricsOptions { per_host: true })
}

#[test]
fn openmetrics_has_help_and_type_for_every_family_and_ends_with_eof() {
    let metrics = per_host();
    exercise_everything(&metrics);
    let text = metrics.encode().expect("encode");
    for (family, kind) in FAMILIES.iter().chain([&("hostrisk_host_status", "gauge")]) {
        assert!(
            text.contains(&format!("\n# HELP {family} "))
                || text.starts_with(&format!("# HELP {family} ")),
            "no HELP for {family}:\n{text}"
        );
        assert!(
            text.contains(&format!("# TYPE {family} {kind}\n")),
            "no TYPE for {family}"
        );
    }
    assert!(text.contains("# UNIT hostrisk_hss_quota_wait_seconds seconds\n"));
    assert!(text.ends_with("# EOF\n"));
    assert_eq!(
        sample(&text, "hostrisk_build_info{version=\"0.1.0\"}"),
        Some(1.0)
    );
}

#[test]
fn prometheus_text_types_counters_by_their_total_name_and_has_no_eof() {
    let metrics = per_host();
    exercise_everything(&metrics);
    let text = metrics
        .encode_as(ExpositionFormat::PrometheusText)
        .expect("encode");
    assert!(text.contains("# TYPE hostrisk_reconciles_total counter\n"));
    assert!(text.contains("# HELP hostrisk_hss_requests_total "));
    // Classic parsers know no `info` type: build_info is a gauge there.
    assert!(text.contains("# TYPE hostrisk_build_info gauge\n"));
    assert!(text.contains("# TYPE hostrisk_hss_request_duration_seconds histogram\n"));
    assert!(!text.contains("# EOF"));
    assert!(!text.contains("# UNIT"));
    assert_eq!(
        sample(
            &text,
            "hostrisk_hss_requests_total{operation=\"list_hosts_risk\",outcome=\"throttled\",code=\"429\"}"
        ),
        Some(1.0)
    );
}

#[test]
fn reconcile_counters_increase_and_errors_count_by_reason() {
    let metrics = Metrics::new(MetricsOptions::default());
    let text = metrics.encode().expect("encode");
    assert_eq!(
        sample(&text, "hostrisk_reconciles_total{result=\"ok\"}"),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, "hostrisk_reconciles_total{result=\"error\"}"),
        Some(0.0)
    );

    metrics.record_reconcile(ReconcileOutcome::Ok, Duration::from_millis(10));
    metrics.record_reconcile(ReconcileOutcome::Ok, Duration::from_millis(30));
    metrics.record_reconcile(
        ReconcileOutcome::Error("HssThrottled"),
        Duration::from_secs(2),
    );
    metrics.record_reconcile(
        ReconcileOutcome::Error("secret foo not found"),
        Duration::ZERO,
    );
    let text = metrics.encode().expect("encode");
    assert_eq!(
        sample(&text, "hostrisk_reconciles_total{result=\"ok\"}"),
        Some(2.0)
    );
    assert_eq!(
        sample(&text, "hostrisk_reconciles_total{result=\"error\"}"),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &text,
            "hostrisk_reconcile_errors_total{reason=\"HssThrottled\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "hostrisk_reconcile_errors_total{reason=\"Other\"}"),
        Some(1.0)
    );
    assert!(!text.contains("secret foo"));
    assert_eq!(
        sample(&text, "hostrisk_reconcile_duration_seconds_count"),
        Some(4.0)
    );
    assert_eq!(
        sample(&text, "hostrisk_reconcile_duration_seconds_sum"),
        Some(2.04)
    );
    assert_eq!(
        sample(
            &text,
            "hostrisk_reconcile_duration_seconds_bucket{le=\"0.025\"}"
        ),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &text,
            "hostrisk_reconcile_duration_seconds_bucket{le=\"2.5\"}"
        ),
        Some(4.0)
    );
}

#[test]
fn hss_requests_count_by_operation_outcome_and_code_and_only_answered_ones_are_timed() {
    let metrics = Metrics::new(MetricsOptions::default());
    let ms = Duration::from_millis;
    metrics.record_hss_request(ListHostsRisk, HssOutcome::Ok, Some(200), ms(100));
    metrics.record_hss_request(ListHostsRisk, HssOutcome::Throttled, Some(429), ms(50));
    metrics.record_hss_request(ListHostsRisk, HssOutcome::Throttled, Some(429), ms(50));
    metrics.record_hss_request(ListHostsRisk, HssOutcome::Transport, None, ms(30_000));
    metrics.record_hss_request(IamToken, HssOutcome::Ok, Some(201), ms(400));
    metrics.record_retry();
    metrics.record_retry();
    metrics.record_quota_wait(Duration::ZERO);
    metrics.record_quota_wait(Duration::from_secs(40));
    let text = metrics.encode().expect("encode");
    let requests =
        |labels: &str| sample(&text, &format!("hostrisk_hss_requests_total{{{labels}}}"));
    let list = "operation=\"list_hosts_risk\"";
    assert_eq!(
        requests(&format!("{list},outcome=\"ok\",code=\"200\"")),
        Some(1.0)
    );
    assert_eq!(
        requests(&format!("{list},outcome=\"throttled\",code=\"429\"")),
        Some(2.0)
    );
    assert_eq!(
        requests(&format!("{list},outcome=\"transport\",code=\"none\"")),
        Some(1.0)
    );
    assert_eq!(
        requests("operation=\"iam_token\",outcome=\"ok\",code=\"201\""),
        Some(1.0)
    );
    assert!(
        !text.contains("hostrisk_hss_throttled_total"),
        "the duplicate of outcome=\"throttled\" is gone"
    );
    assert_eq!(sample(&text, "hostrisk_hss_retries_total"), Some(2.0));
    // The 429s and the timeout are counted above, not timed: the latency is HSS's answers'.
    let timed = |operation: &str, suffix: &str| {
        sample(
            &text,
            &format!("hostrisk_hss_request_duration_seconds_{suffix}{{operation=\"{operation}\"}}"),
        )
    };
    assert_eq!(timed("list_hosts_risk", "count"), Some(1.0));
    assert_eq!(timed("list_hosts_risk", "sum"), Some(0.1));
    assert_eq!(timed("iam_token", "count"), Some(1.0));
    assert_eq!(
        sample(&text, "hostrisk_hss_quota_wait_seconds_count"),
        Some(2.0)
    );
    assert_eq!(
        sample(&text, "hostrisk_hss_quota_wait_seconds_bucket{le=\"30.0\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "hostrisk_hss_quota_wait_seconds_bucket{le=\"60.0\"}"),
        Some(2.0)
    );
}

#[test]
fn status_writes_and_skips_leader_and_clones_share_one_registry() {
    let metrics = Metrics::new(MetricsOptions::default());
    let clone = metrics.clone();
    clone.record_status_write(true);
    clone.record_status_write(false);
    clone.record_status_write(false);
    clone.record_status_write_error();
    clone.set_leader(true);
    let text = metrics.encode().expect("encode");
    assert_eq!(sample(&text, "hostrisk_status_writes_total"), Some(1.0));
    assert_eq!(
        sample(&text, "hostrisk_status_write_errors_total"),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "hostrisk_status_writes_skipped_total"),
        Some(2.0)
    );
    assert_eq!(sample(&text, "hostrisk_leader"), Some(1.0));
    clone.set_leader(false);
    assert_eq!(
        sample(&metrics.encode().expect("encode"), "hostrisk_leader"),
        Some(0.0)
    );
}

#[test]
fn counters_are_exact_under_concurrent_recording() {
    let metrics = Metrics::new(MetricsOptions::default());
    std::thread::scope(|scope| {
        for _ in 0..8 {
            let metrics = metrics.clone();
            scope.spawn(move || {
                for _ in 0..500 {
                    metrics.record_hss_request(
                        ListHostsRisk,
                        HssOutcome::Ok,
                        Some(200),
                        Duration::ZERO,
                    );
                }
            });
        }
    });
    let text = metrics.encode().expect("encode");
    assert_eq!(
        sample(
            &text,
            "hostrisk_hss_requests_total{operation=\"list_hosts_risk\",outcome=\"ok\",code=\"200\"}"
        ),
        Some(4000.0)
    );
}

#[test]
fn build_info_carries_the_given_version() {
    let metrics = Metrics::with_version(MetricsOptions::default(), "1.2.3-rc.1+g0abc");
    let text = metrics.encode().expect("encode");
    assert_eq!(
        sample(&text, "hostrisk_build_info{version=\"1.2.3-rc.1+g0abc\"}"),
        Some(1.0)
    );
}

#[test]
fn watch_gauges_export_the_snapshot_per_watch() {
    let metrics = Metrics::new(MetricsOptions::default());
    metrics.set_watch_gauges("team-a", "prod", &two_host_snapshot());
    metrics.set_watch_schedule(
        "team-a",
        "prod",
        Duration::from_secs(900),
        Duration::from_secs(300),
    );
    let text = metrics.encode().expect("encode");
    let w = "namespace=\"team-a\",name=\"prod\"";
    let at = |family: &str, extra: &str| sample(&text, &format!("hostrisk_{family}{{{w}{extra}}}"));
    assert_eq!(
        at("watch_hosts_by_agent_status", ",agent_status=\"online\""),
        Some(1.0)
    );
    assert_eq!(
        at("watch_hosts_by_agent_status", ",agent_status=\"offline\""),
        Some(1.0)
    );
    assert_eq!(
        at(
            "watch_hosts_by_protect_status",
            ",protect_status=\"opened\""
        ),
        Some(2.0)
    );
    assert_eq!(
        at("watch_hosts_by_detect_result", ",detect_result=\"risk\""),
        Some(2.0)
    );
    assert_eq!(at("watch_risks", ",kind=\"vulnerability\""), Some(7.0));
    assert_eq!(at("watch_risks", ",kind=\"intrusion\""), Some(0.0));
    assert_eq!(
        at("watch_risks", ",kind=\"asset\""),
        None,
        "assets are an inventory, not a risk"
    );
    assert_eq!(at("watch_assets", ""), Some(2.0));
    assert_eq!(at("watch_hosts_requested", ""), Some(3.0));
    assert_eq!(at("watch_hosts_found", ""), Some(2.0));
    assert_eq!(at("watch_hosts_not_found", ""), Some(1.0));
    assert_eq!(at("watch_effective_interval_seconds", ""), Some(900.0));
    assert_eq!(at("watch_interval_lag_seconds", ""), Some(300.0));
}

#[test]
fn per_host_series_are_absent_by_default() {
    let metrics = Metrics::new(MetricsOptions::default());
    exercise_everything(&metrics);
    let text = metrics.encode().expect("encode");
    assert!(!text.contains("host_id"), "{text}");
    assert!(!text.contains("hostrisk_host_"), "{text}");
    assert!(!text.contains("h-1"));
}

#[test]
fn per_host_series_are_present_with_the_flag() {
    let metrics = per_host();
    metrics.set_watch_gauges("team-a", "prod", &two_host_snapshot());
    let text = metrics.encode().expect("encode");
    let h1 = "namespace=\"team-a\",name=\"prod\",host_id=\"h-1\"";
    assert_eq!(
        sample(
            &text,
            &format!("hostrisk_host_risks{{{h1},kind=\"vulnerability\"}}")
        ),
        Some(3.0)
    );
    assert_eq!(
        sample(
            &text,
            &format!("hostrisk_host_status{{{h1},agent_status=\"online\",protect_status=\"opened\",detect_result=\"risk\"}}")
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, &format!("hostrisk_host_assets{{{h1}}}")),
        Some(1.0)
    );
    assert_eq!(samples_containing(&text, "host_id=\"h-2\"").len(), 5);
}

#[test]
fn per_host_series_of_node_backed_watches_name_the_node_and_the_others_have_no_node_label() {
    let metrics = per_host();
    let mut snapshot = two_host_snapshot();
    snapshot.hosts[0].node = Some("worker-1".into());
    metrics.set_watch_gauges("team-a", "nodes", &snapshot);
    let text = metrics.encode().expect("encode");
    let h1 = "namespace=\"team-a\",name=\"nodes\",host_id=\"h-1\",node=\"worker-1\"";
    assert_eq!(
        sample(
            &text,
            &format!("hostrisk_host_risks{{{h1},kind=\"vulnerability\"}}")
        ),
        Some(3.0)
    );
    assert_eq!(
        sample(
            &text,
            &format!("hostrisk_host_status{{{h1},agent_status=\"online\",protect_status=\"opened\",detect_result=\"risk\"}}")
        ),
        Some(1.0)
    );
    let h2: Vec<_> = samples_containing(&text, "host_id=\"h-2\"");
    assert_eq!(h2.len(), 5);
    assert!(h2.iter().all(|line| !line.contains("node=")), "{h2:?}");
    // The Node of a host changes (replaced under the same id): the old series goes.
    snapshot.hosts[0].node = Some("worker-9".into());
    metrics.set_watch_gauges("team-a", "nodes", &snapshot);
    let text = metrics.encode().expect("encode");
    assert!(!text.contains("worker-1"), "{text}");
    assert_eq!(samples_containing(&text, "node=\"worker-9\"").len(), 5);
}

#[test]
fn a_new_snapshot_removes_categories_and_hosts_that_disappeared() {
    let metrics = per_host();
    metrics.set_watch_gauges("team-a", "prod", &two_host_snapshot());
    let mut next = two_host_snapshot();
    next.hosts_by_agent_status = counts(&[("online", 2)]);
    next.hosts.truncate(1);
    next.hosts[0].agent_status = "offline".to_owned();
    metrics.set_watch_gauges("team-a", "prod", &next);
    let text = metrics.encode().expect("encode");
    assert!(samples_containing(&text, "agent_status=\"offline\"")
        .iter()
        .all(|l| l.starts_with("hostrisk_host_status{")));
    assert!(samples_containing(&text, "host_id=\"h-2\"").is_empty());
    assert_eq!(samples_containing(&text, "hostrisk_host_status{").len(), 1);
    assert_eq!(
        sample(&text, "hostrisk_watch_hosts_by_agent_status{namespace=\"team-a\",name=\"prod\",agent_status=\"online\"}"),
        Some(2.0)
    );
}

#[test]
fn forget_watch_removes_every_series_of_that_watch_only() {
    let metrics = per_host();
    exercise_everything(&metrics);
    metrics.set_watch_gauges("team-b", "prod", &two_host_snapshot());
    metrics.set_watch_schedule("team-b", "prod", Duration::from_secs(600), Duration::ZERO);
    metrics.set_watch_status(
        "team-b",
        "prod",
        &support::status(&[
            ("Ready", "True", "Synced"),
            ("CredentialsValid", "True", "Accepted"),
        ]),
        Duration::from_secs(600),
    );
    metrics.set_watch_last_success("team-b", "prod", jiff::Timestamp::UNIX_EPOCH);
    let before = metrics.encode().expect("encode");
    let a_series = samples_containing(&before, "namespace=\"team-a\"").len();
    assert_eq!(a_series, 32, "{before}");

    metrics.forget_watch("team-a", "prod");
    let after = metrics.encode().expect("encode");
    assert!(
        samples_containing(&after, "namespace=\"team-a\"").is_empty(),
        "{after}"
    );
    assert_eq!(
        samples_containing(&after, "namespace=\"team-b\"").len(),
        a_series
    );
    // Forgetting an unknown watch, or twice, is harmless.
    metrics.forget_watch("team-a", "prod");
    metrics.forget_watch("nobody", "nothing");
    assert_eq!(metrics.encode().expect("encode"), after);
}

#[test]
fn label_values_with_quotes_backslashes_and_newlines_are_escaped() {
    let metrics = Metrics::new(MetricsOptions::default());
    let snapshot = WatchSnapshot {
        hosts_by_agent_status: counts(&[("on\"line\\\nx", 4)]),
        ..WatchSnapshot::default()
    };
    metrics.set_watch_gauges("ns", "w", &snapshot);
    let escaped = "agent_status=\"on\\\"line\\\\\\nx\"} 4";
    for format in [
        ExpositionFormat::OpenMetrics,
        ExpositionFormat::PrometheusText,
    ] {
        let text = metrics.encode_as(format).expect("encode");
        assert!(text.contains(escaped), "{format:?}:\n{text}");
        // Every line is a comment or a whole sample: the newline did not split one.
        for line in text.lines() {
            assert!(
                line.starts_with('#') || line.starts_with("hostrisk_"),
                "{line:?}"
            );
        }
    }
}
