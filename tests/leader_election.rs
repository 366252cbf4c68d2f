//! Leader election against the stand-in API server, with two or three contenders.
//!
//! Timing: lease 2s, renew deadline 1.5s, retry 0.3s (0.2s where a quick hand-over is
//! asserted). Bounds are generous (seconds of slack) so a loaded 2-core machine does
//! not make them flake; the safety property (never two leaders) has no slack at all.

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hostrisk_operator::leader::{
    wait_until_leading, LeaderElectionConfig, LeaderElector, LeaderError, LeadershipState,
};
use hostrisk_sim::kube::StandinApiServer;
use serde_json::Value;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout, Instant};

const LEASE: &str = "hostrisk-operator";
const NAMESPACE: &str = "default";
const LEASE_DURATION: Duration = Duration::from_secs(2);
// A leader steps down at the renew deadline and a follower takes over only after the
// lease duration: the gap between them is all the scheduling delay a loaded CI machine
// may add before two contenders report Leading at once, so it is a full second.
const RENEW_DEADLINE: Duration = Duration::from_millis(1000);
const RETRY: Duration = Duration::from_millis(300);

fn config(identity: &str, retry: Duration) -> LeaderElectionConfig {
    LeaderElectionConfig {
        lease_duration: LEASE_DURATION,
        renew_deadline: RENEW_DEADLINE,
        retry_period: retry,
        ..LeaderElectionConfig::new(LEASE, NAMESPACE, identity)
    }
}

async fn standin() -> StandinApiServer {
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    StandinApiServer::start(addr).await.expect("start stand-in")
}

/// One elector running in its own task, with a shutdown trigger.
struct Contender {
    rx: watch::Receiver<LeadershipState>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), LeaderError>>,
}

impl Contender {
    async fn start(server: &StandinApiServer, config: LeaderElectionConfig) -> Self {
        let client = server.client().await.expect("client");
        let elector = LeaderElector::new(client, config).expect("valid config");
        let rx = elector.subscribe();
        let (tx, stop) = oneshot::channel::<()>();
        let task = tokio::spawn(elector.run(async move {
            let _ = stop.await;
        }));
        Self {
            rx,
            shutdown: Some(tx),
            task,
        }
    }

    fn state(&self) -> LeadershipState {
        self.rx.borrow().clone()
    }

    async fn wait_leading(&mut self, limit: Duration) {
        timeout(limit, wait_until_leading(&mut self.rx))
            .await
            .expect("became leader in time")
            .expect("elector still running");
    }

    async fn wait_for(&mut self, limit: Duration, want: impl Fn(&LeadershipState) -> bool) {
        let reached = matches!(
            timeout(limit, self.rx.wait_for(|s| want(s))).await,
            Ok(Ok(_))
        );
        assert!(
            reached,
            "state not reached in {limit:?}; now {:?}",
            self.state()
        );
    }

    /// Graceful shutdown; returns what `run` returned.
    async fn stop(mut self) -> Result<(), LeaderError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        timeout(Duration::from_secs(5), self.task)
            .await
            .expect("run returned after shutdown")
            .expect("run did not panic")
    }
}

/// Samples every receiver every 5ms until stopped and keeps the smallest and largest
/// number of contenders that were `Leading` at the same time.
struct ExclusivitySampler {
    stop: Arc<AtomicBool>,
    task: JoinHandle<Sampled>,
}

struct Sampled {
    min_leading: usize,
    max_leading: usize,
    samples: u64,
}

impl ExclusivitySampler {
    fn start(receivers: Vec<watch::Receiver<LeadershipState>>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let mut sampled = Sampled {
                min_leading: usize::MAX,
                max_leading: 0,
                samples: 0,
            };
            while !flag.load(Ordering::Relaxed) {
                let leading = receivers
                    .iter()
                    .filter(|rx| *rx.borrow() == LeadershipState::Leading)
                    .count();
                sampled.min_leading = sampled.min_leading.min(leading);
                sampled.max_leading = sampled.max_leading.max(leading);
                sampled.samples += 1;
                sleep(Duration::from_millis(5)).await;
            }
            sampled
        });
        Self { stop, task }
    }

    async fn finish(self) -> Sampled {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("sampler")
    }
}

