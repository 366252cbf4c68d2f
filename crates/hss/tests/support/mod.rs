//! A loopback HSS + IAM double for the client and CLI tests (real HTTP, no mocked layer).
//!
//! Behaviour copied from the real service (see docs/hss-api.md):
//! - `GET /v5/{project}/host-management/hosts-risk` verifies `SDK-HMAC-SHA256` signatures with
//!   the shared signer's verifier (wrong key or signature: 401 `APIGW.0301`), or `X-Auth-Token`
//!   (unknown: 401 `APIGW.0301`; expired: 401 `APIGW.0307`).
//! - `host_id_list` as repeated keys; unknown ids (prefix `unknown-`) are omitted from
//!   `data_list`; `X-Request-Id` on every answer, also in error bodies.
//! - IAM `POST /v3/auth/tokens`: password identity; 201 with `X-Subject-Token` and
//!   `token.expires_at` 24 h ahead; wrong password: 401 with IAM's `{"error": ...}` body.
//! - Faults are scripted per call (status, headers, raw body) for retries and throttling.
#![allow(dead_code)]

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hostrisk_hss::sign::{
    constant_time_eq, expected_signature, parse_authorization, parse_query, SigningRequest,
};

pub const AK: &str = "HPUATESTAK0000000001";
pub const SK: &str = "TestSecretKey0123456789abcdefghijklmnop";
pub const IAM_USER: &str = "alice";
pub const IAM_PASSWORD: &str = "correct horse battery";
pub const IAM_DOMAIN: &str = "acme";

/// One recorded HSS request, as it arrived.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub raw_query: String,
    pub headers: Vec<(String, String)>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn host_ids(&self) -> Vec<String> {
        parse_query(&self.raw_query)
            .into_iter()
            .filter(|(k, _)| k == "host_id_list")
            .map(|(_, v)| v)
            .collect()
    }
}

/// A scripted answer for the next HSS call, served before any verification.
#[derive(Debug, Clone)]
pub struct Scripted {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

#[derive(Default)]
pub struct State {
    pub hss_requests: Vec<Recorded>,
    pub iam_logins: usize,
    pub script: VecDeque<Scripted>,
    pub issued_tokens: HashSet<String>,
    pub expired_tokens: HashSet<String>,
    counter: u64,
}

#[derive(Clone)]
pub struct FakeHss {
    pub base: String,
    pub state: Arc<Mutex<State>>,
}

impl FakeHss {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = shared.clone();
                async move { handle(&state, method, uri, headers, body) }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Self {
            base: format!("http://{addr}"),
            state,
        }
    }

