//! What the client tells an observer about its HTTP traffic. The client knows nothing of
//! Prometheus (or of Kubernetes): the operator plugs its metrics in through [`HssObserver`].

use std::time::Duration;

/// The class of one HTTP attempt, for metrics labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttemptOutcome {
    /// 2xx with a body that decoded.
    Ok,
    /// HTTP 429 (quota exceeded).
    Throttled,
    /// 401 / 403, or a token that IAM refused.
    Auth,
    /// Any other 4xx.
    ClientError,
    /// 5xx.
    ServerError,
    /// No HTTP answer at all: connect, TLS, timeout, reset.
    Transport,
    /// 2xx whose body did not decode into the expected shape.
    Decode,
}

impl AttemptOutcome {
    /// The outcome an HTTP answer with `status` gets, before its body is looked at (a 2xx whose
    /// body then fails to decode is [`AttemptOutcome::Decode`]). Statuses HSS does not send
    /// (1xx, 3xx: redirects are not followed) count as [`AttemptOutcome::ClientError`].
    pub fn for_status(status: u16) -> Self {
        match status {
            200..=299 => Self::Ok,
            401 | 403 => Self::Auth,
            429 => Self::Throttled,
            500..=599 => Self::ServerError,
            _ => Self::ClientError,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Throttled => "throttled",
            Self::Auth => "auth",
            Self::ClientError => "client_error",
            Self::ServerError => "server_error",
            Self::Transport => "transport",
            Self::Decode => "decode",
        }
    }
}

/// Receives every HTTP attempt of a client (and its clones), its retries and its waits for
/// the rate limiter. Called on the request path: implementations must be cheap and not block.
pub trait HssObserver: Send + Sync + std::fmt::Debug + 'static {
    /// One HTTP attempt ended (`status` is `None` when no answer came back).
    fn attempt(&self, outcome: AttemptOutcome, status: Option<u16>, elapsed: Duration);
    /// A retry is about to be sent after a retryable failure.
    fn retry(&self);
    /// The client waited `waited` for its own rate limiter before a request.
    fn quota_wait(&self, waited: Duration);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_status_classes_map_to_outcomes() {
        assert_eq!(AttemptOutcome::for_status(200), AttemptOutcome::Ok);
        assert_eq!(AttemptOutcome::for_status(204), AttemptOutcome::Ok);
        assert_eq!(AttemptOutcome::for_status(401), AttemptOutcome::Auth);
        assert_eq!(AttemptOutcome::for_status(403), AttemptOutcome::Auth);
        assert_eq!(AttemptOutcome::for_status(429), AttemptOutcome::Throttled);
        assert_eq!(AttemptOutcome::for_status(400), AttemptOutcome::ClientError);
        assert_eq!(AttemptOutcome::for_status(404), AttemptOutcome::ClientError);
        assert_eq!(AttemptOutcome::for_status(302), AttemptOutcome::ClientError);
        assert_eq!(AttemptOutcome::for_status(500), AttemptOutcome::ServerError);
        assert_eq!(AttemptOutcome::for_status(503), AttemptOutcome::ServerError);
    }
}
