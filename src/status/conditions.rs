//! The conditions of a `HostRiskWatch` and their merge with the previous ones.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// True only when the last poll answered for the current generation.
pub const READY: &str = "Ready";
/// Whether HSS accepted the credentials of the referenced Secret.
pub const CREDENTIALS_VALID: &str = "CredentialsValid";
/// Whether HSS answered at all (any HTTP answer counts; a 401 is an answer).
pub const API_REACHABLE: &str = "ApiReachable";

/// Node-backed watches only: whether every selected Node's host is watched.
pub const NODES_RESOLVED: &str = "NodesResolved";

/// Condition types in the order they are written (`NodesResolved` for node-backed watches only).
pub const CONDITION_TYPES: [&str; 4] = [READY, CREDENTIALS_VALID, API_REACHABLE, NODES_RESOLVED];

/// Reasons this module writes itself. Failure reasons of a poll or of the credentials come from
/// the caller (`PollFailure::reason`, `CredentialsProblem::reason`).
pub mod reason {
    /// Seen, not polled yet.
    pub const PENDING: &str = "Pending";
    /// The spec changed; the poll for the new generation has not answered yet.
    pub const POLLING: &str = "Polling";
    /// The last poll answered.
    pub const SYNCED: &str = "Synced";
    /// The last poll answered, but the HSS call quota of the credential cannot refresh the
    /// watch as often as `spec.interval` asks (`status.effectiveInterval` says how often).
    pub const QUOTA_LIMITED: &str = "QuotaLimited";
    /// HSS accepted the credentials.
    pub const ACCEPTED: &str = "Accepted";
    /// HSS answered.
    pub const REACHABLE: &str = "Reachable";
    /// `spec.suspend` is true.
    pub const SUSPENDED: &str = "Suspended";
    /// The spec breaks a rule.
    pub const INVALID_SPEC: &str = "InvalidSpec";
    /// `spec.endpoint` is not allowed by the operator's policy.
    pub const ENDPOINT_NOT_ALLOWED: &str = "EndpointNotAllowed";
    /// A check that was not made because an earlier step failed.
    pub const NOT_CHECKED: &str = "NotChecked";
    /// Node-backed watch: every selected Node's host is watched.
    pub const ALL_RESOLVED: &str = "AllResolved";
    /// Node-backed watch: some selected Node has no usable ECS server id (or shares one).
    pub const UNRESOLVED_NODES: &str = "UnresolvedNodes";
    /// Node-backed watch: more Nodes are selected than a watch may cover (1000 hosts).
    pub const HOST_LIMIT_EXCEEDED: &str = "HostLimitExceeded";
    /// Node-backed watch whose selector selects no Node: nothing to poll.
    pub const NO_NODES: &str = "NoNodes";
    /// Node-backed watch refused: the operator runs without `--node-watches`, or namespaced.
    pub const NODE_WATCHES_DISABLED: &str = "NodeWatchesDisabled";
    /// Node-backed watch refused: the API server refused the operator's Node list/watch (403).
    pub const NODE_WATCH_FORBIDDEN: &str = "NodeWatchForbidden";
    /// Node-backed watch: the Node list failed otherwise (the watch retries).
    pub const NODE_WATCH_FAILED: &str = "NodeWatchFailed";
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
    pub type_: &'static str,
    pub status: ConditionStatus,
    pub reason: String,
    pub message: String,
}

impl DesiredCondition {
    pub fn new(
        type_: &'static str,
        status: ConditionStatus,
        reason: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            type_,
            status,
            reason: reason.into(),
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

/// The previous condition of `type_`, if any.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Builds the new conditions list from `updates`, in the given order.
///
/// `lastTransitionTime` is the previous one when the status (True/False/Unknown) did not change,
/// and `now` otherwise, as the API conventions require; reason and message changes alone are
/// not transitions. Previous conditions of types not in `updates` are dropped: this operator owns
/// the whole status.
pub fn merge_conditions(
    previous: &[Condition],
    updates: Vec<ConditionUpdate>,
    generation: Option<i64>,
    now: &Time,
) -> Vec<Condition> {
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
                type_: desired.type_.to_string(),
                status: status.to_string(),
                reason: desired.reason,
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

    fn at(second: i64) -> Time {
        Time(Timestamp::from_second(second).expect("valid"))
    }

    fn set(type_: &'static str, status: ConditionStatus, reason: &str) -> ConditionUpdate {
        ConditionUpdate::Set(DesiredCondition::new(type_, status, reason, "m"))
    }

    #[test]
    fn transition_time_moves_only_when_status_changes() {
        let first = merge_conditions(
            &[],
            vec![set(READY, ConditionStatus::Unknown, reason::PENDING)],
            Some(1),
            &at(100),
        );
        assert_eq!(first[0].last_transition_time, at(100));
        assert_eq!(first[0].observed_generation, Some(1));

        // Same status, new reason, message and generation: no transition.
        let second = merge_conditions(
            &first,
            vec![ConditionUpdate::Set(DesiredCondition::new(
                READY,
                ConditionStatus::Unknown,
                reason::POLLING,
                "other",
            ))],
            Some(2),
            &at(200),
        );
        assert_eq!(second[0].last_transition_time, at(100));
        assert_eq!(second[0].reason, "Polling");
        assert_eq!(second[0].observed_generation, Some(2));

        let third = merge_conditions(
            &second,
            vec![set(READY, ConditionStatus::True, reason::SYNCED)],
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
                CREDENTIALS_VALID,
                ConditionStatus::True,
                reason::ACCEPTED,
            )],
            Some(1),
            &at(10),
        );
        let merged = merge_conditions(
            &previous,
            vec![
                ConditionUpdate::KeepOr(DesiredCondition::new(
                    CREDENTIALS_VALID,
                    ConditionStatus::Unknown,
                    reason::NOT_CHECKED,
                    "x",
                )),
                ConditionUpdate::KeepOr(DesiredCondition::new(
                    API_REACHABLE,
                    ConditionStatus::Unknown,
                    reason::NOT_CHECKED,
                    "x",
                )),
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
            vec![set(API_REACHABLE, ConditionStatus::True, reason::REACHABLE)],
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
                set(READY, ConditionStatus::True, reason::SYNCED),
                set(API_REACHABLE, ConditionStatus::True, reason::REACHABLE),
            ],
            Some(1),
            &at(2),
        );
        let types: Vec<_> = merged.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, vec!["Ready", "ApiReachable"]);
        assert_eq!(merged[1].last_transition_time, at(1));
    }
}
