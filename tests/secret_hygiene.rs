//! Secret hygiene: during a full run with success and error paths (valid AK/SK, temporary keys
//! with a security token, a static token, a wrong signature, a bad token, a password Secret the
//! controller refuses, an IAM password flow against the simulator with a token expiry, ambiguous
//! and partial Secrets, throttling), no secret key, security token, auth token, IAM token,
//! password, signature or Authorization header value appears in any log line (every target, at
//! TRACE, in both the text and the JSON format), in any status, or in any Event.
//!
//! Keyless watches (spec.workloadIdentity) run in a second operator of the same process: two
//! watches of one ServiceAccount, an IAM token expiring mid-run, an unmapped ServiceAccount, a
//! provider with another key set (bad signature), a missing ServiceAccount. Every ServiceAccount
//! token the operator minted and every IAM token it was given for one, taken from the
//! simulator (which records what it received and issued), is then searched for in the logs,
//! statuses, Events and both operators' /metrics, whole and segment by segment.
//!
//! This file holds a single test: the capturing subscriber is process-wide.

#[path = "support/controller_harness/mod.rs"]
mod harness;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hostrisk_operator::controller::WorkloadIdentityPolicy;
use hostrisk_operator::hss::{Credentials, HssClient, Scope};
use hostrisk_sim::hss::{
    IdentityProviderConfig, JwksSource, JwksUrl, TestIssuer, DEMO_ACCESS_KEY, DEMO_IAM_DOMAIN,
    DEMO_IAM_PASSWORD, DEMO_IAM_USER, DEMO_PROJECT_ID, DEMO_SECRET_KEY, DEMO_SECURITY_TOKEN,
    DEMO_STATIC_TOKEN, DEMO_TEMP_ACCESS_KEY, DEMO_TEMP_SECRET_KEY,
};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::PostParams;
use kube::Api;
use serde_json::json;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use harness::{condition, fast_client, is_ready, Harness, Options, NS};

const WRONG_SECRET_KEY: &str = "WrongSecretKey7f3a9c0000000000000000000000";
const BAD_AUTH_TOKEN: &str = "BadAuthToken-91ce55-not-valid";
const REGION_IAM_PASSWORD: &str = "IamPassword-c0ffee-region";
const AMBIGUOUS_TOKEN: &str = "AmbiguousToken-5e5e5e5e";
const PARTIAL_PASSWORD: &str = "PartialPassword-12341234";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Installs TRACE logging for every target, text and JSON, into one buffer (and bridges the
/// `log` crate, which reqwest uses).
fn capture_all_logs() -> Capture {
    let capture = Capture::default();
    let text = capture.clone();
    let json = capture.clone();
    tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::TRACE)
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(move || text.clone()),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_span_list(true)
                .with_writer(move || json.clone()),
        )
        .try_init()
        .expect("the only subscriber of this test process");
    capture
}

/// Base64 as the API server shows Secret data.
fn base64(value: &str) -> String {
    serde_json::to_value(k8s_openapi::ByteString(value.as_bytes().to_vec()))
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

/// Every run of 64 hex digits (an HMAC-SHA256 signature) except the hash of an empty body.
fn signature_like(text: &str) -> Vec<String> {
    const EMPTY_BODY_SHA256: &str =
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let mut found = Vec::new();
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_hexdigit() {
            run.push(c);
        } else {
            if run.len() >= 64 && !run.eq_ignore_ascii_case(EMPTY_BODY_SHA256) {
                found.push(run.clone());
            }
            run.clear();
        }
    }
    found
}

fn watch_doc(name: &str, secret: &str, place: serde_json::Value) -> serde_json::Value {
    let mut spec = json!({
        "projectId": DEMO_PROJECT_ID,
        "hostIds": ["demo-web-01", "demo-db-01"],
        "credentialsSecretRef": {"name": secret},
        "interval": "1s",
    });
    if let (Some(spec), Some(place)) = (spec.as_object_mut(), place.as_object()) {
        spec.extend(place.clone());
    }
    json!({
        "apiVersion": "hostrisk.io/v1alpha1",
        "kind": "HostRiskWatch",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    })
}

const IDP: &str = "cce-oidc";
/// A provider for the same issuer with another key set: the operator's tokens do not verify.
const FOREIGN_IDP: &str = "cce-oidc-foreign";
const AUDIENCE: &str = "hss-client";
const ISSUER: &str = "https://kubernetes.default.svc";

