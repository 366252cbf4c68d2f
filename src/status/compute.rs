//! `compute_status`: the new status of a `HostRiskWatch` after one reconcile.

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::conditions::{find, merge_conditions, ConditionType, ConditionUpdate};
use super::events::{self, TransitionEvent};
use super::hosts::rebuild_hosts;
use super::node_status::{apply_view, drop_departed, name_kept_hosts};
pub use super::outcome::{PollFailure, PollOutcome};
use super::quota::interval_report;
use super::summary::summarize;
use super::targets::Targets;
use super::watch_conditions::{previous_poll_failure, watch_conditions, Observation};
use super::watch_status::WatchStatus;
use crate::crd::status::HostRiskWatchStatus;

/// Most request ids kept in status (1000 hosts / 100 per call = 10, plus headroom).
const MAX_REQUEST_IDS: usize = 64;
/// Longest request id kept.
const MAX_REQUEST_ID_LEN: usize = 128;

/// Everything `compute_status` needs.
#[derive(Debug, Clone)]
pub struct StatusInput<'a> {
    /// `metadata.generation` of the resource.
    pub generation: Option<i64>,
    /// The status currently stored, if any.
    pub previous: Option<&'a Arc<WatchStatus>>,
    pub outcome: PollOutcome,
    /// The hosts the watch covers and where they come from.
    pub targets: &'a Targets,
    /// Conditions of types the watch does not compute itself (`NodesResolved` from the node
    /// host source, an output's own).
    pub contributed: Vec<ConditionUpdate>,
    /// The current time (the caller reads the clock; sub-second parts are dropped, as
    /// Kubernetes stores times to the second).
    pub now: Timestamp,
    /// Longest time `lastSyncTime` may lag behind a successful poll (`--status-heartbeat`).
    pub heartbeat: Duration,
    /// The interval in force, shown as `status.effectiveInterval`.
    pub effective_interval: Duration,
    /// The (smoothed) time between the watch's last complete refreshes as the poller measured
    /// it, if it did: far above the interval in force, `status.effectiveInterval` shows it and
    /// `Ready` says `QuotaLimited` (see [`super::quota`]).
    pub achieved_interval: Option<Duration>,
}

/// The result of `compute_status`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    /// The status to store. When `needs_write` is false it is the previous status itself.
    pub status: Arc<WatchStatus>,
    /// Events to publish (transitions only).
    pub events: Vec<TransitionEvent>,
    /// Whether the status must be written: it differs from the previous one ignoring
    /// timestamps, or the heartbeat refreshed `lastSyncTime`.
    pub needs_write: bool,
}

