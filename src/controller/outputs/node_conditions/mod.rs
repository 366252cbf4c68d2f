//! The Node-conditions output: node-backed watches in the allowed namespaces drive the
//! `HostSecurityAgentOffline`, `HostSecurityUnprotected` and `HostSecurityAtRisk` conditions
//! (and, opt-in, budgeted taints) of the Nodes they cover.
//!
//! [`NodeConditions`] is the seam: `publish` hands each driving watch's view (its status,
//! shared, and its Nodes) to a cluster-wide writer task keyed by Node ([`task`], over the
//! state of [`index`], writing through [`writer`]); the Node watch hands it every Node's marks
//! (its [`NodeObserver`]); `forget` releases a watch's Nodes. Its contributed condition,
//! `NodeConditionsDriven`, says in each node-backed watch's status whether it drives
//! conditions, and which Nodes the taint budget holds back.
//!
//! With `--node-conditions` off but the Nodes watched, the task still runs: Nodes carrying this
//! operator's conditions or taints from an earlier run lose them once the watches had their
//! say (and the grants allow it).

mod index;
mod task;
mod writer;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::channel::mpsc;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use kube::runtime::events::Reporter;

use super::{Output, OutputRun, OutputStarted, WatchView};
use crate::controller::error::Result;
use crate::controller::hosts::node_watch::NodeObserver;
use crate::controller::hosts::nodes::NodeHosts;
use crate::controller::hosts::HostSource;
use crate::controller::watches::WatchScoped;
use crate::crd::{HostRiskWatch, WatchKey};
use crate::metrics::Metrics;
use crate::nodes::marks::NodeMarks;
use crate::nodes::policy::NodeConditionPolicy;
use crate::status::conditions::ConditionStatus;
use crate::status::{ConditionType, ConditionUpdate, NodeName, Reason};
use index::{Coverage, Covered};
use task::{Aggregator, Reports, Update};
use writer::NodeWriter;

pub struct NodeConditions {
    policy: NodeConditionPolicy,
    /// `--status-heartbeat`: how often `lastHeartbeatTime` may be refreshed.
    heartbeat: Duration,
    reporter: Reporter,
    metrics: Metrics,
    /// Whether the Nodes are watched at all.
    nodes: Arc<NodeHosts>,
    /// To the running task (none between runs).
    sender: Mutex<Option<mpsc::UnboundedSender<Update>>>,
    reports: Arc<Reports>,
}

impl NodeConditions {
    pub fn new(
        policy: NodeConditionPolicy,
        heartbeat: Duration,
        nodes: Arc<NodeHosts>,
        reporter: Reporter,
        metrics: Metrics,
    ) -> Self {
        Self {
            policy,
            heartbeat,
            reporter,
            metrics,
            nodes,
            sender: Mutex::default(),
            reports: Arc::default(),
        }
    }

    // A poisoned lock only means a panic while swapping the sender.
    fn sender(&self) -> MutexGuard<'_, Option<mpsc::UnboundedSender<Update>>> {
        self.sender.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn send(&self, update: Update) {
        if let Some(sender) = self.sender().as_ref() {
            // Only fails once the task ended (shutdown): nothing is to be written then.
            let _ = sender.unbounded_send(update);
        }
    }

    /// The watch's view as the task takes it.
    fn coverage(view: &WatchView<'_>) -> Coverage {
        let nodes = view.targets.nodes.as_ref().map(|_| {
            let records: std::collections::HashMap<&str, u32> = view
                .status
                .hosts
                .iter()
                .enumerate()
                .map(|(i, host)| (&*host.id, i as u32))
                .collect();
            view.targets
                .hosts
                .iter()
                .filter_map(|target| {
                    Some(Covered {
                        node: NodeName::clone(target.node_name.as_ref()?),
                        host: target.host_id.clone(),
                        record: records.get(&*target.host_id).copied(),
                    })
                })
                .collect()
        });
        Coverage {
            key: view.key.clone(),
            uid: view.uid().map(str::to_string),
            status: Arc::clone(view.status),
            fetched: view.fetched,
            nodes,
        }
    }

