//! Workload identity: an OpenID Connect id token (for the operator, a Kubernetes
//! ServiceAccount token) exchanged at IAM for an IAM token scoped to a project
//! (`CreateTokenWithIdToken`, `POST /v3.0/OS-AUTH/id-token/tokens`).
//!
//! The request is what the official SDKs send (huaweicloudsdkiam 3.1.219
//! `_create_token_with_id_token_http_info`, huaweicloudsdkcore `IamHelper`): header
//! `X-Idp-Id: <identity provider id>`, `Content-Type: application/json;charset=UTF-8`, body
//! `{"auth": {"id_token": {"id": "<jwt>"}, "scope": {"project": {"id": "<project>"}}}}`.
//! IAM answers 201 with the token in `X-Subject-Token` and `token.expires_at` in the body,
//! exactly like the password login, so both share `token_post` and the one
//! [`IamTokenCache`].
//!
//! The source is asked for a JWT only when an exchange is due (no cached token, a stale one,
//! or one HSS refused as expired). A refusal by IAM (a 4xx other than 408/429: bad signature,
//! issuer or audience, expired JWT, unmapped subject, disabled or unknown identity provider)
//! becomes [`HssError::IdentityExchangeRefused`], which is never retried by the client; an
//! unreachable or failing IAM stays [`HssError::Iam`] and is retried like any outage.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;

use url::Url;

use super::credentials::Secret;
use super::error::{HssError, RefusedExchange};
use super::iam::{CacheKey, IamTokenCache};
use super::token_post::{post_for_token, CachedToken, TokenPost};

/// Path of `CreateTokenWithIdToken` below the IAM endpoint.
pub const ID_TOKEN_EXCHANGE_PATH: &str = "/v3.0/OS-AUTH/id-token/tokens";

/// What [`IdTokenSource::id_token`] returns: a boxed future, so the trait stays object safe.
pub type IdTokenFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Secret, IdTokenError>> + Send + 'a>>;

/// Where id tokens come from. The operator implements it with a Kubernetes TokenRequest for
/// one ServiceAccount and audience; this crate knows nothing of Kubernetes.
pub trait IdTokenSource: Send + Sync {
    /// A fresh id token (a JWT). Called only when an exchange is due, so minting one per
    /// call is fine; the token goes to IAM and nowhere else.
    fn id_token(&self) -> IdTokenFuture<'_>;

    /// What this source mints, without any secret (e.g.
    /// `serviceaccount team-a/reader audience=iam.example`). Shown by `Debug`, and part of
    /// the credentials' equality and of the IAM token cache key, so a source with another
    /// audience never reuses a token obtained with the first.
    fn describe(&self) -> String;
}

impl std::fmt::Debug for dyn IdTokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdTokenSource({})", self.describe())
    }
}

/// Why a source could not produce an id token. `reason` is a CamelCase condition reason the
/// operator chooses (`ServiceAccountNotFound`, `AudienceNotAllowed`, ...) and
/// [`HssError::reason`] returns as is; `message` says what to fix and must not contain a
/// token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct IdTokenError {
    pub reason: &'static str,
    pub message: String,
    /// Whether a later attempt may succeed without anyone changing anything (the API server
    /// was unreachable), so the client retries with backoff; false for a missing
    /// ServiceAccount or a refused audience.
    pub retryable: bool,
}

impl IdTokenError {
    /// A failure that persists until someone fixes something.
    pub fn permanent(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            retryable: false,
        }
    }

    /// A failure a later attempt may not hit.
    pub fn transient(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            retryable: true,
        }
    }
}

/// The exchange of one call: whose token, at which IAM, for which project.
pub(crate) struct Exchange<'a> {
    pub source: &'a dyn IdTokenSource,
    pub identity_provider_id: &'a str,
    pub subject: &'a str,
    pub iam_endpoint: &'a Url,
    pub project_id: &'a str,
}

