//! What the controller records in its metrics registry (served on `/metrics`).

use std::time::{Duration, Instant};

use super::harness::{hss_calls, is_synced, Harness, Options, NS};

/// The value of the sample whose line starts with `series` (name and labels as exported).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
}

fn metrics(h: &Harness) -> String {
    h.ctx.metrics.encode().expect("metrics encode")
}

#[tokio::test]
async fn metrics_follow_reconciles_writes_and_domain_data_and_forget_deleted_watches() {
    let h = Harness::start(Options::controller()).await;
    h.create_demo_secret(NS, "hss-creds").await;
    h.create_watch(NS, "m", &["demo-web-01", "demo-db-01"], "hss-creds", "1h")
        .await;
    h.wait_for(NS, "m", "Ready", is_synced).await;
    let text = metrics(&h);
    let watch = format!("namespace=\"{NS}\",name=\"m\"");
    let expect =
        |series: &str| sample(&text, series).unwrap_or_else(|| panic!("no {series} in:\n{text}"));
    assert_eq!(expect("hostrisk_leader"), 1.0);
    assert!(expect("hostrisk_reconciles_total{result=\"ok\"}") >= 2.0);
    assert!(expect("hostrisk_reconcile_duration_seconds_count") >= 2.0);
    // The Pending status and the first data.
    assert!(expect("hostrisk_status_writes_total") >= 2.0);
    assert_eq!(
        expect(&format!("hostrisk_watch_hosts_requested{{{watch}}}")),
        2.0
    );
    assert_eq!(
        expect(&format!("hostrisk_watch_hosts_found{{{watch}}}")),
        2.0
    );
    assert_eq!(
        expect(&format!(
            "hostrisk_watch_hosts_by_detect_result{{{watch},detect_result=\"risk\"}}"
        )),
        1.0
    );
    assert_eq!(
        expect(&format!(
            "hostrisk_watch_risks{{{watch},kind=\"vulnerability\"}}"
        )),
        3.0
    );
    assert!(expect("hostrisk_hss_requests_total{operation=\"list_hosts_risk\",outcome=\"ok\",code=\"200\"}") >= 1.0);
    assert!(expect("hostrisk_hss_quota_wait_seconds_count") >= 1.0);
    assert!(!text.contains("host_id="), "no per-host series by default");
    assert_eq!(
        expect(&format!(
            "hostrisk_watch_ready_reason{{{watch},reason=\"Synced\"}}"
        )),
        1.0
    );
    assert_eq!(
        expect(&format!("hostrisk_watch_interval_seconds{{{watch}}}")),
        3600.0
    );
    // Read at scrape time from the running poller and the client's rate limiter.
    assert!(
        text.contains("\nhostrisk_poller_watches{group=\""),
        "{text}"
    );
    assert!(text.contains("\nhostrisk_poller_queue_depth{group=\""));
    assert!(text.contains("\nhostrisk_hss_quota_calls{credential=\"ak:"));

    // An idle refresh request: polled, nothing to write, counted as skipped.
    let skipped_before = sample(&text, "hostrisk_status_writes_skipped_total").unwrap_or(0.0);
    let calls = hss_calls(&h.sim);
    h.request_refresh(NS, "m", "again").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = metrics(&h);
        let skipped = sample(&now, "hostrisk_status_writes_skipped_total").unwrap_or(0.0);
        if hss_calls(&h.sim) > calls && skipped > skipped_before {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no skipped write counted:\n{now}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    h.delete_watch(NS, "m").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while metrics(&h).contains(&watch) {
        assert!(
            Instant::now() < deadline,
            "series of the deleted watch remain:\n{}",
            metrics(&h)
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    h.stop().await;
}

#[tokio::test]
async fn two_scopes_call_hss_once_each_and_record_each_request() {
    let h = Harness::start(Options::controller()).await;
    h.create_demo_secret(NS, "hss-creds").await;
    for (name, eps) in [("p1", None), ("p2", Some("all_granted_eps"))] {
        h.create_watch_in(NS, name, &["demo-web-01"], "hss-creds", eps)
            .await;
    }
    for name in ["p1", "p2"] {
        h.wait_for(NS, name, "Ready", is_synced).await;
    }
    let groups = h.poller_stats().groups;
    assert_eq!(groups.len(), 2, "one poller group per scope: {groups:?}");
    // The shared id is asked once per scope.
    assert_eq!(hss_calls(&h.sim), 2);
    let text = metrics(&h);
    assert_eq!(
        sample(
            &text,
            "hostrisk_hss_requests_total{operation=\"list_hosts_risk\",outcome=\"ok\",code=\"200\"}"
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "hostrisk_hss_quota_wait_seconds_count"),
        Some(2.0),
        "the client's limiter waits, one per request"
    );
    h.stop().await;
}