fn keyless_doc(name: &str, endpoint: &str, account: &str, idp: &str) -> serde_json::Value {
    json!({
        "apiVersion": "hostrisk.io/v1alpha1",
        "kind": "HostRiskWatch",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "projectId": DEMO_PROJECT_ID,
            "endpoint": endpoint,
            "hostIds": ["demo-web-01", "demo-db-01"],
            "workloadIdentity": {
                "serviceAccountName": account,
                "identityProviderId": idp,
                "audience": AUDIENCE,
            },
            "interval": "1s",
        }
    })
}

/// What the keyless run left behind, and the tokens it used.
struct KeylessRun {
    statuses: String,
    events: String,
    metrics: String,
    /// The ServiceAccount tokens (JWTs) the operator minted and presented to IAM.
    id_tokens: Vec<String>,
    /// The IAM tokens IAM issued for them.
    iam_tokens: Vec<String>,
}

/// Keyless watches in an operator of their own: success, an IAM token expiring mid-run, and
/// every refusal.
async fn keyless_run() -> KeylessRun {
    let k = Harness::start(Options {
        iam_via_simulator: true,
        workload_identity: WorkloadIdentityPolicy {
            audiences: vec![AUDIENCE.into()],
            identity_providers: vec![IDP.into(), FOREIGN_IDP.into()],
        },
        ..Options::faults()
    })
    .await;
    let mapped = format!("system:serviceaccount:{NS}:hss-reader");
    let mut idp = IdentityProviderConfig::new(IDP, ISSUER, AUDIENCE, json!({"keys": []}))
        .with_rule(mapped.clone(), "hss-readers");
    idp.jwks = JwksSource::Url(JwksUrl::new(format!("{}/openid/v1/jwks", k.kube.url())));
    k.sim.set_identity_provider(idp).await.unwrap();
    // Another key under the key id of the stand-in's: its tokens fail the signature check.
    let published: serde_json::Value = reqwest::get(format!("{}/openid/v1/jwks", k.kube.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut foreign = TestIssuer::generate(ISSUER).unwrap().jwks();
    foreign["keys"][0]["kid"] = published["keys"][0]["kid"].clone();
    k.sim
        .set_identity_provider(
            IdentityProviderConfig::new(FOREIGN_IDP, ISSUER, AUDIENCE, foreign)
                .with_rule(mapped, "hss-readers"),
        )
        .await
        .unwrap();
    for account in ["hss-reader", "unmapped"] {
        let body: ServiceAccount =
            serde_json::from_value(json!({"metadata": {"name": account}})).unwrap();
        Api::<ServiceAccount>::namespaced(k.client.clone(), NS)
            .create(&PostParams::default(), &body)
            .await
            .unwrap();
    }
    let endpoint = k.endpoint();
    for (name, account, idp) in [
        ("keyless", "hss-reader", IDP),
        ("keyless-2", "hss-reader", IDP),
        ("keyless-unmapped", "unmapped", IDP),
        ("keyless-badsig", "hss-reader", FOREIGN_IDP),
        ("keyless-missing", "nobody", IDP),
    ] {
        k.create_watch_json(NS, keyless_doc(name, &endpoint, account, idp))
            .await;
    }
    for name in ["keyless", "keyless-2"] {
        k.wait_for(NS, name, "Ready", is_ready).await;
    }
    for (name, reason) in [
        ("keyless-unmapped", "IdentityExchangeRefused"),
        ("keyless-badsig", "IdentityExchangeRefused"),
        ("keyless-missing", "ServiceAccountNotFound"),
    ] {
        k.wait_for(NS, name, reason, |_, s| {
            condition(s, "CredentialsValid").is_some_and(|c| c.reason == reason)
        })
        .await;
    }
    // An IAM token that expires mid-run: a new ServiceAccount token, a new IAM token.
    let before = k.sim.counters().id_token_exchanges;
    k.sim.expire_tokens();
    harness::eventually(Duration::from_secs(20), "a new exchange", || async {
        k.sim.counters().id_token_exchanges > before
    })
    .await;
    k.wait_for(NS, "keyless", "Ready after the new exchange", is_ready)
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let counters = k.sim.counters();
    assert!(counters.refusals("unmapped_subject") >= 1, "{counters:?}");
    assert!(counters.refusals("bad_signature") >= 1, "{counters:?}");
    let run = KeylessRun {
        statuses: serde_json::to_string(&k.kube.objects("hostrisk.io", "hostriskwatches")).unwrap(),
        events: serde_json::to_string(&k.kube.objects("events.k8s.io", "events")).unwrap(),
        metrics: k.ctx.metrics.encode().unwrap(),
        id_tokens: k.sim.received_id_tokens(),
        iam_tokens: k.sim.issued_tokens("idtoken:"),
    };
    // Two accepted exchanges (before and after the expiry) and the refused ones.
    assert!(
        run.id_tokens.len() >= 4,
        "{} id tokens",
        run.id_tokens.len()
    );
    assert!(
        run.iam_tokens.len() >= 2,
        "{} IAM tokens",
        run.iam_tokens.len()
    );
    k.stop().await;
    run
}

/// A Secret (name, keys) and where its watch points.
type Setup<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a serde_json::Value);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_logs_status_or_events() {
    let logs = capture_all_logs();
    let h = Harness::start(Options::faults()).await;
    let sim = json!({"endpoint": h.endpoint()});
    let setups: [Setup; 8] = [
        (
            "aksk",
            vec![
                ("accessKey", DEMO_ACCESS_KEY),
                ("secretKey", DEMO_SECRET_KEY),
            ],
            &sim,
        ),
        (
            "temp",
            vec![
                ("accessKey", DEMO_TEMP_ACCESS_KEY),
                ("secretKey", DEMO_TEMP_SECRET_KEY),
                ("securityToken", DEMO_SECURITY_TOKEN),
            ],
            &sim,
        ),
        ("token", vec![("authToken", DEMO_STATIC_TOKEN)], &sim),
        (
            "badsig",
            vec![
                ("accessKey", DEMO_ACCESS_KEY),
                ("secretKey", WRONG_SECRET_KEY),
            ],
            &sim,
        ),
        ("badtoken", vec![("authToken", BAD_AUTH_TOKEN)], &sim),
        (
            "iam",
            vec![
                ("username", DEMO_IAM_USER),
                ("password", REGION_IAM_PASSWORD),
                ("domainName", DEMO_IAM_DOMAIN),
            ],
            &sim,
        ),
        (
            "ambiguous",
            vec![
                ("accessKey", DEMO_ACCESS_KEY),
                ("secretKey", DEMO_SECRET_KEY),
                ("authToken", AMBIGUOUS_TOKEN),
            ],
            &sim,
        ),
        (
            "partial",
            vec![("username", DEMO_IAM_USER), ("password", PARTIAL_PASSWORD)],
            &sim,
        ),
    ];
    for (name, keys, place) in &setups {
        h.create_secret(NS, name, keys).await;
        h.create_watch_json(NS, watch_doc(name, name, (*place).clone()))
            .await;
    }
    for name in ["aksk", "temp", "token"] {
        h.wait_for(NS, name, "Ready", is_ready).await;
    }
    for (name, reason) in [
        ("badsig", "InvalidCredentials"),
        ("badtoken", "InvalidCredentials"),
        ("ambiguous", "AmbiguousCredentials"),
        ("partial", "SecretKeyMissing"),
    ] {
        h.wait_for(NS, name, reason, |_, s| {
            condition(s, "CredentialsValid").is_some_and(|c| c.reason == reason)
        })
        .await;
    }
    // Password credentials with spec.endpoint are refused before any call (the IAM endpoint comes
    // from spec.region; a region would send the password to the real IAM, which tests must not).
    h.wait_for(NS, "iam", "password flow refused", |_, s| {
        condition(s, "CredentialsValid").is_some_and(|c| c.reason == "InvalidCredentials")
    })
    .await;
    // Throttling, with Retry-After.
    h.sim
        .update_faults(|f| {
            f.quota_per_minute = 1;
            f.retry_after_seconds = Some(1);
        })
        .unwrap();
    // Some calls are answered 429 (which watch reports it depends on how calls are batched).
    harness::eventually(Duration::from_secs(20), "a 429 answer", || async {
        h.sim.counters().throttled > 0
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    h.sim.update_faults(|f| f.quota_per_minute = 0).unwrap();

    // The IAM password flow against the simulator, with a token expiry and refresh.
    let client = HssClient::new(fast_client()).unwrap();
    let scope = Scope::for_endpoint(h.sim.base_url(), DEMO_PROJECT_ID, None).unwrap();
    let iam = Credentials::Iam {
        username: DEMO_IAM_USER.into(),
        password: DEMO_IAM_PASSWORD.into(),
        domain_name: DEMO_IAM_DOMAIN.into(),
        iam_endpoint: h.sim.iam_url(),
    };
    client
        .list_hosts_risk(&scope, &iam, &["demo-web-01"])
        .await
        .unwrap();
    h.sim.expire_tokens();
    client
        .list_hosts_risk(&scope, &iam, &["demo-web-01"])
        .await
        .unwrap();
    assert!(h.sim.counters().iam_tokens_issued >= 2);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let statuses =
        serde_json::to_string(&h.kube.objects("hostrisk.io", "hostriskwatches")).unwrap();
    let events = serde_json::to_string(&h.kube.objects("events.k8s.io", "events")).unwrap();
    let metrics = h.ctx.metrics.encode().unwrap();
    h.stop().await;
    let keyless = keyless_run().await;
    let statuses = format!("{statuses}\n{}", keyless.statuses);
    let events = format!("{events}\n{}", keyless.events);
    let metrics = format!("{metrics}\n{}", keyless.metrics);
    let logs = logs.text();

    // The capture works and saw the interesting paths (so an empty search cannot pass).
    assert!(logs.len() > 10_000, "only {} bytes of logs", logs.len());
    assert!(logs.contains("TRACE"), "TRACE level captured");
    assert!(
        logs.contains("polled HSS") || logs.contains("batched HSS call answered"),
        "controller logs captured (per-watch or batched polling)"
    );
    assert!(logs.contains("ListHostsRisk failed"), "error paths logged");
    assert!(
        logs.contains(DEMO_ACCESS_KEY),
        "identities (not secrets) are logged"
    );
    assert!(statuses.contains("InvalidCredentials") && statuses.contains("AmbiguousCredentials"));
    assert!(logs.contains("Throttled"), "throttling logged");
    assert!(events.contains("PollFailed"), "{events}");
    assert!(
        statuses.contains("IdentityExchangeRefused") && statuses.contains("ServiceAccountNotFound"),
        "keyless refusals in the statuses"
    );
    assert!(
        logs.contains("system:serviceaccount:default:hss-reader"),
        "keyless identities (not tokens) are logged"
    );
    assert!(metrics.contains("hostrisk_"), "/metrics captured");

    let secrets = [
        DEMO_SECRET_KEY,
        DEMO_TEMP_SECRET_KEY,
        DEMO_SECURITY_TOKEN,
        DEMO_STATIC_TOKEN,
        DEMO_IAM_PASSWORD,
        WRONG_SECRET_KEY,
        BAD_AUTH_TOKEN,
        REGION_IAM_PASSWORD,
        AMBIGUOUS_TOKEN,
        PARTIAL_PASSWORD,
    ];
    // Every minted ServiceAccount token and every IAM token bought with one, whole and (for the
    // JWTs) each of its segments: header, claims, signature.
    let mut tokens: Vec<(String, String)> = Vec::new();
    for jwt in &keyless.id_tokens {
        let segments: Vec<&str> = jwt.split('.').collect();
        assert_eq!(segments.len(), 3, "a JWT: {} chars", jwt.len());
        tokens.push(("a ServiceAccount token".into(), jwt.clone()));
        // The header is the same for every token of one key; claims and signature are unique.
        for (part, segment) in ["header", "claims", "signature"].iter().zip(segments) {
            tokens.push((
                format!("the {part} of a ServiceAccount token"),
                segment.to_string(),
            ));
        }
    }
    for token in &keyless.iam_tokens {
        tokens.push((
            "an IAM token from an id-token exchange".into(),
            token.clone(),
        ));
    }
    for (place, text) in [
        ("logs", &logs),
        ("status", &statuses),
        ("events", &events),
        ("metrics", &metrics),
    ] {
        for (what, token) in &tokens {
            assert!(
                !text.contains(token.as_str()),
                "{place} contain {what} ({} chars)",
                token.len()
            );
        }
        for secret in secrets {
            assert!(
                !text.contains(secret),
                "{place} contain the secret {secret:?}"
            );
            let encoded = base64(secret);
            assert!(
                !text.contains(&encoded),
                "{place} contain the secret {secret:?} in base64"
            );
        }
        // IAM tokens issued by the simulator start with this.
        assert!(!text.contains("MIIsim"), "{place} contain an IAM token");
        assert!(!text.contains("Signature="), "{place} contain a signature");
        assert!(
            !text.to_ascii_lowercase().contains("authorization: sdk"),
            "{place} contain an Authorization header"
        );
        let hex = signature_like(text);
        assert!(
            hex.is_empty(),
            "{place} contain signature-like values: {hex:?}"
        );
    }
}
