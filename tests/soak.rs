//! A bounded soak: several watches over overlapping hosts, host changes made through the
//! simulator's admin API, and random faults on both sides (HSS: 5xx, latency past the timeout,
//! malformed and truncated bodies, 429 storms; Kubernetes: dropped watches, 410 on resume, 409
//! on writes, the API server unavailable). Seeded; the seed is printed.
//!
//! At the end it counts lost host updates (the final value of a host not in status after the
//! faults end) and updates stale beyond the bound (not in status after `STALE_BOUND` of
//! fault-free time). Both must be zero.
//!
//! `HOSTRISK_SOAK_SECS` (default 45, CI) sets the faulty phase; `HOSTRISK_SOAK_SEED` replays a
//! run.

#[path = "support/controller_harness/mod.rs"]
mod harness;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hostrisk_operator::crd::HostRiskWatchStatus;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use harness::{Harness, Options, NS};

/// The watches' interval.
const INTERVAL_TEXT: &str = "2s";
/// Fault-free time within which a change must show: the next poll (an interval, +10 % jitter),
/// a backoff capped at the interval, one poll with the client's retries, and the write.
const STALE_BOUND: Duration = Duration::from_millis(2 * 2200 + 2000 + 1500);
const TICK: Duration = Duration::from_millis(200);

/// One pending change of a host: the value HSS holds now and the fault-free time it has waited.
struct Pending {
    value: i64,
    changed_at: Instant,
    clear_waited: Duration,
}

