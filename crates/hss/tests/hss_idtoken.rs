//! Workload identity end to end: `Credentials::IdToken` against the HSS simulator's IAM,
//! which verifies ServiceAccount-shaped JWTs from the simulator's test issuer. Covers the
//! exchange, the cache, exactly one new exchange after an expired IAM token, every refusal
//! (an error with its own reason, never retried), token source failures, and that no JWT or
//! IAM token shows in errors, `Debug` output or logs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use hostrisk_hss::{
    ClientConfig, Credentials, HssClient, HssError, IdTokenError, IdTokenFuture, IdTokenSource,
    Scope, Secret,
};
use hostrisk_sim::hss::{
    Faults, HssSimulator, IdentityProviderConfig, SimConfig, TestIssuer, DEMO_PROJECT_ID,
};
use serde_json::{json, Value};

const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
const AUDIENCE: &str = "hss-simulator";
const IDP: &str = "cce-cluster-1";
const SUBJECT: &str = "system:serviceaccount:team-a:reader";
const IDS: [&str; 2] = ["demo-web-01", "demo-db-01"];

fn issuer() -> &'static TestIssuer {
    static KEY: OnceLock<TestIssuer> = OnceLock::new();
    KEY.get_or_init(|| TestIssuer::generate(ISSUER).expect("key"))
}

fn impostor() -> &'static TestIssuer {
    static KEY: OnceLock<TestIssuer> = OnceLock::new();
    KEY.get_or_init(|| TestIssuer::generate(ISSUER).expect("key"))
}

fn good_claims() -> Value {
    issuer().service_account_claims("team-a", "reader", AUDIENCE, Duration::from_secs(600))
}

type Mint = Box<dyn Fn() -> Result<String, IdTokenError> + Send + Sync>;

/// A source that mints with `mint`, counting calls and keeping every token it handed out
/// (so the hygiene checks know what must never show).
struct TestSource {
    /// Sources with one description mint interchangeable tokens (and share cached ones).
    description: &'static str,
    mint: Mint,
    calls: AtomicU64,
    minted: Mutex<Vec<String>>,
}

impl TestSource {
    fn new(
        description: &'static str,
        mint: impl Fn() -> Result<String, IdTokenError> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            description,
            mint: Box::new(mint),
            calls: AtomicU64::new(0),
            minted: Mutex::new(Vec::new()),
        })
    }

    /// Mints a fresh good ServiceAccount token each time.
    fn good() -> Arc<Self> {
        Self::new("good", || {
            Ok(issuer().sign(&good_claims()).expect("signed"))
        })
    }

    fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    fn minted(&self) -> Vec<String> {
        self.minted.lock().expect("lock").clone()
    }
}

impl IdTokenSource for TestSource {
    fn id_token(&self) -> IdTokenFuture<'_> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let token = (self.mint)()?;
            self.minted.lock().expect("lock").push(token.clone());
            Ok(Secret::new(token))
        })
    }

    fn describe(&self) -> String {
        format!("test source {} for {SUBJECT}", self.description)
    }
}

fn idp() -> IdentityProviderConfig {
    IdentityProviderConfig::new(IDP, ISSUER, AUDIENCE, issuer().jwks())
        .with_rule("system:serviceaccount:team-a:*", "hss-readers")
}

