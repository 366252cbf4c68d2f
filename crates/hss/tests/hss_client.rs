//! HssClient against the real HSS simulator (src/sim/hss) over HTTP on loopback.

use std::time::{Duration, Instant};

use hostrisk_hss::{ClientConfig, Credentials, HssClient, HssError, Scope, Secret};
use hostrisk_sim::hss::{
    Faults, FleetSpec, HssSimulator, SimConfig, SimCounters, DEMO_ACCESS_KEY, DEMO_IAM_DOMAIN,
    DEMO_IAM_PASSWORD, DEMO_IAM_USER, DEMO_PROJECT_ID, DEMO_SECRET_KEY, DEMO_SECURITY_TOKEN,
    DEMO_STATIC_TOKEN, DEMO_TEMP_ACCESS_KEY, DEMO_TEMP_SECRET_KEY,
};

async fn simulator(faults: Faults) -> HssSimulator {
    HssSimulator::start(SimConfig {
        faults,
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts")
}

fn fast_config() -> ClientConfig {
    ClientConfig {
        calls_per_minute: 1000,
        backoff_base: Duration::from_millis(50),
        backoff_max: Duration::from_millis(200),
        ..ClientConfig::default()
    }
}

fn scope_of(sim: &HssSimulator) -> Scope {
    Scope::for_endpoint(sim.base_url(), DEMO_PROJECT_ID, None).expect("scope")
}

fn aksk() -> Credentials {
    Credentials::ak_sk(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)
}

fn iam(sim: &HssSimulator, password: &str) -> Credentials {
    Credentials::Iam {
        username: DEMO_IAM_USER.into(),
        password: Secret::new(password),
        domain_name: DEMO_IAM_DOMAIN.into(),
        iam_endpoint: sim.iam_url(),
    }
}

const DEMO_IDS: [&str; 4] = ["demo-web-01", "demo-db-01", "demo-batch-01", "demo-new-01"];

#[tokio::test]
async fn aksk_query_returns_every_field_and_reports_unknown_ids() {
    let sim = simulator(Faults::none()).await;
    let client = HssClient::new(fast_config()).expect("client");
    let mut ids: Vec<&str> = DEMO_IDS.to_vec();
    ids.push("no-such-host");
    let result = client
        .list_hosts_risk(&scope_of(&sim), &aksk(), &ids)
        .await
        .expect("query");
    assert_eq!(result.hosts.len(), 4);
    let web = &result.hosts["demo-web-01"];
    let expected = sim.host("demo-web-01").expect("host").risk;
    assert_eq!(web, &expected);
    assert_eq!(
        result.not_found.iter().collect::<Vec<_>>(),
        vec!["no-such-host"]
    );
    assert_eq!(result.request_ids.len(), 1);
    assert_eq!(sim.counters().calls_by(&format!("ak:{DEMO_ACCESS_KEY}")), 1);
}

#[tokio::test]
async fn temporary_keys_with_security_token() {
    let sim = simulator(Faults::none()).await;
    let client = HssClient::new(fast_config()).expect("client");
    let creds = Credentials::temporary_ak_sk(
        DEMO_TEMP_ACCESS_KEY,
        DEMO_TEMP_SECRET_KEY,
        DEMO_SECURITY_TOKEN,
    );
    let result = client
        .list_hosts_risk(&scope_of(&sim), &creds, &DEMO_IDS)
        .await
        .expect("query");
    assert_eq!(result.hosts.len(), 4);
    // Without the security token the temporary key is refused, once.
    let without = Credentials::ak_sk(DEMO_TEMP_ACCESS_KEY, DEMO_TEMP_SECRET_KEY);
    let err = client
        .list_hosts_risk(&scope_of(&sim), &without, &DEMO_IDS)
        .await
        .expect_err("no token");
    assert_eq!(err.reason(), "InvalidCredentials");
    assert_eq!(sim.counters().hss_requests, 2);
}

#[tokio::test]
async fn static_token() {
    let sim = simulator(Faults::none()).await;
    let client = HssClient::new(fast_config()).expect("client");
    let creds = Credentials::Token(Secret::new(DEMO_STATIC_TOKEN));
    let result = client
        .list_hosts_risk(&scope_of(&sim), &creds, &DEMO_IDS)
        .await
        .expect("query");
    assert_eq!(result.hosts.len(), 4);
    let wrong = Credentials::Token(Secret::new("not-a-token"));
    let err = client
        .list_hosts_risk(&scope_of(&sim), &wrong, &DEMO_IDS)
        .await
        .expect_err("unknown token");
    assert_eq!(err.reason(), "InvalidCredentials");
    assert!(err.request_id().is_some());
    assert_eq!(
        sim.counters().hss_requests,
        2,
        "a static token cannot be refreshed: no retry"
    );
}

#[tokio::test]
async fn iam_token_obtained_cached_and_refreshed_once_on_expiry() {
    let sim = simulator(Faults::none()).await;
    let client = HssClient::new(fast_config()).expect("client");
    let creds = iam(&sim, DEMO_IAM_PASSWORD);
    let scope = scope_of(&sim);
    for _ in 0..3 {
        client
            .list_hosts_risk(&scope, &creds, &DEMO_IDS)
            .await
            .expect("query");
    }
    assert_eq!(sim.counters().iam_tokens_issued, 1, "token reused");
    assert!(sim.expire_tokens() >= 1);
    let result = client
        .list_hosts_risk(&scope, &creds, &DEMO_IDS)
        .await
        .expect("refreshed");
    assert_eq!(result.hosts.len(), 4);
    let counters = sim.counters();
    assert_eq!(counters.iam_tokens_issued, 2);
    assert_eq!(counters.hss_requests, 5, "3 + the expired call + one retry");
    assert_eq!(counters.auth_failures.get("APIGW.0307"), Some(&1));
    // A wrong password: IAM refuses, nothing is retried, no HSS call is made.
    let err = client
        .list_hosts_risk(&scope, &iam(&sim, "wrong"), &DEMO_IDS)
        .await
        .expect_err("wrong password");
    assert!(
        matches!(
            err,
            HssError::Iam {
                status: Some(401),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.reason(), "InvalidCredentials");
    assert_eq!(sim.counters().iam_failures, 1);
    assert_eq!(sim.counters().hss_requests, 5);
}

#[tokio::test]
async fn iam_token_expiring_twice_fails_after_one_refresh() {
    let sim = simulator(Faults::none()).await;
    // Tokens that are born expired: every use gets APIGW.0307.
    sim.set_token_ttl(Duration::from_secs(0));
    let client = HssClient::new(fast_config()).expect("client");
    let err = client
        .list_hosts_risk(&scope_of(&sim), &iam(&sim, DEMO_IAM_PASSWORD), &DEMO_IDS)
        .await
        .expect_err("expired");
    assert_eq!(err.code(), Some("APIGW.0307"));
    let counters = sim.counters();
    assert_eq!((counters.iam_tokens_issued, counters.hss_requests), (2, 2));
}

#[tokio::test]
async fn chunks_250_ids_into_3_calls_with_duplicates_collapsed() {
    let sim = HssSimulator::start(SimConfig {
        fleet: FleetSpec {
            hosts: 240,
            seed: 7,
        },
        explicit_hosts: Vec::new(),
        faults: Faults::none(),
        ..SimConfig::default()
    })
    .await
    .expect("simulator");
    let mut ids = sim.host_ids();
    assert_eq!(ids.len(), 240);
    ids.extend((0..10).map(|i| format!("gone-{i}")));
    ids.extend(sim.host_ids().into_iter().take(50));
    let client = HssClient::new(fast_config()).expect("client");
    // The generated fleet spans several enterprise projects: ask for all of them.
    let scope = Scope::for_endpoint(
        sim.base_url(),
        DEMO_PROJECT_ID,
        Some("all_granted_eps".into()),
    )
    .expect("scope");
    let result = client
        .list_hosts_risk(&scope, &aksk(), &ids)
        .await
        .expect("query");
    let counters = sim.counters();
    assert_eq!(counters.hss_requests, 3);
    assert_eq!(counters.host_ids_requested, 250);
    assert_eq!(counters.largest_host_id_list, 100);
    assert_eq!(result.hosts.len(), 240);
    assert_eq!(result.not_found.len(), 10);
    assert_eq!(result.request_ids.len(), 3);
    let distinct: std::collections::HashSet<_> = result.request_ids.iter().collect();
    assert_eq!(distinct.len(), 3);
}

#[tokio::test]
async fn the_limiter_keeps_calls_within_the_quota() {
    let sim = simulator(Faults {
        quota_per_minute: 3,
        ..Faults::none()
    })
    .await;
    let client = HssClient::new(ClientConfig {
        calls_per_minute: 3,
        chunk_size: 1,
        ..fast_config()
    })
    .expect("client");
    client
        .list_hosts_risk(&scope_of(&sim), &aksk(), &DEMO_IDS[..3])
        .await
        .expect("3 calls");
    // A 4th call must wait for the window (60 s): it does not reach the simulator meanwhile.
    let fourth = tokio::time::timeout(
        Duration::from_millis(700),
        client.list_hosts_risk(&scope_of(&sim), &aksk(), &DEMO_IDS[3..]),
    )
    .await;
    assert!(fourth.is_err(), "the 4th call waited for the limiter");
    let counters = sim.counters();
    assert_eq!(counters.calls_by(&format!("ak:{DEMO_ACCESS_KEY}")), 3);
    assert_eq!(counters.throttled, 0);
    assert!(client.stats().rate_limit_wait >= Duration::ZERO);
}

/// Waits until the simulator's counters satisfy `done` (a fault was answered), then switches
/// its faults; counting answers rather than requests avoids racing the fault decision.
async fn switch_faults_when(
    sim: &HssSimulator,
    done: impl Fn(&SimCounters) -> bool,
    faults: Faults,
) {
    loop {
        if done(&sim.counters()) {
            sim.set_faults(faults).expect("faults");
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn throttling_honours_retry_after_then_succeeds() {
    let sim = simulator(Faults {
        quota_per_minute: 1,
        retry_after_seconds: Some(1),
        ..Faults::none()
    })
    .await;
    let client = HssClient::new(fast_config()).expect("client");
    client
        .list_hosts_risk(&scope_of(&sim), &aksk(), &DEMO_IDS)
        .await
        .expect("within quota");
    let start = Instant::now();
    let (scope, creds) = (scope_of(&sim), aksk());
    let (result, ()) = tokio::join!(
        client.list_hosts_risk(&scope, &creds, &DEMO_IDS),
        switch_faults_when(&sim, |c| c.throttled >= 1, Faults::none()),
    );
    result.expect("retried after Retry-After");
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        start.elapsed()
    );
    let counters = sim.counters();
    assert_eq!(counters.throttled, 1);
    assert_eq!(counters.hss_requests, 3);
    assert_eq!(client.stats().throttled, 1);
}

#[tokio::test]
async fn persistent_throttling_is_a_throttled_error() {
    let sim = simulator(Faults {
        quota_per_minute: 1,
        ..Faults::none()
    })
    .await;
    let client = HssClient::new(ClientConfig {
        max_attempts: 3,
        ..fast_config()
    })
    .expect("client");
    client
        .list_hosts_risk(&scope_of(&sim), &aksk(), &DEMO_IDS)
        .await
        .expect("within quota");
    let err = client
        .list_hosts_risk(&scope_of(&sim), &aksk(), &DEMO_IDS)
        .await
        .expect_err("throttled");
    assert_eq!(err.reason(), "Throttled");
    assert_eq!(err.code(), Some("APIGW.0308"));
    assert!(err.request_id().is_some());
    assert_eq!(sim.counters().throttled, 3, "bounded attempts");
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    let sim = simulator(Faults {
        error_rate: 1.0,
        ..Faults::none()
    })
    .await;
    let client = HssClient::new(ClientConfig {
        max_attempts: 6,
        ..fast_config()
    })
    .expect("client");
    let (scope, creds) = (scope_of(&sim), aksk());
    let (result, ()) = tokio::join!(
        client.list_hosts_risk(&scope, &creds, &DEMO_IDS),
        switch_faults_when(
            &sim,
            |c| c.errors_injected.values().sum::<u64>() >= 2,
            Faults::none()
        ),
    );
    assert_eq!(result.expect("succeeds after retries").hosts.len(), 4);
    let counters = sim.counters();
    let injected: u64 = counters.errors_injected.values().sum();
    assert!(injected >= 2, "{counters:?}");
    assert_eq!(counters.hss_requests, injected + 1);
}

#[tokio::test]
async fn server_errors_exhaust_attempts() {
    let sim = simulator(Faults {
        error_rate: 1.0,
        ..Faults::none()
    })
    .await;
    let client = HssClient::new(ClientConfig {
        max_attempts: 3,
        ..fast_config()
    })
    .expect("client");
    let err = client
        .list_hosts_risk(&scope_of(&sim), &aksk(), &DEMO_IDS)
        .await
        .expect_err("5xx");
    assert!(matches!(err, HssError::Server { .. }), "{err:?}");
    assert_eq!(err.reason(), "ApiUnavailable");
    assert!(err.request_id().is_some());
    assert_eq!(sim.counters().hss_requests, 3);
}

#[tokio::test]
async fn wrong_secret_key_is_not_retried() {
    let sim = simulator(Faults::none()).await;
    let client = HssClient::new(fast_config()).expect("client");
    let creds = Credentials::ak_sk(DEMO_ACCESS_KEY, "wrong-secret-key");
    let err = client
        .list_hosts_risk(&scope_of(&sim), &creds, &DEMO_IDS)
        .await
        .expect_err("401");
    assert_eq!(err.code(), Some("APIGW.0301"));
    assert_eq!(err.reason(), "InvalidCredentials");
    assert!(err.to_string().contains("accessKey/secretKey"));
    assert!(!format!("{err} {err:?}").contains("wrong-secret-key"));
    assert_eq!(sim.counters().hss_requests, 1, "exactly one call");
}

#[tokio::test]
async fn malformed_and_truncated_bodies_are_decode_errors_with_request_ids() {
    for faults in [
        Faults {
            malformed_rate: 1.0,
            ..Faults::none()
        },
        Faults {
            truncated_rate: 1.0,
            ..Faults::none()
        },
    ] {
        let sim = simulator(faults).await;
        let client = HssClient::new(fast_config()).expect("client");
        let err = client
            .list_hosts_risk(&scope_of(&sim), &aksk(), &DEMO_IDS)
            .await
            .expect_err("decode");
        assert!(matches!(err, HssError::Decode { .. }), "{err:?}");
        assert_eq!(err.reason(), "DecodeError");
        assert!(err.request_id().is_some());
        assert_eq!(sim.counters().hss_requests, 1);
    }
}

#[tokio::test]
async fn enterprise_project_scope_is_sent() {
    let sim = simulator(Faults::none()).await;
    let client = HssClient::new(fast_config()).expect("client");
    let all = Scope::for_endpoint(
        sim.base_url(),
        DEMO_PROJECT_ID,
        Some("all_granted_eps".into()),
    )
    .expect("scope");
    let ids = ["demo-web-01", "demo-ep-01"];
    let default_ep = client
        .list_hosts_risk(&scope_of(&sim), &aksk(), &ids)
        .await
        .expect("default");
    assert!(default_ep.not_found.contains("demo-ep-01"));
    let every = client
        .list_hosts_risk(&all, &aksk(), &ids)
        .await
        .expect("all");
    assert!(every.not_found.is_empty(), "{every:?}");
}
