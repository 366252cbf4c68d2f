//! `compute_status`: the new status of a `HostRiskWatch` after one reconcile.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::conditions::{
    find, merge_conditions, reason, ConditionStatus, ConditionUpdate, DesiredCondition,
    API_REACHABLE, CREDENTIALS_VALID, NODES_RESOLVED, READY,
};
use super::events::{self, TransitionEvent};
use super::hosts::rebuild_hosts;
use super::node_status::{
    apply_view, drop_departed, name_kept_hosts, nodes_not_listed, nodes_resolved,
};
use super::quota::{interval_report, IntervalReport};
use super::summary::summarize;
use super::targets::{NodeView, Targets};
use crate::crd::duration::format_duration;
use crate::crd::spec::HostRiskWatchSpec;
use crate::crd::status::{HostRiskSummary, HostRiskWatchStatus};
use crate::hss::model::HostsRiskResult;
use crate::hss::HssError;

/// Most request ids kept in status (1000 hosts / 100 per call = 10, plus headroom).
const MAX_REQUEST_IDS: usize = 64;
/// Longest request id kept.
const MAX_REQUEST_ID_LEN: usize = 128;

/// Why a poll of HSS failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollFailure {
    /// CamelCase condition reason: `Throttled`, `ApiUnavailable`, `InvalidCredentials`,
    /// `Forbidden`, `Timeout`, `DecodeError`, `BadRequest`, ...
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
    Success(HostsRiskResult),
    /// The poll was attempted and failed.
    Failed(PollFailure),
    /// `spec.suspend` is true; nothing was polled.
    Suspended,
    /// The spec breaks a rule (message from `crd::validation::describe`).
    InvalidSpec(String),
    /// The Secret is missing or unusable; nothing was polled. `reason`: `SecretNotFound`,
    /// `SecretKeyMissing`, `AmbiguousCredentials` or `InvalidCredentials`.
    CredentialsProblem {
        reason: &'static str,
        message: String,
    },
    /// `spec.endpoint` is refused by the operator's policy.
    EndpointNotAllowed(String),
    /// The resource was seen and no poll has answered yet.
    Pending,
    /// A node-backed watch with no host to poll: its selector selects no Node, or none of the
    /// selected Nodes has a usable ECS server id. Nothing was polled; the host list is empty.
    NoHosts,
    /// A node-backed watch the operator cannot serve: Node watches are off or run namespaced
    /// (`NodeWatchesDisabled`), or the API server refused the Node list (`NodeWatchForbidden`,
    /// `NodeWatchFailed`). Nothing was polled.
    NodesUnavailable {
        reason: &'static str,
        message: String,
    },
}

/// Everything `compute_status` needs.
#[derive(Debug, Clone)]
pub struct StatusInput<'a> {
    pub spec: &'a HostRiskWatchSpec,
    /// `metadata.generation` of the resource.
    pub generation: Option<i64>,
    /// The status currently stored, if any.
    pub previous: Option<&'a HostRiskWatchStatus>,
    pub outcome: PollOutcome,
    /// The current time (the caller reads the clock; sub-second parts are dropped, as
    /// Kubernetes stores times to the second).
    pub now: Timestamp,
    /// Longest time `lastSyncTime` may lag behind a successful poll (`--status-heartbeat`).
    pub heartbeat: Duration,
    /// The interval in force, shown as `status.effectiveInterval`.
    pub effective_interval: Duration,
}

/// The result of `compute_status`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    /// The status to store. When `needs_write` is false it equals the previous status.
    pub status: HostRiskWatchStatus,
    /// Events to publish (transitions only).
    pub events: Vec<TransitionEvent>,
    /// Whether the status must be written: it differs from the previous one ignoring
    /// timestamps, or the heartbeat refreshed `lastSyncTime`.
    pub needs_write: bool,
}

/// True when `a` and `b` differ in anything but `lastSyncTime`, `lastRequestIds` (which only
/// ever change together with `lastSyncTime`), conditions' `lastTransitionTime` and hosts'
/// `lastChangeTime`.
pub fn differs_ignoring_timestamps(a: &HostRiskWatchStatus, b: &HostRiskWatchStatus) -> bool {
    normalized(a) != normalized(b)
}

