//! Failures: bad Secrets, refused endpoints, HSS errors, failed status writes.

use std::time::{Duration, Instant};

use hostrisk_operator::hss::model::DetectResult;
use hostrisk_sim::hss::{DEMO_ACCESS_KEY, DEMO_SECRET_KEY};

use super::harness::{condition, condition_is, hss_calls, is_synced, Harness, Options, NS};

#[tokio::test]
async fn bad_secret_reported_then_fixed_secret_recovers_without_restart() {
    // Failures back off for at least 10 minutes here, so a quick recovery can only come from the
    // Secret watch, not from a retry timer.
    let options = Options {
        backoff: hostrisk_operator::controller::BackoffPolicy {
            base: Duration::from_secs(3600),
            floor: Duration::from_secs(600),
        },
        ..Options::controller()
    };
    let h = Harness::start(options).await;
    h.create_watch(NS, "creds", &["demo-web-01"], "later-creds", "1h")
        .await;
    let watch = h
        .wait_for(NS, "creds", "SecretNotFound", |_, s| {
            condition_is(s, "CredentialsValid", "False", "SecretNotFound")
        })
        .await;
    let status = watch.status.unwrap();
    assert_eq!(condition(&status, "Ready").unwrap().status, "False");
    assert_eq!(hss_calls(&h.sim), 0);

    h.create_secret(NS, "later-creds", &[("accessKey", DEMO_ACCESS_KEY)])
        .await;
    h.wait_for(NS, "creds", "SecretKeyMissing", |_, s| {
        condition_is(s, "CredentialsValid", "False", "SecretKeyMissing")
    })
    .await;
    assert_eq!(hss_calls(&h.sim), 0);

    h.replace_secret(
        NS,
        "later-creds",
        &[
            ("accessKey", DEMO_ACCESS_KEY),
            ("secretKey", "wrong-secret"),
        ],
    )
    .await;
    h.wait_for(NS, "creds", "InvalidCredentials", |_, s| {
        condition_is(s, "CredentialsValid", "False", "InvalidCredentials")
    })
    .await;

    let fixed_at = Instant::now();
    h.replace_secret(
        NS,
        "later-creds",
        &[
            ("accessKey", DEMO_ACCESS_KEY),
            ("secretKey", DEMO_SECRET_KEY),
        ],
    )
    .await;
    let watch = h
        .wait_for(NS, "creds", "Ready after the fix", is_synced)
        .await;
    eprintln!(
        "time from Secret fix to Ready: {} ms",
        fixed_at.elapsed().as_millis()
    );
    assert_eq!(
        condition(watch.status.as_ref().unwrap(), "CredentialsValid")
            .unwrap()
            .status,
        "True"
    );
    h.stop().await;
}

#[tokio::test]
async fn disallowed_endpoint_is_refused_without_calling_hss() {
    let h = Harness::start(Options {
        allow_simulator: false,
        ..Options::controller()
    })
    .await;
    h.create_demo_secret(NS, "hss-creds").await;
    h.create_watch(NS, "outside", &["demo-web-01"], "hss-creds", "1s")
        .await;
    let watch = h
        .wait_for(NS, "outside", "EndpointNotAllowed", |_, s| {
            condition_is(s, "Ready", "False", "EndpointNotAllowed")
        })
        .await;
    assert!(watch.status.unwrap().hosts.is_empty());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(h.sim.counters().total_requests, 0, "HSS never called");
    h.stop().await;
}

#[tokio::test]
async fn api_failure_keeps_last_hosts_and_recovers() {
    let h = Harness::start(Options::controller()).await;
    h.create_demo_secret(NS, "hss-creds").await;
    h.create_watch(
        NS,
        "flaky",
        &["demo-web-01", "demo-db-01"],
        "hss-creds",
        "1h",
    )
    .await;
    let good = h.wait_for(NS, "flaky", "Ready", is_synced).await;
    let good_hosts = good.status.as_ref().unwrap().hosts.clone();

    h.sim.update_faults(|f| f.error_rate = 1.0).unwrap();
    h.request_refresh(NS, "flaky", "fail-now").await;
    let failing = h
        .wait_for(NS, "flaky", "ApiUnavailable", |_, s| {
            condition_is(s, "ApiReachable", "False", "ApiUnavailable")
        })
        .await;
    let status = failing.status.unwrap();
    let reachable = condition(&status, "ApiReachable").unwrap();
    assert!(
        reachable.message.contains("request id"),
        "{}",
        reachable.message
    );
    assert_eq!(condition(&status, "Ready").unwrap().status, "False");
    assert_eq!(status.hosts, good_hosts, "last good host data kept");
    let failed_calls = hss_calls(&h.sim);
    // The backoff keeps retrying (the 1h interval would not poll again).
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        hss_calls(&h.sim) > failed_calls,
        "polling continues after errors"
    );

    h.sim.update_faults(|f| f.error_rate = 0.0).unwrap();
    let recovered = h.wait_for(NS, "flaky", "recovered", is_synced).await;
    assert_eq!(recovered.status.unwrap().hosts.len(), 2);
    let events = h.events_for(NS, "flaky").await;
    let reasons: Vec<_> = events.iter().filter_map(|e| e.reason.as_deref()).collect();
    assert!(
        reasons.contains(&"PollFailed") && reasons.contains(&"PollRecovered"),
        "{reasons:?}"
    );
    h.stop().await;
}

#[tokio::test]
async fn failed_status_write_is_retried_and_status_catches_up() {
    let h = Harness::start(Options::controller()).await;
    h.create_demo_secret(NS, "hss-creds").await;
    h.create_watch(NS, "outage", &["demo-db-01"], "hss-creds", "1s")
        .await;
    h.wait_for(NS, "outage", "Ready", is_synced).await;
    let errors = || h.ctx.metrics.reconcile_errors_total();
    let errors_before = errors();
    // HSS changes, and the next write to the resource answers 409 (kube's client does not retry
    // those, unlike 503s): the next poll succeeds, its status write fails, the error policy
    // backs off and polls again, and the status catches up.
    assert!(h
        .sim
        .update_host("demo-db-01", |host| host.risk.detect_result =
            Some(DetectResult::Risk)));
    h.kube.conflict_next_writes("hostriskwatches", 1);
    h.wait_for(NS, "outage", "status after the failed write", |w, s| {
        is_synced(w, s) && s.hosts[0].detect_result.as_deref() == Some("risk")
    })
    .await;
    assert!(
        errors() > errors_before,
        "the failed write went through the error policy"
    );
    h.stop().await;
}