fn lease(server: &StandinApiServer) -> Value {
    server
        .object("coordination.k8s.io", "leases", NAMESPACE, LEASE)
        .expect("lease exists")
}

fn holder(server: &StandinApiServer) -> String {
    lease(server)["spec"]["holderIdentity"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn transitions(server: &StandinApiServer) -> i64 {
    lease(server)["spec"]["leaseTransitions"]
        .as_i64()
        .unwrap_or(-1)
}

fn spec_time(lease: &Value, field: &str) -> jiff::Timestamp {
    let text = lease["spec"][field].as_str().expect("time field present");
    jiff::Timestamp::from_str(text).expect("MicroTime parses")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_one_of_two_contenders_leads_and_the_other_knows_who() {
    let server = standin().await;
    let mut a = Contender::start(&server, config("a", RETRY)).await;
    let mut b = Contender::start(&server, config("b", RETRY)).await;
    let sampler = ExclusivitySampler::start(vec![a.rx.clone(), b.rx.clone()]);

    let first = timeout(Duration::from_secs(5), async {
        tokio::select! {
            r = wait_until_leading(&mut a.rx) => r.map(|_| "a"),
            r = wait_until_leading(&mut b.rx) => r.map(|_| "b"),
        }
    })
    .await
    .expect("someone leads within 5s")
    .expect("electors running");
    let (leader, follower) = if first == "a" {
        (&a, &mut b)
    } else {
        (&b, &mut a)
    };
    follower
        .wait_for(Duration::from_secs(3), |s| {
            *s == LeadershipState::Following {
                holder: Some(first.to_string()),
            }
        })
        .await;

    // Several lease durations of steady state: the leader keeps renewing.
    let steady = ExclusivitySampler::start(vec![leader.rx.clone(), follower.rx.clone()]);
    let renewed_before = spec_time(&lease(&server), "renewTime");
    sleep(LEASE_DURATION * 2).await;
    assert_eq!(leader.state(), LeadershipState::Leading);
    assert_ne!(follower.state(), LeadershipState::Leading);
    assert_eq!(holder(&server), first);
    assert!(spec_time(&lease(&server), "renewTime") > renewed_before);
    assert_eq!(lease(&server)["spec"]["leaseDurationSeconds"], 2);
    assert_eq!(transitions(&server), 0, "created by the first holder");

    let steady = steady.finish().await;
    assert!(
        steady.samples > 100,
        "sampler ran ({} samples)",
        steady.samples
    );
    assert_eq!(
        (steady.min_leading, steady.max_leading),
        (1, 1),
        "exactly one leader throughout the steady state"
    );
    assert_eq!(
        sampler.finish().await.max_leading,
        1,
        "never two leaders at once"
    );
    assert!(a.stop().await.is_ok());
    assert!(b.stop().await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follower_takes_over_within_the_lease_duration_when_the_leader_dies() {
    let server = standin().await;
    let mut a = Contender::start(&server, config("a", RETRY)).await;
    a.wait_leading(Duration::from_secs(5)).await;
    let mut b = Contender::start(&server, config("b", RETRY)).await;
    b.wait_for(Duration::from_secs(3), |s| {
        *s == LeadershipState::Following {
            holder: Some("a".into()),
        }
    })
    .await;
    sleep(Duration::from_millis(700)).await;
    assert_eq!(a.state(), LeadershipState::Leading);

    let sampler = ExclusivitySampler::start(vec![a.rx.clone(), b.rx.clone()]);
    // Track the last renewal the dead leader got stored.
    let mut last_a_renewal = spec_time(&lease(&server), "renewTime");
    let died = Instant::now();
    a.task.abort();
    let _ = a.task.await;
    assert_eq!(
        *a.rx.borrow(),
        LeadershipState::Lost,
        "a dropped elector reports Lost"
    );

    let limit = LEASE_DURATION + Duration::from_secs(2);
    while *b.rx.borrow() != LeadershipState::Leading {
        assert!(died.elapsed() < limit, "no takeover within {limit:?}");
        let now = lease(&server);
        if now["spec"]["holderIdentity"] == "a" {
            last_a_renewal = last_a_renewal.max(spec_time(&now, "renewTime"));
        }
        sleep(Duration::from_millis(10)).await;
    }
    let took_over = died.elapsed();

    // No early takeover: the follower waited a full lease duration, by its own clock,
    // after the last renewal it could have seen.
    let after = lease(&server);
    assert_eq!(after["spec"]["holderIdentity"], "b");
    let waited = spec_time(&after, "acquireTime").duration_since(last_a_renewal);
    assert!(
        waited
            >= jiff::SignedDuration::try_from(LEASE_DURATION).expect("fits")
                - jiff::SignedDuration::from_millis(1),
        "follower took over {waited:?} after the last renewal"
    );
    assert!(
        took_over >= LEASE_DURATION - RENEW_DEADLINE,
        "took over after {took_over:?}"
    );
    assert_eq!(transitions(&server), 1);

    assert_eq!(
        sampler.finish().await.max_leading,
        1,
        "never two leaders at once"
    );
    assert!(b.stop().await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn released_lease_is_taken_over_quickly() {
    let retry = Duration::from_millis(200);
    let server = standin().await;
    let mut a = Contender::start(&server, config("a", retry)).await;
    a.wait_leading(Duration::from_secs(5)).await;
    let mut b = Contender::start(&server, config("b", retry)).await;
    b.wait_for(Duration::from_secs(3), |s| {
        *s == LeadershipState::Following {
            holder: Some("a".into()),
        }
    })
    .await;

    let rx_a = a.rx.clone();
    assert!(a.stop().await.is_ok(), "graceful shutdown is Ok");
    let released = Instant::now();
    assert_eq!(*rx_a.borrow(), LeadershipState::Following { holder: None });
    b.wait_leading(Duration::from_secs(1)).await;
    assert!(
        released.elapsed() < Duration::from_secs(1),
        "took {:?}",
        released.elapsed()
    );
    assert_eq!(holder(&server), "b");
    assert_eq!(transitions(&server), 1);
    assert!(b.stop().await.is_ok());
    // b released too: the lease is left unheld with a 1s duration, like client-go.
    assert_eq!(holder(&server), "");
    assert_eq!(lease(&server)["spec"]["leaseDurationSeconds"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_transitions_count_each_handover_and_renewals_keep_acquire_time() {
    let retry = Duration::from_millis(200);
    let server = standin().await;
    for (expected_transitions, identity) in (0i64..).zip(["a", "b", "c"]) {
        let mut next = Contender::start(&server, config(identity, retry)).await;
        next.wait_leading(Duration::from_secs(5)).await;
        assert_eq!(holder(&server), identity);
        assert_eq!(transitions(&server), expected_transitions);
        let acquired = spec_time(&lease(&server), "acquireTime");
        let renewed = spec_time(&lease(&server), "renewTime");
        sleep(Duration::from_millis(800)).await;
        assert_eq!(spec_time(&lease(&server), "acquireTime"), acquired);
        assert!(spec_time(&lease(&server), "renewTime") > renewed);
        assert_eq!(transitions(&server), expected_transitions);
        assert!(next.stop().await.is_ok());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_that_cannot_renew_reports_lost_before_the_follower_takes_over() {
    let server = standin().await;
    let mut a = Contender::start(&server, config("a", RETRY)).await;
    a.wait_leading(Duration::from_secs(5)).await;
    let mut b = Contender::start(&server, config("b", RETRY)).await;
    b.wait_for(Duration::from_secs(3), |s| {
        *s == LeadershipState::Following {
            holder: Some("a".into()),
        }
    })
    .await;
    let sampler = ExclusivitySampler::start(vec![a.rx.clone(), b.rx.clone()]);

    let outage = Duration::from_secs(3);
    let down = Instant::now();
    server.unavailable_for(outage);
    a.wait_for(RENEW_DEADLINE + Duration::from_secs(2), |s| {
        *s == LeadershipState::Lost
    })
    .await;
    assert!(
        down.elapsed() < outage,
        "Lost reported while the server was still down"
    );
    let result = timeout(Duration::from_secs(2), a.task)
        .await
        .expect("run returns after Lost")
        .expect("no panic");
    assert!(
        matches!(result, Err(LeaderError::Lost { .. })),
        "{result:?}"
    );

    // Once the server is back, the follower finds the lease unchanged and expired.
    b.wait_leading(outage + LEASE_DURATION + RENEW_DEADLINE + Duration::from_secs(3))
        .await;
    assert_eq!(holder(&server), "b");
    assert_eq!(transitions(&server), 1);
    assert_eq!(
        sampler.finish().await.max_leading,
        1,
        "never two leaders at once"
    );
    assert!(b.stop().await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_on_renew_are_retried_without_losing_leadership() {
    let server = standin().await;
    let mut a = Contender::start(&server, config("a", RETRY)).await;
    a.wait_leading(Duration::from_secs(5)).await;
    sleep(Duration::from_millis(700)).await;
    let sampler = ExclusivitySampler::start(vec![a.rx.clone()]);

    let updates = || server.request_count("update", "leases", "");
    let stored = || server.stored_writes("coordination.k8s.io", "leases");
    let gets = || server.request_count("get", "leases", "");
    let (updates_before, stored_before, gets_before) = (updates(), stored(), gets());
    let renewed_before = spec_time(&lease(&server), "renewTime");
    server.conflict_next_writes("leases", 4);
    sleep(Duration::from_secs(2)).await;

    assert_eq!(a.state(), LeadershipState::Leading);
    assert!(!a.task.is_finished());
    let rejected = (updates() - updates_before) - (stored() - stored_before);
    assert_eq!(
        rejected, 4,
        "every injected 409 was hit, nothing else failed"
    );
    assert!(
        stored() - stored_before >= 2,
        "renewals went on after the conflicts"
    );
    assert!(
        gets() > gets_before,
        "a conflict makes the leader re-read the lease"
    );
    assert!(spec_time(&lease(&server), "renewTime") > renewed_before);
    assert_eq!(transitions(&server), 0, "still the same leadership term");

    let sampled = sampler.finish().await;
    assert!(sampled.samples > 100);
    assert_eq!(
        (sampled.min_leading, sampled.max_leading),
        (1, 1),
        "it never stopped leading"
    );
    assert!(a.stop().await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_past_the_renew_deadline_lose_leadership() {
    let server = standin().await;
    let mut a = Contender::start(&server, config("a", RETRY)).await;
    a.wait_leading(Duration::from_secs(5)).await;
    let start = Instant::now();
    server.conflict_next_writes("leases", 10_000);
    a.wait_for(RENEW_DEADLINE + RETRY + Duration::from_secs(2), |s| {
        *s == LeadershipState::Lost
    })
    .await;
    assert!(
        start.elapsed() >= RENEW_DEADLINE - RETRY * 2,
        "gave up too early: {:?}",
        start.elapsed()
    );
    let result = timeout(Duration::from_secs(2), a.task)
        .await
        .expect("run returns after Lost")
        .expect("no panic");
    assert!(
        matches!(result, Err(LeaderError::Lost { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn invalid_timing_is_refused_before_any_request() {
    let server = standin().await;
    let client = server.client().await.expect("client");
    let mut bad = config("a", RETRY);
    bad.renew_deadline = LEASE_DURATION;
    assert!(matches!(
        LeaderElector::new(client, bad),
        Err(LeaderError::InvalidConfig(_))
    ));
    assert!(server.request_counts().is_empty());
}