impl Exchange<'_> {
    fn key(&self) -> CacheKey {
        CacheKey::IdToken {
            identity_provider_id: self.identity_provider_id.to_string(),
            subject: self.subject.to_string(),
            source: self.source.describe(),
            iam_endpoint: self.iam_endpoint.as_str().to_string(),
            project_id: self.project_id.to_string(),
        }
    }
}

/// The `CreateTokenWithIdToken` body, scoped to the project of the call.
pub fn exchange_body(id_token: &Secret, project_id: &str) -> serde_json::Value {
    serde_json::json!({
        "auth": {
            "id_token": { "id": id_token.expose() },
            "scope": { "project": { "id": project_id } }
        }
    })
}

impl IamTokenCache {
    /// A valid IAM token for `exchange`: the cached one, or a fresh exchange (see
    /// [`IamTokenCache::token`] for `rejected`).
    pub(crate) async fn exchanged_token(
        &self,
        http: &reqwest::Client,
        user_agent: &str,
        exchange: &Exchange<'_>,
        rejected: Option<&Secret>,
    ) -> Result<Secret, HssError> {
        self.cached_or(exchange.key(), rejected, || {
            self.exchanges.fetch_add(1, Ordering::Relaxed);
            exchange_token(http, user_agent, exchange)
        })
        .await
    }
}

/// True for the answers that mean "IAM will not exchange this token": retrying the same
/// request cannot help. 408 and 429 are about the moment, not the token.
fn is_refusal(status: u16) -> bool {
    (400..500).contains(&status) && status != 408 && status != 429
}

async fn exchange_token(
    http: &reqwest::Client,
    user_agent: &str,
    exchange: &Exchange<'_>,
) -> Result<CachedToken, HssError> {
    let source_failed = |error: IdTokenError| HssError::IdTokenSource {
        subject: exchange.subject.to_string(),
        error,
    };
    let jwt = exchange.source.id_token().await.map_err(source_failed)?;
    if jwt.expose().trim().is_empty() {
        return Err(source_failed(IdTokenError::permanent(
            "InvalidIdToken",
            format!(
                "the id token source for {} returned an empty token",
                exchange.subject
            ),
        )));
    }
    let posted = post_for_token(
        http,
        &TokenPost {
            iam_endpoint: exchange.iam_endpoint,
            path: ID_TOKEN_EXCHANGE_PATH,
            content_type: "application/json;charset=UTF-8",
            user_agent,
            extra_headers: &[("X-Idp-Id", exchange.identity_provider_id)],
            body: exchange_body(&jwt, exchange.project_id).to_string(),
        },
    )
    .await;
    match posted {
        Ok(token) => {
            tracing::debug!(
                identity_provider = exchange.identity_provider_id,
                subject = exchange.subject,
                project = exchange.project_id,
                "exchanged an id token for an IAM token"
            );
            Ok(token)
        }
        Err(HssError::Iam {
            endpoint,
            status: Some(status),
            mut body,
        }) if is_refusal(status) => {
            // IAM has no business echoing the JWT, but if it ever did the error would carry
            // it into conditions and logs: cut it out.
            if let Some(message) = body.message.as_mut() {
                if message.contains(jwt.expose()) {
                    *message = message.replace(jwt.expose(), "***");
                }
            }
            tracing::warn!(
                identity_provider = exchange.identity_provider_id,
                subject = exchange.subject,
                status,
                request_id = body.request_id.as_deref().unwrap_or(""),
                "IAM refused the id token exchange"
            );
            Err(HssError::IdentityExchangeRefused(Box::new(
                RefusedExchange {
                    endpoint,
                    identity_provider_id: exchange.identity_provider_id.to_string(),
                    subject: exchange.subject.to_string(),
                    status,
                    body,
                },
            )))
        }
        Err(other) => Err(other),
    }
}

#[cfg(test)]
#[path = "idtoken_tests.rs"]
mod tests;
