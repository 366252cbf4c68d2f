//! Wire-level checks of HssClient against a recording loopback HSS/IAM double (tests/support): what
//! exactly arrives on the socket (raw query, headers), scripted faults. Real HTTP, no mocked layer.

mod support;

use std::time::{Duration, Instant};

use hostrisk_hss::sign::canonical_query;
use hostrisk_hss::{ClientConfig, Credentials, HssClient, HssError, Scope, Secret};
use support::{FakeHss, AK, IAM_DOMAIN, IAM_PASSWORD, IAM_USER, SK};
use url::Url;

const PROJECT: &str = "0a1b2c3d4e5f40718293a4b5c6d7e8f9";

fn fast_config() -> ClientConfig {
    ClientConfig {
        calls_per_minute: 1000,
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(100),
        ..ClientConfig::default()
    }
}

fn scope(fake: &FakeHss, eps: Option<&str>) -> Scope {
    Scope::for_endpoint(
        Url::parse(&fake.base).expect("url"),
        PROJECT,
        eps.map(str::to_string),
    )
    .expect("scope")
}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn query_is_sent_verbatim_with_sdk_headers_and_a_valid_signature() {
    let fake = FakeHss::start().await;
    let client = HssClient::new(fast_config()).expect("client");
    let wanted = ids(&[
        "web server 01",
        "x/y",
        "x.y",
        "safe-._~chars",
        "a&b=c",
        "ünï",
        "pct%41",
        "unknown-1",
    ]);
    let result = client
        .list_hosts_risk(
            &scope(&fake, Some("all_granted_eps")),
            &Credentials::ak_sk(AK, SK),
            &wanted,
        )
        .await
        .expect("query");
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let req = &requests[0];
    let mut pairs: Vec<(&str, &str)> = wanted
        .iter()
        .map(|id| ("host_id_list", id.as_str()))
        .collect();
    pairs.push(("enterprise_project_id", "all_granted_eps"));
    assert_eq!(req.raw_query, canonical_query(&pairs));
    assert!(req.raw_query.contains("safe-._~chars") && req.raw_query.contains("web%20server%2001"));
    assert_eq!(
        req.path,
        format!("/v5/{PROJECT}/host-management/hosts-risk")
    );
    let authority = fake.base.trim_start_matches("http://");
    assert_eq!(req.header("host"), Some(authority));
    assert_eq!(req.header("x-project-id"), Some(PROJECT));
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert!(req
        .header("user-agent")
        .is_some_and(|ua| ua.starts_with("hostrisk-operator/")));
    assert_eq!(req.header("x-sdk-date").map(str::len), Some(16));
    let authz = req.header("authorization").expect("authorization");
    assert!(
        authz.contains("SignedHeaders=content-type;host;user-agent;x-project-id;x-sdk-date,"),
        "{authz}"
    );
    // The double verified the signature, otherwise it would have answered 401.
    assert_eq!(result.hosts.len(), 7);
    assert_eq!(
        result.not_found.iter().collect::<Vec<_>>(),
        vec!["unknown-1"]
    );
    assert_eq!(result.request_ids.len(), 1);
}

#[tokio::test]
async fn temporary_keys_sign_the_security_token() {
    let fake = FakeHss::start().await;
    let client = HssClient::new(fast_config()).expect("client");
    let creds = Credentials::temporary_ak_sk(AK, SK, "sts-token-value");
    client
        .list_hosts_risk(&scope(&fake, None), &creds, &ids(&["h1"]))
        .await
        .expect("query");
    let req = &fake.requests()[0];
    assert_eq!(req.header("x-security-token"), Some("sts-token-value"));
    assert!(req
        .header("authorization")
        .expect("authz")
        .contains(";x-sdk-date;x-security-token,"));
    assert!(!req.raw_query.contains("enterprise_project_id"));
}

