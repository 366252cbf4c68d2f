//! Tunables of [`super::HssClient`]. TLS verification is not among them: it is always on.

use std::time::Duration;

/// The `User-Agent` sent by default.
pub const DEFAULT_USER_AGENT: &str = concat!("hostrisk-operator/", env!("CARGO_PKG_VERSION"));

/// The documented HSS per-user quota.
pub const DEFAULT_CALLS_PER_MINUTE: u32 = 5;

/// Largest number of ids per request (the sibling `ListHostStatus` allows 100; see hss-api.md).
pub const MAX_CHUNK_SIZE: usize = 100;

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// TCP + TLS connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout (connect, send, headers and body).
    pub request_timeout: Duration,
    /// HTTP attempts per chunk, the first included (>= 1).
    pub max_attempts: u32,
    /// No retry is started once this much time (excluding rate-limiter waits) went by.
    pub max_retry_elapsed: Duration,
    /// First backoff ceiling; doubles per retry (full jitter picks uniformly below it).
    pub backoff_base: Duration,
    /// Largest backoff ceiling.
    pub backoff_max: Duration,
    /// Ids per request, 1..=100.
    pub chunk_size: usize,
    /// Calls allowed per credential identity within `rate_window`.
    pub calls_per_minute: u32,
    /// The window of the limiter: one minute, shortened only by tests.
    pub rate_window: Duration,
    /// Refresh an IAM token once it is within this margin of expiry (capped at half its lifetime).
    pub iam_refresh_margin: Duration,
    /// PEM bundle whose certificates are trusted in addition to the built-in roots.
    pub extra_ca_pem: Option<Vec<u8>>,
    pub user_agent: String,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_attempts: 4,
            max_retry_elapsed: Duration::from_secs(60),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
            chunk_size: MAX_CHUNK_SIZE,
            calls_per_minute: DEFAULT_CALLS_PER_MINUTE,
            rate_window: Duration::from_secs(60),
            iam_refresh_margin: Duration::from_secs(3600),
            extra_ca_pem: None,
            user_agent: DEFAULT_USER_AGENT.to_string(),
        }
    }
}

impl ClientConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.chunk_size == 0 || self.chunk_size > MAX_CHUNK_SIZE {
            return Err(format!(
                "chunk_size must be 1..={MAX_CHUNK_SIZE}, got {}",
                self.chunk_size
            ));
        }
        if self.max_attempts == 0 {
            return Err("max_attempts must be at least 1".into());
        }
        if self.calls_per_minute == 0 {
            return Err("calls_per_minute must be at least 1".into());
        }
        if self.rate_window.is_zero() {
            return Err("rate_window must be positive".into());
        }
        if self.connect_timeout.is_zero() || self.request_timeout.is_zero() {
            return Err("timeouts must be positive".into());
        }
        if self.user_agent.is_empty() || self.user_agent.chars().any(|c| c.is_control()) {
            return Err("user_agent must be a non-empty header value".into());
        }
        Ok(())
    }
}