/// `PollFailed` when a poll fails (or cannot start for lack of credentials) and the previous
/// `Ready` did not already report such a failure, so a failure streak emits one Event;
/// `PollRecovered` on the first success after one; host transitions on every success.
fn outcome_events(
    outcome: &PollOutcome,
    previous: Option<&WatchStatus>,
    status: &WatchStatus,
) -> Vec<TransitionEvent> {
    let failed_before = previous_poll_failure(previous.map(WatchStatus::head));
    match outcome {
        PollOutcome::Success(_) => {
            let before = previous.map(|p| &*p.hosts).unwrap_or_default();
            let mut out: Vec<_> = failed_before
                .map(|reason| events::poll_recovered(reason.as_str()))
                .into_iter()
                .collect();
            out.extend(events::host_events(before, &status.hosts));
            out
        }
        PollOutcome::Failed(_) | PollOutcome::CredentialsProblem { .. }
            if failed_before.is_none() =>
        {
            let message = find(&status.head().conditions, ConditionType::Ready)
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

/// The new status after one reconcile; see [`StatusUpdate`].
///
/// - Success: hosts rebuilt in target order (`found: false` for ids HSS did not return), each
///   host's `lastChangeTime` kept unless its data changed, summary recomputed, `Ready=True`.
/// - Failed / credentials problem / invalid spec / endpoint refused / suspended: previous hosts,
///   summary, `lastSyncTime` and `lastRequestIds` kept; the conditions say what happened. A
///   node-backed watch drops the hosts whose Node left (the others' data stays good) and names
///   the kept hosts after their Nodes.
/// - Pending: the first status (all conditions Unknown, reason `Pending`) when there is none;
///   with a previous status of an older generation, `Ready=Unknown` reason `Polling`; with an
///   up-to-date previous status, the watch's conditions stay and only what the Nodes and the
///   contributed conditions say is refreshed (written only when that changed something).
/// - `lastTransitionTime` moves only when a condition's status changes.
/// - `lastSyncTime` (with `lastRequestIds`) is set to `now` on a successful poll only when the
///   status changed otherwise or is older than `heartbeat`, so idle polls write nothing.
/// - A failing poll writes when its conditions change, including a new request id in the message.
pub fn compute_status(input: StatusInput<'_>) -> StatusUpdate {
    let StatusInput {
        generation,
        previous: input_previous,
        outcome,
        targets,
        contributed,
        now,
        heartbeat,
        effective_interval,
        achieved_interval,
    } = input;
    let now = truncate_to_second(now);
    let now_time = Time(now);
    let empty = WatchStatus::default();
    let previous = input_previous.map(|p| &**p);
    let base: &WatchStatus = previous.unwrap_or(&empty);
    let previous_head = previous.map(WatchStatus::head);
    let new_generation = previous_head.is_some_and(|p| p.observed_generation != generation);

    let (mut hosts, summary) = match &outcome {
        PollOutcome::Success(answer) => {
            let hosts = rebuild_hosts(&targets.hosts, answer, &base.hosts, now);
            let summary = summarize(&hosts);
            (hosts, Some(summary))
        }
        PollOutcome::NoHosts => (Vec::new(), Some(summarize(&[]))),
        _ => {
            let mut hosts = base.hosts.to_vec();
            let summary = match drop_departed(&mut hosts, targets) {
                true => base.head().summary.as_ref().map(|_| summarize(&hosts)),
                false => base.head().summary.clone(),
            };
            (hosts, summary)
        }
    };
    name_kept_hosts(&mut hosts, targets);
    let interval = interval_report(effective_interval, achieved_interval, previous_head);
    let mut updates = watch_conditions(&Observation {
        outcome: &outcome,
        previous: previous_head,
        new_generation,
        summary: summary.as_ref(),
        interval: &interval,
        target: effective_interval,
        nodes: targets.nodes.as_ref(),
    });
    updates.extend(contributed);
    let nothing_new = matches!(outcome, PollOutcome::Pending) && previous.is_some();
    let mut head = HostRiskWatchStatus {
        observed_generation: generation,
        conditions: merge_conditions(&base.head().conditions, updates, generation, &now_time),
        // Nothing new says nothing about the interval: what is shown stays.
        effective_interval: if nothing_new && !new_generation {
            base.head().effective_interval.clone()
        } else {
            Some(interval.effective.clone())
        },
        summary,
        ..base.head().clone()
    };
    apply_view(&mut head, targets);
    let mut status = WatchStatus::new(head, hosts);
    let events = outcome_events(&outcome, previous, &status);

    let mut needs_write = previous.is_none() || base.differs_ignoring_timestamps(&status);
    if let PollOutcome::Success(answer) = &outcome {
        let heartbeat_due = match &base.head().last_sync_time {
            None => true,
            Some(last) => {
                let heartbeat = SignedDuration::try_from(heartbeat).unwrap_or(SignedDuration::MAX);
                now.duration_since(last.0) >= heartbeat
            }
        };
        if needs_write || heartbeat_due {
            let head = status.head_mut();
            head.last_sync_time = Some(now_time);
            head.last_request_ids = answer
                .request_ids
                .iter()
                .take(MAX_REQUEST_IDS)
                .map(|id| id.chars().take(MAX_REQUEST_ID_LEN).collect())
                .collect();
            needs_write = true;
        }
    }
    // Equal ignoring timestamps, and no timestamp was due: hand back the stored status itself,
    // so a caller comparing old and new sees no change at all.
    let status = match input_previous {
        Some(previous) if !needs_write => Arc::clone(previous),
        _ => Arc::new(status),
    };
    StatusUpdate {
        status,
        events,
        needs_write,
    }
}

#[cfg(test)]
#[path = "compute_tests/mod.rs"]
mod tests;
