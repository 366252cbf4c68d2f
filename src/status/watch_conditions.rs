//! The conditions a watch computes itself, one function per type: `Ready`,
//! `CredentialsValid` and `ApiReachable`, from what the reconcile found out.

use std::time::Duration;

use super::conditions::{stored, ConditionStatus, ConditionType, ConditionUpdate, Reason};
use super::outcome::PollOutcome;
use super::quota::IntervalReport;
use super::targets::NodeView;
use crate::crd::duration::format_duration;
use crate::crd::status::{HostRiskSummary, HostRiskWatchStatus};

use ConditionStatus::{False, True, Unknown};
use ConditionType::{ApiReachable, CredentialsValid, Ready};

/// What the watch conditions are computed from.
pub(crate) struct Observation<'a> {
    pub outcome: &'a PollOutcome,
    pub previous: Option<&'a HostRiskWatchStatus>,
    /// The spec changed since `previous` was computed.
    pub new_generation: bool,
    pub summary: Option<&'a HostRiskSummary>,
    pub interval: &'a IntervalReport,
    /// The interval in force.
    pub target: Duration,
    /// What a node-backed watch's Nodes say, when they are known.
    pub nodes: Option<&'a NodeView>,
}

impl Observation<'_> {
    /// The tail of a failure message: whether the hosts and summary shown are old data.
    fn data_note(&self) -> &'static str {
        if self.previous.is_some_and(|p| p.last_sync_time.is_some()) {
            "hosts and summary are from lastSyncTime"
        } else {
            "no host data yet"
        }
    }

    /// Why HSS was not called at all, for the outcomes that did not call it.
    fn not_called(&self) -> Option<&'static str> {
        Some(match self.outcome {
            PollOutcome::CredentialsProblem { .. } => {
                "HSS was not called: the credentials are unusable"
            }
            PollOutcome::Suspended => "polling is suspended",
            PollOutcome::InvalidSpec(_) | PollOutcome::EndpointNotAllowed(_) => {
                "HSS was not called: the spec is refused"
            }
            PollOutcome::NoHosts => "HSS was not called: no host to poll",
            PollOutcome::NodesUnavailable { .. } => {
                "HSS was not called: the watch's Nodes are unknown"
            }
            _ => return None,
        })
    }

    /// A previous status of the same generation exists and nothing new was learned.
    fn nothing_new(&self) -> bool {
        matches!(self.outcome, PollOutcome::Pending) && self.previous.is_some()
    }
}

/// The watch's own conditions for `o`.
pub(crate) fn watch_conditions(o: &Observation<'_>) -> Vec<ConditionUpdate> {
    vec![ready(o), credentials_valid(o), api_reachable(o)]
}

fn keep_or_unchecked(type_: ConditionType, why: &str) -> ConditionUpdate {
    ConditionUpdate::keep_or(type_, Unknown, Reason::NotChecked, why)
}

/// `message`, naming `request_id` unless it already does.
fn with_request_id(message: &str, request_id: Option<&str>) -> String {
    match request_id {
        Some(id) if !message.contains(id) => format!("{message} (request id {id})"),
        _ => message.to_string(),
    }
}