fn normalized(status: &HostRiskWatchStatus) -> HostRiskWatchStatus {
    let mut status = status.clone();
    status.last_sync_time = None;
    status.last_request_ids.clear();
    for condition in &mut status.conditions {
        condition.last_transition_time = Time(Timestamp::UNIX_EPOCH);
    }
    for host in &mut status.hosts {
        host.last_change_time = None;
    }
    status
}

/// Reasons of a `Ready=False` that are not poll failures.
const NOT_POLL_FAILURES: [&str; 7] = [
    reason::SUSPENDED,
    reason::INVALID_SPEC,
    reason::ENDPOINT_NOT_ALLOWED,
    reason::UNRESOLVED_NODES,
    reason::NODE_WATCHES_DISABLED,
    reason::NODE_WATCH_FORBIDDEN,
    reason::NODE_WATCH_FAILED,
];

/// The reason of the previous `Ready` when it reported a failed poll.
fn previous_poll_failure(previous: Option<&HostRiskWatchStatus>) -> Option<&str> {
    let ready = find(&previous?.conditions, READY)?;
    (ready.status == "False" && !NOT_POLL_FAILURES.contains(&ready.reason.as_str()))
        .then_some(ready.reason.as_str())
}

fn with_request_id(message: &str, request_id: Option<&str>) -> String {
    match request_id {
        // HssError's message already names its request id; name it once.
        Some(id) if !message.contains(id) => format!("{message} (request id {id})"),
        Some(_) => message.to_string(),
        None => message.to_string(),
    }
}

fn set(
    type_: &'static str,
    status: ConditionStatus,
    reason: &str,
    message: impl Into<String>,
) -> ConditionUpdate {
    ConditionUpdate::Set(DesiredCondition::new(type_, status, reason, message))
}

fn keep_or_unchecked(type_: &'static str, why: &str) -> ConditionUpdate {
    ConditionUpdate::KeepOr(DesiredCondition::new(
        type_,
        ConditionStatus::Unknown,
        reason::NOT_CHECKED,
        why,
    ))
}

/// The conditions for an outcome (Pending with an up-to-date previous status is handled
/// before this is called): the three of every watch, plus `NodesResolved` for a node-backed
/// one.
fn condition_updates(
    outcome: &PollOutcome,
    previous: Option<&HostRiskWatchStatus>,
    new_generation: bool,
    summary: Option<&HostRiskSummary>,
    interval: &IntervalReport,
    target: Duration,
    targets: &Targets,
) -> Vec<ConditionUpdate> {
    let nodes = targets.nodes.as_ref();
    let mut updates = watch_condition_updates(
        outcome,
        previous,
        new_generation,
        summary,
        interval,
        target,
        nodes,
    );
    if targets.node_backed {
        updates.push(match (outcome, nodes) {
            (PollOutcome::NodesUnavailable { reason, message }, _) => set(
                NODES_RESOLVED,
                ConditionStatus::Unknown,
                reason,
                message.clone(),
            ),
            (_, Some(view)) => nodes_resolved(view),
            (_, None) => nodes_not_listed(),
        });
    }
    updates
}

