//! The conditions of a `HostRiskWatch`: the one list of their types, the typed reasons they
//! carry, and their merge with the previous ones. Which condition says what for an outcome is
//! [`super::watch_conditions`] (one function per type the watch computes itself); a type whose
//! value comes from elsewhere (`NodesResolved` from the node host source, `ReportsWritten` from the
//! policy-report output) arrives as a contributed [`ConditionUpdate`].
//!
//! Adding a condition type: a variant here (its place in [`ConditionType::ALL`] is its place in
//! the status), its reasons in [`Reason`], and either a function in `watch_conditions` or a
//! contributor that hands its update to `compute_status`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// Every condition type a watch's status may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConditionType {
    /// True only when the last poll answered for the current generation.
    Ready,
    /// Whether HSS accepted the credentials.
    CredentialsValid,
    /// Whether HSS answered at all (any HTTP answer counts; a 401 is an answer).
    ApiReachable,
    /// Node-backed watches only: whether every selected Node's host is watched.
    NodesResolved,
    /// Node-backed watches, with `--node-conditions`: whether the watch sets the
    /// HostSecurity* conditions (and taints) of its Nodes.
    NodeConditionsDriven,
    /// With policy reports on: whether the watch's policy report says what its status says.
    ReportsWritten,
}

impl ConditionType {
    /// Every type, in the order they are written.
    pub const ALL: [ConditionType; 6] = [
        Self::Ready,
        Self::CredentialsValid,
        Self::ApiReachable,
        Self::NodesResolved,
        Self::NodeConditionsDriven,
        Self::ReportsWritten,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "Ready",
            Self::CredentialsValid => "CredentialsValid",
            Self::ApiReachable => "ApiReachable",
            Self::NodesResolved => "NodesResolved",
            Self::NodeConditionsDriven => "NodeConditionsDriven",
            Self::ReportsWritten => "ReportsWritten",
        }
    }
}

/// Declares [`Reason`]: each named variant's word is its own name.
macro_rules! reasons {
    ($( $(#[$doc:meta])* $name:ident, )+) => {
        /// Every reason word a condition of this operator carries, serialised as the CamelCase
        /// word (the variant's name).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Reason {
            $( $(#[$doc])* $name, )+
            /// A call to HSS or IAM failed; the word is the HSS client's (`Throttled`,
            /// `ApiUnavailable`, `InvalidCredentials`, `ServiceAccountNotFound`, ...).
            CallFailed(&'static str),
        }

        impl Reason {
            /// The reasons with a word of their own (every one but [`Reason::CallFailed`]).
            const NAMED: &'static [Reason] = &[$( Self::$name, )+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $( Self::$name => stringify!($name), )+
                    Self::CallFailed(word) => word,
                }
            }
        }
    };
}

reasons! {
    /// Seen, not polled yet.
    Pending,
    /// The spec changed; the poll for the new generation has not answered yet.
    Polling,
    /// The last poll answered.
    Synced,
    /// The last poll answered, but the HSS call quota of the credential cannot refresh the
    /// watch as often as `spec.interval` asks (`status.effectiveInterval` says how often).
    QuotaLimited,
    /// HSS accepted the credentials.
    Accepted,
    /// HSS answered.
    Reachable,
    /// A check that was not made because an earlier step failed.
    NotChecked,
    /// `spec.suspend` is true.
    Suspended,
    /// The spec breaks a rule.
    InvalidSpec,
    /// `spec.endpoint` is not allowed by the operator's policy.
    EndpointNotAllowed,
    /// Node-backed watch: every selected Node's host is watched.
    AllResolved,
    /// Node-backed watch: some selected Node has no usable ECS server id (or shares one).
    UnresolvedNodes,
    /// Node-backed watch: more Nodes are selected than a watch may cover (1000 hosts).
    HostLimitExceeded,
    /// Node-backed watch whose selector selects no Node: nothing to poll.
    NoNodes,
    /// Node-backed watch refused: the operator runs without `--node-watches`, or namespaced.
    NodeWatchesDisabled,
    /// Node-backed watch refused: the API server refused the operator's Node list/watch (403).
    NodeWatchForbidden,
    /// Node-backed watch: the Node list failed otherwise (the watch retries).
    NodeWatchFailed,
    /// The credentials Secret does not exist (or its name cannot be one).
    SecretNotFound,
    /// The operator may not read the credentials Secret.
    SecretForbidden,
    /// The Secret lacks a key its kind of credentials needs.
    SecretKeyMissing,
    /// The Secret holds more than one kind of credentials.
    AmbiguousCredentials,
    /// The credentials cannot work (empty, unreadable, no IAM endpoint for them).
    InvalidCredentials,
    /// `spec.workloadIdentity` while the operator does not allow keyless credentials.
    WorkloadIdentityDisabled,
    /// An audience the operator does not mint tokens for.
    AudienceNotAllowed,
    /// An identity provider the operator may not use.
    IdentityProviderNotAllowed,
    /// Keyless credentials that cannot work (ServiceAccount name, IAM endpoint).
    InvalidWorkloadIdentity,
    /// Node conditions: the watch sets the conditions of the Nodes it covers.
    Driving,
    /// Node conditions: the watch drives them, and the taint budget holds back some Nodes.
    TaintsHeldBack,
    /// Node conditions: the watch's namespace is not one that may drive them.
    NamespaceNotAllowed,
    /// Policy reports: the watch's report is up to date.
    Written,
    /// Policy reports: the report API's CustomResourceDefinition is not installed.
    ApiNotInstalled,
    /// Policy reports: the API server refused the operator the report (RBAC).
    Forbidden,
    /// Policy reports: the API server did not take the report (refused it, or no answer).
    WriteFailed,
}

impl Reason {
    /// The reason a stored condition carries: a named one, else a call failure (the HSS
    /// client's words are open-ended).
    pub fn of_word(word: &str) -> Reason {
        Self::NAMED
            .iter()
            .copied()
            .find(|reason| reason.as_str() == word)
            .unwrap_or(Self::CallFailed(""))
    }

    /// True for the reasons of a `Ready=False` that say polling failed (HSS refused or failed,
    /// or the credentials are unusable), as opposed to polling not being wanted or possible
    /// (suspended, refused spec, Nodes unknown): a streak of the former is announced once.
    pub fn is_poll_failure(self) -> bool {
        matches!(
            self,
            Self::CallFailed(_)
                | Self::SecretNotFound
                | Self::SecretForbidden
                | Self::SecretKeyMissing
                | Self::AmbiguousCredentials
                | Self::InvalidCredentials
                | Self::WorkloadIdentityDisabled
                | Self::AudienceNotAllowed
                | Self::IdentityProviderNotAllowed
                | Self::InvalidWorkloadIdentity
        )
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Kubernetes condition status values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

impl ConditionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::True => "True",
            Self::False => "False",
            Self::Unknown => "Unknown",
        }
    }
}

/// A condition as computed, before its `lastTransitionTime` is decided by [`merge_conditions`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredCondition {
    pub type_: ConditionType,
    pub status: ConditionStatus,
    pub reason: Reason,
    pub message: String,
}

