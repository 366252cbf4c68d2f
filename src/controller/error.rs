//! The controller's one error type: what can make a reconcile fail (a Kubernetes API call that
//! did not succeed). Everything else — a bad spec, a missing Secret, HSS refusing or failing —
//! is an outcome shown in status, not an error.

use crate::crd::WatchKey;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("HostRiskWatch has no namespace")]
    MissingNamespace,
    #[error("writing status of {key}: {source}")]
    StatusWrite {
        key: WatchKey,
        #[source]
        source: kube::Error,
    },
    #[error("reading {key} for its full status: {source}")]
    StatusRead {
        key: WatchKey,
        #[source]
        source: kube::Error,
    },
    #[error("serializing status: {0}")]
    Serialize(#[from] serde_json::Error),
    #[error("writing the policy report of {key}: {source}")]
    ReportWrite {
        key: WatchKey,
        #[source]
        source: kube::Error,
    },
    #[error("reading Secret {namespace}/{name}: {source}")]
    SecretRead {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
}

impl Error {
    /// Short CamelCase reason, for logs and `hostrisk_reconcile_errors_total{reason}`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingNamespace => "MissingNamespace",
            Self::StatusWrite { .. } => "StatusWriteFailed",
            Self::StatusRead { .. } => "StatusReadFailed",
            Self::Serialize(_) => "SerializeFailed",
            Self::SecretRead { .. } => "SecretReadFailed",
            Self::ReportWrite { .. } => "ReportWriteFailed",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The message of an API server refusal (403) among a watcher's errors: what a watch whose
/// RBAC rule is missing reports.
pub fn watcher_forbidden(error: &kube::runtime::watcher::Error) -> Option<&str> {
    use kube::runtime::watcher::Error as WatcherError;
    let status = match error {
        WatcherError::InitialListFailed(kube::Error::Api(status))
        | WatcherError::WatchStartFailed(kube::Error::Api(status))
        | WatcherError::WatchFailed(kube::Error::Api(status)) => status,
        WatcherError::WatchError(status) => status,
        _ => return None,
    };
    (status.code == 403).then_some(status.message.as_str())
}
