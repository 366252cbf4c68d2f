//! The shared shape of one fault row.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use hostrisk_operator::crd::{HostRiskWatchStatus, HostStatus};
use hostrisk_operator::hss::model::DetectResult;

use super::harness::{hss_calls, is_ready, max_polls_in, Harness, NS};

/// The interval of the watches in the rows.
pub const INTERVAL: Duration = Duration::from_secs(2);
pub const INTERVAL_TEXT: &str = "2s";
/// Time one poll may take on loopback (request, status write, controller queueing).
pub const POLL_SLACK: Duration = Duration::from_millis(2000);
/// The hosts every row watches.
pub const HOSTS: [&str; 2] = ["demo-web-01", "demo-db-01"];
/// HTTP attempts per poll in the harness's client.
pub const ATTEMPTS_PER_POLL: u64 = 2;

/// A watch on [`HOSTS`] that reached Ready; returns its good host data.
pub async fn ready_watch(h: &Harness, name: &str, secret: &str) -> Vec<HostStatus> {
    h.create_demo_secret(NS, secret).await;
    h.create_watch(NS, name, &HOSTS, secret, INTERVAL_TEXT)
        .await;
    let watch = h
        .wait_for(NS, name, "Ready before the fault", is_ready)
        .await;
    let hosts = watch.status.unwrap().hosts;
    assert_eq!(hosts.len(), HOSTS.len());
    assert!(hosts.iter().all(|h| h.found));
    hosts
}

/// Where the fault window started.
pub struct Window {
    pub started: Instant,
    pub calls_before: u64,
}

impl Window {
    pub fn open(h: &Harness) -> Self {
        Self {
            started: Instant::now(),
            calls_before: hss_calls(&h.sim),
        }
    }

    /// HSS requests made since the window opened.
    pub fn calls(&self, h: &Harness) -> u64 {
        hss_calls(&h.sim) - self.calls_before
    }

    /// Checks the "no hammering" bound for `sites` call sites (watches or batches) and returns
    /// the calls observed.
    pub fn assert_backed_off(&self, h: &Harness, sites: u64, what: &str) -> u64 {
        let elapsed = self.started.elapsed();
        let calls = self.calls(h);
        let bound = sites * ATTEMPTS_PER_POLL * max_polls_in(elapsed, h.options_backoff);
        assert!(
            calls <= bound,
            "{what}: {calls} HSS requests in {elapsed:?}, more than the backoff allows ({bound})"
        );
        assert!(h.is_running(), "{what}: the operator stopped");
        eprintln!("{what}: {calls} HSS requests in {elapsed:?} (bound {bound})");
        calls
    }
}

/// Keeps the fault on for `hold` while checking every 100 ms that the good data stays.
pub async fn hold_fault(h: &Harness, name: &str, good: &[HostStatus], hold: Duration) {
    let until = Instant::now() + hold;
    while Instant::now() < until {
        if let Ok(watch) = h.watches(NS).get(name).await {
            let status = watch.status.expect("status");
            assert_eq!(
                status.hosts, good,
                "last good host data kept during the fault"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Changes a host in HSS (so recovery must bring fresh data), ends the fault with `clear`, and
/// waits at most one interval plus one poll for Ready with the new data. Returns the time taken.
pub async fn recover(
    h: &Harness,
    name: &str,
    clear: impl std::future::Future<Output = ()>,
) -> Duration {
    assert!(h
        .sim
        .update_host("demo-db-01", |host| host.risk.detect_result =
            Some(DetectResult::Scanning)));
    let cleared = Instant::now();
    clear.await;
    h.wait_within(INTERVAL + POLL_SLACK, NS, name, "recovery", |w, s| {
        is_ready(w, s) && db_scanning(s)
    })
    .await;
    let took = cleared.elapsed();
    eprintln!(
        "{name}: recovered {} ms after the fault ended",
        took.as_millis()
    );
    took
}

pub fn db_scanning(s: &HostRiskWatchStatus) -> bool {
    s.hosts
        .iter()
        .any(|x| x.host_id == "demo-db-01" && x.detect_result.as_deref() == Some("scanning"))
}
