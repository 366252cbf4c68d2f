//! Admin endpoints for identity providers (see the table in [`super::super::admin`]).
//! Answers show each provider's configuration (a JWKS bearer token as `***`) and the key ids
//! it resolved to.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{json, Value};

use super::super::errors::{json_response, ApiFailure, RequestId};
use super::super::merge_patch::merge_into;
use super::super::state::{lock, SimState};
use super::config::IdentityProviderConfig;
use super::resolve;
use super::verify::ResolvedIdp;

pub(crate) fn router() -> Router<Arc<SimState>> {
    Router::new().route("/identity-providers", get(list)).route(
        "/identity-providers/{id}",
        get(show).put(put).patch(patch).delete(delete),
    )
}

fn view(idp: &ResolvedIdp) -> Value {
    let mut value = serde_json::to_value(idp.config.redacted()).unwrap_or(Value::Null);
    if let Some(object) = value.as_object_mut() {
        object.insert("kids".into(), json!(idp.keys.kids()));
    }
    value
}

fn failure(status: StatusCode, msg: String, request_id: &RequestId) -> Response {
    let code = if status == StatusCode::NOT_FOUND {
        "SIM.0404"
    } else {
        "SIM.0400"
    };
    ApiFailure::new(status, code, msg).into_response(request_id)
}

async fn list(State(state): State<Arc<SimState>>) -> Response {
    let all: Vec<Value> = lock(&state.identity_providers).values().map(view).collect();
    Json(all).into_response()
}

async fn show(
    State(state): State<Arc<SimState>>,
    Extension(request_id): Extension<RequestId>,
    Path(id): Path<String>,
) -> Response {
    match lock(&state.identity_providers).get(&id) {
        Some(idp) => Json(view(idp)).into_response(),
        None => failure(
            StatusCode::NOT_FOUND,
            "identity provider not found".into(),
            &request_id,
        ),
    }
}

/// Creates (201) or replaces (200) a provider; its JWKS is fetched now, and a fetch or
/// parse failure is 400 with the reason (the previous provider, if any, stays).
async fn put(
    State(state): State<Arc<SimState>>,
    Extension(request_id): Extension<RequestId>,
    Path(id): Path<String>,
    Json(mut body): Json<Value>,
) -> Response {
    if let Some(object) = body.as_object_mut() {
        match object.get("id").and_then(Value::as_str) {
            Some(body_id) if body_id != id => {
                return failure(
                    StatusCode::BAD_REQUEST,
                    format!("id {body_id:?} in the body differs from the path"),
                    &request_id,
                )
            }
            _ => {
                object.insert("id".into(), Value::String(id.clone()));
            }
        }
    }
    let config = match serde_json::from_value::<IdentityProviderConfig>(body) {
        Ok(config) => config,
        Err(e) => return failure(StatusCode::BAD_REQUEST, e.to_string(), &request_id),
    };
    store(&state, config, &request_id).await
}

/// JSON merge patch of a provider's configuration (`{"enabled": false}`); the keys are
/// resolved again only when `jwks` changed.
async fn patch(
    State(state): State<Arc<SimState>>,
    Extension(request_id): Extension<RequestId>,
    Path(id): Path<String>,
    Json(patch): Json<Value>,
) -> Response {
    let current = lock(&state.identity_providers).get(&id).cloned();
    let Some(current) = current else {
        return failure(
            StatusCode::NOT_FOUND,
            "identity provider not found".into(),
            &request_id,
        );
    };
    let mut config: IdentityProviderConfig = match merge_into(&current.config, &patch) {
        Ok(config) => config,
        Err(e) => return failure(StatusCode::BAD_REQUEST, e, &request_id),
    };
    config.id = id;
    if config.jwks != current.config.jwks {
        return store(&state, config, &request_id).await;
    }
    if let Err(e) = config.validate() {
        return failure(StatusCode::BAD_REQUEST, e, &request_id);
    }
    let updated = ResolvedIdp {
        config,
        keys: current.keys,
    };
    let shown = view(&updated);
    lock(&state.identity_providers).insert(updated.config.id.clone(), updated);
    Json(shown).into_response()
}

async fn delete(
    State(state): State<Arc<SimState>>,
    Extension(request_id): Extension<RequestId>,
    Path(id): Path<String>,
) -> Response {
    match lock(&state.identity_providers).remove(&id) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => failure(
            StatusCode::NOT_FOUND,
            "identity provider not found".into(),
            &request_id,
        ),
    }
}

async fn store(
    state: &SimState,
    config: IdentityProviderConfig,
    request_id: &RequestId,
) -> Response {
    // Resolved before taking the lock: a JWKS fetch must not hold up the IAM.
    let resolved = match resolve(config).await {
        Ok(resolved) => resolved,
        Err(e) => return failure(StatusCode::BAD_REQUEST, e, request_id),
    };
    let shown = view(&resolved);
    let replaced = lock(&state.identity_providers)
        .insert(resolved.config.id.clone(), resolved)
        .is_some();
    let status = if replaced {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    json_response(status, &shown)
}
