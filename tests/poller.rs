//! The shared poller against the real HSS simulator over loopback.
//!
//! Timing: the client's limiter uses a short window (5 calls per 2 s) so quota effects show in
//! seconds. The simulator counts its quota in a fixed 60 s sliding window, so it is set to the
//! same rate (150 a minute) in most tests; `the_real_per_minute_quota_is_never_exceeded` uses
//! the real 5-per-minute window on both sides, where any overrun is a 429.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use hostrisk_operator::hss::{ClientConfig, Credentials, HssClient, Scope};
use hostrisk_operator::metrics::{Metrics, MetricsOptions};
use hostrisk_operator::poller::{
    Poller, PollerHandle, PollerOptions, WatchKey, WatchRegistration, WatchUpdate,
};
use hostrisk_operator::status::HostData;
use hostrisk_sim::hss::{
    Faults, FleetSpec, HssSimulator, SimConfig, DEMO_ACCESS_KEY, DEMO_PROJECT_ID, DEMO_SECRET_KEY,
    DEMO_STATIC_TOKEN,
};
use tokio::time::Instant;

const AK_IDENTITY: &str = "ak:SIMDEMOACCESSKEY0001";

async fn simulator(hosts: usize, quota_per_minute: u32) -> HssSimulator {
    HssSimulator::start(SimConfig {
        fleet: FleetSpec { hosts, seed: 7 },
        faults: Faults {
            quota_per_minute,
            ..Faults::none()
        },
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts")
}

fn client(calls: u32, window: Duration) -> HssClient {
    HssClient::new(ClientConfig {
        calls_per_minute: calls,
        rate_window: window,
        max_attempts: 2,
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(50),
        ..ClientConfig::default()
    })
    .expect("client")
}

fn poller(client: HssClient) -> (Poller, PollerHandle) {
    let options = PollerOptions {
        backoff_base: Duration::from_millis(200),
        backoff_floor: Duration::from_millis(50),
        ..PollerOptions::matching(client.config())
    };
    Poller::new(client, options)
}

fn aksk() -> Credentials {
    Credentials::ak_sk(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)
}

fn scope(sim: &HssSimulator) -> Scope {
    Scope::for_endpoint(sim.base_url(), DEMO_PROJECT_ID, None).expect("scope")
}

/// `watches` x `per_watch` ids, 20 % of each watch's ids drawn from a shared pool (each
/// shared id used by several watches). Returns the id lists and the number of distinct ids.
fn workload(ids: &[String], watches: usize, per_watch: usize) -> (Vec<Vec<String>>, usize) {
    let shared_per_watch = per_watch / 5;
    let pool = watches * shared_per_watch / 3;
    let (shared, own) = ids.split_at(pool);
    let own_per_watch = per_watch - shared_per_watch;
    let lists: Vec<Vec<String>> = (0..watches)
        .map(|w| {
            let mut list: Vec<String> = own[w * own_per_watch..(w + 1) * own_per_watch].to_vec();
            list.extend(
                (0..shared_per_watch).map(|s| shared[(w * shared_per_watch + s) % pool].clone()),
            );
            list
        })
        .collect();
    let unique = lists.iter().flatten().collect::<BTreeSet<_>>().len();
    (lists, unique)
}

fn registration(
    sim: &HssSimulator,
    name: &str,
    ids: &[String],
    interval: Duration,
    credentials: Credentials,
) -> WatchRegistration {
    WatchRegistration {
        key: WatchKey::new("ns", name),
        scope: scope(sim),
        credentials,
        host_ids: ids.iter().map(|id| id.as_str().into()).collect(),
        interval,
        revision: "1".into(),
    }
}

/// Registers one watch per id list, named [`name`]`(i)`, all on the demo access key at
/// `interval`.
fn register_all(poller: &Poller, sim: &HssSimulator, lists: &[Vec<String>], interval: Duration) {
    for (i, ids) in lists.iter().enumerate() {
        poller.upsert(registration(sim, &name(i), ids, interval, aksk()));
    }
}

/// Every update delivered through the subscription, per watch, in order.
#[derive(Clone, Default)]
struct Collected(Arc<Mutex<HashMap<WatchKey, Vec<Received>>>>);

/// An update and when the subscriber read it.
type Received = (Instant, WatchUpdate);

impl Collected {
    fn start(handle: &PollerHandle) -> Self {
        let collected = Self::default();
        let sink = collected.clone();
        let handle = handle.clone();
        let mut keys = handle.subscribe();
        tokio::spawn(async move {
            while let Some(key) = keys.next().await {
                if let Some(update) = handle.pending(&key) {
                    handle.applied(&key, update.at);
                    let mut map = sink.0.lock().expect("lock");
                    map.entry(key).or_default().push((Instant::now(), update));
                }
            }
        });
        collected
    }

    fn updates(&self, name: &str) -> Vec<Received> {
        let map = self.0.lock().expect("lock");
        map.get(&WatchKey::new("ns", name))
            .cloned()
            .unwrap_or_default()
    }

    fn successes(&self, name: &str) -> usize {
        self.updates(name)
            .iter()
            .filter(|(_, u)| u.outcome.is_ok())
            .count()
    }
}

/// Polls `check` every 20 ms until it holds or `limit` passes; returns whether it held.
async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}

fn name(i: usize) -> String {
    format!("w{i:02}")
}

#[tokio::test]
async fn one_credential_sweeps_with_the_minimum_calls_and_no_429() {
    let sim = simulator(400, 150).await;
    let http = client(5, Duration::from_secs(2));
    let (poller, handle) = poller(http.clone());
    let collected = Collected::start(&handle);
    let (lists, unique) = workload(&sim.host_ids(), 30, 10);
    let minimum = unique.div_ceil(100) as u64;
    register_all(&poller, &sim, &lists, Duration::from_millis(2500));
    let swept = eventually(Duration::from_secs(12), || {
        handle.stats().groups.values().all(|g| g.sweeps >= 4)
    })
    .await;
    let stats = handle.stats();
    assert!(swept, "{stats:?}");
    assert_eq!(stats.groups.len(), 1);
    let group = stats.groups.values().next().expect("group");
    eprintln!(
        "30x10 (20% shared): unique={unique} min/sweep={minimum} sweeps={} calls={} last_sweep_calls={:?} 429s={}",
        group.sweeps,
        group.calls,
        group.last_sweep_calls,
        sim.counters().throttled
    );
    assert_eq!(group.unique_ids, unique);
    assert_eq!(group.min_calls_per_sweep, minimum);
    assert_eq!(group.last_sweep_calls, Some(minimum));
    // Every sweep at the minimum, plus at most the sweep in progress.
    assert!(group.calls <= (group.sweeps + 1) * minimum, "{group:?}");
    let counters = sim.counters();
    assert_eq!(counters.throttled, 0);
    assert_eq!(http.stats().throttled, 0);
    assert_eq!(counters.calls_by(AK_IDENTITY), group.calls);
    assert!(counters.largest_host_id_list <= 100);
    for (i, ids) in lists.iter().enumerate() {
        let updates = collected.updates(&name(i));
        assert!(
            updates.len() >= 4,
            "{} got {} updates",
            name(i),
            updates.len()
        );
        let (_, last) = updates.last().expect("update");
        let result = last.outcome.as_ref().expect("success");
        let answered: BTreeSet<&str> = result.hosts.iter().map(|h| &*h.id).collect();
        assert_eq!(
            answered,
            ids.iter().map(String::as_str).collect::<BTreeSet<_>>(),
            "only its own ids"
        );
        assert!(!result.request_ids.is_empty());
        for host in result.hosts.iter().filter(|h| h.data.is_found()) {
            assert_eq!(
                Some(&host.data),
                sim.host(&host.id)
                    .map(|h| HostData::from_risk(&h.risk))
                    .as_ref()
            );
        }
        let effective = last
            .effective_interval
            .expect("measured after the second refresh");
        // Fill-ahead may complete a refresh up to half an interval early; the quota is ample.
        assert!(
            effective >= Duration::from_millis(1250) && effective < Duration::from_millis(5000),
            "{effective:?}"
        );
        assert!(!last.is_lagging());
    }
    drop(poller);
}

#[tokio::test]
async fn the_real_per_minute_quota_is_never_exceeded() {
    // Real window on both sides: 5 calls a minute. One sweep takes 3 calls; the next sweep,
    // due after 500 ms, gets the 2 calls left and must then wait, not hit a 429.
    let sim = simulator(400, 5).await;
    let http = client(5, Duration::from_secs(60));
    let (poller, handle) = poller(http.clone());
    let (lists, unique) = workload(&sim.host_ids(), 30, 10);
    assert_eq!(unique.div_ceil(100), 3);
    register_all(&poller, &sim, &lists, Duration::from_millis(500));
    assert!(eventually(Duration::from_secs(5), || handle.stats().total_calls() >= 5).await);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let counters = sim.counters();
    eprintln!(
        "real quota: calls={} throttled={} stats={:?}",
        counters.calls_by(AK_IDENTITY),
        counters.throttled,
        handle.stats().groups.values().next()
    );
    assert_eq!(counters.calls_by(AK_IDENTITY), 5);
    assert_eq!(counters.throttled, 0);
    assert_eq!(http.stats().throttled, 0);
    assert_eq!(handle.stats().total_calls(), 5);
}

#[tokio::test]
async fn different_credentials_use_separate_groups_and_a_wrong_secret_fails_only_its_watch() {
    let sim = simulator(100, 150).await;
    let http = client(5, Duration::from_secs(2));
    let (poller, handle) = poller(http);
    let collected = Collected::start(&handle);
    let ids = sim.host_ids();
    let token = Credentials::Token(DEMO_STATIC_TOKEN.into());
    let wrong_secret = Credentials::ak_sk(DEMO_ACCESS_KEY, "not-the-secret-key");
    let interval = Duration::from_secs(1);
    // Same ids under two identities: separate groups, each asks for them. The same access key
    // with a wrong secret is a group of its own: it must not fail the watch whose key is right.
    poller.upsert(registration(&sim, "ak-a", &ids[0..30], interval, aksk()));
    poller.upsert(registration(
        &sim,
        "ak-b",
        &ids[20..50],
        interval,
        wrong_secret,
    ));
    poller.upsert(registration(
        &sim,
        "tok-a",
        &ids[0..30],
        interval,
        token.clone(),
    ));
    assert!(eventually(Duration::from_secs(5), || collected.successes("tok-a") >= 1).await);
    assert!(eventually(Duration::from_secs(5), || collected.successes("ak-a") >= 1).await);
    let groups = handle.stats().groups;
    assert_eq!(groups.len(), 3, "{groups:?}");
    let ak_group = handle
        .group_of(&WatchKey::new("ns", "ak-a"))
        .expect("group");
    assert_ne!(
        handle.group_of(&WatchKey::new("ns", "ak-b")),
        Some(ak_group.clone())
    );
    assert_ne!(
        handle.group_of(&WatchKey::new("ns", "tok-a")),
        Some(ak_group.clone())
    );
    assert!(sim.counters().calls_by("static-token:0") >= 1);

    // The wrong secret fails only its own watch; the right one never fails.
    assert!(
        eventually(Duration::from_secs(5), || {
            collected
                .updates("ak-b")
                .iter()
                .any(|(_, u)| u.outcome.is_err())
        })
        .await
    );
    assert!(collected
        .updates("ak-a")
        .iter()
        .all(|(_, u)| u.outcome.is_ok()));
    let failed = collected.updates("ak-b");
    let reason = failed
        .iter()
        .find_map(|(_, u)| u.outcome.as_ref().err())
        .expect("failure");
    assert_eq!(reason.reason, "InvalidCredentials");
    assert!(reason.auth_failure);
    // Rotated to the right key: the watch joins the group of that key and recovers.
    poller.upsert(registration(&sim, "ak-b", &ids[20..50], interval, aksk()));
    assert!(eventually(Duration::from_secs(5), || collected.successes("ak-b") >= 1).await);
    assert_eq!(
        handle.group_of(&WatchKey::new("ns", "ak-b")),
        Some(ak_group.clone())
    );

    // Another identity moves the watch to the other group.
    poller.upsert(registration(&sim, "ak-a", &ids[0..30], interval, token));
    assert_ne!(
        handle.group_of(&WatchKey::new("ns", "ak-a")),
        Some(ak_group.clone())
    );
    assert_eq!(handle.stats().groups[&ak_group].watches, 1);
    assert_eq!(sim.counters().throttled, 0);
}

#[tokio::test]
async fn a_new_watch_is_refreshed_before_the_others_next_cycle() {
    let sim = simulator(400, 150).await;
    let (poller, handle) = poller(client(5, Duration::from_secs(2)));
    let collected = Collected::start(&handle);
    let (lists, _) = workload(&sim.host_ids(), 30, 10);
    let interval = Duration::from_secs(6);
    register_all(&poller, &sim, &lists[..29], interval);
    assert!(
        eventually(Duration::from_secs(5), || handle
            .stats()
            .groups
            .values()
            .all(|g| g.sweeps >= 1))
        .await
    );
    let registered = Instant::now();
    poller.upsert(registration(&sim, "newcomer", &lists[29], interval, aksk()));
    assert!(
        eventually(Duration::from_secs(3), || collected.successes("newcomer")
            >= 1)
        .await
    );
    let (at, update) = collected.updates("newcomer").remove(0);
    let latency = at - registered;
    eprintln!("new watch refreshed after {latency:?} (others' interval {interval:?})");
    assert!(latency < Duration::from_secs(2), "{latency:?}");
    assert!(update.lag < Duration::from_secs(2));
    for i in 0..29 {
        assert_eq!(
            collected.successes(&name(i)),
            1,
            "{} polled again already",
            name(i)
        );
    }
    // A new revision of an existing watch is polled promptly too.
    let changed = Instant::now();
    let mut bumped = registration(&sim, &name(3), &lists[3], interval, aksk());
    bumped.revision = "2".into();
    poller.upsert(bumped);
    assert!(
        eventually(Duration::from_secs(3), || collected.successes(&name(3))
            >= 2)
        .await
    );
    let (at, update) = collected.updates(&name(3)).pop().expect("update");
    assert!(at - changed < Duration::from_secs(2));
    assert_eq!(update.revision, "2");
    assert_eq!(collected.successes(&name(4)), 1);
}

#[tokio::test]
async fn too_small_a_quota_spreads_polls_fairly_and_reports_the_effective_interval() {
    // 2 calls per 2 s = 1 call/s, but 30 watches x 10 ids due every second need 3 calls/s.
    let sim = simulator(400, 60).await;
    let http = client(2, Duration::from_secs(2));
    let metrics = Metrics::new(MetricsOptions::default());
    let (poller, handle) = Poller::new(
        http.clone(),
        PollerOptions {
            metrics: Some(metrics.clone()),
            ..PollerOptions::matching(http.config())
        },
    );
    let collected = Collected::start(&handle);
    let (lists, _) = workload(&sim.host_ids(), 30, 10);
    let target = Duration::from_secs(1);
    register_all(&poller, &sim, &lists, target);
    tokio::time::sleep(Duration::from_secs(11)).await;
    let mut effective = Vec::new();
    for i in 0..30 {
        let updates = collected.updates(&name(i));
        assert!(
            updates.len() >= 2,
            "{} starved: {} refreshes",
            name(i),
            updates.len()
        );
        let (_, last) = updates.last().expect("update");
        let eff = last.smoothed_interval.expect("measured");
        assert!(eff > target.mul_f64(1.5), "{}: {eff:?}", name(i));
        assert!(last.is_lagging());
        assert!(
            last.lag < Duration::from_secs(5),
            "{}: lag {:?}",
            name(i),
            last.lag
        );
        // No gap between two refreshes longer than a bounded multiple of the fair share.
        for pair in updates.windows(2) {
            assert!(pair[1].0 - pair[0].0 < Duration::from_secs(6));
        }
        effective.push(eff);
    }
    let counters = sim.counters();
    eprintln!(
        "quota-bound: effective interval min={:?} max={:?} (target {target:?}), calls={} 429s={}",
        effective.iter().min(),
        effective.iter().max(),
        counters.calls_by(AK_IDENTITY),
        counters.throttled
    );
    assert_eq!(counters.throttled, 0);
    // 11 s at 2 per 2 s: at most 2 + 2 * 5.5 calls.
    assert!(counters.calls_by(AK_IDENTITY) <= 13);
    let text = metrics.encode().expect("metrics");
    let series = |family: &str| {
        text.lines()
            .find(|l| l.starts_with(family) && l.contains("name=\"w07\""))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    let effective = series("hostrisk_watch_effective_interval_seconds").expect("effective");
    let excess = series("hostrisk_watch_interval_lag_seconds").expect("excess");
    assert!(effective > 1.5 && excess > 0.5, "{effective} {excess}");
    assert!(text.contains("hostrisk_hss_quota_wait_seconds_count"));
}

#[tokio::test]
async fn a_failing_call_reports_to_its_watches_keeps_data_and_recovers() {
    let sim = simulator(100, 150).await;
    let (poller, handle) = poller(client(5, Duration::from_secs(2)));
    let collected = Collected::start(&handle);
    let ids = sim.host_ids();
    poller.upsert(registration(
        &sim,
        "fast",
        &ids[0..10],
        Duration::from_millis(700),
        aksk(),
    ));
    poller.upsert(registration(
        &sim,
        "slow",
        &ids[10..20],
        Duration::from_secs(60),
        aksk(),
    ));
    assert!(
        eventually(Duration::from_secs(3), || {
            collected.successes("fast") >= 1 && collected.successes("slow") >= 1
        })
        .await
    );
    sim.update_faults(|f| f.error_rate = 1.0).expect("faults");
    assert!(
        eventually(Duration::from_secs(4), || {
            collected
                .updates("fast")
                .iter()
                .any(|(_, u)| u.outcome.is_err())
        })
        .await
    );
    let failure = collected
        .updates("fast")
        .into_iter()
        .find_map(|(_, u)| u.outcome.err())
        .expect("failure");
    assert_eq!(failure.reason, "ApiUnavailable");
    assert!(failure.request_id.is_some());
    // The slow watch was not in the failing calls: no failure reported to it.
    assert!(collected
        .updates("slow")
        .iter()
        .all(|(_, u)| u.outcome.is_ok()));
    let cached = handle.cached(&WatchKey::new("ns", "fast")).expect("cached");
    assert_eq!(cached.hosts.len(), 10, "last good data kept");
    let stats = handle.stats();
    assert!(stats.groups.values().all(|g| g.failed_calls >= 1));

    sim.update_faults(|f| f.error_rate = 0.0).expect("faults");
    let before = collected.successes("fast");
    assert!(
        eventually(Duration::from_secs(5), || collected.successes("fast")
            > before)
        .await
    );
    assert_eq!(sim.counters().throttled, 0);
}

#[tokio::test]
async fn removal_stops_polling_the_removed_ids() {
    let sim = simulator(100, 150).await;
    let (poller, handle) = poller(client(5, Duration::from_secs(2)));
    let collected = Collected::start(&handle);
    let ids = sim.host_ids();
    let interval = Duration::from_millis(600);
    poller.upsert(registration(&sim, "keep", &ids[0..10], interval, aksk()));
    poller.upsert(registration(&sim, "drop", &ids[10..30], interval, aksk()));
    assert!(eventually(Duration::from_secs(3), || collected.successes("drop") >= 1).await);
    assert_eq!(handle.registered().len(), 2);
    poller.remove(&WatchKey::new("ns", "drop"));
    assert_eq!(handle.registered(), vec![WatchKey::new("ns", "keep")]);
    assert_eq!(handle.group_of(&WatchKey::new("ns", "drop")), None);
    assert!(handle.pending(&WatchKey::new("ns", "drop")).is_none());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = handle.stats();
    let before_group = before.groups.values().next().expect("group").clone();
    assert_eq!(before_group.unique_ids, 10);
    assert!(
        eventually(Duration::from_secs(4), || {
            handle.stats().total_calls() >= before.total_calls() + 3
        })
        .await
    );
    let after = handle.stats();
    let after_group = after.groups.values().next().expect("group");
    let calls = after_group.calls - before_group.calls;
    assert_eq!(
        after_group.ids_requested - before_group.ids_requested,
        calls * 10
    );

    // The last watch gone, the group stops calling.
    poller.remove(&WatchKey::new("ns", "keep"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let settled = sim.counters().calls_by(AK_IDENTITY);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sim.counters().calls_by(AK_IDENTITY), settled);
    assert_eq!(handle.stats().total_calls(), settled);
}

#[tokio::test]
async fn two_groups_of_one_credential_share_its_real_quota() {
    // Two enterprise projects, one access key: two groups, one quota of 5 calls a minute.
    // Each group needs 3 calls a sweep; together they get exactly 5, both served, no 429.
    let sim = simulator(600, 5).await;
    let http = client(5, Duration::from_secs(60));
    let (poller, handle) = poller(http.clone());
    let collected = Collected::start(&handle);
    let ids = sim.host_ids();
    let (lists, _) = workload(&ids[..300], 30, 10);
    let (other_lists, _) = workload(&ids[300..], 30, 10);
    let all_eps = Scope::for_endpoint(
        sim.base_url(),
        DEMO_PROJECT_ID,
        Some("all_granted_eps".into()),
    )
    .expect("scope");
    register_all(&poller, &sim, &lists, Duration::from_secs(30));
    for (i, ids) in other_lists.iter().enumerate() {
        let mut reg = registration(
            &sim,
            &format!("eps-{i:02}"),
            ids,
            Duration::from_secs(30),
            aksk(),
        );
        reg.scope = all_eps.clone();
        poller.upsert(reg);
    }
    assert!(eventually(Duration::from_secs(5), || handle.stats().total_calls() >= 5).await);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stats = handle.stats();
    assert_eq!(stats.groups.len(), 2);
    let counters = sim.counters();
    eprintln!(
        "shared identity: calls by group {:?}, simulator calls {} 429s {}",
        stats
            .groups
            .iter()
            .map(|(group, g)| (group.to_string(), g.calls))
            .collect::<Vec<_>>(),
        counters.calls_by(AK_IDENTITY),
        counters.throttled
    );
    assert_eq!(counters.calls_by(AK_IDENTITY), 5);
    assert_eq!(counters.throttled, 0);
    // Planned across both groups: no call was started (and left waiting in the client's
    // limiter with a stale plan) beyond the shared quota.
    assert_eq!(stats.total_calls(), 5);
    assert!(
        stats.groups.values().all(|g| g.calls >= 2),
        "both groups served: {stats:?}"
    );
    let served = (0..30)
        .filter(|i| collected.successes(&format!("eps-{i:02}")) > 0)
        .count();
    assert!(served > 0);
}

#[tokio::test]
async fn watches_registered_moments_apart_share_calls_under_the_real_quota() {
    // The operator starting: reconciles register watches one by one, a few ms apart. The
    // first calls wait a moment to gather them instead of spending a permit each.
    let sim = simulator(400, 5).await;
    let (poller, handle) = poller(client(5, Duration::from_secs(60)));
    let (lists, unique) = workload(&sim.host_ids(), 30, 10);
    for (i, ids) in lists.iter().enumerate() {
        poller.upsert(registration(
            &sim,
            &name(i),
            ids,
            Duration::from_secs(60),
            aksk(),
        ));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(
        eventually(Duration::from_secs(5), || handle
            .stats()
            .groups
            .values()
            .all(|g| g.sweeps >= 1))
        .await
    );
    let stats = handle.stats();
    let group = stats.groups.values().next().expect("group");
    eprintln!(
        "start-up wave: calls={} for {unique} ids (min {})",
        group.calls, group.min_calls_per_sweep
    );
    assert_eq!(group.calls, unique.div_ceil(100) as u64);
    assert_eq!(sim.counters().throttled, 0);
}
