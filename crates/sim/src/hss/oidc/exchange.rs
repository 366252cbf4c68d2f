//! `POST /v3.0/OS-AUTH/id-token/tokens` (`CreateTokenWithIdToken`): an OpenID Connect id
//! token for a project-scoped IAM token.
//!
//! Copied behaviour (Huawei Cloud IAM API reference, "Obtaining a Token with an OpenID
//! Connect ID Token", and the official SDKs): header `X-Idp-Id`, body
//! `{"auth": {"id_token": {"id": "<jwt>"}, "scope": {"project": {"id" | "name"}}}}`; answer
//! 201 with the token in `X-Subject-Token` and a `token` object (`expires_at`, `issued_at`,
//! `methods: ["mapped"]`, the federated `user` with its `OS-FEDERATION` identity provider,
//! protocol and groups, `project`). The token lives as long as password-login tokens, sits
//! in the same store (so the gateway accepts it and `/_sim/tokens/expire` expires it).
//!
//! Not documented and chosen here (the reference lists 400/401/403/404/500 without saying
//! which failure gets which): a malformed request or an unusable scope 400; an unknown
//! identity provider 404; a disabled one 403; a token that does not verify (malformed,
//! not RS256, unknown `kid`, bad signature, wrong `iss` or `aud`, missing claim, expired,
//! not yet valid) 401; a subject no conversion rule maps 403 (the token is genuine, the
//! identity has no rights). Bodies are the simulator's IAM error shape
//! (`{"error": {"code", "title", "message"}}` plus `error_code` / `error_msg` /
//! `request_id`); the message says which check failed and never contains the token.
//! Unscoped and domain-scoped tokens are not issued (they cannot call HSS): 400.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;

use super::super::counters::SimCounters;
use super::super::errors::RequestId;
use super::super::iam::{iam_error, mint_token, token_response};
use super::super::state::{lock, SimState};
use super::verify::{refused, verify, ExchangeRefusal, Refused};

/// Path of the exchange.
pub const ID_TOKEN_TOKENS_PATH: &str = "/v3.0/OS-AUTH/id-token/tokens";

#[derive(Deserialize)]
struct ExchangeRequest {
    auth: ExchangeAuth,
}

#[derive(Deserialize)]
struct ExchangeAuth {
    id_token: IdTokenBody,
    scope: Option<ScopeBody>,
}

#[derive(Deserialize)]
struct IdTokenBody {
    id: String,
}

#[derive(Deserialize)]
struct ScopeBody {
    project: Option<ProjectScope>,
}

#[derive(Deserialize)]
struct ProjectScope {
    id: Option<String>,
    name: Option<String>,
}

pub(crate) async fn exchange_id_token(
    State(state): State<Arc<SimState>>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.count(|c| c.total_requests += 1);
    state.apply_latency().await;
    match exchange(&state, &headers, &body, &request_id) {
        Ok(response) => {
            state.count(|c| c.id_token_exchanges += 1);
            response
        }
        Err(Refused { kind, message }) => {
            state.count(|c| SimCounters::bump(&mut c.id_token_refusals, kind.as_str()));
            tracing::info!(
                reason = kind.as_str(),
                request_id = %request_id.0,
                "simulated IAM refused an id token exchange"
            );
            let status = StatusCode::from_u16(kind.status()).unwrap_or(StatusCode::UNAUTHORIZED);
            iam_error(status, &message, &request_id)
        }
    }
}

fn exchange(
    state: &SimState,
    headers: &HeaderMap,
    body: &[u8],
    request_id: &RequestId,
) -> Result<Response, Refused> {
    let malformed = |message: &str| refused(ExchangeRefusal::MalformedRequest, message);
    let request: ExchangeRequest = serde_json::from_slice(body)
        .map_err(|_| malformed("The request body is not a valid id token request."))?;
    state.record_id_token(&request.auth.id_token.id);
    let idp_id = headers
        .get("x-idp-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| malformed("The X-Idp-Id header is missing."))?;
    let idp = lock(&state.identity_providers).get(idp_id).cloned();
    let idp = idp.ok_or_else(|| {
        refused(
            ExchangeRefusal::UnknownIdentityProvider,
            format!("The identity provider {idp_id} does not exist."),
        )
    })?;
    let verified = verify(&idp, &request.auth.id_token.id, state.now())?;
    let project = request
        .auth
        .scope
        .and_then(|s| s.project)
        .ok_or_else(|| malformed("The token must be scoped to a project."))?;
    let in_scope = match (&project.id, &project.name) {
        (Some(id), _) => *id == state.project_id,
        (None, Some(name)) => *name == state.project_name,
        (None, None) => false,
    };
    if !in_scope {
        return Err(refused(
            ExchangeRefusal::UnknownProject,
            "The project in the scope is unknown.",
        ));
    }
    let identity = format!("idtoken:{}/{}", idp.config.id, verified.user);
    let minted = mint_token(state, identity);
    let body = json!({
        "token": {
            "expires_at": minted.expires_at.to_string(),
            "issued_at": minted.issued_at.to_string(),
            "methods": ["mapped"],
            "user": {
                "name": verified.user,
                "OS-FEDERATION": {
                    "identity_provider": {"id": idp.config.id},
                    "protocol": {"id": "oidc"},
                    "groups": [{"name": verified.group}],
                },
            },
            "project": {
                "id": state.project_id,
                "name": state.project_name,
            },
            "roles": [],
        }
    });
    tracing::debug!(
        identity_provider = %idp.config.id,
        subject = %verified.subject,
        group = %verified.group,
        "simulated IAM exchanged an id token"
    );
    Ok(token_response(&body, &minted.token)
        .unwrap_or_else(|(status, message)| iam_error(status, message, request_id)))
}
