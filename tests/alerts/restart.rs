//! No flapping on rollout: an operator restarted in the stand-in world (a new process with a fresh
//! registry, on another port, as a new pod) exports every per-watch series the old one did, with
//! the same posture values, from its first answer on `/metrics` (seeded from the stored statuses)
//! and after its own first poll. A series missing from one scrape would resolve that watch's alerts
//! and restart their `for`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::harness::{condition_is, hss_calls, is_synced, NS};
use super::world::World;

/// The per-watch series of a scrape (`name{labels}`), with their values.
fn per_watch(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| line.starts_with("hostrisk_watch_"))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn missing(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> BTreeSet<String> {
    before
        .keys()
        .filter(|series| !after.contains_key(*series))
        .cloned()
        .collect()
}

/// Series whose value is posture (not a time or a measured interval): equal before and after.
fn posture(series: &str) -> bool {
    [
        "hosts_by_",
        "risks",
        "assets",
        "hosts_requested",
        "hosts_found",
        "hosts_not_found",
        "condition",
        "ready_reason",
    ]
    .iter()
    .any(|part| series.contains(part))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_watch_series_stay_across_an_operator_restart() {
    let mut world = World::start().await;
    let h = &world.harness;
    h.create_demo_secret(NS, "hss").await;
    world.put_host("r-risk", "online", "opened", "risk").await;
    world
        .put_host("r-offline", "offline", "closed", "clean")
        .await;
    h.create_watch(
        NS,
        "polled",
        &["r-risk", "r-offline", "r-gone"],
        "hss",
        "1s",
    )
    .await;
    h.create_watch(NS, "failing", &["r-risk"], "no-such-secret", "1s")
        .await;
    h.wait_for(NS, "polled", "synced", is_synced).await;
    h.wait_for(NS, "failing", "SecretNotFound", |_, s| {
        condition_is(s, "Ready", "False", "SecretNotFound")
    })
    .await;
    let families = [
        "condition",
        "ready_reason",
        "interval_seconds",
        "last_success",
        "effective_interval",
        "interval_lag",
        "hosts_by_detect_result",
        "risks",
        "assets",
        "hosts_not_found",
    ];
    let exported = |scrape: &BTreeMap<String, f64>, family: &str| {
        scrape
            .keys()
            .any(|s| s.starts_with(&format!("hostrisk_watch_{family}")))
    };
    // The status is stored a moment before the operator sets the series that follow it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut before = per_watch(&world.scrape().await);
    while !families.iter().all(|family| exported(&before, family)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        before = per_watch(&world.scrape().await);
    }
    for family in families {
        assert!(
            exported(&before, family),
            "{family} before the restart: {before:#?}"
        );
    }

    // HSS slows down, so the new process answers its first scrape before its first poll does.
    world
        .harness
        .sim
        .update_faults(|f| f.latency_ms = 3_000)
        .expect("faults");
    world.restart().await;
    let calls = hss_calls(&world.harness.sim);
    let text = world.scrape().await;
    assert!(
        !text.contains("hostrisk_hss_requests_total{"),
        "HSS answered the new process before its first scrape:\n{text}"
    );
    let first = per_watch(&text);
    assert_eq!(
        missing(&before, &first),
        BTreeSet::new(),
        "right after the restart"
    );
    for (series, value) in before.iter().filter(|(s, _)| posture(s)) {
        assert_eq!(
            first.get(series),
            Some(value),
            "{series} right after the restart"
        );
    }

    world
        .harness
        .sim
        .update_faults(|f| f.latency_ms = 0)
        .expect("faults");
    let deadline = Instant::now() + Duration::from_secs(60);
    while hss_calls(&world.harness.sim) < calls + 2 {
        assert!(Instant::now() < deadline, "the new operator does not poll");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    world
        .harness
        .wait_for(NS, "polled", "synced by the new operator", is_synced)
        .await;
    let after = per_watch(&world.scrape().await);
    assert_eq!(
        missing(&before, &after),
        BTreeSet::new(),
        "after its first poll"
    );
    world.stop().await;
}
