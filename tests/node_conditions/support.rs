//! Helpers of the Node-condition rows: the operator with `--node-watches --node-conditions`,
//! Nodes with simulated hosts in a given HSS state, and reads of what the Nodes carry.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hostrisk_operator::hss::model::{AgentStatus, DetectResult, HssEdition, InstallResultCode};
use hostrisk_operator::nodes::policy::NodeConditionPolicy;
use hostrisk_operator::nodes::taints::{Problem, ProblemSet, TaintBudget, TaintPolicy};
use hostrisk_sim::hss::SimHost;
use k8s_openapi::api::core::v1::{Node, NodeCondition, Taint};
use k8s_openapi::api::events::v1::Event;
use kube::api::{ListParams, Patch, PatchParams};
use kube::Api;
use serde_json::json;

use crate::harness::{Harness, Options, NS};

pub const TYPES: [&str; 3] = [
    "HostSecurityAgentOffline",
    "HostSecurityUnprotected",
    "HostSecurityAtRisk",
];

/// Conditions driven by the watches of [`NS`], no taints.
pub fn conditions() -> NodeConditionPolicy {
    NodeConditionPolicy {
        enabled: true,
        namespaces: vec![NS.to_string()],
        taints: TaintPolicy::default(),
    }
}

/// [`conditions`] with taints of `problems` after `after`, at most `budget`.
pub fn taints(problems: &[Problem], after: Duration, budget: TaintBudget) -> NodeConditionPolicy {
    NodeConditionPolicy {
        taints: TaintPolicy {
            problems: ProblemSet::of(problems.iter().copied()),
            after,
            budget,
            ..TaintPolicy::default()
        },
        ..conditions()
    }
}

pub fn options(policy: NodeConditionPolicy) -> Options {
    Options {
        node_watches: true,
        node_conditions: policy,
        ..Options::controller()
    }
}

/// The HSS states the rows put hosts in.
#[derive(Clone, Copy, Debug)]
pub enum State {
    Healthy,
    Offline,
    Unprotected,
    AtRisk,
    NotInstalled,
    Scanning,
}

pub fn sim_host(id: &str, state: State) -> SimHost {
    let installed = |agent, edition, detect, counts| {
        SimHost::installed(id, "0", agent, edition, detect, counts)
    };
    match state {
        State::Healthy => installed(
            AgentStatus::Online,
            HssEdition::Enterprise,
            DetectResult::Clean,
            [10, 0, 0, 0],
        ),
        State::Offline => installed(
            AgentStatus::Offline,
            HssEdition::Enterprise,
            DetectResult::Clean,
            [10, 0, 0, 0],
        ),
        State::Unprotected => installed(
            AgentStatus::Online,
            HssEdition::Null,
            DetectResult::Undetected,
            [10, 0, 0, 0],
        ),
        State::AtRisk => installed(
            AgentStatus::Online,
            HssEdition::Enterprise,
            DetectResult::Risk,
            [10, 3, 2, 1],
        ),
        State::NotInstalled => SimHost::without_agent(
            id,
            "0",
            AgentStatus::NotInstalled,
            Some(InstallResultCode::InstallFailed),
        ),
        State::Scanning => installed(
            AgentStatus::Online,
            HssEdition::Enterprise,
            DetectResult::Scanning,
            [10, 0, 0, 0],
        ),
    }
}

/// A Node `name` whose host `id` is in `state` (the simulator knows it), with `labels`.
pub async fn node_in_state(
    h: &Harness,
    name: &str,
    id: &str,
    state: State,
    labels: &[(&str, &str)],
) {
    h.sim.set_host(sim_host(id, state));
    h.create_node(name, labels, Some(&format!("huaweicloud:///{id}")))
        .await;
}

/// Puts host `id` in `state` and asks the watch for a poll now.
pub async fn change_host(h: &Harness, watch: &str, id: &str, state: State, refresh: &str) {
    h.sim.set_host(sim_host(id, state));
    h.request_refresh(NS, watch, refresh).await;
}

/// The operator's conditions on Node `name`, by type.
pub async fn ours(h: &Harness, name: &str) -> BTreeMap<String, NodeCondition> {
    let node = h.nodes().get(name).await.expect("the Node");
    ours_of(&node)
}

pub fn ours_of(node: &Node) -> BTreeMap<String, NodeCondition> {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|c| TYPES.contains(&c.type_.as_str()))
        .map(|c| (c.type_.clone(), c))
        .collect()
}