    pub fn script(&self, status: u16, headers: Vec<(&'static str, String)>, body: &str) {
        self.state.lock().expect("lock").script.push_back(Scripted {
            status,
            headers,
            body: body.to_string(),
        });
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().expect("lock").hss_requests.clone()
    }

    pub fn iam_logins(&self) -> usize {
        self.state.lock().expect("lock").iam_logins
    }

    /// Makes every token issued so far answer `APIGW.0307`.
    pub fn expire_tokens(&self) {
        let mut state = self.state.lock().expect("lock");
        let issued: Vec<String> = state.issued_tokens.iter().cloned().collect();
        state.expired_tokens.extend(issued);
    }

    pub fn issue_token(&self, token: &str) {
        self.state
            .lock()
            .expect("lock")
            .issued_tokens
            .insert(token.to_string());
    }
}

fn error(status: u16, code: &str, msg: &str, request_id: &str) -> Response {
    let body = serde_json::json!({"error_code": code, "error_msg": msg, "request_id": request_id});
    (
        StatusCode::from_u16(status).expect("status"),
        [
            ("x-request-id", request_id.to_string()),
            ("content-type", "application/json".into()),
        ],
        body.to_string(),
    )
        .into_response()
}

fn handle(
    state: &Mutex<State>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = state.lock().expect("lock");
    state.counter += 1;
    let request_id = format!("req-{:04}", state.counter);
    let path = uri.path().to_string();
    if method == Method::POST && path == "/v3/auth/tokens" {
        state.iam_logins += 1;
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let user = &json["auth"]["identity"]["password"]["user"];
        let ok = user["name"] == IAM_USER
            && user["password"] == IAM_PASSWORD
            && user["domain"]["name"] == IAM_DOMAIN
            && json["auth"]["scope"]["project"]["id"].is_string()
            && uri.query() == Some("nocatalog=true");
        if !ok {
            let body = serde_json::json!({"error": {"code": 401, "message": "The username or password is wrong.", "title": "Unauthorized"}});
            return (
                StatusCode::UNAUTHORIZED,
                [("x-request-id", request_id)],
                body.to_string(),
            )
                .into_response();
        }
        let token = format!("iam-token-{}", state.counter);
        state.issued_tokens.insert(token.clone());
        let expires = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24);
        let body = serde_json::json!({"token": {"expires_at": expires.to_string(), "methods": ["password"]}});
        return (
            StatusCode::CREATED,
            [("x-subject-token", token), ("x-request-id", request_id)],
            body.to_string(),
        )
            .into_response();
    }
    let recorded = Recorded {
        method: method.to_string(),
        path: path.clone(),
        raw_query: uri.query().unwrap_or_default().to_string(),
        headers: headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    v.to_str().unwrap_or_default().to_string(),
                )
            })
            .collect(),
    };
    state.hss_requests.push(recorded.clone());
    if let Some(scripted) = state.script.pop_front() {
        let mut response = (
            StatusCode::from_u16(scripted.status).expect("status"),
            scripted.body,
        )
            .into_response();
        response
            .headers_mut()
            .insert("x-request-id", request_id.parse().expect("hv"));
        for (name, value) in scripted.headers {
            response
                .headers_mut()
                .insert(name, value.parse().expect("hv"));
        }
        return response;
    }
    if method != Method::GET
        || !path.ends_with("/host-management/hosts-risk")
        || !path.starts_with("/v5/")
    {
        return error(
            404,
            "APIGW.0101",
            "The API does not exist or has not been published in the environment",
            &request_id,
        );
    }
    if let Some(token) = recorded.header("x-auth-token") {
        if state.expired_tokens.contains(token) {
            return error(401, "APIGW.0307", "The token must be updated.", &request_id);
        }
        if !state.issued_tokens.contains(token) {
            return error(
                401,
                "APIGW.0301",
                "Incorrect IAM authentication information: verify token failed",
                &request_id,
            );
        }
    } else if !signature_ok(&recorded) {
        return error(
            401,
            "APIGW.0301",
            "Incorrect IAM authentication information: verify aksk signature fail",
            &request_id,
        );
    }
    let items: Vec<serde_json::Value> = recorded
        .host_ids()
        .iter()
        .filter(|id| !id.starts_with("unknown-"))
        .map(|id| {
            serde_json::json!({
                "host_id": id, "agent_status": "online", "install_result_code": "install_succeed",
                "version": "hss.version.enterprise", "protect_status": "opened",
                "detect_result": "risk", "asset": 3, "vulnerability": 2, "baseline": 1, "intrusion": 0
            })
        })
        .collect();
    let body = serde_json::json!({"total_num": items.len(), "data_list": items});
    (
        StatusCode::OK,
        [
            ("x-request-id", request_id),
            ("content-type", "application/json".into()),
        ],
        body.to_string(),
    )
        .into_response()
}

/// Verifies like the gateway: the signed headers as received, the raw path and query.
fn signature_ok(recorded: &Recorded) -> bool {
    let Some(auth) = recorded
        .header("authorization")
        .and_then(parse_authorization)
    else {
        return false;
    };
    if auth.access_key != AK || !auth.signed_headers.iter().any(|h| h == "x-sdk-date") {
        return false;
    }
    let date = recorded
        .header("x-sdk-date")
        .unwrap_or_default()
        .to_string();
    let request = SigningRequest {
        method: &recorded.method,
        wire_path: &recorded.path,
        canonical_query: &recorded.raw_query,
        headers: &recorded.headers,
        body: b"",
    };
    let expected = expected_signature(SK.as_bytes(), &date, &request, &auth.signed_headers);
    constant_time_eq(&expected, &auth.signature)
}
