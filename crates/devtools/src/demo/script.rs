//! How the demo plays its transitions (listed in [`super::steps`]): hosts change in the HSS
//! simulator (through its Rust API), then the watch gets a `hostrisk.io/refresh-requested-at`
//! annotation so the operator polls at once instead of at its interval; one step fixes a broken
//! Secret instead, which the operator notices through its watch on Secrets; two add and remove a
//! Node, which the operator notices through its watch on Nodes (the node-backed watch's hosts
//! follow). After each step the script reads the watch back from the API server until the change
//! shows in its status, and the Nodes until their `HostSecurity*` conditions and taints show it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Secret};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Resource};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::manifests::names;
use super::nodes::{wait_for_nodes, NodeExpect};
use super::view::Notice;
use super::DemoError;
use hostrisk_operator::crd::{HostRiskWatch, HostRiskWatchStatus, HostStatus, REFRESH_ANNOTATION};
use hostrisk_sim::hss::{HssSimulator, SimHost};
use hostrisk_sim::kube::StandinApiServer;

/// How often the script reads a watch back while waiting for a change.
const READ_BACK_EVERY: Duration = Duration::from_millis(100);

/// How long after an idle poll the script checks that no status write followed.
const IDLE_SETTLE: Duration = Duration::from_millis(500);

/// What a step does.
#[derive(Debug, Clone)]
pub enum Action {
    /// Replace hosts in the simulator, then request a refresh of the watch and of `also`, the
    /// other watches that list those hosts.
    SetHosts {
        hosts: Vec<SimHost>,
        also: Vec<&'static str>,
    },
    /// Merge-patch the named Secret (the operator watches Secrets; no annotation needed).
    PatchSecret { name: String, patch: Value },
    /// Create a Node (a worker joining the cluster); no annotation needed.
    AddNode(Value),
    /// Delete the named Node (a worker leaving).
    DeleteNode(&'static str),
    /// Request a refresh with nothing changed: the operator polls HSS and must write nothing.
    /// Checked with the simulator's call counter of `identity` and the stand-in's count of
    /// status writes (both server-side request counters, like an API server's audit log).
    RefreshUnchanged { identity: &'static str },
}

/// What the watch's status must show once the step took effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// `status.hosts[hostId].<field>` equals the value (field in camelCase).
    Host {
        host_id: String,
        field: &'static str,
        value: String,
    },
    /// The `Ready` condition has this status.
    Ready(&'static str),
    /// HSS answered at least once: the status has a summary.
    Polled,
    /// `status.hosts` has no entry for this id.
    NoHost(String),
}

impl Expect {
    pub fn holds(&self, status: &HostRiskWatchStatus) -> bool {
        match self {
            Self::Host {
                host_id,
                field,
                value,
            } => status
                .hosts
                .iter()
                .find(|h| &h.host_id == host_id)
                .and_then(|h| serde_json::to_value(h).ok())
                .and_then(|h| h.get(*field).cloned())
                .is_some_and(|v| v.as_str() == Some(value.as_str())),
            Self::Ready(want) => ready_status(status) == Some(*want),
            Self::Polled => status.summary.is_some(),
            Self::NoHost(host_id) => !status.hosts.iter().any(|h| &h.host_id == host_id),
        }
    }
}

/// One transition.
#[derive(Debug, Clone)]
pub struct Step {
    pub title: String,
    /// The watch (in the demo namespace) whose status shows the change.
    pub watch: &'static str,
    pub action: Action,
    pub expect: Vec<Expect>,
    /// What the Nodes show once the node-backed watch took the change in.
    pub nodes: Vec<NodeExpect>,
}

/// How a step went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepOutcome {
    pub title: String,
    pub watch: String,
    /// Time from the change to its appearance in the watch's stored status (and on the Nodes,
    /// for a step that expects something of them).
    pub seen_after: Option<Duration>,
    /// The lines of the Nodes the step expected something of, as read back last.
    pub nodes: Vec<String>,
}

/// Status of the `Ready` condition.
pub fn ready_status(status: &HostRiskWatchStatus) -> Option<&str> {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status.as_str())
}

/// `status.hosts[host_id].<field>` equals `value`.
pub fn expect_host(host_id: &str, field: &'static str, value: &str) -> Expect {
    Expect::Host {
        host_id: host_id.to_string(),
        field,
        value: value.to_string(),
    }
}