/// True only when the last poll answered for the current generation.
pub(crate) fn ready(o: &Observation<'_>) -> ConditionUpdate {
    let set =
        |status, reason, message: String| ConditionUpdate::set(Ready, status, reason, message);
    let note = o.data_note();
    match o.outcome {
        PollOutcome::Success(_) => {
            let (requested, found, missing) = o.summary.map_or((0, 0, 0), |s| {
                (s.hosts_requested, s.hosts_found, s.hosts_not_found)
            });
            let answered =
                format!("HSS answered for {requested} hosts: {found} found, {missing} not found");
            if o.interval.limited {
                set(
                    True,
                    Reason::QuotaLimited,
                    format!(
                        "{answered}; the HSS call quota of this credential refreshes the data \
                         about every {}, not every {} as spec.interval asks",
                        o.interval.effective,
                        format_duration(o.target)
                    ),
                )
            } else {
                set(True, Reason::Synced, answered)
            }
        }
        PollOutcome::Failed(failure) => {
            let detail = with_request_id(&failure.message, failure.request_id.as_deref());
            set(
                False,
                Reason::CallFailed(failure.reason),
                format!("polling HSS failed: {detail}; {note}"),
            )
        }
        PollOutcome::CredentialsProblem { reason, message }
        | PollOutcome::NodesUnavailable { reason, message } => {
            set(False, *reason, format!("{message}; {note}"))
        }
        PollOutcome::Suspended => set(
            False,
            Reason::Suspended,
            format!("polling is suspended by spec.suspend; {note}"),
        ),
        PollOutcome::InvalidSpec(message) => set(False, Reason::InvalidSpec, message.clone()),
        PollOutcome::EndpointNotAllowed(message) => {
            set(False, Reason::EndpointNotAllowed, message.clone())
        }
        PollOutcome::NoHosts => match o.nodes.map_or(0, |v| v.selected) {
            0 => set(
                True,
                Reason::NoNodes,
                "spec.nodeSelector selects no Node: nothing to poll".into(),
            ),
            selected => set(
                False,
                Reason::UnresolvedNodes,
                format!(
                    "none of the {selected} selected Nodes has a usable ECS server id: nothing to poll; see the NodesResolved condition and status.unresolvedNodes"
                ),
            ),
        },
        PollOutcome::Pending if o.new_generation && o.previous.is_some() => set(
            Unknown,
            Reason::Polling,
            "the spec changed; waiting for HSS to answer for it".into(),
        ),
        PollOutcome::Pending if o.nothing_new() => {
            ConditionUpdate::keep_or(Ready, Unknown, Reason::Pending, "not checked yet")
        }
        PollOutcome::Pending => set(
            Unknown,
            Reason::Pending,
            "waiting for the first poll of HSS".into(),
        ),
    }
}

/// Whether HSS accepted the credentials.
pub(crate) fn credentials_valid(o: &Observation<'_>) -> ConditionUpdate {
    match o.outcome {
        PollOutcome::Success(_) => ConditionUpdate::set(
            CredentialsValid,
            True,
            Reason::Accepted,
            "HSS accepted the credentials",
        ),
        PollOutcome::Failed(failure) if failure.auth_failure => ConditionUpdate::set(
            CredentialsValid,
            False,
            Reason::CallFailed(failure.reason),
            with_request_id(&failure.message, failure.request_id.as_deref()),
        ),
        PollOutcome::Failed(_) => keep_or_unchecked(
            CredentialsValid,
            "HSS did not answer, so the credentials could not be checked",
        ),
        PollOutcome::CredentialsProblem { reason, message } => {
            ConditionUpdate::set(CredentialsValid, False, *reason, message.clone())
        }
        PollOutcome::Pending if o.previous.is_none() => ConditionUpdate::set(
            CredentialsValid,
            Unknown,
            Reason::Pending,
            "not checked yet",
        ),
        PollOutcome::Pending => ConditionUpdate::keep_or(
            CredentialsValid,
            Unknown,
            Reason::Pending,
            "not checked yet",
        ),
        _ => keep_or_unchecked(CredentialsValid, o.not_called().unwrap_or_default()),
    }
}

/// Whether HSS answered at all.
pub(crate) fn api_reachable(o: &Observation<'_>) -> ConditionUpdate {
    let fallback = if o.nothing_new() && !o.new_generation {
        "not checked yet"
    } else {
        "not called yet"
    };
    match o.outcome {
        PollOutcome::Success(_) => {
            ConditionUpdate::set(ApiReachable, True, Reason::Reachable, "HSS answered")
        }
        PollOutcome::Failed(failure) if failure.auth_failure => ConditionUpdate::set(
            ApiReachable,
            True,
            Reason::Reachable,
            "HSS answered (and refused the request)",
        ),
        PollOutcome::Failed(failure) => ConditionUpdate::set(
            ApiReachable,
            False,
            Reason::CallFailed(failure.reason),
            with_request_id(&failure.message, failure.request_id.as_deref()),
        ),
        PollOutcome::Pending if o.previous.is_none() => {
            ConditionUpdate::set(ApiReachable, Unknown, Reason::Pending, fallback)
        }
        PollOutcome::Pending => {
            ConditionUpdate::keep_or(ApiReachable, Unknown, Reason::Pending, fallback)
        }
        _ => keep_or_unchecked(ApiReachable, o.not_called().unwrap_or_default()),
    }
}

/// The reason of the previous `Ready` when it reported a failed poll.
pub(crate) fn previous_poll_failure(previous: Option<&HostRiskWatchStatus>) -> Option<Reason> {
    let (status, reason) = stored(&previous?.conditions, Ready)?;
    (status == "False" && reason.is_poll_failure()).then_some(reason)
}