#[tokio::test]
async fn static_token_goes_in_x_auth_token_without_signature() {
    let fake = FakeHss::start().await;
    fake.issue_token("static-token-1");
    let client = HssClient::new(fast_config()).expect("client");
    let creds = Credentials::Token(Secret::new("static-token-1"));
    let result = client
        .list_hosts_risk(&scope(&fake, None), &creds, &ids(&["h1"]))
        .await
        .expect("query");
    assert_eq!(result.hosts.len(), 1);
    let req = &fake.requests()[0];
    assert_eq!(req.header("x-auth-token"), Some("static-token-1"));
    assert_eq!(req.header("x-project-id"), Some(PROJECT));
    assert!(req.header("authorization").is_none());
    // An expired static token cannot be refreshed: one call, authentication error.
    fake.expire_tokens();
    let err = client
        .list_hosts_risk(&scope(&fake, None), &creds, &ids(&["h1"]))
        .await
        .expect_err("expired");
    assert_eq!(err.reason(), "InvalidCredentials");
    assert_eq!(err.code(), Some("APIGW.0307"));
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn iam_token_is_cached_and_refreshed_once_on_expiry() {
    let fake = FakeHss::start().await;
    let client = HssClient::new(fast_config()).expect("client");
    let creds = Credentials::Iam {
        username: IAM_USER.into(),
        password: Secret::new(IAM_PASSWORD),
        domain_name: IAM_DOMAIN.into(),
        iam_endpoint: Url::parse(&fake.base).expect("url"),
    };
    let scope = scope(&fake, None);
    for _ in 0..3 {
        client
            .list_hosts_risk(&scope, &creds, &ids(&["h1"]))
            .await
            .expect("query");
    }
    assert_eq!(fake.iam_logins(), 1, "token reused from the cache");
    fake.expire_tokens();
    client
        .list_hosts_risk(&scope, &creds, &ids(&["h1"]))
        .await
        .expect("refreshed");
    assert_eq!(fake.iam_logins(), 2);
    assert_eq!(
        fake.requests().len(),
        5,
        "3 + the rejected call + its retry"
    );
    assert_eq!(client.stats().iam_logins, 2);
    let wrong = Credentials::Iam {
        username: IAM_USER.into(),
        password: Secret::new("wrong"),
        domain_name: IAM_DOMAIN.into(),
        iam_endpoint: Url::parse(&fake.base).expect("url"),
    };
    let err = client
        .list_hosts_risk(&scope, &wrong, &ids(&["h1"]))
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
    assert!(err.request_id().is_some());
    assert_eq!(fake.iam_logins(), 3, "a refused login is not retried");
}

#[tokio::test]
async fn concurrent_iam_callers_share_one_login() {
    let fake = FakeHss::start().await;
    let client = HssClient::new(fast_config()).expect("client");
    let creds = Credentials::Iam {
        username: IAM_USER.into(),
        password: Secret::new(IAM_PASSWORD),
        domain_name: IAM_DOMAIN.into(),
        iam_endpoint: Url::parse(&fake.base).expect("url"),
    };
    let scope = scope(&fake, None);
    let calls = (0..5).map(|i| {
        let (client, creds, scope) = (client.clone(), creds.clone(), scope.clone());
        tokio::spawn(async move {
            client
                .list_hosts_risk(&scope, &creds, &[format!("h{i}")])
                .await
        })
    });
    for call in calls {
        call.await.expect("task").expect("query");
    }
    assert_eq!(fake.iam_logins(), 1);
}

#[tokio::test]
async fn chunks_of_100_with_duplicates_collapsed_and_missing_ids_reported() {
    let fake = FakeHss::start().await;
    let client = HssClient::new(fast_config()).expect("client");
    let mut wanted: Vec<String> = (0..240).map(|i| format!("host-{i:03}")).collect();
    wanted.extend((0..10).map(|i| format!("unknown-{i}")));
    wanted.extend((0..50).map(|i| format!("host-{i:03}")));
    let result = client
        .list_hosts_risk(&scope(&fake, None), &Credentials::ak_sk(AK, SK), &wanted)
        .await
        .expect("query");
    let requests = fake.requests();
    let sizes: Vec<usize> = requests.iter().map(|r| r.host_ids().len()).collect();
    assert_eq!(sizes, vec![100, 100, 50]);
    let all: std::collections::HashSet<String> =
        requests.iter().flat_map(|r| r.host_ids()).collect();
    assert_eq!(all.len(), 250, "no id sent twice");
    assert_eq!(result.hosts.len(), 240);
    assert_eq!(result.not_found.len(), 10);
    assert_eq!(result.request_ids.len(), 3);
}

#[tokio::test]
async fn throttled_call_waits_for_retry_after() {
    let fake = FakeHss::start().await;
    fake.script(
        429,
        vec![("retry-after", "1".into())],
        r#"{"error_code":"APIGW.0308","error_msg":"The throttling threshold has been reached"}"#,
    );
    let client = HssClient::new(fast_config()).expect("client");
    let start = Instant::now();
    client
        .list_hosts_risk(
            &scope(&fake, None),
            &Credentials::ak_sk(AK, SK),
            &ids(&["h1"]),
        )
        .await
        .expect("query");
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    assert_eq!(fake.requests().len(), 2);
    let stats = client.stats();
    assert_eq!(
        (stats.http_attempts, stats.retries, stats.throttled),
        (2, 1, 1)
    );
}

#[tokio::test]
async fn persistent_throttling_gives_up_after_max_attempts() {
    let fake = FakeHss::start().await;
    for _ in 0..10 {
        fake.script(
            429,
            vec![],
            r#"{"error_code":"APIG.0308","error_msg":"throttled"}"#,
        );
    }
    let client = HssClient::new(ClientConfig {
        max_attempts: 3,
        ..fast_config()
    })
    .expect("client");
    let err = client
        .list_hosts_risk(
            &scope(&fake, None),
            &Credentials::ak_sk(AK, SK),
            &ids(&["h1"]),
        )
        .await
        .expect_err("throttled");
    assert_eq!(err.reason(), "Throttled");
    assert!(err.request_id().is_some());
    assert_eq!(fake.requests().len(), 3);
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    let fake = FakeHss::start().await;
    fake.script(503, vec![], "upstream unavailable");
    fake.script(
        500,
        vec![],
        r#"{"error_code":"HSS.1000","error_msg":"internal"}"#,
    );
    let client = HssClient::new(fast_config()).expect("client");
    let result = client
        .list_hosts_risk(
            &scope(&fake, None),
            &Credentials::ak_sk(AK, SK),
            &ids(&["h1"]),
        )
        .await
        .expect("query");
    assert_eq!(result.hosts.len(), 1);
    assert_eq!(fake.requests().len(), 3);
    assert_eq!(result.request_ids.len(), 1, "only the successful call's id");
}

#[tokio::test]
async fn wrong_secret_key_is_never_retried() {
    let fake = FakeHss::start().await;
    let client = HssClient::new(fast_config()).expect("client");
    let err = client
        .list_hosts_risk(
            &scope(&fake, None),
            &Credentials::ak_sk(AK, "not-the-secret"),
            &ids(&["h1"]),
        )
        .await
        .expect_err("401");
    assert_eq!(fake.requests().len(), 1);
    assert_eq!(err.reason(), "InvalidCredentials");
    assert_eq!(err.code(), Some("APIGW.0301"));
    let text = err.to_string();
    assert!(
        text.contains("accessKey/secretKey")
            && text.contains(err.request_id().expect("request id")),
        "{text}"
    );
    assert!(!text.contains("not-the-secret"));
}

#[tokio::test]
async fn malformed_body_is_a_decode_error_with_request_id() {
    let fake = FakeHss::start().await;
    fake.script(
        200,
        vec![],
        r#"{"total_num": 1, "data_list": [{"host_id": "h1", "asset": "#,
    );
    let client = HssClient::new(fast_config()).expect("client");
    let err = client
        .list_hosts_risk(
            &scope(&fake, None),
            &Credentials::ak_sk(AK, SK),
            &ids(&["h1"]),
        )
        .await
        .expect_err("decode");
    assert!(matches!(err, HssError::Decode { .. }), "{err:?}");
    assert_eq!(err.reason(), "DecodeError");
    assert!(err.request_id().is_some_and(|id| id.starts_with("req-")));
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn the_limiter_paces_calls_per_credential() {
    let fake = FakeHss::start().await;
    let client = HssClient::new(ClientConfig {
        calls_per_minute: 2,
        rate_window: Duration::from_millis(400),
        chunk_size: 1,
        ..fast_config()
    })
    .expect("client");
    let start = Instant::now();
    client
        .list_hosts_risk(
            &scope(&fake, None),
            &Credentials::ak_sk(AK, SK),
            &ids(&["a", "b", "c", "d", "e"]),
        )
        .await
        .expect("query");
    // 5 calls at 2 per 400 ms: the 5th cannot start before 800 ms.
    assert!(
        start.elapsed() >= Duration::from_millis(800),
        "{:?}",
        start.elapsed()
    );
    assert!(client.stats().rate_limit_wait >= Duration::from_millis(700));
}

#[tokio::test]
async fn unreachable_endpoint_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let client = HssClient::new(ClientConfig {
        max_attempts: 2,
        ..fast_config()
    })
    .expect("client");
    let scope = Scope::for_endpoint(
        Url::parse(&format!("http://{addr}")).expect("url"),
        PROJECT,
        None,
    )
    .expect("scope");
    let err = client
        .list_hosts_risk(&scope, &Credentials::ak_sk(AK, SK), &ids(&["h1"]))
        .await
        .expect_err("refused");
    assert!(matches!(err, HssError::Transport { .. }), "{err:?}");
    assert_eq!(err.reason(), "ApiUnavailable");
    assert_eq!(client.stats().http_attempts, 2);
}

#[tokio::test]
async fn secrets_never_appear_in_debug_or_errors() {
    let fake = FakeHss::start().await;
    let client = HssClient::new(fast_config()).expect("client");
    let creds = Credentials::temporary_ak_sk(AK, "sk-SECRET-1", "sts-SECRET-2");
    let err = client
        .list_hosts_risk(&scope(&fake, None), &creds, &ids(&["h1"]))
        .await
        .expect_err("401");
    let prepared = hostrisk_hss::transport::prepare_hosts_risk_request(
        &scope(&fake, None),
        &ids(&["h1"]),
        &hostrisk_hss::transport::RequestAuth::Sign {
            access_key: AK,
            secret_key: &Secret::new("sk-SECRET-1"),
            security_token: Some(&Secret::new("sts-SECRET-2")),
        },
        "ua",
        jiff::Timestamp::now(),
    );
    let signature = prepared
        .headers
        .iter()
        .find(|(n, _)| n == "Authorization")
        .expect("authz")
        .1
        .clone();
    let printed = format!("{creds:?} {err:?} {err} {prepared:?} {client:?}");
    for secret in [
        "sk-SECRET-1",
        "sts-SECRET-2",
        signature.rsplit('=').next().expect("sig"),
    ] {
        assert!(!printed.contains(secret), "{secret} leaked in {printed}");
    }
}

#[test]
fn http_to_a_remote_host_is_refused() {
    let err = Scope::for_endpoint(
        Url::parse("http://hss.example.com").expect("url"),
        PROJECT,
        None,
    )
    .expect_err("http");
    assert_eq!(err.reason(), "InvalidScope");
}

#[test]
fn a_bad_ca_bundle_is_a_configuration_error() {
    let err = HssClient::new(ClientConfig {
        extra_ca_pem: Some(b"not a pem".to_vec()),
        ..ClientConfig::default()
    })
    .expect_err("bad pem");
    assert_eq!(err.reason(), "InvalidConfig");
}

#[test]
fn a_valid_ca_bundle_is_accepted() {
    // A self-signed CA generated once with openssl, only ever used as a trust anchor here.
    let pem = include_bytes!("tls/private-ca.pem").to_vec();
    let client = HssClient::new(ClientConfig {
        extra_ca_pem: Some(pem),
        ..ClientConfig::default()
    });
    assert!(client.is_ok(), "{client:?}");
    let empty = HssClient::new(ClientConfig {
        extra_ca_pem: Some(b"# no certificates here\n".to_vec()),
        ..ClientConfig::default()
    })
    .expect_err("empty bundle");
    assert_eq!(empty.reason(), "InvalidConfig");
}

#[tokio::test]
async fn retry_after_beyond_the_retry_budget_fails_at_once() {
    let fake = FakeHss::start().await;
    fake.script(
        429,
        vec![("retry-after", "120".into())],
        r#"{"error_code":"APIGW.0308","error_msg":"throttled"}"#,
    );
    let client = HssClient::new(fast_config()).expect("client");
    let start = Instant::now();
    let err = client
        .list_hosts_risk(
            &scope(&fake, None),
            &Credentials::ak_sk(AK, SK),
            &ids(&["h1"]),
        )
        .await
        .expect_err("throttled");
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(
        matches!(err, HssError::Throttled { retry_after: Some(d), .. } if d == Duration::from_secs(120)),
        "{err:?}"
    );
    assert_eq!(fake.requests().len(), 1);
}