/// `(status, reason)` of the three types on `node`, in [`TYPES`] order (`("", "")`: absent).
pub fn summary(conditions: &BTreeMap<String, NodeCondition>) -> [(String, String); 3] {
    TYPES.map(|t| {
        conditions
            .get(t)
            .map(|c| (c.status.clone(), c.reason.clone().unwrap_or_default()))
            .unwrap_or_default()
    })
}

pub fn pair(status: &str, reason: &str) -> (String, String) {
    (status.to_string(), reason.to_string())
}

/// Every taint of Node `name`.
pub async fn taints_of(h: &Harness, name: &str) -> Vec<Taint> {
    let node = h.nodes().get(name).await.expect("the Node");
    node.spec.and_then(|s| s.taints).unwrap_or_default()
}

/// `key=value:effect` of every taint of Node `name`.
pub async fn taint_texts(h: &Harness, name: &str) -> Vec<String> {
    taints_of(h, name)
        .await
        .into_iter()
        .map(|t| format!("{}={}:{}", t.key, t.value.unwrap_or_default(), t.effect))
        .collect()
}

/// Waits (up to 20 s) until Node `name` satisfies `check`; returns it.
pub async fn wait_node(h: &Harness, name: &str, what: &str, check: impl Fn(&Node) -> bool) -> Node {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let node = h.nodes().get(name).await.expect("the Node");
        if check(&node) {
            return node;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what} on Node {name}; it has {:#?} and taints {:#?}",
            ours_of(&node),
            node.spec.as_ref().and_then(|s| s.taints.as_ref())
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until Node `name` carries the three conditions with these `(status, reason)`s.
pub async fn wait_conditions(h: &Harness, name: &str, want: [(&str, &str); 3]) -> Node {
    let want = want.map(|(s, r)| pair(s, r));
    wait_node(h, name, &format!("{want:?}"), |n| {
        summary(&ours_of(n)) == want
    })
    .await
}

/// Waits until Node `name` carries none of the operator's conditions.
pub async fn wait_no_conditions(h: &Harness, name: &str) -> Node {
    wait_node(h, name, "no HostSecurity* condition", |n| {
        ours_of(n).is_empty()
    })
    .await
}

/// The keys of the operator's taints on a Node.
pub fn our_taint_keys(node: &Node) -> Vec<String> {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t.value.as_deref() == Some("hostrisk-operator"))
        .map(|t| t.key)
        .collect()
}

/// Events (events.k8s.io) about Node `name`, by reason, oldest first.
pub async fn node_events(h: &Harness, name: &str) -> Vec<Event> {
    let events: Api<Event> = Api::namespaced(h.client.clone(), "default");
    events
        .list(&ListParams::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter(|e| {
            e.regarding.as_ref().is_some_and(|r| {
                r.kind.as_deref() == Some("Node") && r.name.as_deref() == Some(name)
            })
        })
        .collect()
}

pub fn reasons(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| e.reason.clone().unwrap_or_default())
        .collect()
}

/// Waits until an Event with `reason` regards Node `name`; returns its note.
pub async fn wait_node_event(h: &Harness, name: &str, reason: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let events = node_events(h, name).await;
        if let Some(event) = events.iter().find(|e| e.reason.as_deref() == Some(reason)) {
            return event.note.clone().unwrap_or_default();
        }
        assert!(
            Instant::now() < deadline,
            "no {reason} Event on Node {name}: {:?}",
            reasons(&events)
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The kubelet's status update of its `Ready` condition (a strategic merge patch of its own
/// entry, as the kubelet sends it).
pub async fn kubelet_ready(h: &Harness, name: &str, status: &str) -> Node {
    let patch = json!({"status": {"conditions": [{
        "type": "Ready", "status": status, "reason": "KubeletReady",
        "message": "kubelet is posting ready status",
        "lastHeartbeatTime": jiff::Timestamp::now().to_string(),
        "lastTransitionTime": "2024-05-01T10:00:00Z",
    }]}});
    let params = PatchParams {
        field_manager: Some("kubelet".into()),
        ..PatchParams::default()
    };
    h.nodes()
        .patch_status(name, &params, &Patch::Strategic(&patch))
        .await
        .expect("the kubelet's status update")
}

/// Condition writes (`patch nodes/status`) the stand-in answered.
pub fn status_patches(h: &Harness) -> u64 {
    h.kube.request_count("patch", "nodes", "status")
}

/// Writes to the Nodes' main resource (taints).
pub fn node_patches(h: &Harness) -> u64 {
    h.kube.request_count("patch", "nodes", "")
}
