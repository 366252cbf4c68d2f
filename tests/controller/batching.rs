//! The shared, batched poller behind the controller: calls per sweep, per-watch results, the
//! quota, and prompt first polls.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use hostrisk_operator::crd::{HostRiskWatch, HostRiskWatchStatus};

use super::harness::{condition, condition_is, hss_calls, is_synced, Harness, Options, NS};

fn sweeps(h: &Harness) -> u64 {
    h.poller_stats().groups.values().map(|g| g.sweeps).sum()
}

/// Waits until the poller's sweep counter reaches `target`; returns the simulator's call count
/// read right then (the next sweep starts an interval later).
async fn calls_when_sweeps_reach(h: &Harness, target: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    while sweeps(h) < target {
        assert!(Instant::now() < deadline, "no sweep {target}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    hss_calls(&h.sim)
}

/// What the simulator answers for `id` in the default enterprise project.
fn expected_found(h: &Harness, id: &str) -> Option<String> {
    h.sim
        .host(id)
        .filter(|host| host.enterprise_project_id == "0")
        .map(|host| {
            host.risk
                .agent_status
                .map(|s| s.as_str().to_string())
                .unwrap_or_default()
        })
}

fn assert_own_hosts(h: &Harness, watch: &HostRiskWatch) {
    let status = watch.status.as_ref().expect("status");
    let listed: Vec<&str> = status.hosts.iter().map(|h| h.host_id.as_str()).collect();
    let asked: Vec<&str> = watch.spec.host_ids.iter().collect();
    assert_eq!(listed, asked, "exactly its own hosts, in spec order");
    for host in &status.hosts {
        let expected = expected_found(h, &host.host_id);
        assert_eq!(host.found, expected.is_some(), "{}", host.host_id);
        if let Some(agent) = expected {
            assert_eq!(host.agent_status.as_deref(), Some(agent.as_str()));
        }
    }
    let summary = status.summary.as_ref().expect("summary");
    assert_eq!(summary.hosts_requested, asked.len() as i64);
}

#[tokio::test]
async fn watches_sharing_a_credential_cost_the_minimum_calls_and_get_their_own_hosts() {
    let h = Harness::start(Options::controller()).await;
    h.create_demo_secret(NS, "hss-creds").await;
    // 55 simulated hosts (a few in other enterprise projects, so not found here) and unknown
    // ids, 230 unique ids in all, shared between overlapping watches.
    let mut pool = h.sim.host_ids();
    pool.sort();
    pool.extend((0..230 - pool.len()).map(|i| format!("ghost-{i:03}")));
    let slice = |range: std::ops::Range<usize>| pool[range].iter().map(String::as_str);
    let watches: Vec<(&str, Vec<&str>)> = vec![
        ("w1", slice(0..120).collect()),
        ("w2", slice(80..200).collect()),
        ("w3", slice(150..230).chain(slice(0..10)).collect()),
        ("w4", slice(0..50).collect()),
    ];
    let unique: BTreeSet<&str> = watches.iter().flat_map(|(_, ids)| ids.clone()).collect();
    assert_eq!(unique.len(), 230);
    let minimum = unique.len().div_ceil(100) as u64;
    let per_watch: u64 = watches
        .iter()
        .map(|(_, ids)| ids.len().div_ceil(100) as u64)
        .sum();
    for (name, ids) in &watches {
        h.create_watch(NS, name, ids, "hss-creds", "2s").await;
    }
    for (name, _) in &watches {
        let watch = h.wait_for(NS, name, "Ready", is_synced).await;
        assert_own_hosts(&h, &watch);
    }
    let stats = h.poller_stats();
    assert_eq!(
        stats.groups.len(),
        1,
        "one scope, one credential: one group"
    );
    let group = stats.groups.values().next().expect("group");
    assert_eq!(group.unique_ids, 230);
    assert_eq!(group.min_calls_per_sweep, minimum);

    // Steady state: three full sweeps, counted by the simulator.
    let start = sweeps(&h) + 1;
    let before = calls_when_sweeps_reach(&h, start).await;
    let after = calls_when_sweeps_reach(&h, start + 3).await;
    let per_sweep = (after - before) as f64 / 3.0;
    eprintln!(
        "4 watches, 230 unique ids: {per_sweep} HSS calls per sweep (minimum {minimum}, \
         one call per watch would be {per_watch})"
    );
    assert_eq!(
        after - before,
        3 * minimum,
        "calls per sweep = ceil(230 / 100)"
    );
    assert_eq!(h.sim.counters().throttled, 0);
    assert_eq!(
        h.sim.counters().largest_host_id_list,
        100,
        "calls are filled up to 100 ids"
    );
    for (name, _) in &watches {
        let watch = h.watches(NS).get(name).await.expect("watch");
        assert_own_hosts(&h, &watch);
    }
    h.stop().await;
}

fn quota_limited(watch: &HostRiskWatch, status: &HostRiskWatchStatus) -> bool {
    condition_is(status, "Ready", "True", "QuotaLimited")
        && status.observed_generation == watch.metadata.generation
}

#[tokio::test]
async fn a_quota_too_small_for_the_intervals_is_shared_fairly_and_reported() {
    // One call a second for the credential, both in the client and in the simulator (60 a
    // minute). Three watches of 100 distinct ids each need three calls per sweep: a 1s
    // interval cannot be met, about 3s can.
    let h = Harness::start(
        Options::controller()
            .hss_quota(1, Duration::from_secs(1))
            .sim_quota_per_minute(60),
    )
    .await;
    h.create_demo_secret(NS, "hss-creds").await;
    let ids: Vec<String> = (0..300).map(|i| format!("ghost-{i:03}")).collect();
    let names = ["q1", "q2", "q3"];
    for (i, name) in names.iter().enumerate() {
        let own: Vec<&str> = ids[i * 100..(i + 1) * 100]
            .iter()
            .map(String::as_str)
            .collect();
        h.create_watch(NS, name, &own, "hss-creds", "1s").await;
    }
    // No watch starves: each one is refreshed again and again, at the interval the quota
    // allows, and says so.
    for name in names {
        let watch = h.wait_for(NS, name, "QuotaLimited", quota_limited).await;
        let status = watch.status.expect("status");
        let effective = status
            .effective_interval
            .clone()
            .expect("effectiveInterval");
        let secs = hostrisk_operator::crd::duration::parse_duration("x", &effective)
            .expect("a duration")
            .as_secs();
        assert!(
            (2..=5).contains(&secs),
            "{name}: effectiveInterval {effective}"
        );
        let ready = condition(&status, "Ready").expect("Ready");
        assert!(ready.message.contains("quota"), "{}", ready.message);
        assert_eq!(status.hosts.len(), 100);
        eprintln!("{name}: effectiveInterval {effective} (asked 1s)");
    }
    // The metrics say it too, per watch.
    let text = h.ctx.metrics.encode().expect("metrics");
    for name in names {
        let series = format!(
            "hostrisk_watch_effective_interval_seconds{{namespace=\"{NS}\",name=\"{name}\"}}"
        );
        assert!(text.contains(&series), "{series} missing:\n{text}");
    }

    // A new watch is polled with the next call, not after a full cycle of the others.
    let created = Instant::now();
    h.create_watch(NS, "late", &["demo-web-01"], "hss-creds", "1s")
        .await;
    h.wait_for(NS, "late", "first data", |_, s| {
        s.hosts.first().is_some_and(|host| host.found)
    })
    .await;
    let latency = created.elapsed();
    eprintln!("new watch under a saturated quota: first data after {latency:?}");
    assert!(latency < Duration::from_millis(2500), "{latency:?}");

    let counters = h.sim.counters();
    assert_eq!(counters.throttled, 0, "no 429 from the simulator");
    assert!(!text.contains("outcome=\"throttled\""));
    h.stop().await;
}

#[tokio::test]
async fn idle_refreshes_of_a_quota_limited_watch_write_nothing() {
    let h = Harness::start(Options::controller().hss_quota(1, Duration::from_secs(1))).await;
    h.create_demo_secret(NS, "hss-creds").await;
    let ids: Vec<String> = (0..200).map(|i| format!("ghost-{i:03}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    h.create_watch(NS, "slow", &refs, "hss-creds", "1s").await;
    h.wait_for(NS, "slow", "QuotaLimited", quota_limited).await;
    // Let the write that said so settle.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let writes = || h.kube.status_writes("hostriskwatches");
    let before = writes();
    let calls = hss_calls(&h.sim);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(hss_calls(&h.sim) >= calls + 3, "still polling");
    assert_eq!(writes(), before, "nothing changed: no status write");
    h.stop().await;
}
