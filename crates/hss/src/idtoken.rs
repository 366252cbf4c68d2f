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

use std::sync::atomic::Ordering;

use url::Url;

use super::credentials::Secret;
use super::error::{HssError, RefusedExchange};
use super::iam::{CacheKey, IamTokenCache};
pub use super::id_token_source::{IdTokenError, IdTokenFuture, IdTokenSource};
use super::observe::{HssObserver, Operation};
use super::token_post::{post_for_token, CachedToken, TokenPost};

/// Path of `CreateTokenWithIdToken` below the IAM endpoint.
pub const ID_TOKEN_EXCHANGE_PATH: &str = "/v3.0/OS-AUTH/id-token/tokens";

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
        observer: Option<&dyn HssObserver>,
    ) -> Result<Secret, HssError> {
        self.cached_or(exchange.key(), rejected, || {
            self.exchanges.fetch_add(1, Ordering::Relaxed);
            exchange_token(http, user_agent, exchange, observer)
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
    observer: Option<&dyn HssObserver>,
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
            operation: Operation::IdTokenExchange,
            observer,
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