/// Plays `steps`, one every `gap` (the first after half a gap, so the first table is read
/// before anything changes), stopping at `deadline`; returns what happened to each step played.
pub async fn play(
    hss: &HssSimulator,
    kube: &StandinApiServer,
    client: &kube::Client,
    steps: Vec<Step>,
    gap: Duration,
    deadline: Instant,
    notices: &mpsc::UnboundedSender<Notice>,
) -> Result<Vec<StepOutcome>, DemoError> {
    let watches: Api<HostRiskWatch> = Api::namespaced(client.clone(), names::NAMESPACE);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), names::NAMESPACE);
    let nodes: Api<Node> = Api::all(client.clone());
    let mut outcomes = Vec::new();
    tokio::time::sleep_until((Instant::now() + gap / 2).min(deadline).into()).await;
    for step in steps {
        let started = Instant::now();
        if started + gap / 2 > deadline {
            break;
        }
        let how = match &step.action {
            Action::SetHosts { also, .. } => format!(
                "simulator changed; annotated {} {REFRESH_ANNOTATION}",
                std::iter::once(&step.watch)
                    .chain(also)
                    .map(|w| format!("{}/{w}", names::NAMESPACE))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Action::PatchSecret { .. } => "Secret patched; the operator watches Secrets".into(),
            Action::AddNode(_) => "Node created; the operator watches Nodes".into(),
            Action::DeleteNode(_) => "Node deleted; the operator watches Nodes".into(),
            Action::RefreshUnchanged { .. } => format!(
                "annotated {}/{} {REFRESH_ANNOTATION}; idle polls write nothing",
                names::NAMESPACE,
                step.watch
            ),
        };
        // The viewer may be gone when output failed; the demo then ends anyway.
        let _ = notices.send(Notice::Step {
            title: step.title.clone(),
            how,
        });
        let changed_at = Instant::now();
        let until = (started + gap).min(deadline);
        let mut read_back = None;
        let seen_after = match &step.action {
            Action::SetHosts { hosts, also } => {
                for host in hosts {
                    hss.set_host(host.clone());
                }
                for watch in std::iter::once(&step.watch).chain(also) {
                    request_refresh(&watches, watch).await?;
                }
                read_back = wait_for_status(&watches, step.watch, &step.expect, until).await?;
                read_back.as_ref().map(|(after, _)| *after)
            }
            Action::PatchSecret { name, patch } => {
                secrets
                    .patch(name, &PatchParams::default(), &Patch::Merge(patch))
                    .await?;
                wait_for(&watches, step.watch, &step.expect, until).await?
            }
            Action::AddNode(node) => {
                let node: Node = serde_json::from_value(node.clone())
                    .map_err(|error| DemoError::Fleet(format!("the joining Node: {error}")))?;
                nodes.create(&PostParams::default(), &node).await?;
                read_back = wait_for_status(&watches, step.watch, &step.expect, until).await?;
                read_back.as_ref().map(|(after, _)| *after)
            }
            Action::DeleteNode(name) => {
                nodes.delete(name, &DeleteParams::default()).await?;
                wait_for(&watches, step.watch, &step.expect, until).await?
            }
            Action::RefreshUnchanged { identity } => {
                let calls = hss.counters().calls_by(identity);
                let writes = kube.status_writes(HostRiskWatch::plural(&()).as_ref());
                request_refresh(&watches, step.watch).await?;
                let polled = wait_until(until, || hss.counters().calls_by(identity) > calls).await;
                tokio::time::sleep(
                    IDLE_SETTLE.min(until.saturating_duration_since(Instant::now())),
                )
                .await;
                let new_writes = kube
                    .status_writes(HostRiskWatch::plural(&()).as_ref())
                    .saturating_sub(writes);
                let _ = notices.send(Notice::Idle {
                    polled: polled.is_some(),
                    status_writes: new_writes,
                });
                polled.filter(|_| new_writes == 0)
            }
        }
        .map(|_| changed_at.elapsed());
        if !matches!(step.action, Action::RefreshUnchanged { .. }) {
            let hosts = read_back
                .map(|(_, status)| changed_hosts(&status, &step.expect))
                .unwrap_or_default();
            let _ = notices.send(Notice::Seen {
                watch: step.watch.to_string(),
                after: seen_after,
                hosts,
            });
        }
        let mut seen_after = seen_after;
        let mut node_lines = Vec::new();
        if seen_after.is_some() && !step.nodes.is_empty() {
            let (lines, unmet) = wait_for_nodes(&nodes, &step.nodes, until).await?;
            let missing: Vec<String> = unmet.iter().map(NodeExpect::describe).collect();
            seen_after = missing.is_empty().then(|| changed_at.elapsed());
            node_lines.clone_from(&lines);
            let _ = notices.send(Notice::Nodes { lines, missing });
        }
        outcomes.push(StepOutcome {
            title: step.title,
            watch: step.watch.to_string(),
            seen_after,
            nodes: node_lines,
        });
        tokio::time::sleep_until(until.into()).await;
    }
    Ok(outcomes)
}

