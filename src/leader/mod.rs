//! Leader election with a coordination.k8s.io/v1 Lease, copying client-go's
//! `leaderelection` package (kube-runtime 5.0 has no lease or leader election helper).
//!
//! The Lease holds `holderIdentity`, `leaseDurationSeconds`, `acquireTime`, `renewTime`
//! and `leaseTransitions`. A contender takes the lease when it is absent, held by itself,
//! released (empty holder) or expired; "expired" means the record has not changed for
//! `leaseDurationSeconds` as measured by the contender's own monotonic clock since it
//! last saw a change (not from the remote timestamps, so clock skew does not matter).
//! Every write is a PUT carrying the last seen resourceVersion; a 409 Conflict means
//! someone else wrote first and the attempt is retried next period. The leader renews
//! every retry period and gives up when it cannot renew within the renew deadline,
//! which is shorter than the lease duration, so it stops before a follower may start.
//!
//! Use: build a [`LeaderElector`], [`LeaderElector::subscribe`] to its state, spawn
//! [`LeaderElector::run`], [`wait_until_leading`] before doing leader work and stop
//! that work when [`wait_until_not_leading`] returns. Leadership is lost for good when
//! `run` returns: to contend again, build a new elector.

mod config;
mod elector;
mod error;
mod lock;
mod record;

pub use config::{default_identity, LeaderElectionConfig};
pub use elector::LeaderElector;
pub use error::LeaderError;

use tokio::sync::watch;

/// Leadership as this process sees it, published by [`LeaderElector::run`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeadershipState {
    /// We hold the lease and keep renewing it: do the leader's work.
    Leading,
    /// We do not hold the lease; `holder` is the other holder last seen, if any.
    Following {
        /// `holderIdentity` of the current holder (`None`: unheld or not yet read).
        holder: Option<String>,
    },
    /// We were leading and could not renew (or the elector was dropped while leading):
    /// stop the leader's work now. Terminal.
    Lost,
}

/// Resolves once `rx` shows [`LeadershipState::Leading`]. Fails with
/// [`LeaderError::ElectorStopped`] when the elector ends (or shows `Lost`) first, so
/// callers never wait forever on a dead elector.
pub async fn wait_until_leading(
    rx: &mut watch::Receiver<LeadershipState>,
) -> Result<(), LeaderError> {
    let state = rx
        .wait_for(|s| !matches!(s, LeadershipState::Following { .. }))
        .await
        .map_err(|_| LeaderError::ElectorStopped)?
        .clone();
    match state {
        LeadershipState::Leading => Ok(()),
        _ => Err(LeaderError::ElectorStopped),
    }
}

/// Resolves once `rx` shows anything but [`LeadershipState::Leading`], or the elector
/// is gone (its sender dropped): the moment to stop leader work. Returns the state seen.
pub async fn wait_until_not_leading(rx: &mut watch::Receiver<LeadershipState>) -> LeadershipState {
    match rx.wait_for(|s| *s != LeadershipState::Leading).await {
        Ok(state) => state.clone(),
        Err(_) => LeadershipState::Lost,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wait_until_leading_follows_the_state() {
        let (tx, mut rx) = watch::channel(LeadershipState::Following { holder: None });
        let waiter = tokio::spawn(async move {
            let r = wait_until_leading(&mut rx).await;
            (r, rx)
        });
        tx.send_replace(LeadershipState::Following {
            holder: Some("other".into()),
        });
        tx.send_replace(LeadershipState::Leading);
        let (r, mut rx) = waiter.await.expect("join");
        assert!(r.is_ok());
        tx.send_replace(LeadershipState::Lost);
        assert_eq!(wait_until_not_leading(&mut rx).await, LeadershipState::Lost);
    }

    #[tokio::test]
    async fn waiting_on_a_stopped_elector_fails_instead_of_hanging() {
        let (tx, mut rx) = watch::channel(LeadershipState::Following { holder: None });
        drop(tx);
        assert!(matches!(
            wait_until_leading(&mut rx).await,
            Err(LeaderError::ElectorStopped)
        ));
        assert_eq!(
            wait_until_not_leading(&mut rx).await,
            LeadershipState::Following { holder: None }
        );
        let (tx, mut rx) = watch::channel(LeadershipState::Lost);
        drop(tx);
        assert!(wait_until_leading(&mut rx).await.is_err());
    }
}
