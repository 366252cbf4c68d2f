//! Routes, the request-id middleware and the `ListHostsRisk` handler.
//!
//! Order of checks on `GET /v5/{project_id}/host-management/hosts-risk`, gateway first as in
//! front of the real service: added latency, authentication ([`super::auth`]), per-identity
//! quota (429 `APIGW.0308`), injected 5xx, then the service: `host_id_list` required
//! (400 `HSS.0001`), data for the known ids in scope, then injected body faults.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{OriginalUri, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use bytes::Bytes;

use super::admin;
use super::auth::{authenticate, WireRequest};
use super::counters::SimCounters;
use super::errors::{bytes_response, ApiFailure, RequestId};
use super::faults::{corrupt, draw_body_fault, draw_server_error, BodyFault};
use super::iam;
use super::oidc::exchange::{exchange_id_token, ID_TOKEN_TOKENS_PATH};
use super::state::{lock, SimState};
use hostrisk_hss::model::{HostRisk, ListHostsRiskResponse};
use hostrisk_hss::sign::{parse_query, percent_decode};

/// Path of `ListHostsRisk` (hss-api.md "The call").
pub const HOSTS_RISK_ROUTE: &str = "/v5/{project_id}/host-management/hosts-risk";
/// Path of the IAM token API (hss-api.md "Authentication").
pub const IAM_TOKENS_PATH: &str = "/v3/auth/tokens";

pub(crate) fn router(state: Arc<SimState>) -> Router {
    Router::new()
        .route(HOSTS_RISK_ROUTE, get(hosts_risk))
        .route(IAM_TOKENS_PATH, post(iam::issue_token))
        .route(ID_TOKEN_TOKENS_PATH, post(exchange_id_token))
        .nest("/_sim", admin::router())
        .fallback(no_such_api)
        .method_not_allowed_fallback(no_such_api)
        .layer(middleware::from_fn(with_request_id))
        .with_state(state)
}

/// Every answer, success or error, carries a fresh `X-Request-Id` (hss-api.md "Errors").
async fn with_request_id(mut request: Request, next: Next) -> Response {
    let request_id = RequestId::random();
    request.extensions_mut().insert(request_id.clone());
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&request_id.0) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-request-id"), value);
    }
    response
}

/// Unknown paths and methods: 404 `APIGW.0101` like the gateway (hss-api.md "Errors").
async fn no_such_api(
    State(state): State<Arc<SimState>>,
    Extension(request_id): Extension<RequestId>,
) -> Response {
    state.count(|c| c.total_requests += 1);
    ApiFailure::no_such_api().into_response(&request_id)
}

async fn hosts_risk(
    State(state): State<Arc<SimState>>,
    Extension(request_id): Extension<RequestId>,
    OriginalUri(uri): OriginalUri,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.count(|c| {
        c.total_requests += 1;
        c.hss_requests += 1;
    });
    state.apply_latency().await;
    // Taken from the raw path rather than axum's `Path`, whose own 400 for an undecodable
    // segment would not carry the gateway's error body.
    let project_id = uri
        .path()
        .split('/')
        .nth(2)
        .map(percent_decode)
        .unwrap_or_default();
    let wire = WireRequest {
        method: method.as_str(),
        wire_path: uri.path(),
        raw_query: uri.query().unwrap_or_default(),
        headers: &headers,
        body: &body,
        project_id: &project_id,
        authority: uri.authority().map(|a| a.as_str()),
    };
    match serve_hosts_risk(&state, &wire, &request_id) {
        Ok(response) => response,
        Err(failure) => failure.into_response(&request_id),
    }
}

