//! Leader election settings, with client-go's defaults and validation rules.

use std::time::Duration;

use super::LeaderError;

/// client-go `wait.JitterUntil` factor used between acquisition attempts; also bounds
/// `renew_deadline` from below (`renewDeadline > JitterFactor * retryPeriod`).
pub(crate) const JITTER_FACTOR: f64 = 1.2;

/// Where the lock lives, who we are, and the timing (client-go `LeaderElectionConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderElectionConfig {
    /// Name of the coordination.k8s.io/v1 Lease used as the lock.
    pub lease_name: String,
    /// Namespace of the Lease.
    pub lease_namespace: String,
    /// This process's identity, written to `spec.holderIdentity`; must be unique among
    /// the contenders (see [`default_identity`]).
    pub identity: String,
    /// How long followers wait, from the last time they saw the lease change, before they
    /// may take it over. Written as whole seconds to `spec.leaseDurationSeconds`.
    pub lease_duration: Duration,
    /// How long the leader keeps retrying renewals before it gives leadership up.
    pub renew_deadline: Duration,
    /// Wait between attempts to acquire or renew.
    pub retry_period: Duration,
    /// On graceful shutdown while leading, hand the lease over at once (client-go
    /// `ReleaseOnCancel`). Only safe if the caller has stopped its leader work first.
    pub release_on_cancel: bool,
}

impl LeaderElectionConfig {
    /// client-go / controller-manager default lease duration.
    pub const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(15);
    /// client-go / controller-manager default renew deadline.
    pub const DEFAULT_RENEW_DEADLINE: Duration = Duration::from_secs(10);
    /// client-go / controller-manager default retry period.
    pub const DEFAULT_RETRY_PERIOD: Duration = Duration::from_secs(2);

    /// A config with the default timing (15s / 10s / 2s) and release on shutdown.
    pub fn new(
        lease_name: impl Into<String>,
        lease_namespace: impl Into<String>,
        identity: impl Into<String>,
    ) -> Self {
        Self {
            lease_name: lease_name.into(),
            lease_namespace: lease_namespace.into(),
            identity: identity.into(),
            lease_duration: Self::DEFAULT_LEASE_DURATION,
            renew_deadline: Self::DEFAULT_RENEW_DEADLINE,
            retry_period: Self::DEFAULT_RETRY_PERIOD,
            release_on_cancel: true,
        }
    }

    /// `spec.leaseDurationSeconds`: the lease duration truncated to whole seconds, as
    /// client-go's `int(LeaseDuration / time.Second)`.
    pub fn lease_duration_seconds(&self) -> i32 {
        i32::try_from(self.lease_duration.as_secs()).unwrap_or(i32::MAX)
    }

    /// client-go `NewLeaderElector` checks, applied to the duration actually written
    /// (whole seconds): lease > renew deadline > 1.2 × retry period > 0, names non-empty.
    /// `lease > renew deadline` is what keeps two holders from overlapping: the old
    /// leader gives up before any follower may consider the lease expired.
    pub fn validate(&self) -> Result<(), LeaderError> {
        let fail = |m: &str| Err(LeaderError::InvalidConfig(m.to_string()));
        if self.lease_name.is_empty() || self.lease_namespace.is_empty() {
            return fail("lease name and namespace must not be empty");
        }
        if self.identity.is_empty() {
            return fail("identity must not be empty");
        }
        if self.retry_period.is_zero() {
            return fail("retry period must be greater than zero");
        }
        let written = Duration::from_secs(u64::from(self.lease_duration_seconds().unsigned_abs()));
        if written < Duration::from_secs(1) {
            return fail("lease duration must be at least 1s");
        }
        if written <= self.renew_deadline {
            return fail("lease duration (whole seconds) must be greater than renew deadline");
        }
        if self.renew_deadline.as_secs_f64() <= JITTER_FACTOR * self.retry_period.as_secs_f64() {
            return fail("renew deadline must be greater than 1.2 x retry period");
        }
        Ok(())
    }
}

/// A unique identity like client-go users build (`hostname + "_" + uuid`): `$POD_NAME`,
/// else `$HOSTNAME`, else `hostrisk-operator`, then `_` and 16 random hex digits, so
/// two processes on one host never share an identity.
pub fn default_identity() -> String {
    let host = ["POD_NAME", "HOSTNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.is_empty())
        .unwrap_or_else(|| "hostrisk-operator".to_string());
    format!("{host}_{:016x}", rand::random::<u64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(lease: f64, renew: f64, retry: f64) -> LeaderElectionConfig {
        LeaderElectionConfig {
            lease_duration: Duration::from_secs_f64(lease),
            renew_deadline: Duration::from_secs_f64(renew),
            retry_period: Duration::from_secs_f64(retry),
            ..LeaderElectionConfig::new("l", "ns", "me")
        }
    }

    #[test]
    fn defaults_are_valid() {
        assert!(LeaderElectionConfig::new("l", "ns", "me")
            .validate()
            .is_ok());
        assert!(config(2.0, 1.5, 0.3).validate().is_ok());
    }

    #[test]
    fn timing_rules_of_client_go_are_enforced() {
        assert!(config(2.0, 2.0, 0.3).validate().is_err());
        // 2.9s is written as 2s, which does not exceed a 2.5s renew deadline.
        assert!(config(2.9, 2.5, 0.3).validate().is_err());
        assert!(config(0.5, 0.2, 0.1).validate().is_err());
        assert!(config(2.0, 1.2, 1.0).validate().is_err());
        assert!(config(2.0, 1.5, 0.0).validate().is_err());
    }

    #[test]
    fn names_and_identity_are_required() {
        let mut c = LeaderElectionConfig::new("l", "ns", "");
        assert!(c.validate().is_err());
        c.identity = "me".into();
        c.lease_namespace = String::new();
        assert!(c.validate().is_err());
    }

    #[test]
    fn default_identities_differ() {
        assert_ne!(default_identity(), default_identity());
    }
}
