//! One token request to IAM (password login or id-token exchange): POST, then the token from
//! `X-Subject-Token` and its expiry from the body's `token.expires_at`; failures as
//! [`HssError::Iam`] with IAM's error fields (either of its two body shapes). Each request is
//! reported to the client's observer as one attempt of its [`Operation`].

use serde::Deserialize;
use tokio::time::Instant;
use url::Url;

use super::credentials::Secret;
use super::error::{ErrorBody, HssError};
use super::model::ApiErrorBody;
use super::observe::{AttemptOutcome, HssObserver, Operation};
use super::transport::{request_id_of, transport_error};

/// A token IAM issued, with when we got it and when it expires.
#[derive(Clone)]
pub(crate) struct CachedToken {
    pub token: Secret,
    pub obtained_at: jiff::Timestamp,
    pub expires_at: jiff::Timestamp,
}

#[derive(Deserialize)]
struct TokenBody {
    token: TokenInfo,
}

#[derive(Deserialize)]
struct TokenInfo {
    expires_at: String,
}

/// IAM's own error body shape: `{"error": {"code": 401, "message": "...", "title": "..."}}`.
#[derive(Deserialize, Default)]
struct IamErrorBody {
    error: Option<IamErrorInner>,
}

#[derive(Deserialize, Default)]
struct IamErrorInner {
    code: Option<serde_json::Value>,
    message: Option<String>,
}

/// One token request to IAM.
pub(crate) struct TokenPost<'a> {
    pub iam_endpoint: &'a Url,
    /// Path (and query) below the endpoint's own path prefix.
    pub path: &'a str,
    pub content_type: &'a str,
    pub user_agent: &'a str,
    pub extra_headers: &'a [(&'a str, &'a str)],
    /// Carries a credential: never logged, never put into an error.
    pub body: String,
    /// Which IAM request this is, and who hears of it.
    pub operation: Operation,
    pub observer: Option<&'a dyn HssObserver>,
}

/// `scheme://authority` of an IAM endpoint, as errors name it.
pub(crate) fn iam_target(endpoint: &Url) -> String {
    format!(
        "{}://{}",
        endpoint.scheme(),
        super::scope::authority_of(endpoint)
    )
}

/// Sends `post` and reads the token from `X-Subject-Token` and its expiry from the body's
/// `token.expires_at`. Any failure is [`HssError::Iam`] (with the status when IAM answered),
/// except a certificate refusal, which stays [`HssError::TlsVerification`].
pub(crate) async fn post_for_token(
    http: &reqwest::Client,
    post: &TokenPost<'_>,
) -> Result<CachedToken, HssError> {
    let started = Instant::now();
    let mut answered = None;
    let result = request(http, post, &mut answered).await;
    if let Some(observer) = post.observer {
        let (outcome, code) = match &result {
            Ok(_) => (AttemptOutcome::Ok, answered),
            // Answered 2xx without a usable token: the body is not what IAM promises.
            Err(HssError::Iam {
                status: Some(code), ..
            }) if (200..300).contains(code) => (AttemptOutcome::Decode, Some(*code)),
            Err(HssError::Iam {
                status: Some(code), ..
            }) => (AttemptOutcome::for_status(*code), Some(*code)),
            Err(_) => (AttemptOutcome::Transport, None),
        };
        observer.attempt(post.operation, outcome, code, started.elapsed());
    }
    result
}

/// [`post_for_token`]'s request; `answered` gets the HTTP status once IAM answers.
async fn request(
    http: &reqwest::Client,
    post: &TokenPost<'_>,
    answered: &mut Option<u16>,
) -> Result<CachedToken, HssError> {
    let endpoint = post.iam_endpoint;
    let target = iam_target(endpoint);
    let url = format!(
        "{target}{}{}",
        endpoint.path().trim_end_matches('/'),
        post.path
    );
    let iam_error = |status: Option<u16>, code, message, request_id| HssError::Iam {
        endpoint: target.clone(),
        status,
        body: ErrorBody {
            code,
            message,
            request_id,
        },
    };
    let obtained_at = jiff::Timestamp::now();
    let mut request = http
        .post(url.as_str())
        .header("Content-Type", post.content_type)
        .header("User-Agent", post.user_agent);
    for (name, value) in post.extra_headers {
        request = request.header(*name, *value);
    }
    let response =
        request.body(post.body.clone()).send().await.map_err(|e| {
            match transport_error(&target, &e) {
                HssError::Timeout { message, .. } | HssError::Transport { message, .. } => {
                    iam_error(None, None, Some(message), None)
                }
                other => other,
            }
        })?;
    let status = response.status().as_u16();
    *answered = Some(status);
    let headers = response.headers().clone();
    let request_id = request_id_of(&headers);
    let body = response.bytes().await.map_err(|e| {
        iam_error(
            None,
            None,
            Some(transport_error(&target, &e).to_string()),
            request_id.clone(),
        )
    })?;
    if !(200..300).contains(&status) {
        let (code, message) = iam_error_fields(&body);
        return Err(iam_error(Some(status), code, message, request_id));
    }
    let token = headers
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(Secret::new)
        .ok_or_else(|| {
            iam_error(
                Some(status),
                None,
                Some("the answer has no X-Subject-Token header".into()),
                request_id.clone(),
            )
        })?;
    let expires_at = serde_json::from_slice::<TokenBody>(&body)
        .ok()
        .and_then(|b| b.token.expires_at.parse::<jiff::Timestamp>().ok())
        .ok_or_else(|| {
            iam_error(
                Some(status),
                None,
                Some("the answer has no valid token.expires_at".into()),
                request_id.clone(),
            )
        })?;
    tracing::debug!(
        iam = %target,
        request_id = request_id.as_deref().unwrap_or(""),
        expires_at = %expires_at,
        "obtained IAM token"
    );
    Ok(CachedToken {
        token,
        obtained_at,
        expires_at,
    })
}

fn iam_error_fields(body: &[u8]) -> (Option<String>, Option<String>) {
    if let Ok(api) = serde_json::from_slice::<ApiErrorBody>(body) {
        if api.error_code.is_some() || api.error_msg.is_some() {
            return (api.error_code, api.error_msg);
        }
    }
    let iam: IamErrorBody = serde_json::from_slice(body).unwrap_or_default();
    match iam.error {
        Some(inner) => (
            inner.code.map(|c| match c {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            }),
            inner.message,
        ),
        None => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_error_bodies_of_both_shapes() {
        let (code, msg) =
            iam_error_fields(br#"{"error":{"code":401,"message":"bad password","title":"x"}}"#);
        assert_eq!(code.as_deref(), Some("401"));
        assert_eq!(msg.as_deref(), Some("bad password"));
        let (code, _) = iam_error_fields(br#"{"error_code":"IAM.0101","error_msg":"m"}"#);
        assert_eq!(code.as_deref(), Some("IAM.0101"));
    }
}