fn serve_hosts_risk(
    state: &SimState,
    wire: &WireRequest<'_>,
    request_id: &RequestId,
) -> Result<Response, ApiFailure> {
    let identity = authenticate(state, wire).inspect_err(|failure| {
        state.count(|c| SimCounters::bump(&mut c.auth_failures, failure.code));
    })?;
    state.count(|c| SimCounters::bump(&mut c.calls_by_identity, &identity.0));
    let faults = state.faults();
    if !state.admit(&identity.0, faults.quota_per_minute) {
        state.count(|c| {
            c.throttled += 1;
            SimCounters::bump(&mut c.throttled_by_identity, &identity.0);
        });
        return Ok(throttled(
            faults.quota_per_minute,
            faults.retry_after_seconds,
            request_id,
        ));
    }
    if let Some(status) = draw_server_error(&faults) {
        state.count(|c| {
            SimCounters::bump(&mut c.errors_injected, &format!("server_error_{status}"))
        });
        return Err(server_error(status));
    }
    let answer = list_hosts_risk(state, wire.project_id, wire.raw_query)?;
    state.count(|c| c.hss_successes += 1);
    let body = serde_json::to_vec(&answer)
        .map_err(|_| ApiFailure::new(StatusCode::INTERNAL_SERVER_ERROR, "HSS.0004", "encoding"))?;
    let body = match draw_body_fault(&faults) {
        Some(fault) => {
            let kind = match fault {
                BodyFault::Malformed => "malformed",
                BodyFault::Truncated => "truncated",
            };
            state.count(|c| SimCounters::bump(&mut c.errors_injected, kind));
            corrupt(body, fault)
        }
        None => body,
    };
    Ok(bytes_response(StatusCode::OK, body))
}

/// 429 `APIGW.0308`, with `Retry-After` only when configured (see [`super::Faults`]).
fn throttled(per_minute: u32, retry_after: Option<u64>, request_id: &RequestId) -> Response {
    let mut response = ApiFailure::throttled(per_minute).into_response(request_id);
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// The injected 5xx. hss-api.md documents no codes for server errors; these are the
/// simulator's (`HSS.0004` "system error", `APIGW.0203` "backend unavailable").
fn server_error(status: u16) -> ApiFailure {
    if status == 503 {
        ApiFailure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "APIGW.0203",
            "The backend service is unavailable.",
        )
    } else {
        ApiFailure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "HSS.0004",
            "System error. Try again later.",
        )
    }
}

/// The service proper (hss-api.md "The call"): `host_id_list` as repeated keys (a comma is
/// part of an id), required; `enterprise_project_id` absent = `"0"`, `all_granted_eps` = every
/// enterprise project. Ids that are unknown, in another enterprise project or in another
/// project are simply absent from `data_list` (a caller asking another project sees an empty
/// list, which is indistinguishable from unknown ids and needs no undocumented error).
/// Duplicate ids are answered once; the order is that of the first request of each id (the
/// real order is undocumented).
fn list_hosts_risk(
    state: &SimState,
    project_id: &str,
    raw_query: &str,
) -> Result<ListHostsRiskResponse, ApiFailure> {
    let pairs = parse_query(raw_query);
    let mut enterprise_project = "0".to_string();
    let mut ids = Vec::new();
    for (key, value) in pairs {
        match key.as_str() {
            "host_id_list" => ids.push(value),
            "enterprise_project_id" => {
                if value.is_empty() || value.len() > 256 {
                    return Err(ApiFailure::bad_parameter(
                        "enterprise_project_id must be 1 to 256 characters",
                    ));
                }
                enterprise_project = value;
            }
            _ => {}
        }
    }
    if ids.is_empty() {
        return Err(ApiFailure::bad_parameter("host_id_list is required"));
    }
    state.count(|c| {
        c.host_ids_requested += ids.len() as u64;
        c.largest_host_id_list = c.largest_host_id_list.max(ids.len() as u64);
    });
    let mut seen = BTreeSet::new();
    let data: Vec<HostRisk> = if project_id == state.project_id {
        let hosts = lock(&state.hosts);
        ids.iter()
            .filter(|id| seen.insert(id.as_str()))
            .filter_map(|id| hosts.get(id))
            .filter(|h| {
                enterprise_project == "all_granted_eps"
                    || h.enterprise_project_id == enterprise_project
            })
            .map(|h| h.risk.clone())
            .collect()
    } else {
        Vec::new()
    };
    Ok(ListHostsRiskResponse {
        total_num: Some(data.len() as u64),
        data_list: Some(data),
    })
}