/// `Ready`, `CredentialsValid` and `ApiReachable` for an outcome.
fn watch_condition_updates(
    outcome: &PollOutcome,
    previous: Option<&HostRiskWatchStatus>,
    new_generation: bool,
    summary: Option<&HostRiskSummary>,
    interval: &IntervalReport,
    target: Duration,
    nodes: Option<&NodeView>,
) -> Vec<ConditionUpdate> {
    use ConditionStatus::{False, True, Unknown};
    let data_note = if previous.is_some_and(|p| p.last_sync_time.is_some()) {
        "hosts and summary are from lastSyncTime"
    } else {
        "no host data yet"
    };
    match outcome {
        PollOutcome::Success(_) => {
            let (requested, found, missing) = summary.map_or((0, 0, 0), |s| {
                (s.hosts_requested, s.hosts_found, s.hosts_not_found)
            });
            let answered =
                format!("HSS answered for {requested} hosts: {found} found, {missing} not found");
            let ready = if interval.limited {
                set(
                    READY,
                    True,
                    reason::QUOTA_LIMITED,
                    format!(
                        "{answered}; the HSS call quota of this credential refreshes the data \
                         about every {}, not every {} as spec.interval asks",
                        interval.effective,
                        format_duration(target)
                    ),
                )
            } else {
                set(READY, True, reason::SYNCED, answered)
            };
            vec![
                ready,
                set(
                    CREDENTIALS_VALID,
                    True,
                    reason::ACCEPTED,
                    "HSS accepted the credentials",
                ),
                set(API_REACHABLE, True, reason::REACHABLE, "HSS answered"),
            ]
        }
        PollOutcome::Failed(failure) => {
            let detail = with_request_id(&failure.message, failure.request_id.as_deref());
            let ready = set(
                READY,
                False,
                failure.reason,
                format!("polling HSS failed: {detail}; {data_note}"),
            );
            if failure.auth_failure {
                vec![
                    ready,
                    set(CREDENTIALS_VALID, False, failure.reason, detail),
                    set(
                        API_REACHABLE,
                        True,
                        reason::REACHABLE,
                        "HSS answered (and refused the request)",
                    ),
                ]
            } else {
                vec![
                    ready,
                    keep_or_unchecked(
                        CREDENTIALS_VALID,
                        "HSS did not answer, so the credentials could not be checked",
                    ),
                    set(API_REACHABLE, False, failure.reason, detail),
                ]
            }
        }
        PollOutcome::CredentialsProblem {
            reason: why,
            message,
        } => vec![
            set(READY, False, why, format!("{message}; {data_note}")),
            set(CREDENTIALS_VALID, False, why, message.clone()),
            keep_or_unchecked(
                API_REACHABLE,
                "HSS was not called: the credentials are unusable",
            ),
        ],
        PollOutcome::Suspended => vec![
            set(
                READY,
                False,
                reason::SUSPENDED,
                format!("polling is suspended by spec.suspend; {data_note}"),
            ),
            keep_or_unchecked(CREDENTIALS_VALID, "polling is suspended"),
            keep_or_unchecked(API_REACHABLE, "polling is suspended"),
        ],
        PollOutcome::InvalidSpec(message) | PollOutcome::EndpointNotAllowed(message) => {
            let why = if matches!(outcome, PollOutcome::InvalidSpec(_)) {
                reason::INVALID_SPEC
            } else {
                reason::ENDPOINT_NOT_ALLOWED
            };
            vec![
                set(READY, False, why, message.clone()),
                keep_or_unchecked(CREDENTIALS_VALID, "HSS was not called: the spec is refused"),
                keep_or_unchecked(API_REACHABLE, "HSS was not called: the spec is refused"),
            ]
        }
        PollOutcome::NoHosts => {
            let selected = nodes.map_or(0, |v| v.selected);
            let ready = if selected == 0 {
                set(
                    READY,
                    True,
                    reason::NO_NODES,
                    "spec.nodeSelector selects no Node: nothing to poll",
                )
            } else {
                set(
                    READY,
                    False,
                    reason::UNRESOLVED_NODES,
                    format!(
                        "none of the {selected} selected Nodes has a usable ECS server id: nothing to poll; see the NodesResolved condition and status.unresolvedNodes"
                    ),
                )
            };
            vec![
                ready,
                keep_or_unchecked(CREDENTIALS_VALID, "HSS was not called: no host to poll"),
                keep_or_unchecked(API_REACHABLE, "HSS was not called: no host to poll"),
            ]
        }
        PollOutcome::NodesUnavailable {
            reason: why,
            message,
        } => vec![
            set(READY, False, why, format!("{message}; {data_note}")),
            keep_or_unchecked(
                CREDENTIALS_VALID,
                "HSS was not called: the watch's Nodes are unknown",
            ),
            keep_or_unchecked(
                API_REACHABLE,
                "HSS was not called: the watch's Nodes are unknown",
            ),
        ],
        PollOutcome::Pending if new_generation && previous.is_some() => vec![
            set(
                READY,
                Unknown,
                reason::POLLING,
                "the spec changed; waiting for HSS to answer for it",
            ),
            ConditionUpdate::KeepOr(DesiredCondition::new(
                CREDENTIALS_VALID,
                Unknown,
                reason::PENDING,
                "not checked yet",
            )),
            ConditionUpdate::KeepOr(DesiredCondition::new(
                API_REACHABLE,
                Unknown,
                reason::PENDING,
                "not called yet",
            )),
        ],
        PollOutcome::Pending => vec![
            set(
                READY,
                Unknown,
                reason::PENDING,
                "waiting for the first poll of HSS",
            ),
            set(
                CREDENTIALS_VALID,
                Unknown,
                reason::PENDING,
                "not checked yet",
            ),
            set(API_REACHABLE, Unknown, reason::PENDING, "not called yet"),
        ],
    }
}

