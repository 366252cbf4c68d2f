//! IAM password login (`POST /v3/auth/tokens?nocatalog=true`) and the shared token cache.
//!
//! Tokens live 24 h. Each is cached per (user, domain, password digest, IAM endpoint,
//! project) and reused until it is within the refresh margin of its expiry: the configured
//! margin (1 h by default), capped at half the token's lifetime so short-lived tokens (as a
//! test IAM may issue) are still reused. Concurrent callers of one key share a single login:
//! the per-key async mutex is held across the login, so the others wait and reuse its token.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use url::Url;

use super::credentials::Secret;
use super::error::{ErrorBody, HssError};
use super::model::ApiErrorBody;
use super::transport::{request_id_of, transport_error};

/// What identifies one cached token. The password enters only as a digest, so a rotated
/// password gets a fresh login instead of an old token.
#[derive(Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    username: String,
    domain_name: String,
    password_digest: [u8; 32],
    iam_endpoint: String,
    project_id: String,
}

#[derive(Clone)]
struct CachedToken {
    token: Secret,
    obtained_at: jiff::Timestamp,
    expires_at: jiff::Timestamp,
}

type Slot = Arc<tokio::sync::Mutex<Option<CachedToken>>>;

/// The IAM login of one call.
pub struct IamLogin<'a> {
    pub username: &'a str,
    pub password: &'a Secret,
    pub domain_name: &'a str,
    pub iam_endpoint: &'a Url,
    pub project_id: &'a str,
}

impl IamLogin<'_> {
    fn key(&self) -> CacheKey {
        CacheKey {
            username: self.username.to_string(),
            domain_name: self.domain_name.to_string(),
            password_digest: Sha256::digest(self.password.expose().as_bytes()).into(),
            iam_endpoint: self.iam_endpoint.as_str().to_string(),
            project_id: self.project_id.to_string(),
        }
    }
}

/// Token cache shared by every caller of one client.
pub struct IamTokenCache {
    margin: Duration,
    slots: Mutex<HashMap<CacheKey, Slot>>,
    logins: AtomicU64,
}

impl std::fmt::Debug for IamTokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IamTokenCache")
            .field("margin", &self.margin)
            .field("logins", &self.logins())
            .finish_non_exhaustive()
    }
}

impl IamTokenCache {
    pub fn new(margin: Duration) -> Self {
        Self {
            margin,
            slots: Mutex::new(HashMap::new()),
            logins: AtomicU64::new(0),
        }
    }

    /// How many IAM logins were attempted so far.
    pub fn logins(&self) -> u64 {
        self.logins.load(Ordering::Relaxed)
    }

    fn slot(&self, key: CacheKey) -> Slot {
        let mut slots = match self.slots.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        slots.entry(key).or_default().clone()
    }

    /// A valid token for `login`: the cached one, or a fresh login. With `rejected`, a cached
    /// token equal to it is dropped first (HSS said it expired); a different cached token is
    /// kept, as another caller already refreshed it.
    pub async fn token(
        &self,
        http: &reqwest::Client,
        user_agent: &str,
        login: &IamLogin<'_>,
        rejected: Option<&Secret>,
    ) -> Result<Secret, HssError> {
        let slot = self.slot(login.key());
        let mut cached = slot.lock().await;
        let now = jiff::Timestamp::now();
        if let Some(entry) = cached.as_ref() {
            let was_rejected = rejected.is_some_and(|r| r == &entry.token);
            if !was_rejected && self.still_fresh(entry, now) {
                return Ok(entry.token.clone());
            }
        }
        *cached = None;
        self.logins.fetch_add(1, Ordering::Relaxed);
        let fresh = request_token(http, user_agent, login).await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    fn still_fresh(&self, entry: &CachedToken, now: jiff::Timestamp) -> bool {
        let lifetime_ms =
            (entry.expires_at.as_millisecond() - entry.obtained_at.as_millisecond()).max(0) as u64;
        let margin_ms = (self.margin.as_millis() as u64).min(lifetime_ms / 2);
        now.as_millisecond() + (margin_ms as i64) < entry.expires_at.as_millisecond()
    }
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

/// The password-identity login body, scoped to the project of the call.
pub fn login_body(login: &IamLogin<'_>) -> serde_json::Value {
    serde_json::json!({
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": login.username,
                        "password": login.password.expose(),
                        "domain": { "name": login.domain_name }
                    }
                }
            },
            "scope": { "project": { "id": login.project_id } }
        }
    })
}

async fn request_token(
    http: &reqwest::Client,
    user_agent: &str,
    login: &IamLogin<'_>,
) -> Result<CachedToken, HssError> {
    let endpoint = login.iam_endpoint;
    let target = format!(
        "{}://{}",
        endpoint.scheme(),
        super::scope::authority_of(endpoint)
    );
    let url = format!(
        "{target}{}/v3/auth/tokens?nocatalog=true",
        endpoint.path().trim_end_matches('/')
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
    let response = http
        .post(url.as_str())
        .header("Content-Type", "application/json;charset=utf8")
        .header("User-Agent", user_agent)
        .body(login_body(login).to_string())
        .send()
        .await
        .map_err(|e| match transport_error(&target, &e) {
            HssError::Timeout { message, .. } | HssError::Transport { message, .. } => {
                iam_error(None, None, Some(message), None)
            }
            other => other,
        })?;
    let status = response.status().as_u16();
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
    fn login_body_is_the_password_identity_scoped_to_the_project() {
        let iam = Url::parse("https://iam.example").expect("url");
        let password = Secret::new("pw");
        let body = login_body(&IamLogin {
            username: "alice",
            password: &password,
            domain_name: "acme",
            iam_endpoint: &iam,
            project_id: "p1",
        });
        assert_eq!(body["auth"]["identity"]["methods"][0], "password");
        assert_eq!(
            body["auth"]["identity"]["password"]["user"]["name"],
            "alice"
        );
        assert_eq!(
            body["auth"]["identity"]["password"]["user"]["domain"]["name"],
            "acme"
        );
        assert_eq!(body["auth"]["scope"]["project"]["id"], "p1");
    }

    #[test]
    fn freshness_uses_margin_capped_at_half_lifetime() {
        let cache = IamTokenCache::new(Duration::from_secs(3600));
        let t0: jiff::Timestamp = "2024-01-01T00:00:00Z".parse().expect("ts");
        let day = CachedToken {
            token: Secret::new("t"),
            obtained_at: t0,
            expires_at: "2024-01-02T00:00:00Z".parse().expect("ts"),
        };
        assert!(cache.still_fresh(&day, "2024-01-01T22:59:00Z".parse().expect("ts")));
        assert!(!cache.still_fresh(&day, "2024-01-01T23:00:01Z".parse().expect("ts")));
        let short = CachedToken {
            token: Secret::new("t"),
            obtained_at: t0,
            expires_at: "2024-01-01T00:10:00Z".parse().expect("ts"),
        };
        assert!(cache.still_fresh(&short, "2024-01-01T00:04:00Z".parse().expect("ts")));
        assert!(!cache.still_fresh(&short, "2024-01-01T00:05:01Z".parse().expect("ts")));
    }

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
