//! Tests of `compute_status`, with shared builders. They speak the CRD's status shape: the
//! helpers here turn it into records and back around the computation.

use super::*;
use crate::crd::spec::{CredentialsSecretRef, HostRiskWatchSpec};
use crate::hss::model::{AgentStatus, DetectResult, HostRisk, HostsRiskResult, ProtectStatus};
use crate::status::conditions::Reason;
use crate::status::events::EventType;
use crate::status::hosts::PollAnswer;
use crate::status::node_status::nodes_condition;
use crate::status::record::{HostData, HostRecord};

const READY: &str = "Ready";
const CREDENTIALS_VALID: &str = "CredentialsValid";
const API_REACHABLE: &str = "ApiReachable";
const NODES_RESOLVED: &str = "NodesResolved";

/// What the computation is given, in the CRD's shape.
struct StatusInput<'a> {
    spec: &'a HostRiskWatchSpec,
    generation: Option<i64>,
    previous: Option<&'a HostRiskWatchStatus>,
    outcome: PollOutcome,
    now: Timestamp,
    heartbeat: Duration,
    effective_interval: Duration,
}

/// What it computed, in the CRD's shape.
#[derive(Debug)]
struct StatusUpdate {
    status: HostRiskWatchStatus,
    events: Vec<TransitionEvent>,
    needs_write: bool,
}

fn compute_status(input: StatusInput<'_>) -> StatusUpdate {
    compute_status_with_quota(input, None)
}

fn compute_status_with_quota(input: StatusInput<'_>, achieved: Option<Duration>) -> StatusUpdate {
    let targets = Targets::listed(&input.spec.host_ids);
    compute_status_for(input, achieved, &targets)
}

/// The computation for `targets`, with the `NodesResolved` its node source would contribute.
fn compute_status_for(
    input: StatusInput<'_>,
    achieved: Option<Duration>,
    targets: &Targets,
) -> StatusUpdate {
    let previous = input
        .previous
        .map(|p| std::sync::Arc::new(WatchStatus::from_crd(p, |_| None)));
    let unavailable = match &input.outcome {
        PollOutcome::NodesUnavailable { reason, message } => Some((*reason, message.as_str())),
        _ => None,
    };
    let update = super::compute_status(super::StatusInput {
        generation: input.generation,
        previous: previous.as_ref(),
        outcome: input.outcome.clone(),
        targets,
        contributed: nodes_condition(targets, unavailable).into_iter().collect(),
        now: input.now,
        heartbeat: input.heartbeat,
        effective_interval: input.effective_interval,
        achieved_interval: achieved,
    });
    StatusUpdate {
        status: update.status.to_crd(),
        events: update.events,
        needs_write: update.needs_write,
    }
}

fn differs_ignoring_timestamps(a: &HostRiskWatchStatus, b: &HostRiskWatchStatus) -> bool {
    WatchStatus::from_crd(a, |_| None)
        .differs_ignoring_timestamps(&WatchStatus::from_crd(b, |_| None))
}

/// The poll answer HSS's `result` makes.
fn answer_of(result: HostsRiskResult) -> PollAnswer {
    let found = result
        .hosts
        .iter()
        .map(|(id, risk)| HostRecord::new(id.as_str().into(), HostData::from_risk(risk)));
    let missing = result
        .not_found
        .iter()
        .map(|id| HostRecord::new(id.as_str().into(), HostData::not_found()));
    PollAnswer {
        hosts: found.chain(missing).collect(),
        request_ids: result.request_ids,
    }
}

const MINUTE: i64 = 60;

fn spec(ids: &[&str]) -> HostRiskWatchSpec {
    HostRiskWatchSpec {
        project_id: "p".into(),
        region: Some("ap-southeast-1".into()),
        endpoint: None,
        enterprise_project_id: None,
        host_ids: ids.iter().map(|s| s.to_string()).collect(),
        node_selector: None,
        node_host_id_from: None,
        credentials_secret_ref: Some(CredentialsSecretRef { name: "s".into() }),
        workload_identity: None,
        interval: None,
        suspend: false,
    }
}

fn at(minutes: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + minutes * MINUTE).expect("valid")
}

fn risk(agent: AgentStatus, protect: ProtectStatus, detect: DetectResult) -> HostRisk {
    HostRisk {
        agent_status: Some(agent),
        protect_status: Some(protect),
        detect_result: Some(detect),
        vulnerability: Some(1),
        ..HostRisk::default()
    }
}

fn healthy() -> HostRisk {
    risk(
        AgentStatus::Online,
        ProtectStatus::Opened,
        DetectResult::Clean,
    )
}

fn success(hosts: &[(&str, HostRisk)], missing: &[&str], request_id: &str) -> PollOutcome {
    PollOutcome::Success(answer_of(HostsRiskResult {
        hosts: hosts
            .iter()
            .map(|(id, r)| (id.to_string(), r.clone()))
            .collect(),
        not_found: missing.iter().map(|s| s.to_string()).collect(),
        request_ids: vec![request_id.to_string()],
    }))
}

fn throttled(request_id: &str) -> PollOutcome {
    PollOutcome::Failed(PollFailure {
        reason: "Throttled",
        message: "HSS answered 429 APIGW.0308".into(),
        request_id: Some(request_id.into()),
        auth_failure: false,
        retry_after: None,
    })
}

fn run(
    spec: &HostRiskWatchSpec,
    generation: i64,
    previous: Option<&HostRiskWatchStatus>,
    outcome: PollOutcome,
    minute: i64,
) -> StatusUpdate {
    compute_status(StatusInput {
        spec,
        generation: Some(generation),
        previous,
        outcome,
        now: at(minute),
        heartbeat: Duration::from_secs(30 * 60),
        effective_interval: Duration::from_secs(600),
    })
}

fn condition<'a>(status: &'a HostRiskWatchStatus, type_: &str) -> &'a Condition {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .expect("condition present")
}

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

fn reasons(update: &StatusUpdate) -> Vec<&'static str> {
    update.events.iter().map(|e| e.reason).collect()
}

mod failures;
mod nodes;
mod quota;
mod successes;