/// `PollFailed` when a poll fails (or cannot start for lack of credentials) and the previous
/// `Ready` did not already report such a failure, so a failure streak emits one Event;
/// `PollRecovered` on the first success after one; host transitions on every success.
fn outcome_events(
    outcome: &PollOutcome,
    previous: Option<&HostRiskWatchStatus>,
    status: &HostRiskWatchStatus,
) -> Vec<TransitionEvent> {
    let failed_before = previous_poll_failure(previous);
    match outcome {
        PollOutcome::Success(_) => {
            let before = previous.map(|p| p.hosts.as_slice()).unwrap_or_default();
            let mut out: Vec<_> = failed_before
                .map(events::poll_recovered)
                .into_iter()
                .collect();
            out.extend(events::host_events(before, &status.hosts));
            out
        }
        PollOutcome::Failed(_) | PollOutcome::CredentialsProblem { .. }
            if failed_before.is_none() =>
        {
            let message = find(&status.conditions, READY)
                .map(|c| c.message.as_str())
                .unwrap_or_default();
            vec![events::poll_failed(message)]
        }
        _ => Vec::new(),
    }
}

fn truncate_to_second(now: Timestamp) -> Timestamp {
    Timestamp::from_second(now.as_second()).unwrap_or(now)
}

/// The new status after one reconcile; see [`StatusUpdate`]. The interval in force is
/// reported as met (see [`compute_status_with_quota`] for a measured one).
pub fn compute_status(input: StatusInput<'_>) -> StatusUpdate {
    compute_status_with_quota(input, None)
}

/// Like [`compute_status`], with `achieved_interval`: the (smoothed) time between the watch's
/// last complete refreshes as the shared poller measured it. When it is too far above the
/// interval in force, `status.effectiveInterval` shows it and `Ready` stays True with reason
/// `QuotaLimited` on success (see [`super::quota`] for the rounding and hysteresis that keep
/// idle refreshes free of writes).
///
/// - Success: hosts rebuilt in spec order (`found: false` for ids HSS did not return), each
///   host's `lastChangeTime` kept unless its data changed, summary recomputed, `Ready=True`.
/// - Failed / credentials problem / invalid spec / endpoint refused / suspended: previous hosts,
///   summary, `lastSyncTime` and `lastRequestIds` kept; the conditions say what happened.
/// - Pending: the first status (all conditions Unknown, reason `Pending`) when there is none;
///   with a previous status of an older generation, `Ready=Unknown` reason `Polling`; with an
///   up-to-date previous status, nothing changes.
/// - `lastTransitionTime` moves only when a condition's status changes.
/// - `lastSyncTime` (with `lastRequestIds`) is set to `now` on a successful poll only when the
///   status changed otherwise or is older than `heartbeat`, so idle polls write nothing.
/// - A failing poll writes when its conditions change, including a new request id in the message.
pub fn compute_status_with_quota(
    input: StatusInput<'_>,
    achieved_interval: Option<Duration>,
) -> StatusUpdate {
    let targets = Targets::listed(&input.spec.host_ids);
    compute_status_for(input, achieved_interval, &targets)
}

