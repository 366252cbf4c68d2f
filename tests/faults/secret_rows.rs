//! Secret rows of the fault matrix. The watches poll every hour and failures back off for at
//! least ten minutes, so every reaction within seconds comes from the Secret watch: the change is
//! picked up without a restart and without waiting for a timer.

use std::time::{Duration, Instant};

use hostrisk_operator::controller::BackoffPolicy;
use hostrisk_operator::crd::HostStatus;
use hostrisk_sim::hss::{
    DEMO_SECURITY_TOKEN, DEMO_STATIC_TOKEN, DEMO_TEMP_ACCESS_KEY, DEMO_TEMP_SECRET_KEY,
};

use super::harness::{condition, hss_calls, is_ready, Harness, Options, NS};
use super::rows::HOSTS;

/// A reaction to a Secret change must come well before any timer would fire.
const PICKED_UP: Duration = Duration::from_secs(5);

async fn start() -> Harness {
    Harness::start(Options {
        backoff: BackoffPolicy {
            base: Duration::from_secs(3600),
            floor: Duration::from_secs(600),
        },
        ..Options::faults()
    })
    .await
}

async fn ready_hourly(h: &Harness, name: &str) -> Vec<HostStatus> {
    h.create_demo_secret(NS, "creds").await;
    h.create_watch(NS, name, &HOSTS, "creds", "1h").await;
    h.wait_for(NS, name, "Ready", is_ready)
        .await
        .status
        .unwrap()
        .hosts
}

/// Waits for CredentialsValid=False with one of `reasons`; checks the kept data; returns the
/// message.
async fn wait_credentials_problem(
    h: &Harness,
    name: &str,
    reasons: &[&str],
    good: &[HostStatus],
) -> String {
    let started = Instant::now();
    let watch = h
        .wait_within(PICKED_UP, NS, name, "credentials problem", |_, s| {
            condition(s, "CredentialsValid")
                .is_some_and(|c| c.status == "False" && reasons.contains(&c.reason.as_str()))
        })
        .await;
    let status = watch.status.unwrap();
    assert_eq!(status.hosts, good, "last good host data kept");
    assert_eq!(condition(&status, "Ready").unwrap().status, "False");
    let c = condition(&status, "CredentialsValid").unwrap();
    eprintln!(
        "{name}: {} after {} ms: {}",
        c.reason,
        started.elapsed().as_millis(),
        c.message
    );
    assert!(h.is_running());
    c.message.clone()
}

#[tokio::test]
async fn row_secret_deleted_then_recreated() {
    let h = start().await;
    let good = ready_hourly(&h, "gone").await;
    h.delete_secret(NS, "creds").await;
    let calls = hss_calls(&h.sim);
    let message = wait_credentials_problem(&h, "gone", &["SecretNotFound"], &good).await;
    assert!(message.contains("creds"), "names the Secret: {message}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(hss_calls(&h.sim), calls, "no HSS call without credentials");
    h.create_demo_secret(NS, "creds").await;
    h.wait_within(PICKED_UP, NS, "gone", "Ready again", is_ready)
        .await;
    h.stop().await;
}

#[tokio::test]
async fn row_secret_emptied_then_refilled() {
    let h = start().await;
    let good = ready_hourly(&h, "empty").await;
    h.replace_secret(NS, "creds", &[]).await;
    let message = wait_credentials_problem(
        &h,
        "empty",
        &["SecretKeyMissing", "InvalidCredentials"],
        &good,
    )
    .await;
    assert!(
        message.contains("accessKey") || message.contains("authToken"),
        "says which keys to set: {message}"
    );
    h.replace_secret(
        NS,
        "creds",
        &[
            ("accessKey", hostrisk_sim::hss::DEMO_ACCESS_KEY),
            ("secretKey", hostrisk_sim::hss::DEMO_SECRET_KEY),
        ],
    )
    .await;
    h.wait_within(PICKED_UP, NS, "empty", "Ready again", is_ready)
        .await;
    h.stop().await;
}

#[tokio::test]
async fn row_secret_rotated_to_new_keys() {
    let h = start().await;
    ready_hourly(&h, "rotate").await;
    let identity = format!("ak:{DEMO_TEMP_ACCESS_KEY}");
    assert_eq!(h.sim.counters().calls_by(&identity), 0);
    h.replace_secret(
        NS,
        "creds",
        &[
            ("accessKey", DEMO_TEMP_ACCESS_KEY),
            ("secretKey", DEMO_TEMP_SECRET_KEY),
            ("securityToken", DEMO_SECURITY_TOKEN),
        ],
    )
    .await;
    super::harness::eventually(PICKED_UP, "a call with the new keys", || async {
        h.sim.counters().calls_by(&identity) > 0
    })
    .await;
    let watch = h.wait_for(NS, "rotate", "Ready", is_ready).await;
    assert_eq!(watch.status.unwrap().hosts.len(), HOSTS.len());
    assert_eq!(h.sim.counters().auth_failures.values().sum::<u64>(), 0);
    h.stop().await;
}

#[tokio::test]
async fn row_secret_switched_from_ak_sk_to_token() {
    let h = start().await;
    ready_hourly(&h, "switch").await;
    h.replace_secret(NS, "creds", &[("authToken", DEMO_STATIC_TOKEN)])
        .await;
    super::harness::eventually(PICKED_UP, "a call with the token", || async {
        h.sim.counters().calls_by("static-token:0") > 0
    })
    .await;
    h.wait_for(NS, "switch", "Ready", is_ready).await;
    assert_eq!(h.sim.counters().auth_failures.values().sum::<u64>(), 0);
    h.stop().await;
}

#[tokio::test]
async fn row_secret_with_two_kinds_of_credentials() {
    let h = start().await;
    let good = ready_hourly(&h, "both").await;
    h.replace_secret(
        NS,
        "creds",
        &[
            ("accessKey", hostrisk_sim::hss::DEMO_ACCESS_KEY),
            ("secretKey", hostrisk_sim::hss::DEMO_SECRET_KEY),
            ("authToken", DEMO_STATIC_TOKEN),
        ],
    )
    .await;
    wait_credentials_problem(&h, "both", &["AmbiguousCredentials"], &good).await;
    h.stop().await;
}
