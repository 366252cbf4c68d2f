//! An operator replaced by a new process (what a rollout or a leader change makes) against a real
//! API server: the new process's first `/metrics` answer, before its first HSS call returns, holds
//! every per-watch series its predecessor exported, with the same posture values (seeded from the
//! statuses the API server stored); so no alert resolves and no `for` starts again.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::e2e_story::{is_ready, simulator, wait_for, wait_for_hss_call};
use crate::support::*;

async fn per_watch_series(operator: &Operator) -> (String, BTreeMap<String, String>) {
    let url = format!("http://127.0.0.1:{}/metrics", operator.health_port);
    let text = reqwest::get(url).await.unwrap().text().await.unwrap();
    let series = text
        .lines()
        .filter(|l| l.starts_with("hostrisk_watch_"))
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(series, value)| (series.to_owned(), value.to_owned()))
        .collect();
    (text, series)
}

#[tokio::test]
async fn a_new_operator_process_exports_every_per_watch_series_before_its_first_poll() {
    let test = "a_new_operator_process_exports_every_per_watch_series_before_its_first_poll";
    let Some(plane) = cluster(test, false).await else {
        return;
    };
    let client = plane.client();
    let sim = simulator().await;
    let mut old = admin_operator(&plane, sim.base_url().as_str(), "old", &[]).await;
    let watches = create_fleet(&client, &sim, &["demo-web-01", "demo-db-01", "gone-01"]).await;
    wait_for(&watches, "fleet", "Ready", is_ready).await;
    let (_, before) = per_watch_series(&old).await;
    for family in [
        "condition",
        "ready_reason",
        "hosts_by_detect_result",
        "hosts_not_found",
    ] {
        assert!(
            before
                .keys()
                .any(|s| s.starts_with(&format!("hostrisk_watch_{family}{{"))),
            "{family}: {before:#?}"
        );
    }
    assert_eq!(old.terminate(), Some(0), "{}", old.log());

    // HSS slows down: the new process answers /metrics while its first call is still out.
    sim.update_faults(|f| f.latency_ms = 10_000).unwrap();
    let calls = sim.counters().hss_requests;
    let new = admin_operator(&plane, sim.base_url().as_str(), "new", &[]).await;
    let (text, first) = per_watch_series(&new).await;
    assert!(
        !text.contains("hostrisk_hss_requests_total{"),
        "HSS answered before the first scrape:\n{text}"
    );
    for (series, value) in &before {
        assert!(
            first.contains_key(series),
            "{series} missing after the restart"
        );
        if !series.contains("timestamp") && !series.contains("interval") {
            assert_eq!(first.get(series), Some(value), "{series}");
        }
    }

    sim.update_faults(|f| f.latency_ms = 0).unwrap();
    wait_for_hss_call(
        &sim,
        calls,
        Duration::from_secs(60),
        "the new operator's poll",
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let after = loop {
        let (text, series) = per_watch_series(&new).await;
        if text.contains("hostrisk_hss_requests_total{") {
            break series;
        }
        assert!(Instant::now() < deadline, "no answered HSS call:\n{text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for series in before.keys() {
        assert!(
            after.contains_key(series),
            "{series} missing after the first poll"
        );
    }
    drop(new);
    sim.shutdown().await;
    plane.stop().await;
}
