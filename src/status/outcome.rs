//! What a reconcile found out about a watch: the outcome its status shows.

use std::time::Duration;

use super::conditions::Reason;
use super::hosts::PollAnswer;
use crate::hss::HssError;

/// Why a poll of HSS failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollFailure {
    /// The HSS client's CamelCase word for it: `Throttled`, `ApiUnavailable`,
    /// `InvalidCredentials`, `Forbidden`, `Timeout`, `DecodeError`, `BadRequest`, ...
    pub reason: &'static str,
    /// What went wrong, readable by a user (no credentials in it).
    pub message: String,
    /// `X-Request-Id` of the failed call, when the service sent one.
    pub request_id: Option<String>,
    /// True when HSS refused the credentials or their permissions (401/403): `CredentialsValid`
    /// turns False and `ApiReachable` stays True (the API answered).
    pub auth_failure: bool,
    /// How long the service asked us to wait (`Retry-After` of a 429). The next call for this
    /// scope is not made sooner, even when the operator's own backoff would allow it.
    pub retry_after: Option<Duration>,
}

impl From<&HssError> for PollFailure {
    /// The failure info of an HSS error, as status computation wants it.
    fn from(error: &HssError) -> Self {
        Self {
            reason: error.reason(),
            message: error.to_string(),
            request_id: error.request_id().map(str::to_string),
            auth_failure: error.is_authentication() || matches!(error, HssError::Forbidden(_)),
            retry_after: match error {
                HssError::Throttled { retry_after, .. } => *retry_after,
                _ => None,
            },
        }
    }
}

/// What this reconcile found out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollOutcome {
    /// HSS answered for every requested id.
    Success(PollAnswer),
    /// The poll was attempted and failed.
    Failed(PollFailure),
    /// `spec.suspend` is true; nothing was polled.
    Suspended,
    /// The spec breaks a rule (message from `crd::validation::describe`).
    InvalidSpec(String),
    /// The credentials are missing or unusable; nothing was polled.
    CredentialsProblem { reason: Reason, message: String },
    /// `spec.endpoint` is refused by the operator's policy.
    EndpointNotAllowed(String),
    /// Nothing new since the status was computed (or, without a status, seen and not polled
    /// yet).
    Pending,
    /// A node-backed watch with no host to poll: its selector selects no Node, or none of the
    /// selected Nodes has a usable ECS server id. Nothing was polled; the host list is empty.
    NoHosts,
    /// A node-backed watch whose Nodes cannot be known (Node watches off, the Node list
    /// refused or failing). Nothing was polled.
    NodesUnavailable { reason: Reason, message: String },
}

impl PollOutcome {
    /// An answer for every host: the watch's gauges hold (no host to poll is an answer too).
    pub fn is_complete(&self) -> bool {
        matches!(self, Self::Success(_) | Self::NoHosts)
    }
}
