//! What the client tells an observer about its HTTP traffic. The client knows nothing of
//! Prometheus (or of Kubernetes): the operator plugs its metrics in through [`HssObserver`].

use std::time::Duration;

/// Which HTTP exchange an attempt was: the HSS call itself, or one of the two IAM requests that
/// buy the token it is sent with. Their latencies differ by an order of magnitude and their
/// failures mean different things, so an observer keeps them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// `GET /v5/{project_id}/host-management/hosts-risk`.
    ListHostsRisk,
    /// IAM password login, `POST /v3/auth/tokens`.
    IamToken,
    /// IAM id-token exchange, `POST /v3.0/OS-AUTH/id-token/tokens`.
    IdTokenExchange,
}

impl Operation {
    pub const ALL: [Operation; 3] = [Self::ListHostsRisk, Self::IamToken, Self::IdTokenExchange];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ListHostsRisk => "list_hosts_risk",
            Self::IamToken => "iam_token",
            Self::IdTokenExchange => "id_token_exchange",
        }
    }
}

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
    /// One HTTP attempt of `operation` ended (`status` is `None` when no answer came back).
    /// `elapsed` is the exchange alone: for `ListHostsRisk`, not the IAM request that may have
    /// bought its token first (that one is an attempt of its own).
    fn attempt(
        &self,
        operation: Operation,
        outcome: AttemptOutcome,
        status: Option<u16>,
        elapsed: Duration,
    );
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

    #[test]
    fn operations_have_distinct_snake_case_names() {
        let names: Vec<&str> = Operation::ALL.iter().map(|o| o.as_str()).collect();
        assert_eq!(names, ["list_hosts_risk", "iam_token", "id_token_exchange"]);
    }
}
