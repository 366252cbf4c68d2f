//! IAM tokens: password login (`POST /v3/auth/tokens?nocatalog=true`) and the token cache it
//! shares with the id-token exchange ([`super::idtoken`]); both send their request with
//! `token_post`.
//!
//! Tokens live 24 h. Each is cached per key (for a login: user, domain, password digest, IAM
//! endpoint and project; for an exchange see [`super::idtoken`]) and reused until it is
//! within the refresh margin of its expiry: the configured margin (1 h by default), capped at
//! half the token's lifetime so short-lived tokens (as a test IAM may issue) are still reused.
//! Concurrent callers of one key share a single acquisition: the per-key async mutex is held
//! across it, so the others wait and reuse its token.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use url::Url;

use super::credentials::Secret;
use super::error::HssError;
use super::observe::{HssObserver, Operation};
use super::token_post::{post_for_token, TokenPost};

/// What identifies one cached token. Secrets enter only as digests (a rotated password gets
/// a fresh login instead of an old token).
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) enum CacheKey {
    Password {
        username: String,
        domain_name: String,
        password_digest: [u8; 32],
        iam_endpoint: String,
        project_id: String,
    },
    IdToken {
        identity_provider_id: String,
        subject: String,
        /// [`super::id_token_source::IdTokenSource::describe`]: another audience, another token.
        source: String,
        iam_endpoint: String,
        project_id: String,
    },
}

pub(crate) use super::token_post::CachedToken;

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
        CacheKey::Password {
            username: self.username.to_string(),
            domain_name: self.domain_name.to_string(),
            password_digest: Sha256::digest(self.password.expose().as_bytes()).into(),
            iam_endpoint: self.iam_endpoint.as_str().to_string(),
            project_id: self.project_id.to_string(),
        }
    }
}

/// Token cache shared by every caller of one client, for every kind of IAM token.
pub struct IamTokenCache {
    margin: Duration,
    slots: Mutex<HashMap<CacheKey, Slot>>,
    logins: AtomicU64,
    pub(crate) exchanges: AtomicU64,
}

impl std::fmt::Debug for IamTokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IamTokenCache")
            .field("margin", &self.margin)
            .field("logins", &self.logins())
            .field("exchanges", &self.exchanges())
            .finish_non_exhaustive()
    }
}

impl IamTokenCache {
    pub fn new(margin: Duration) -> Self {
        Self {
            margin,
            slots: Mutex::new(HashMap::new()),
            logins: AtomicU64::new(0),
            exchanges: AtomicU64::new(0),
        }
    }

    /// How many IAM password logins were attempted so far.
    pub fn logins(&self) -> u64 {
        self.logins.load(Ordering::Relaxed)
    }

    /// How many id-token exchanges were attempted so far (refused ones included).
    pub fn exchanges(&self) -> u64 {
        self.exchanges.load(Ordering::Relaxed)
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
    /// kept, as another caller already refreshed it. A login is reported to `observer`.
    pub async fn token(
        &self,
        http: &reqwest::Client,
        user_agent: &str,
        login: &IamLogin<'_>,
        rejected: Option<&Secret>,
        observer: Option<&dyn HssObserver>,
    ) -> Result<Secret, HssError> {
        self.cached_or(login.key(), rejected, || {
            self.logins.fetch_add(1, Ordering::Relaxed);
            request_token(http, user_agent, login, observer)
        })
        .await
    }

    /// The token cached under `key` unless it is stale or `rejected`; else the one `acquire`
    /// gets, which is cached on success. A failure caches nothing, so the next call acquires
    /// again (its caller decides when that is: see the client's retry rules).
    pub(crate) async fn cached_or<F, Fut>(
        &self,
        key: CacheKey,
        rejected: Option<&Secret>,
        acquire: F,
    ) -> Result<Secret, HssError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<CachedToken, HssError>>,
    {
        let slot = self.slot(key);
        let mut cached = slot.lock().await;
        let now = jiff::Timestamp::now();
        if let Some(entry) = cached.as_ref() {
            let was_rejected = rejected.is_some_and(|r| r == &entry.token);
            if !was_rejected && self.still_fresh(entry, now) {
                return Ok(entry.token.clone());
            }
        }
        *cached = None;
        let fresh = acquire().await?;
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
    observer: Option<&dyn HssObserver>,
) -> Result<CachedToken, HssError> {
    post_for_token(
        http,
        &TokenPost {
            iam_endpoint: login.iam_endpoint,
            path: "/v3/auth/tokens?nocatalog=true",
            content_type: "application/json;charset=utf8",
            user_agent,
            extra_headers: &[],
            body: login_body(login).to_string(),
            operation: Operation::IamToken,
            observer,
        },
    )
    .await
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
}
