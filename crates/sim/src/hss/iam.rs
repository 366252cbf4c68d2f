//! The simulated IAM token API, `POST /v3/auth/tokens` (hss-api.md "Authentication" 2).
//!
//! Copied behaviour: a `password` identity (`auth.identity.password.user.{name,password,
//! domain.name}`) scoped to a project by `auth.scope.project.id` or `.name`; answer 201 with
//! the token in the `X-Subject-Token` header and `token.expires_at` (RFC 3339, UTC) in the
//! body; `?nocatalog=true` accepted (the simulator never returns a service catalog anyway).
//! Tokens live [`super::SimConfig::token_ttl`] (24 h like the real IAM unless changed).
//!
//! Not documented in hss-api.md and chosen here: a wrong user, password or domain gets 401
//! and an unusable body or scope 400; error bodies carry both the Keystone-style
//! `{"error": {"code", "title", "message"}}` object IAM's token API is derived from and the
//! gateway fields `error_code` / `error_msg` / `request_id`, so either kind of parser copes.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::Extension;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;

use super::errors::{json_response, RequestId};
use super::state::{lock, IssuedToken, SimState};
use hostrisk_hss::sign::constant_time_eq;

#[derive(Deserialize)]
struct TokenRequest {
    auth: Auth,
}

#[derive(Deserialize)]
struct Auth {
    identity: Identity,
    scope: Option<Scope>,
}

#[derive(Deserialize)]
struct Identity {
    methods: Vec<String>,
    password: Option<PasswordIdentity>,
}

#[derive(Deserialize)]
struct PasswordIdentity {
    user: User,
}

#[derive(Deserialize)]
struct User {
    name: String,
    password: String,
    domain: Named,
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

#[derive(Deserialize)]
struct Scope {
    project: Option<ProjectScope>,
}

#[derive(Deserialize)]
struct ProjectScope {
    id: Option<String>,
    name: Option<String>,
}

pub(crate) async fn issue_token(
    State(state): State<Arc<SimState>>,
    Extension(request_id): Extension<RequestId>,
    body: Bytes,
) -> Response {
    state.count(|c| c.total_requests += 1);
    state.apply_latency().await;
    match issue(&state, &body) {
        Ok(response) => {
            state.count(|c| c.iam_tokens_issued += 1);
            response
        }
        Err((status, message)) => {
            state.count(|c| c.iam_failures += 1);
            iam_error(status, message, &request_id)
        }
    }
}

fn issue(state: &SimState, body: &[u8]) -> Result<Response, (StatusCode, &'static str)> {
    let request: TokenRequest = serde_json::from_slice(body).map_err(|_| {
        (
            StatusCode::BAD_REQUEST,
            "The request body is not a valid token request.",
        )
    })?;
    let auth = request.auth;
    let password = match auth.identity.password {
        Some(p) if auth.identity.methods.iter().any(|m| m == "password") => p,
        _ => {
            return Err((
                StatusCode::BAD_REQUEST,
                "Only the password identity method is supported.",
            ))
        }
    };
    let user = password.user;
    let known = state.iam_users.iter().find(|u| {
        u.name == user.name
            && u.domain == user.domain.name
            && constant_time_eq(&u.password, &user.password)
    });
    let known = known.ok_or((
        StatusCode::UNAUTHORIZED,
        "The username or password is wrong.",
    ))?;
    let project = auth.scope.and_then(|s| s.project).ok_or((
        StatusCode::BAD_REQUEST,
        "The token must be scoped to a project.",
    ))?;
    let matches = match (&project.id, &project.name) {
        (Some(id), _) => *id == state.project_id,
        (None, Some(name)) => *name == state.project_name,
        (None, None) => false,
    };
    if !matches {
        return Err((
            StatusCode::BAD_REQUEST,
            "The project in the scope is unknown.",
        ));
    }
    let identity = format!("token:{}@{}", known.name, known.domain);
    let minted = mint_token(state, identity);
    let body = json!({
        "token": {
            "expires_at": minted.expires_at.to_string(),
            "issued_at": minted.issued_at.to_string(),
            "methods": ["password"],
            "user": {
                "name": known.name,
                "domain": {"name": known.domain},
            },
            "project": {
                "id": state.project_id,
                "name": state.project_name,
            },
        }
    });
    token_response(&body, &minted.token)
}

/// A token just stored in the token store.
pub(super) struct Minted {
    pub token: String,
    pub issued_at: jiff::Timestamp,
    pub expires_at: jiff::Timestamp,
}

/// Issues a token for `identity` scoped to the simulator's project, valid for the configured
/// TTL, into the one token store the gateway checks (and `/_sim/tokens/expire` expires).
pub(super) fn mint_token(state: &SimState, identity: String) -> Minted {
    let issued_at = state.now();
    let ttl = *lock(&state.token_ttl);
    let expires_at = jiff::SignedDuration::try_from(ttl)
        .ok()
        .and_then(|ttl| issued_at.checked_add(ttl).ok())
        .unwrap_or(issued_at);
    let token = format!(
        "MIIsim{:064x}{:064x}",
        rand::random::<u128>(),
        rand::random::<u128>()
    );
    lock(&state.tokens).insert(
        token.clone(),
        IssuedToken {
            identity,
            project_id: state.project_id.clone(),
            expires_at,
        },
    );
    Minted {
        token,
        issued_at,
        expires_at,
    }
}

/// 201 with `body` and the token in `X-Subject-Token`.
pub(super) fn token_response(
    body: &serde_json::Value,
    token: &str,
) -> Result<Response, (StatusCode, &'static str)> {
    let mut response = json_response(StatusCode::CREATED, body);
    let header = HeaderValue::from_str(token).map_err(|_| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "The token could not be encoded.",
        )
    })?;
    response.headers_mut().insert("x-subject-token", header);
    Ok(response)
}

pub(super) fn iam_error(status: StatusCode, message: &str, request_id: &RequestId) -> Response {
    let code = match status {
        StatusCode::UNAUTHORIZED => "IAM.0004",
        _ => "IAM.0001",
    };
    json_response(
        status,
        &json!({
            "error": {
                "code": status.as_u16(),
                "title": status.canonical_reason().unwrap_or_default(),
                "message": message,
            },
            "error_code": code,
            "error_msg": message,
            "request_id": request_id.0,
        }),
    )
}
