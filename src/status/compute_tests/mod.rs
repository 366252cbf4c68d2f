//! Tests of `compute_status`, with shared builders.

use super::*;
use crate::crd::spec::CredentialsSecretRef;
use crate::hss::model::{AgentStatus, DetectResult, HostRisk, ProtectStatus};
use crate::status::events::EventType;

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
    PollOutcome::Success(HostsRiskResult {
        hosts: hosts
            .iter()
            .map(|(id, r)| (id.to_string(), r.clone()))
            .collect(),
        not_found: missing.iter().map(|s| s.to_string()).collect(),
        request_ids: vec![request_id.to_string()],
    })
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
    find(&status.conditions, type_).expect("condition present")
}

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

fn reasons(update: &StatusUpdate) -> Vec<&'static str> {
    update.events.iter().map(|e| e.reason).collect()
}

mod failures;
mod nodes;
mod quota;
mod successes;