    /// The watch's contributed condition (see the module docs).
    fn driven(&self, key: &WatchKey, suspended: bool) -> ConditionUpdate {
        let type_ = ConditionType::NodeConditionsDriven;
        if !self.policy.allows(&key.namespace) {
            return ConditionUpdate::set(
                type_,
                ConditionStatus::False,
                Reason::NamespaceNotAllowed,
                format!(
                    "only node-backed watches in the namespaces {} (--node-conditions-namespaces) \
                     set conditions on their Nodes; this watch's data reaches no Node",
                    self.policy.describe_namespaces()
                ),
            );
        }
        if suspended {
            return ConditionUpdate::set(
                type_,
                ConditionStatus::False,
                Reason::Suspended,
                "suspended: its Nodes lose the HostSecurity* conditions it set, unless another \
                 watch covers them",
            );
        }
        let driving = "sets HostSecurityAgentOffline, HostSecurityUnprotected and \
                       HostSecurityAtRisk on the Nodes it covers (a Node covered by several \
                       watches shows the newest data)";
        match self.reports.get(key) {
            Some(report) => ConditionUpdate::set(
                type_,
                ConditionStatus::True,
                Reason::TaintsHeldBack,
                format!(
                    "{driving}; the taint budget (--node-taint-max={}: {} of {} covered Nodes) \
                     holds back {} Node(s): {}",
                    self.policy.taints.budget,
                    report.limit,
                    report.covered,
                    report.nodes.len(),
                    report.names()
                ),
            ),
            None => ConditionUpdate::set(type_, ConditionStatus::True, Reason::Driving, driving),
        }
    }
}

impl WatchScoped for NodeConditions {
    fn forget(&self, key: &WatchKey) {
        self.reports.forget(key);
        self.send(Update::Release(key.clone()));
    }
}

impl Output for NodeConditions {
    fn name(&self) -> &'static str {
        "node-conditions"
    }

    fn condition(&self, watch: &HostRiskWatch) -> Option<ConditionUpdate> {
        if !self.policy.enabled || !self.nodes.watches() || watch.spec.node_selector.is_none() {
            return None;
        }
        let key = WatchKey::of(watch)?;
        Some(self.driven(&key, watch.spec.suspend))
    }

    fn publish<'a>(&'a self, view: &'a WatchView<'a>) -> BoxFuture<'a, Result<()>> {
        if self.policy.enabled {
            let driving = view.targets.node_backed
                && !view.suspended
                && self.policy.allows(&view.key.namespace);
            let update = match driving {
                true => Update::Drive(Self::coverage(view)),
                false => Update::Release(view.key.clone()),
            };
            view.while_present(|| self.send(update));
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn start(&self, run: &OutputRun) -> Option<OutputStarted> {
        if !self.nodes.watches() {
            if self.policy.enabled {
                tracing::warn!("--node-conditions is ignored: the operator does not watch Nodes (it needs --node-watches and all namespaces)");
            }
            return None;
        }
        let (sender, updates) = mpsc::unbounded();
        *self.sender() = Some(sender);
        let (triggers, trigger_stream) = mpsc::unbounded();
        let aggregator = Aggregator::new(
            NodeWriter::new(
                run.client.clone(),
                self.reporter.clone(),
                self.metrics.clone(),
            ),
            self.policy.clone(),
            self.heartbeat,
            Arc::clone(&self.reports),
            triggers,
            self.metrics.clone(),
        );
        tracing::info!(
            enabled = self.policy.enabled,
            namespaces = %self.policy.describe_namespaces(),
            taints = %self.policy.taints.problems,
            dry_run = self.policy.taints.dry_run,
            "Node conditions writer started"
        );
        let task = aggregator.run(updates, run.watches.startup_settled(), run.shutdown.clone());
        Some(OutputStarted {
            name: self.name(),
            task: task.boxed(),
            triggers: Some(trigger_stream.boxed()),
        })
    }
}

impl NodeObserver for NodeConditions {
    fn list_started(&self) {
        self.send(Update::ListStarted);
    }

    fn seen(&self, name: &str, version: Option<&str>, marks: NodeMarks) {
        self.send(Update::Seen(
            NodeName::from(name),
            version.map(str::to_string),
            marks,
        ));
    }

    fn list_done(&self) {
        self.send(Update::ListDone);
    }

    fn deleted(&self, name: &str) {
        self.send(Update::Deleted(NodeName::from(name)));
    }
}