impl DesiredCondition {
    pub fn new(
        type_: ConditionType,
        status: ConditionStatus,
        reason: Reason,
        message: impl Into<String>,
    ) -> Self {
        Self {
            type_,
            status,
            reason,
            message: message.into(),
        }
    }
}

/// What to write for one condition type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConditionUpdate {
    /// Replace with this, stamped with the current generation.
    Set(DesiredCondition),
    /// Keep the previous condition as it is (its `observedGeneration` keeps telling which spec it
    /// was computed for); when there is none, write this instead.
    KeepOr(DesiredCondition),
}

impl ConditionUpdate {
    /// Sets `type_` to `status` with `reason` and `message`.
    pub fn set(
        type_: ConditionType,
        status: ConditionStatus,
        reason: Reason,
        message: impl Into<String>,
    ) -> Self {
        Self::Set(DesiredCondition::new(type_, status, reason, message))
    }

    /// Keeps the previous condition of `type_`, or writes it as `status` with `reason`.
    pub fn keep_or(
        type_: ConditionType,
        status: ConditionStatus,
        reason: Reason,
        message: impl Into<String>,
    ) -> Self {
        Self::KeepOr(DesiredCondition::new(type_, status, reason, message))
    }

    pub fn type_(&self) -> ConditionType {
        match self {
            Self::Set(desired) | Self::KeepOr(desired) => desired.type_,
        }
    }
}

/// The previous condition of `type_`, if any.
pub fn find(conditions: &[Condition], type_: ConditionType) -> Option<&Condition> {
    conditions.iter().find(|c| c.type_ == type_.as_str())
}

/// The status and reason of a stored condition of `type_`.
pub fn stored(conditions: &[Condition], type_: ConditionType) -> Option<(&str, Reason)> {
    find(conditions, type_).map(|c| (c.status.as_str(), Reason::of_word(&c.reason)))
}