async fn simulator() -> HssSimulator {
    HssSimulator::start(SimConfig {
        identity_providers: vec![idp()],
        faults: Faults::none(),
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts")
}

fn client() -> HssClient {
    HssClient::new(ClientConfig {
        calls_per_minute: 1000,
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(50),
        ..ClientConfig::default()
    })
    .expect("client")
}

fn credentials(sim: &HssSimulator, source: Arc<TestSource>, idp: &str) -> Credentials {
    Credentials::IdToken {
        source,
        identity_provider_id: idp.into(),
        subject: SUBJECT.into(),
        iam_endpoint: sim.iam_url(),
    }
}

fn scope(sim: &HssSimulator) -> Scope {
    Scope::for_endpoint(sim.base_url(), DEMO_PROJECT_ID, None).expect("scope")
}

#[tokio::test]
async fn exchanges_once_calls_hss_with_the_iam_token_and_reuses_it() {
    let sim = simulator().await;
    let client = client();
    let source = TestSource::good();
    let creds = credentials(&sim, source.clone(), IDP);
    assert_eq!(
        creds.identity().as_str(),
        format!("idtoken:{IDP}/{SUBJECT}@127.0.0.1")
    );
    for _ in 0..3 {
        let result = client
            .list_hosts_risk(&scope(&sim), &creds, &IDS)
            .await
            .expect("query");
        assert_eq!(result.hosts.len(), 2);
    }
    assert_eq!(source.calls(), 1, "one JWT minted, for the one exchange");
    assert_eq!(client.stats().id_token_exchanges, 1);
    assert_eq!(client.stats().iam_logins, 0);
    let counters = sim.counters();
    assert_eq!(counters.id_token_exchanges, 1);
    assert_eq!(counters.calls_by(&format!("idtoken:{IDP}/{SUBJECT}")), 3);
    // Rebuilt credentials (a new source object, same description) are the same credentials
    // and share the cached token.
    let rebuilt = credentials(&sim, TestSource::good(), IDP);
    assert_eq!(rebuilt, creds);
    client
        .list_hosts_risk(&scope(&sim), &rebuilt, &IDS)
        .await
        .expect("query");
    assert_eq!(sim.counters().id_token_exchanges, 1);
}

#[tokio::test]
async fn an_expired_iam_token_leads_to_exactly_one_new_exchange() {
    let sim = simulator().await;
    let client = client();
    let source = TestSource::good();
    let creds = credentials(&sim, source.clone(), IDP);
    client
        .list_hosts_risk(&scope(&sim), &creds, &IDS)
        .await
        .expect("query");
    assert_eq!(sim.expire_tokens(), 1);
    client
        .list_hosts_risk(&scope(&sim), &creds, &IDS)
        .await
        .expect("refreshed");
    let counters = sim.counters();
    assert_eq!(counters.auth_failures.get("APIGW.0307"), Some(&1));
    assert_eq!(counters.id_token_exchanges, 2);
    assert_eq!(counters.hss_requests, 3, "1 + the expired call + one retry");
    assert_eq!((source.calls(), client.stats().id_token_exchanges), (2, 2));

    // The cached token expires, and so is every new one: one new exchange, then the
    // error, no loop.
    sim.set_token_ttl(Duration::ZERO);
    sim.expire_tokens();
    sim.reset_counters();
    let err = client
        .list_hosts_risk(&scope(&sim), &creds, &IDS)
        .await
        .expect_err("expired again");
    assert_eq!(err.code(), Some("APIGW.0307"));
    assert_eq!(err.reason(), "InvalidCredentials");
    let counters = sim.counters();
    assert_eq!((counters.id_token_exchanges, counters.hss_requests), (1, 2));
    assert_eq!(source.calls(), 3);
}

/// A refusal row: how the JWT (or the provider) is wrong.
struct Row {
    name: &'static str,
    idp: &'static str,
    mint: fn() -> String,
    status: u16,
    sim_reason: &'static str,
}

fn claims_with(change: impl FnOnce(&mut Value)) -> String {
    let mut claims = good_claims();
    change(&mut claims);
    issuer().sign(&claims).expect("signed")
}

fn rows() -> Vec<Row> {
    let good = || issuer().sign(&good_claims()).expect("signed");
    vec![
        Row {
            name: "bad signature",
            idp: IDP,
            mint: || {
                impostor()
                    .sign_with_kid(&good_claims(), Some(issuer().kid()))
                    .expect("signed")
            },
            status: 401,
            sim_reason: "bad_signature",
        },
        Row {
            name: "wrong kid",
            idp: IDP,
            mint: || {
                issuer()
                    .sign_with_kid(&good_claims(), Some("rotated-away"))
                    .expect("signed")
            },
            status: 401,
            sim_reason: "unknown_kid",
        },
        Row {
            name: "wrong iss",
            idp: IDP,
            mint: || claims_with(|c| c["iss"] = json!("https://oidc.other.example")),
            status: 401,
            sim_reason: "wrong_issuer",
        },
        Row {
            name: "wrong aud",
            idp: IDP,
            mint: || claims_with(|c| c["aud"] = json!(["another-audience"])),
            status: 401,
            sim_reason: "wrong_audience",
        },
        Row {
            name: "expired JWT",
            idp: IDP,
            mint: || {
                let now = jiff::Timestamp::now().as_second();
                claims_with(|c| {
                    c["iat"] = json!(now - 7200);
                    c["nbf"] = json!(now - 7200);
                    c["exp"] = json!(now - 3600);
                })
            },
            status: 401,
            sim_reason: "expired",
        },
        Row {
            name: "nbf in the future",
            idp: IDP,
            mint: || {
                let now = jiff::Timestamp::now().as_second();
                claims_with(|c| c["nbf"] = json!(now + 3600))
            },
            status: 401,
            sim_reason: "not_yet_valid",
        },
        Row {
            name: "unmapped subject",
            idp: IDP,
            mint: || claims_with(|c| c["sub"] = json!("system:serviceaccount:team-b:reader")),
            status: 403,
            sim_reason: "unmapped_subject",
        },
        Row {
            name: "unknown IdP",
            idp: "no-such-idp",
            mint: good,
            status: 404,
            sim_reason: "unknown_identity_provider",
        },
    ]
}

/// Asserts that nothing any of `secrets` holds shows in `text`.
fn assert_clean(text: &str, secrets: &[String], context: &str) {
    for secret in secrets {
        assert!(
            !text.contains(secret.as_str()),
            "{context} leaks a token: {text}"
        );
    }
    assert!(!text.contains("eyJ"), "{context} shows a JWT: {text}");
    assert!(
        !text.contains("MIIsim"),
        "{context} shows an IAM token: {text}"
    );
}

async fn assert_refused_once(sim: &HssSimulator, row: &Row, idp: &str) {
    let client = client();
    let mint = row.mint;
    let source = TestSource::new(row.name, move || Ok(mint()));
    let creds = credentials(sim, source.clone(), idp);
    sim.reset_counters();
    let err = client
        .list_hosts_risk(&scope(sim), &creds, &IDS)
        .await
        .expect_err(row.name);
    match &err {
        HssError::IdentityExchangeRefused(refused) => {
            assert_eq!(refused.status, row.status, "{}", row.name);
            assert_eq!(refused.identity_provider_id, idp);
            assert_eq!(refused.subject, SUBJECT);
            assert!(refused.body.request_id.is_some(), "{}", row.name);
        }
        other => panic!("{}: {other:?}", row.name),
    }
    assert_eq!(err.reason(), "IdentityExchangeRefused", "{}", row.name);
    assert!(!err.is_retryable(), "{}", row.name);
    assert!(err.is_authentication(), "{}", row.name);
    let text = err.to_string();
    assert!(
        text.contains("conversion rule") && text.contains(idp),
        "{text}"
    );
    assert_clean(&format!("{text} {err:?}"), &source.minted(), row.name);
    // One exchange, no retry, no HSS call.
    assert_eq!(source.calls(), 1, "{}", row.name);
    assert_eq!(client.stats().id_token_exchanges, 1, "{}", row.name);
    let counters = sim.counters();
    assert_eq!(counters.refusals(row.sim_reason), 1, "{}", row.name);
    assert_eq!(counters.total_refusals(), 1, "{}", row.name);
    assert_eq!(counters.hss_requests, 0, "{}", row.name);
}

#[tokio::test]
async fn every_refused_exchange_is_an_error_of_its_own_and_never_retried() {
    let sim = simulator().await;
    for row in rows() {
        let idp = row.idp;
        assert_refused_once(&sim, &row, idp).await;
    }
    // A disabled provider refuses a good token the same way (403).
    assert!(sim.set_identity_provider_enabled(IDP, false));
    let disabled = Row {
        name: "disabled IdP",
        idp: IDP,
        mint: || issuer().sign(&good_claims()).expect("signed"),
        status: 403,
        sim_reason: "identity_provider_disabled",
    };
    assert_refused_once(&sim, &disabled, IDP).await;
}

#[tokio::test]
async fn a_token_source_failure_is_its_own_error_and_sends_nothing() {
    let sim = simulator().await;
    let client = client();
    let missing = TestSource::new("missing", || {
        Err(IdTokenError::permanent(
            "ServiceAccountNotFound",
            "ServiceAccount team-a/reader not found: create it or fix spec.workloadIdentity",
        ))
    });
    let err = client
        .list_hosts_risk(&scope(&sim), &credentials(&sim, missing.clone(), IDP), &IDS)
        .await
        .expect_err("no ServiceAccount");
    assert!(matches!(err, HssError::IdTokenSource { .. }), "{err:?}");
    assert_eq!(err.reason(), "ServiceAccountNotFound");
    assert!(err.is_authentication() && !err.is_retryable());
    assert!(err
        .to_string()
        .contains("ServiceAccount team-a/reader not found"));
    assert!(err.to_string().contains(SUBJECT));
    assert_eq!(missing.calls(), 1, "a permanent failure is not retried");
    assert_eq!(sim.counters().total_requests, 0, "nothing was sent");

    // A transient failure (API server unreachable) is retried like an outage, then reported.
    let flaky = TestSource::new("flaky", || {
        Err(IdTokenError::transient(
            "TokenRequestFailed",
            "the API server did not answer the TokenRequest",
        ))
    });
    let err = client
        .list_hosts_risk(&scope(&sim), &credentials(&sim, flaky.clone(), IDP), &IDS)
        .await
        .expect_err("unreachable");
    assert_eq!(err.reason(), "TokenRequestFailed");
    assert!(err.is_retryable() && !err.is_authentication());
    assert_eq!(
        flaky.calls(),
        u64::from(ClientConfig::default().max_attempts)
    );
    // An empty token is refused before anything is sent.
    let empty = TestSource::new("empty", || Ok(String::new()));
    let err = client
        .list_hosts_risk(&scope(&sim), &credentials(&sim, empty, IDP), &IDS)
        .await
        .expect_err("empty");
    assert_eq!(err.reason(), "InvalidIdToken");
    assert_eq!(sim.counters().total_requests, 0);
}

/// A `MakeWriter` collecting everything logged, to search it for tokens.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn no_token_shows_in_logs_at_trace_errors_or_debug_output() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // Other tests of this binary run on other threads without a subscriber: a callsite one of
    // them hit first may have cached "never interested". Ask every callsite again.
    tracing::callsite::rebuild_interest_cache();

    let sim = simulator().await;
    let client = client();
    let source = TestSource::good();
    let creds = credentials(&sim, source.clone(), IDP);
    client
        .list_hosts_risk(&scope(&sim), &creds, &IDS)
        .await
        .expect("query");
    sim.expire_tokens();
    client
        .list_hosts_risk(&scope(&sim), &creds, &IDS)
        .await
        .expect("refreshed");
    let refused_source = TestSource::new("unmapped", || {
        Ok(claims_with(|c| {
            c["sub"] = json!("system:serviceaccount:team-b:x")
        }))
    });
    let refused = client
        .list_hosts_risk(
            &scope(&sim),
            &credentials(&sim, refused_source.clone(), IDP),
            &IDS,
        )
        .await
        .expect_err("refused");
    let failed_source = TestSource::new("missing", || {
        Err(IdTokenError::permanent(
            "ServiceAccountNotFound",
            "ServiceAccount team-a/reader not found",
        ))
    });
    let failed = client
        .list_hosts_risk(&scope(&sim), &credentials(&sim, failed_source, IDP), &IDS)
        .await
        .expect_err("no source");

    let mut secrets = source.minted();
    secrets.extend(refused_source.minted());
    assert_eq!(secrets.len(), 3);
    let printed = format!(
        "{creds:?} {} {refused} {refused:?} {failed} {failed:?} {client:?} {:?}",
        creds.identity(),
        client.stats()
    );
    assert_clean(&printed, &secrets, "Debug/Display output");
    let logs = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8");
    assert!(
        logs.contains("exchanged an id token"),
        "the logs were captured"
    );
    assert!(logs.contains("IAM refused the id token exchange"));
    assert_clean(&logs, &secrets, "the logs");
}
