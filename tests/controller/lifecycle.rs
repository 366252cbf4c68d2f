//! A watch's life has one owner, the watch table: what the operator keeps about a watch (its
//! entry, its poller registration, its metric series, those a new process seeded from the stored
//! status included) goes with it at once when it is deleted, even with its poll in flight, and a
//! poll answering afterwards brings nothing back.

use std::time::{Duration, Instant};

use hostrisk_operator::crd::WatchKey;
use hostrisk_sim::hss::DEMO_ACCESS_KEY;

use super::harness::{is_synced, Harness, Options, NS};

fn metrics(h: &Harness) -> String {
    h.ctx.metrics.encode().expect("metrics encode")
}

/// Whatever the operator keeps about `key`, as a list of what is left (empty: nothing).
fn left_of(h: &Harness, key: &WatchKey) -> Vec<String> {
    let mut left = Vec::new();
    if h.ctx.watches.contains(key) {
        left.push("the table's entry".to_string());
    }
    if let Some(poller) = h.ctx.watches.poller() {
        let handle = poller.handle();
        if let Some(group) = handle.group_of(key) {
            left.push(format!("a registration in group {group}"));
        }
        if handle.pending(key).is_some() {
            left.push("a pending update".to_string());
        }
        if handle.stats().watches() > 0 {
            left.push("a watch counted in the poller's groups".to_string());
        }
    }
    let series = format!("namespace=\"{NS}\",name=\"{}\"", key.name);
    let text = metrics(h);
    left.extend(
        text.lines()
            .filter(|line| line.contains(&series))
            .map(|line| format!("metric series {line}")),
    );
    left
}

/// The per-watch and per-host series a polled watch has, each of its own kind of bookkeeping
/// (a label set replaced in place, one series per host, one reason at a time...): all must go.
const SERIES_KINDS: [&str; 10] = [
    "hostrisk_watch_condition{",
    "hostrisk_watch_ready_reason{",
    "hostrisk_watch_interval_seconds{",
    "hostrisk_watch_last_success_timestamp_seconds{",
    "hostrisk_watch_effective_interval_seconds{",
    "hostrisk_watch_risks{",
    "hostrisk_watch_assets{",
    "hostrisk_watch_hosts_by_agent_status{",
    "hostrisk_host_assets{",
    "hostrisk_host_status{",
];

/// The kinds of [`SERIES_KINDS`] not among what is `left` of a watch.
fn kinds_missing(left: &[String]) -> Vec<&'static str> {
    SERIES_KINDS
        .into_iter()
        .filter(|kind| {
            !left
                .iter()
                .any(|l| l.starts_with(&format!("metric series {kind}")))
        })
        .collect()
}

fn assert_exports_every_kind_of_series(left: &[String]) {
    assert_eq!(
        kinds_missing(left),
        Vec::<&str>::new(),
        "series missing while the watch lives: {left:#?}"
    );
}

/// Deletes the watch and waits until the table let it go.
async fn delete_and_wait_until_let_go(h: &Harness, key: &WatchKey, deadline: Instant) {
    h.delete_watch(&key.namespace, &key.name).await;
    while h.ctx.watches.contains(key) {
        assert!(
            Instant::now() < deadline,
            "the deletion was never processed"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// An operator exporting per-host series, with one watch of two hosts polled once.
async fn polled_watch(name: &str) -> (Harness, WatchKey) {
    let h = Harness::start(Options {
        metrics_per_host: true,
        ..Options::controller()
    })
    .await;
    h.create_demo_secret(NS, "hss-creds").await;
    h.create_watch(NS, name, &["demo-web-01", "demo-db-01"], "hss-creds", "1h")
        .await;
    h.wait_for(NS, name, "Ready", is_synced).await;
    (h, WatchKey::new(NS, name))
}

#[tokio::test]
async fn a_watch_deleted_while_its_poll_is_in_flight_leaves_nothing_behind() {
    let (h, key) = polled_watch("doomed").await;
    let before = left_of(&h, &key);
    for kept in ["the table's entry", "a registration", "metric series"] {
        assert!(
            before.iter().any(|l| l.starts_with(kept)),
            "{kept} while the watch lives: {before:#?}"
        );
    }
    assert_exports_every_kind_of_series(&before);

    // A slow HSS and a refresh asked for now: the poll is in flight when the watch goes.
    let latency = Duration::from_millis(1500);
    h.sim
        .update_faults(|f| f.latency_ms = latency.as_millis() as u64)
        .unwrap();
    let identity = format!("ak:{DEMO_ACCESS_KEY}");
    let (arrived, answered) = (
        h.sim.counters().hss_requests,
        h.sim.counters().calls_by(&identity),
    );
    h.request_refresh(NS, "doomed", "now").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while h.sim.counters().hss_requests == arrived {
        assert!(Instant::now() < deadline, "the refresh never reached HSS");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let in_flight = Instant::now();
    // The deletion is processed when the table lets the watch go; at that moment nothing else
    // of it may remain.
    delete_and_wait_until_let_go(&h, &key, deadline).await;
    assert_eq!(
        left_of(&h, &key),
        Vec::<String>::new(),
        "at once after the delete was processed"
    );
    assert!(
        h.sim.counters().calls_by(&identity) == answered,
        "the poll was still in flight when the watch went ({:?} after it started)",
        in_flight.elapsed()
    );

    // The poll answers (and any reconcile it would have started ends): still nothing.
    while h.sim.counters().calls_by(&identity) == answered {
        assert!(
            Instant::now() < deadline,
            "the poll in flight never answered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        left_of(&h, &key),
        Vec::<String>::new(),
        "after the poll in flight answered"
    );
    h.stop().await;
}

#[tokio::test]
async fn series_seeded_by_a_new_operator_go_with_the_watch() {
    let (mut h, key) = polled_watch("seeded").await;

    // A new process, whose polls HSS does not answer for a while: what it exports of the watch
    // is seeded from the stored status.
    h.sim
        .update_faults(|f| f.latency_ms = 5_000)
        .expect("faults");
    h.restart().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let answered = h.sim.counters().calls_by(&format!("ak:{DEMO_ACCESS_KEY}"));
    let mut seeded = left_of(&h, &key);
    while !kinds_missing(&seeded).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
        seeded = left_of(&h, &key);
    }
    assert_exports_every_kind_of_series(&seeded);
    assert_eq!(
        h.sim.counters().calls_by(&format!("ak:{DEMO_ACCESS_KEY}")),
        answered,
        "the new process's series were seeded, not polled"
    );

    delete_and_wait_until_let_go(&h, &key, deadline).await;
    assert_eq!(
        left_of(&h, &key),
        Vec::<String>::new(),
        "at once after the delete was processed"
    );
    h.sim.update_faults(|f| f.latency_ms = 0).expect("faults");
    h.stop().await;
}
