//! The leader election layer's error enum.

use std::time::Duration;

/// Why leader election could not start, could not talk to the lease, or ended.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    /// The configuration breaks one of client-go's `NewLeaderElector` rules.
    #[error("invalid leader election config: {0}")]
    InvalidConfig(String),
    /// A request for the Lease failed (logged and retried by the elector; only surfaced
    /// from internal helpers).
    #[error("lease request failed: {0}")]
    Api(#[from] kube::Error),
    /// An update was attempted before the Lease was read or created, so there is no
    /// resourceVersion to write against (client-go: "lease not initialized").
    #[error("lease {namespace}/{name} not initialized: read or create it first")]
    LockNotInitialized {
        /// Lease namespace.
        namespace: String,
        /// Lease name.
        name: String,
    },
    /// This process was leading and could not renew the Lease within the renew deadline
    /// (or saw another holder): it must stop acting as leader now.
    #[error("leadership of lease {namespace}/{name} lost: not renewed within {renew_deadline:?}")]
    Lost {
        /// Lease namespace.
        namespace: String,
        /// Lease name.
        name: String,
        /// The configured renew deadline.
        renew_deadline: Duration,
    },
    /// The elector is no longer running (its `run` future returned or was dropped)
    /// without this process ever leading.
    #[error("the leader elector stopped")]
    ElectorStopped,
}