/// Like [`compute_status_with_quota`], for the hosts `targets` describes instead of
/// `spec.hostIds`: a node-backed watch's hosts (each with its Node's name), with `source`,
/// `nodes`, `unresolvedNodes` and the `NodesResolved` condition. For a node-backed watch a
/// Pending outcome with an up-to-date status still refreshes what the Nodes say (a Node
/// without an id joined, a Node was renamed): written only when that changed.
pub fn compute_status_for(
    input: StatusInput<'_>,
    achieved_interval: Option<Duration>,
    targets: &Targets,
) -> StatusUpdate {
    let StatusInput {
        spec: _,
        generation,
        previous,
        outcome,
        now,
        heartbeat,
        effective_interval,
    } = input;
    let now = truncate_to_second(now);
    let now_time = Time(now);
    let new_generation = previous.is_some_and(|p| p.observed_generation != generation);

    if matches!(outcome, PollOutcome::Pending) {
        if let Some(previous) = previous.filter(|_| !new_generation) {
            return match &targets.nodes {
                Some(view) => refresh_nodes(previous, targets, view, generation, &now_time),
                None => StatusUpdate {
                    status: previous.clone(),
                    events: Vec::new(),
                    needs_write: false,
                },
            };
        }
    }

    let base = previous.cloned().unwrap_or_default();
    let (mut hosts, summary) = match &outcome {
        PollOutcome::Success(result) => {
            let hosts = rebuild_hosts(&targets.hosts, result, &base.hosts, &now_time);
            let summary = summarize(&hosts);
            (hosts, Some(summary))
        }
        PollOutcome::NoHosts => (Vec::new(), Some(summarize(&[]))),
        _ => {
            let mut hosts = base.hosts.clone();
            let summary = match drop_departed(&mut hosts, targets) {
                true => base.summary.as_ref().map(|_| summarize(&hosts)),
                false => base.summary.clone(),
            };
            (hosts, summary)
        }
    };
    name_kept_hosts(&mut hosts, targets);
    let interval = interval_report(effective_interval, achieved_interval, previous);
    let updates = condition_updates(
        &outcome,
        previous,
        new_generation,
        summary.as_ref(),
        &interval,
        effective_interval,
        targets,
    );
    let mut status = HostRiskWatchStatus {
        observed_generation: generation,
        conditions: merge_conditions(&base.conditions, updates, generation, &now_time),
        effective_interval: Some(interval.effective.clone()),
        hosts,
        summary,
        ..base.clone()
    };
    apply_view(&mut status, targets);
    let events = outcome_events(&outcome, previous, &status);

    let mut needs_write = previous.is_none() || differs_ignoring_timestamps(&base, &status);
    if let PollOutcome::Success(result) = &outcome {
        let heartbeat_due = match &base.last_sync_time {
            None => true,
            Some(last) => {
                let heartbeat = SignedDuration::try_from(heartbeat).unwrap_or(SignedDuration::MAX);
                now.duration_since(last.0) >= heartbeat
            }
        };
        if needs_write || heartbeat_due {
            status.last_sync_time = Some(now_time);
            status.last_request_ids = result
                .request_ids
                .iter()
                .take(MAX_REQUEST_IDS)
                .map(|id| id.chars().take(MAX_REQUEST_ID_LEN).collect())
                .collect();
            needs_write = true;
        }
    }
    if !needs_write {
        // Equal ignoring timestamps, and no timestamp was due: hand back the stored status
        // itself, so a caller comparing old and new sees no change at all.
        status = base;
    }
    StatusUpdate {
        status,
        events,
        needs_write,
    }
}

/// A Pending reconcile of a node-backed watch whose status is up to date: the Nodes' part of
/// the status again (no poll answered, so hosts keep their data; their Node names move, and
/// the hosts of Nodes that left go, with the summary recounted).
fn refresh_nodes(
    previous: &HostRiskWatchStatus,
    targets: &Targets,
    view: &NodeView,
    generation: Option<i64>,
    now: &Time,
) -> StatusUpdate {
    let mut status = previous.clone();
    if drop_departed(&mut status.hosts, targets) && status.summary.is_some() {
        status.summary = Some(summarize(&status.hosts));
    }
    name_kept_hosts(&mut status.hosts, targets);
    apply_view(&mut status, targets);
    let keep = |type_: &'static str| {
        ConditionUpdate::KeepOr(DesiredCondition::new(
            type_,
            ConditionStatus::Unknown,
            reason::PENDING,
            "not checked yet",
        ))
    };
    status.conditions = merge_conditions(
        &previous.conditions,
        vec![
            keep(READY),
            keep(CREDENTIALS_VALID),
            keep(API_REACHABLE),
            nodes_resolved(view),
        ],
        generation,
        now,
    );
    let needs_write = differs_ignoring_timestamps(previous, &status);
    StatusUpdate {
        status: if needs_write {
            status
        } else {
            previous.clone()
        },
        events: Vec::new(),
        needs_write,
    }
}

#[cfg(test)]
#[path = "compute_tests/mod.rs"]
mod tests;
