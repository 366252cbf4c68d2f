//! The id-token exchange on the wire, against a recording IAM double: the request is what the
//! official SDKs send (`POST {iam}{prefix}/v3.0/OS-AUTH/id-token/tokens`, `X-Idp-Id`,
//! `Content-Type: application/json;charset=UTF-8`, the `auth.id_token` / `auth.scope.project`
//! body), an IAM outage (5xx) is retried like any outage, and a 4xx is a refusal.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use hostrisk_hss::{
    ClientConfig, Credentials, HssClient, IdTokenError, IdTokenFuture, IdTokenSource, Scope, Secret,
};
use hostrisk_sim::hss::{HssSimulator, SimConfig, DEMO_PROJECT_ID, DEMO_STATIC_TOKEN};
use serde_json::{json, Value};

const JWT: &str = "header.payload.signature-of-a-test-jwt";

struct FixedSource;

impl IdTokenSource for FixedSource {
    fn id_token(&self) -> IdTokenFuture<'_> {
        Box::pin(async { Ok::<_, IdTokenError>(Secret::new(JWT)) })
    }

    fn describe(&self) -> String {
        "fixed".into()
    }
}

#[derive(Default)]
struct Recorder {
    /// Statuses to answer, in order; then 201.
    script: Vec<u16>,
    seen: Vec<(HeaderMap, Value)>,
}

/// An IAM double under `/iam-proxy` that answers with the simulator's static token (which
/// the simulated HSS accepts), so the whole call completes.
async fn iam_double(script: Vec<u16>) -> (url::Url, Arc<Mutex<Recorder>>) {
    let recorder = Arc::new(Mutex::new(Recorder {
        script,
        seen: Vec::new(),
    }));
    let state = Arc::clone(&recorder);
    let app = Router::new().route(
        "/iam-proxy/v3.0/OS-AUTH/id-token/tokens",
        post(move |headers: HeaderMap, body: Bytes| {
            let state = Arc::clone(&state);
            async move {
                let mut recorder = state.lock().expect("lock");
                let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                recorder.seen.push((headers, body));
                let status = if recorder.script.is_empty() {
                    201
                } else {
                    recorder.script.remove(0)
                };
                answer(status)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let url = url::Url::parse(&format!("http://{addr}/iam-proxy/")).expect("url");
    (url, recorder)
}

fn answer(status: u16) -> Response {
    let code = StatusCode::from_u16(status).expect("status");
    if status != 201 {
        let body = json!({"error": {"code": status, "title": "x", "message": "scripted failure"}});
        return (code, [("x-request-id", "iam-req-1")], body.to_string()).into_response();
    }
    let expires = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(24))
        .expect("in range");
    let body = json!({"token": {"expires_at": expires.to_string(), "methods": ["mapped"]}});
    (
        code,
        [("x-subject-token", DEMO_STATIC_TOKEN)],
        body.to_string(),
    )
        .into_response()
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

fn credentials(iam: url::Url) -> Credentials {
    Credentials::IdToken {
        source: Arc::new(FixedSource),
        identity_provider_id: "idp-42".into(),
        subject: "system:serviceaccount:ns:sa".into(),
        iam_endpoint: iam,
    }
}

#[tokio::test]
async fn the_request_is_the_sdk_shape_and_an_iam_outage_is_retried() {
    let sim = HssSimulator::start(SimConfig::default())
        .await
        .expect("simulator");
    let (iam, recorder) = iam_double(vec![503]).await;
    let scope = Scope::for_endpoint(sim.base_url(), DEMO_PROJECT_ID, None).expect("scope");
    let client = client();
    let result = client
        .list_hosts_risk(&scope, &credentials(iam), &["demo-web-01"])
        .await
        .expect("query after one retry");
    assert_eq!(result.hosts.len(), 1);
    assert_eq!(client.stats().id_token_exchanges, 2);
    assert_eq!(client.stats().retries, 1);
    let recorder = recorder.lock().expect("lock");
    assert_eq!(recorder.seen.len(), 2);
    let (headers, body) = &recorder.seen[1];
    assert_eq!(headers["x-idp-id"], "idp-42");
    assert_eq!(headers["content-type"], "application/json;charset=UTF-8");
    assert!(headers.get("x-auth-token").is_none());
    assert_eq!(
        body,
        &json!({"auth": {"id_token": {"id": JWT}, "scope": {"project": {"id": DEMO_PROJECT_ID}}}})
    );
}

#[tokio::test]
async fn a_4xx_is_a_refusal_and_429_is_not() {
    let sim = HssSimulator::start(SimConfig::default())
        .await
        .expect("simulator");
    let scope = Scope::for_endpoint(sim.base_url(), DEMO_PROJECT_ID, None).expect("scope");
    let (iam, recorder) = iam_double(vec![400]).await;
    let err = client()
        .list_hosts_risk(&scope, &credentials(iam), &["demo-web-01"])
        .await
        .expect_err("refused");
    assert_eq!(err.reason(), "IdentityExchangeRefused");
    assert_eq!(err.request_id(), Some("iam-req-1"));
    assert!(err.to_string().contains("scripted failure"), "{err}");
    assert!(!err.to_string().contains(JWT));
    assert_eq!(recorder.lock().expect("lock").seen.len(), 1);

    let (iam, recorder) = iam_double(vec![429]).await;
    let client = client();
    client
        .list_hosts_risk(&scope, &credentials(iam), &["demo-web-01"])
        .await
        .expect("throttled IAM is retried");
    assert_eq!(recorder.lock().expect("lock").seen.len(), 2);
}
