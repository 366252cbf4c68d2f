//! Where workload-identity id tokens come from: the trait the operator implements (with a
//! Kubernetes TokenRequest) and its error. Kept apart from the exchange (`idtoken`) so the
//! credentials and the error type can name them without depending on the exchange.

use std::future::Future;
use std::pin::Pin;

use super::secret::Secret;

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
