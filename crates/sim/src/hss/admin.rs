//! Admin endpoints under `/_sim/`, for tests, demos and people poking at the simulator.
//! They need no authentication (the simulator is a loopback tool) and are neither counted
//! nor slowed down by faults.
//!
//! | Method | Path                  | Effect |
//! |--------|-----------------------|--------|
//! | GET    | `/_sim/hosts`         | every host (JSON array of [`SimHost`]) |
//! | GET    | `/_sim/hosts/{id}`    | one host, 404 if unknown |
//! | PUT    | `/_sim/hosts/{id}`    | create (201) or replace (200) a host; the path id wins, a different `host_id` in the body is 400 |
//! | PATCH  | `/_sim/hosts/{id}`    | JSON merge patch of a host's fields (`null` removes a field), 404 if unknown |
//! | DELETE | `/_sim/hosts/{id}`    | remove a host (204), 404 if unknown |
//! | GET    | `/_sim/counters`      | [`super::SimCounters`] |
//! | DELETE | `/_sim/counters`      | reset the counters (204) |
//! | GET    | `/_sim/faults`        | the active [`Faults`] |
//! | PUT    | `/_sim/faults`        | replace them (fields left out take their defaults) |
//! | PATCH  | `/_sim/faults`        | change only the fields given |
//! | POST   | `/_sim/tokens/expire` | expire every IAM token issued so far, exchanged ones included (`{"expired": n}`) |
//! | GET    | `/_sim/identity-providers` | every OIDC identity provider (config with a JWKS bearer token as `***`, plus `kids`) |
//! | GET    | `/_sim/identity-providers/{id}` | one, 404 if unknown |
//! | PUT    | `/_sim/identity-providers/{id}` | create (201) or replace (200) an [`IdentityProviderConfig`]; a JWKS URL is fetched now, a fetch or key failure is 400 |
//! | PATCH  | `/_sim/identity-providers/{id}` | JSON merge patch (`{"enabled": false}`, `{"rules": [...]}`); keys fetched again only if `jwks` changed |
//! | DELETE | `/_sim/identity-providers/{id}` | remove one (204), 404 if unknown |
//!
//! Errors are `{"error_code": "SIM.0400" | "SIM.0404", "error_msg", "request_id"}`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::Value;

use super::counters::SimCounters;
use super::errors::{json_response, ApiFailure, RequestId};
use super::faults::Faults;
use super::fleet::SimHost;
use super::merge_patch::merge_into;
use super::oidc;
#[cfg(doc)]
use super::oidc::IdentityProviderConfig;
use super::state::{lock, SimState};

pub(crate) fn router() -> Router<Arc<SimState>> {
    Router::new()
        .route("/hosts", get(list_hosts))
        .route(
            "/hosts/{id}",
            get(get_host)
                .put(put_host)
                .patch(patch_host)
                .delete(delete_host),
        )
        .route("/counters", get(get_counters).delete(reset_counters))
        .route(
            "/faults",
            get(get_faults).put(put_faults).patch(patch_faults),
        )
        .route("/tokens/expire", post(expire_tokens))
        .merge(oidc::admin::router())
}

fn not_found(what: &str, request_id: &RequestId) -> Response {
    ApiFailure::new(
        StatusCode::NOT_FOUND,
        "SIM.0404",
        format!("{what} not found"),
    )
    .into_response(request_id)
}

fn bad_request(msg: String, request_id: &RequestId) -> Response {
    ApiFailure::new(StatusCode::BAD_REQUEST, "SIM.0400", msg).into_response(request_id)
}

async fn list_hosts(State(state): State<Arc<SimState>>) -> Response {
    let hosts: Vec<SimHost> = lock(&state.hosts).values().cloned().collect();
    Json(hosts).into_response()
}

async fn get_host(
    State(state): State<Arc<SimState>>,
    Extension(request_id): Extension<RequestId>,
    Path(id): Path<String>,
) -> Response {
    match lock(&state.hosts).get(&id) {
        Some(host) => Json(host).into_response(),
        None => not_found("host", &request_id),
    }
}

async fn put_host(
    State(state): State<Arc<SimState>>,
    Extension(request_id): Extension<RequestId>,
    Path(id): Path<String>,
    Json(mut host): Json<SimHost>,
) -> Response {
    match host.risk.host_id.as_deref() {
        Some(body_id) if body_id != id => {
            return bad_request(
                format!("host_id {body_id:?} in the body differs from the path"),
                &request_id,
            )
        }
        _ => host.risk.host_id = Some(id.clone()),
    }
    let replaced = lock(&state.hosts).insert(id, host.clone()).is_some();
    let status = if replaced {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    json_response(status, &host)
}

async fn patch_host(
    State(state): State<Arc<SimState>>,
    Extension(request_id): Extension<RequestId>,
    Path(id): Path<String>,
    Json(patch): Json<Value>,
) -> Response {
    let mut hosts = lock(&state.hosts);
    let Some(current) = hosts.get(&id) else {
        return not_found("host", &request_id);
    };
    match merge_into(current, &patch) {
        Ok(mut host) => {
            host.risk.host_id = Some(id.clone());
            hosts.insert(id, host.clone());
            Json(host).into_response()
        }
        Err(msg) => bad_request(msg, &request_id),
    }
}

async fn delete_host(
    State(state): State<Arc<SimState>>,
    Extension(request_id): Extension<RequestId>,
    Path(id): Path<String>,
) -> Response {
    match lock(&state.hosts).remove(&id) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => not_found("host", &request_id),
    }
}

async fn get_counters(State(state): State<Arc<SimState>>) -> Response {
    Json(lock(&state.counters).clone()).into_response()
}

async fn reset_counters(State(state): State<Arc<SimState>>) -> Response {
    *lock(&state.counters) = SimCounters::default();
    StatusCode::NO_CONTENT.into_response()
}

async fn get_faults(State(state): State<Arc<SimState>>) -> Response {
    Json(state.faults()).into_response()
}

async fn put_faults(
    State(state): State<Arc<SimState>>,
    Extension(request_id): Extension<RequestId>,
    Json(faults): Json<Value>,
) -> Response {
    let faults = serde_json::from_value::<Faults>(faults).map_err(|e| e.to_string());
    store_faults(&state, faults, &request_id)
}

async fn patch_faults(
    State(state): State<Arc<SimState>>,
    Extension(request_id): Extension<RequestId>,
    Json(patch): Json<Value>,
) -> Response {
    let faults = merge_into(&state.faults(), &patch);
    store_faults(&state, faults, &request_id)
}

fn store_faults(
    state: &SimState,
    faults: Result<Faults, String>,
    request_id: &RequestId,
) -> Response {
    match faults.and_then(|f| f.validate().map(|()| f)) {
        Ok(faults) => {
            *lock(&state.faults) = faults.clone();
            Json(faults).into_response()
        }
        Err(msg) => bad_request(msg, request_id),
    }
}

async fn expire_tokens(State(state): State<Arc<SimState>>) -> Response {
    let expired = state.expire_tokens();
    Json(serde_json::json!({ "expired": expired })).into_response()
}