/// Checks `done` every [`READ_BACK_EVERY`] until it holds (returns how long that took) or `until`.
async fn wait_until(until: Instant, done: impl Fn() -> bool) -> Option<Duration> {
    let started = Instant::now();
    loop {
        if done() {
            return Some(started.elapsed());
        }
        if Instant::now() + READ_BACK_EVERY > until {
            return None;
        }
        tokio::time::sleep(READ_BACK_EVERY).await;
    }
}

/// Sets the refresh annotation to the current time, as `kubectl annotate --overwrite` would.
pub async fn request_refresh(watches: &Api<HostRiskWatch>, name: &str) -> Result<(), DemoError> {
    let mut annotations = BTreeMap::new();
    annotations.insert(REFRESH_ANNOTATION, jiff::Timestamp::now().to_string());
    let patch = json!({"metadata": {"annotations": annotations}});
    watches
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

/// The entries of `status.hosts` that `expect` names, each with the fields it expected.
pub fn changed_hosts(
    status: &HostRiskWatchStatus,
    expect: &[Expect],
) -> Vec<(HostStatus, Vec<&'static str>)> {
    let mut hosts: Vec<(HostStatus, Vec<&'static str>)> = Vec::new();
    for expectation in expect {
        let Expect::Host { host_id, field, .. } = expectation else {
            continue;
        };
        if let Some((_, fields)) = hosts.iter_mut().find(|(h, _)| &h.host_id == host_id) {
            fields.push(field);
        } else if let Some(host) = status.hosts.iter().find(|h| &h.host_id == host_id) {
            hosts.push((host.clone(), vec![*field]));
        }
    }
    hosts
}

/// Reads the watch back until every expectation holds (returns how long it waited) or `until`.
pub async fn wait_for(
    watches: &Api<HostRiskWatch>,
    name: &str,
    expect: &[Expect],
    until: Instant,
) -> Result<Option<Duration>, DemoError> {
    Ok(wait_for_status(watches, name, expect, until)
        .await?
        .map(|(after, _)| after))
}

/// [`wait_for`], also returning the status that met the expectations.
pub async fn wait_for_status(
    watches: &Api<HostRiskWatch>,
    name: &str,
    expect: &[Expect],
    until: Instant,
) -> Result<Option<(Duration, HostRiskWatchStatus)>, DemoError> {
    let started = Instant::now();
    loop {
        let watch = watches.get(name).await?;
        let status = watch.status.unwrap_or_default();
        if expect.iter().all(|e| e.holds(&status)) {
            return Ok(Some((started.elapsed(), status)));
        }
        if Instant::now() + READ_BACK_EVERY > until {
            return Ok(None);
        }
        tokio::time::sleep(READ_BACK_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hostrisk_operator::crd::HostStatus;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

    fn status(agent: &str, ready: &str) -> HostRiskWatchStatus {
        HostRiskWatchStatus {
            hosts: vec![HostStatus {
                host_id: "h".into(),
                found: true,
                agent_status: Some(agent.to_string().into()),
                ..Default::default()
            }],
            conditions: vec![Condition {
                type_: "Ready".into(),
                status: ready.into(),
                reason: "Synced".into(),
                message: String::new(),
                last_transition_time: Time(jiff::Timestamp::UNIX_EPOCH),
                observed_generation: None,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn changed_hosts_are_the_expected_ones_with_their_fields() {
        let status = status("offline", "True");
        let expect = [
            expect_host("h", "agentStatus", "offline"),
            expect_host("h", "detectResult", "risk"),
            expect_host("gone", "agentStatus", "online"),
            Expect::Ready("True"),
        ];
        let hosts = changed_hosts(&status, &expect);
        assert_eq!(hosts.len(), 1);
        assert_eq!(hosts[0].0.host_id, "h");
        assert_eq!(hosts[0].1, ["agentStatus", "detectResult"]);
    }

    #[test]
    fn expectations_read_host_fields_and_ready() {
        let offline = expect_host("h", "agentStatus", "offline");
        assert!(offline.holds(&status("offline", "True")));
        assert!(!offline.holds(&status("online", "True")));
        assert!(!expect_host("other", "agentStatus", "offline").holds(&status("offline", "True")));
        assert!(Expect::Ready("True").holds(&status("online", "True")));
        assert!(!Expect::Ready("True").holds(&status("online", "False")));
        assert!(!Expect::Ready("True").holds(&HostRiskWatchStatus::default()));
        assert!(!Expect::Polled.holds(&status("online", "True")));
        let polled = HostRiskWatchStatus {
            summary: Some(Default::default()),
            ..Default::default()
        };
        assert!(Expect::Polled.holds(&polled));
    }
}