/// Builds the new conditions list from `updates`, in the order of [`ConditionType::ALL`].
///
/// `lastTransitionTime` is the previous one when the status (True/False/Unknown) did not change,
/// and `now` otherwise, as the API conventions require; reason and message changes alone are
/// not transitions. Previous conditions of types not in `updates` are dropped: this operator owns
/// the whole status.
pub fn merge_conditions(
    previous: &[Condition],
    mut updates: Vec<ConditionUpdate>,
    generation: Option<i64>,
    now: &Time,
) -> Vec<Condition> {
    updates.sort_by_key(ConditionUpdate::type_);
    updates
        .into_iter()
        .map(|update| {
            let desired = match update {
                ConditionUpdate::KeepOr(fallback) => match find(previous, fallback.type_) {
                    Some(kept) => return kept.clone(),
                    None => fallback,
                },
                ConditionUpdate::Set(desired) => desired,
            };
            let status = desired.status.as_str();
            let last_transition_time = match find(previous, desired.type_) {
                Some(old) if old.status == status => old.last_transition_time.clone(),
                _ => now.clone(),
            };
            Condition {
                type_: desired.type_.as_str().to_string(),
                status: status.to_string(),
                reason: desired.reason.as_str().to_string(),
                message: desired.message,
                observed_generation: generation,
                last_transition_time,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;
    use ConditionType::{ApiReachable, CredentialsValid, Ready};

    fn at(second: i64) -> Time {
        Time(Timestamp::from_second(second).expect("valid"))
    }

    fn set(type_: ConditionType, status: ConditionStatus, reason: Reason) -> ConditionUpdate {
        ConditionUpdate::set(type_, status, reason, "m")
    }

    #[test]
    fn transition_time_moves_only_when_status_changes() {
        let first = merge_conditions(
            &[],
            vec![set(Ready, ConditionStatus::Unknown, Reason::Pending)],
            Some(1),
            &at(100),
        );
        assert_eq!(first[0].last_transition_time, at(100));
        assert_eq!(first[0].observed_generation, Some(1));

        // Same status, new reason, message and generation: no transition.
        let second = merge_conditions(
            &first,
            vec![ConditionUpdate::set(
                Ready,
                ConditionStatus::Unknown,
                Reason::Polling,
                "other",
            )],
            Some(2),
            &at(200),
        );
        assert_eq!(second[0].last_transition_time, at(100));
        assert_eq!(second[0].reason, "Polling");
        assert_eq!(second[0].observed_generation, Some(2));

        let third = merge_conditions(
            &second,
            vec![set(Ready, ConditionStatus::True, Reason::Synced)],
            Some(2),
            &at(300),
        );
        assert_eq!(third[0].last_transition_time, at(300));
        assert_eq!(third[0].status, "True");
    }

    #[test]
    fn keep_or_keeps_previous_verbatim_or_falls_back() {
        let previous = merge_conditions(
            &[],
            vec![set(
                CredentialsValid,
                ConditionStatus::True,
                Reason::Accepted,
            )],
            Some(1),
            &at(10),
        );
        let merged = merge_conditions(
            &previous,
            vec![
                ConditionUpdate::keep_or(
                    CredentialsValid,
                    ConditionStatus::Unknown,
                    Reason::NotChecked,
                    "x",
                ),
                ConditionUpdate::keep_or(
                    ApiReachable,
                    ConditionStatus::Unknown,
                    Reason::NotChecked,
                    "x",
                ),
            ],
            Some(5),
            &at(20),
        );
        assert_eq!(merged[0], previous[0]);
        assert_eq!(merged[1].reason, "NotChecked");
        assert_eq!(merged[1].observed_generation, Some(5));
        assert_eq!(merged[1].last_transition_time, at(20));
    }

    #[test]
    fn unknown_previous_types_are_dropped_and_order_is_fixed() {
        let mut previous = merge_conditions(
            &[],
            vec![set(ApiReachable, ConditionStatus::True, Reason::Reachable)],
            Some(1),
            &at(1),
        );
        previous.push(Condition {
            type_: "Stale".into(),
            ..previous[0].clone()
        });
        let merged = merge_conditions(
            &previous,
            vec![
                set(ApiReachable, ConditionStatus::True, Reason::Reachable),
                set(Ready, ConditionStatus::True, Reason::Synced),
            ],
            Some(1),
            &at(2),
        );
        let types: Vec<_> = merged.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, vec!["Ready", "ApiReachable"]);
        assert_eq!(merged[1].last_transition_time, at(1));
    }

    #[test]
    fn reasons_read_back_by_their_word() {
        for reason in Reason::NAMED {
            assert_eq!(Reason::of_word(reason.as_str()), *reason);
        }
        assert_eq!(
            Reason::AmbiguousCredentials.as_str(),
            "AmbiguousCredentials"
        );
        // The HSS client's words are not all known here: they are call failures.
        assert!(Reason::of_word("Throttled").is_poll_failure());
        assert!(Reason::of_word("SecretNotFound").is_poll_failure());
        assert!(!Reason::of_word("Suspended").is_poll_failure());
        assert!(!Reason::of_word("NodeWatchForbidden").is_poll_failure());
        assert_eq!(Reason::CallFailed("Throttled").to_string(), "Throttled");
    }
}