struct Watch {
    name: String,
    hosts: Vec<String>,
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn shows(status: &HostRiskWatchStatus, host: &str, value: i64) -> bool {
    status
        .hosts
        .iter()
        .any(|h| h.host_id == host && h.vulnerability == Some(value))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_with_random_faults_loses_no_update() {
    let seed = env_u64("HOSTRISK_SOAK_SEED").unwrap_or_else(rand::random);
    let secs = env_u64("HOSTRISK_SOAK_SECS").unwrap_or(45);
    eprintln!("soak: seed {seed} (HOSTRISK_SOAK_SEED={seed} replays it), {secs} s of faults");
    let mut rng = StdRng::seed_from_u64(seed);

    let h = Harness::start(Options::faults()).await;
    let admin = reqwest::Client::new();
    let base = h.sim.base_url();
    // Hosts of the default enterprise project: the watches set none, so others are not found.
    let mut pool: Vec<String> = h
        .sim
        .hosts()
        .into_iter()
        .filter(|x| x.enterprise_project_id == "0")
        .map(|x| x.host_id().to_string())
        .collect();
    pool.sort();
    pool.truncate(8);
    assert!(pool.len() >= 4, "{pool:?}");
    h.create_demo_secret(NS, "hss-creds").await;
    let mut watches = Vec::new();
    for i in 0..4 {
        let mut hosts: Vec<String> = pool
            .iter()
            .filter(|_| rng.random_bool(0.5))
            .cloned()
            .collect();
        if hosts.is_empty() {
            hosts.push(pool[i].clone());
        }
        let ids: Vec<&str> = hosts.iter().map(String::as_str).collect();
        let name = format!("soak-{i}");
        h.create_watch(NS, &name, &ids, "hss-creds", INTERVAL_TEXT)
            .await;
        watches.push(Watch { name, hosts });
    }
    for w in &watches {
        h.wait_for(NS, &w.name, "Ready", harness::is_ready).await;
    }

    let mut seq: i64 = 1_000;
    let mut pending: BTreeMap<(String, String), Pending> = BTreeMap::new();
    let mut hss_fault_until: Option<Instant> = None;
    let mut kube_fault_until: Option<Instant> = None;
    let mut stale: Vec<String> = Vec::new();
    let mut delivered = 0u64;
    let mut worst = Duration::ZERO;
    let mut injected: BTreeMap<&str, u64> = BTreeMap::new();
    let end = Instant::now() + Duration::from_secs(secs);
    let mut last_tick = Instant::now();

    let mut phase_end = false;
    loop {
        let now = Instant::now();
        if now >= end && !phase_end {
            // The faulty phase is over: clear the HSS faults; Kubernetes faults run out.
            h.sim
                .update_faults(|f| *f = hostrisk_sim::hss::Faults::none())
                .unwrap();
            hss_fault_until = None;
            phase_end = true;
        }
        if phase_end {
            let quiet_since = kube_fault_until.map_or(end, |k| k.max(end));
            if pending.is_empty() || now > quiet_since + STALE_BOUND + Duration::from_secs(2) {
                break;
            }
        }
        if !phase_end {
            // A host change, through the admin API, most ticks.
            if rng.random_bool(0.4) {
                let host = pool[rng.random_range(0..pool.len())].clone();
                seq += 1;
                let response = admin
                    .patch(base.join(&format!("_sim/hosts/{host}")).unwrap())
                    .json(&json!({"vulnerability": seq}))
                    .send()
                    .await
                    .unwrap();
                assert!(response.status().is_success(), "{}", response.status());
                for w in watches.iter().filter(|w| w.hosts.contains(&host)) {
                    pending.insert(
                        (w.name.clone(), host.clone()),
                        Pending {
                            value: seq,
                            changed_at: Instant::now(),
                            clear_waited: Duration::ZERO,
                        },
                    );
                }
            }
            // HSS faults, one at a time, 0.5-3 s long.
            if hss_fault_until.is_some_and(|t| now >= t) {
                h.sim
                    .update_faults(|f| *f = hostrisk_sim::hss::Faults::none())
                    .unwrap();
                hss_fault_until = None;
            }
            if hss_fault_until.is_none() && rng.random_bool(0.08) {
                let kind = ["5xx", "slow", "malformed", "truncated", "429"][rng.random_range(0..5)];
                *injected.entry(kind).or_default() += 1;
                h.sim
                    .update_faults(|f| match kind {
                        "5xx" => f.error_rate = 1.0,
                        "slow" => f.latency_ms = 1200,
                        "malformed" => f.malformed_rate = 1.0,
                        "truncated" => f.truncated_rate = 0.7,
                        _ => {
                            f.quota_per_minute = 1;
                            f.retry_after_seconds = Some(1);
                        }
                    })
                    .unwrap();
                hss_fault_until = Some(now + Duration::from_millis(rng.random_range(500..3000)));
            }
            // Kubernetes faults.
            if kube_fault_until.is_none_or(|t| now >= t) && rng.random_bool(0.06) {
                let kind = ["drop", "410", "409", "unavailable"][rng.random_range(0..4)];
                *injected.entry(kind).or_default() += 1;
                let lasts = match kind {
                    "drop" => {
                        h.kube.drop_watches();
                        Duration::from_millis(500)
                    }
                    "410" => {
                        h.kube.expire_next_watches(2);
                        h.kube.drop_watches();
                        Duration::from_millis(1000)
                    }
                    "409" => {
                        h.kube
                            .conflict_next_writes("hostriskwatches", rng.random_range(1..4));
                        Duration::from_millis(1000)
                    }
                    _ => {
                        let d = Duration::from_millis(rng.random_range(500..3000));
                        h.kube.unavailable_for(d);
                        d
                    }
                };
                kube_fault_until = Some(now + lasts);
            }
        }

        // Check every pending change against the stored status.
        let fault_active =
            hss_fault_until.is_some_and(|t| now < t) || kube_fault_until.is_some_and(|t| now < t);
        let elapsed = now - last_tick;
        last_tick = now;
        let mut statuses = BTreeMap::new();
        for w in &watches {
            if let Ok(watch) = h.watches(NS).get(&w.name).await {
                if let Some(status) = watch.status {
                    statuses.insert(w.name.clone(), status);
                }
            }
        }
        pending.retain(|(watch, host), p| {
            if statuses.get(watch).is_some_and(|s| shows(s, host, p.value)) {
                delivered += 1;
                worst = worst.max(p.changed_at.elapsed());
                return false;
            }
            if !fault_active {
                p.clear_waited += elapsed;
            }
            if p.clear_waited > STALE_BOUND {
                stale.push(format!(
                    "{watch}/{host}={} waited {:?} fault-free ({:?} in all)",
                    p.value,
                    p.clear_waited,
                    p.changed_at.elapsed()
                ));
                return false;
            }
            true
        });
        tokio::time::sleep(TICK).await;
    }

    // Lost: the final value of a host is not in a watch's status once every fault is over.
    let mut lost = Vec::new();
    for w in &watches {
        let status = h.status(NS, &w.name).await;
        for host in &w.hosts {
            let truth = h
                .sim
                .host(host)
                .unwrap()
                .risk
                .vulnerability
                .map(|v| v as i64);
            if let Some(value) = truth {
                if !shows(&status, host, value) {
                    let seen = status.hosts.iter().find(|x| &x.host_id == host);
                    lost.push(format!(
                        "{}/{host}={value} (status has {:?}; conditions {:?}; lastSyncTime {:?})",
                        w.name,
                        seen.map(|x| x.vulnerability),
                        status
                            .conditions
                            .iter()
                            .map(|c| format!("{}={} {}", c.type_, c.status, c.reason))
                            .collect::<Vec<_>>(),
                        status.last_sync_time
                    ));
                }
            }
        }
    }
    let counters = h.sim.counters();
    eprintln!(
        "soak: seed {seed}: {delivered} updates delivered (slowest {worst:?}), faults {injected:?}, \
         {} HSS requests, {} throttled, {} lost, {} stale beyond {STALE_BOUND:?} fault-free",
        counters.hss_requests,
        counters.throttled,
        lost.len(),
        stale.len()
    );
    assert!(h.is_running(), "the operator survived the soak");
    assert!(delivered > 0, "the soak changed hosts");
    assert!(lost.is_empty(), "seed {seed}: lost updates: {lost:?}");
    assert!(stale.is_empty(), "seed {seed}: stale updates: {stale:?}");
    h.stop().await;
}
