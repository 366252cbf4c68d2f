//! The Node conditions' writer task: takes the driving watches' views and the Node watch's
//! marks in order, and after each batch of them makes one pass: the condition writes the
//! Nodes looked at again need, then the taint plan over every covered or tainted Node, its
//! writes and Events, the watches' held-back reports and the gauges. It sleeps until the next
//! update, the next problem old enough to taint, or a retry after failed writes: nothing
//! polls.
//!
//! Nothing is written before the Node watch listed the Nodes (the operator's marks on them are
//! what the writes compare with); Nodes no watch covers lose the operator's conditions, and
//! taints are planned at all, only once the start-up hold ended: every watch of the first
//! lists then had its say, so a restart does not strip and re-add what a watch is about to
//! claim again.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::channel::mpsc;
use futures::{stream, StreamExt};
use jiff::Timestamp;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::index::{ConditionJob, Coverage, PostureIndex};
use super::writer::{code_of, NodeWriter};
use crate::crd::duration::format_duration;
use crate::crd::{HostRiskWatch, WatchKey};
use crate::metrics::{Metrics, NodePostureFigures};
use crate::nodes::conditions::NodeConditionType;
use crate::nodes::marks::NodeMarks;
use crate::nodes::policy::NodeConditionPolicy;
use crate::nodes::taints::{
    plan_taints, reason, Problem, ProblemSet, TaintCandidate, TaintPlan, TAINT_VALUE,
};
use crate::status::{EventType, NodeName, TransitionEvent};

/// Writes to Nodes in flight at once.
const WRITES_IN_FLIGHT: usize = 8;
/// First and longest wait before Nodes whose write failed are tried again.
const RETRY_FIRST: Duration = Duration::from_secs(5);
const RETRY_MAX: Duration = Duration::from_secs(300);
/// Nodes a held-back report names; the rest are counted.
const NAMED: usize = 10;

/// What the task is told, in order.
pub enum Update {
    /// A watch drives conditions, with this view.
    Drive(Coverage),
    /// A watch does not (any more).
    Release(WatchKey),
    ListStarted,
    Seen(NodeName, Option<String>, NodeMarks),
    ListDone,
    Deleted(NodeName),
}

/// The Nodes the budget holds back, for the watch whose data they show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldBackReport {
    pub nodes: Vec<(NodeName, ProblemSet)>,
    pub limit: usize,
    pub covered: usize,
}

impl HeldBackReport {
    /// `node-a (unprotected), node-b (at-risk) and 3 more`.
    pub fn names(&self) -> String {
        let mut named: Vec<String> = self
            .nodes
            .iter()
            .take(NAMED)
            .map(|(node, problems)| format!("{node} ({problems})"))
            .collect();
        if self.nodes.len() > NAMED {
            named.push(format!("{} more", self.nodes.len() - NAMED));
        }
        named.join(", ")
    }
}

/// The held-back reports per watch, read by the output's condition.
#[derive(Default)]
pub struct Reports(Mutex<HashMap<WatchKey, HeldBackReport>>);

impl Reports {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<WatchKey, HeldBackReport>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, key: &WatchKey) -> Option<HeldBackReport> {
        self.lock().get(key).cloned()
    }

    pub fn forget(&self, key: &WatchKey) {
        self.lock().remove(key);
    }

    /// Replaces every report; returns the watches whose report changed.
    fn replace(&self, reports: HashMap<WatchKey, HeldBackReport>) -> Vec<WatchKey> {
        let mut kept = self.lock();
        let mut changed: Vec<WatchKey> = kept
            .iter()
            .filter(|(key, old)| reports.get(*key) != Some(*old))
            .map(|(key, _)| key.clone())
            .collect();
        changed.extend(
            reports
                .keys()
                .filter(|key| !kept.contains_key(*key))
                .cloned(),
        );
        *kept = reports;
        changed
    }
}

pub struct Aggregator {
    pub index: PostureIndex,
    pub writer: NodeWriter,
    pub policy: NodeConditionPolicy,
    pub heartbeat: Duration,
    pub reports: Arc<Reports>,
    pub triggers: mpsc::UnboundedSender<ObjectRef<HostRiskWatch>>,
    pub metrics: Metrics,
    /// The wait before Nodes whose write failed are tried again; `None` after a clean pass.
    retry: Option<Duration>,
    /// Removing leftovers was refused (403): given up until the next start.
    cleanup_forbidden: bool,
}

async fn sleep_until(wake: Option<Instant>) {
    match wake {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn settled_changed(settled: &mut Option<watch::Receiver<bool>>) {
    if let Some(flag) = settled {
        if flag.changed().await.is_ok() {
            return;
        }
    }
    std::future::pending().await
}

fn is_settled(settled: &Option<watch::Receiver<bool>>) -> bool {
    settled.as_ref().is_some_and(|flag| *flag.borrow())
}

impl Aggregator {
    pub fn new(
        writer: NodeWriter,
        policy: NodeConditionPolicy,
        heartbeat: Duration,
        reports: Arc<Reports>,
        triggers: mpsc::UnboundedSender<ObjectRef<HostRiskWatch>>,
        metrics: Metrics,
    ) -> Self {
        Self {
            index: PostureIndex::default(),
            writer,
            policy,
            heartbeat,
            reports,
            triggers,
            metrics,
            retry: None,
            cleanup_forbidden: false,
        }
    }

    /// Runs until `shutdown` (or until every sender of `updates` is gone).
    pub async fn run(
        mut self,
        mut updates: mpsc::UnboundedReceiver<Update>,
        mut settled: Option<watch::Receiver<bool>>,
        shutdown: CancellationToken,
    ) {
        let mut wake: Option<Instant> = None;
        loop {
            let waiting = !is_settled(&settled);
            tokio::select! {
                () = shutdown.cancelled() => return,
                update = updates.next() => match update {
                    Some(update) => self.apply(update),
                    None => return,
                },
                () = sleep_until(wake) => {}
                () = settled_changed(&mut settled), if waiting => {}
            }
            while let Ok(update) = updates.try_recv() {
                self.apply(update);
            }
            if !self.index.is_listed() {
                continue;
            }
            let settled_now = is_settled(&settled);
            wake = tokio::select! {
                () = shutdown.cancelled() => return,
                next = self.pass(settled_now) => next,
            };
        }
    }

    fn apply(&mut self, update: Update) {
        match update {
            Update::Drive(coverage) => self.index.drive(coverage),
            Update::Release(key) => self.index.release(&key),
            Update::ListStarted => self.index.list_started(),
            Update::Seen(node, version, marks) => self.index.seen(node, version.as_deref(), marks),
            Update::ListDone => self.index.list_done(),
            Update::Deleted(node) => self.index.deleted(&node),
        }
    }

    /// One pass; returns when to wake up for the next one unless an update comes first.
    async fn pass(&mut self, settled: bool) -> Option<Instant> {
        let now = Timestamp::now();
        let cleanup = settled && !self.cleanup_forbidden;
        let jobs = self.index.condition_jobs(now, self.heartbeat, cleanup);
        let mut failed = self.write_conditions(jobs).await;
        let mut due = None;
        if settled {
            let (next, taints_failed) = self.taints(now).await;
            due = next;
            failed |= taints_failed;
        }
        self.index.prune();
        self.set_gauges();
        let (nodes, watches) = self.index.sizes();
        tracing::debug!(nodes, watches, failed, "Node conditions pass done");
        self.retry = failed.then(|| self.retry.map_or(RETRY_FIRST, |r| (r * 2).min(RETRY_MAX)));
        let due = due.map(|at| {
            let wait = at.duration_since(Timestamp::now());
            Instant::now() + Duration::try_from(wait).unwrap_or(Duration::ZERO)
        });
        let retry = self.retry.map(|r| Instant::now() + r);
        match (due, retry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs the condition writes; true when some failed (they are tried again).
    async fn write_conditions(&mut self, jobs: Vec<ConditionJob>) -> bool {
        if jobs.is_empty() {
            return false;
        }
        let writer = &self.writer;
        let results: Vec<_> = stream::iter(jobs)
            .map(|job| async move {
                let result = match &job {
                    ConditionJob::Apply(node, conditions) => {
                        writer.conditions(node, Some(&**conditions)).await
                    }
                    ConditionJob::Remove(node) => writer.conditions(node, None).await,
                };
                (job, result)
            })
            .buffer_unordered(WRITES_IN_FLIGHT)
            .collect()
            .await;
        let mut failed = false;
        for (job, result) in results {
            let (node, removing) = match &job {
                ConditionJob::Apply(node, _) => (node, false),
                ConditionJob::Remove(node) => (node, true),
            };
            match result {
                Ok(Some(written)) => {
                    tracing::debug!(node = %node, removed = removing, "Node conditions written");
                    self.index.written(node, written.version, written.marks);
                }
                Ok(None) => self.index.vanished(node),
                Err(error) if removing && code_of(&error) == Some(403) => {
                    tracing::warn!(
                        node = %node,
                        %error,
                        "cannot remove this operator's conditions from Nodes no watch drives any \
                         more (patch on nodes/status refused); giving up until the next start: \
                         grant it (chart: nodeConditions.cleanup=true) or delete the \
                         HostSecurity* conditions by hand (README: Node conditions and taints)"
                    );
                    self.cleanup_forbidden = true;
                }
                Err(error) => {
                    tracing::warn!(node = %node, %error, "writing Node conditions failed; retrying");
                    failed = true;
                    self.index.retry(node);
                }
            }
        }
        failed
    }

    /// Plans, writes and reports the taints; returns when a problem next becomes old enough to
    /// taint, and whether some write failed.
    async fn taints(&mut self, now: Timestamp) -> (Option<Timestamp>, bool) {
        let policy = self.policy.taints.clone();
        if !policy.enabled() && self.cleanup_forbidden {
            return (None, false);
        }
        let candidates = self.index.taint_candidates(policy.effect, policy.dry_run);
        let plan = plan_taints(&policy, &candidates, now);
        let by_node: HashMap<&str, &TaintCandidate> =
            candidates.iter().map(|c| (&*c.node, c)).collect();
        self.held_back(&plan).await;
        let mut failed = false;
        let mut events: Vec<(NodeName, Option<String>, Vec<TransitionEvent>)> = Vec::new();
        if policy.dry_run {
            for change in &plan.changes {
                self.index.set_dry_run(&change.node, change.taints);
                let notes = self.change_events(change, by_node.get(&*change.node).copied(), true);
                events.push((NodeName::clone(&change.node), None, notes));
            }
        } else {
            let writer = &self.writer;
            let effect = policy.effect;
            let results: Vec<_> = stream::iter(plan.changes.clone())
                .map(|change| async move {
                    let result = writer.taints(&change.node, change.taints, effect).await;
                    (change, result)
                })
                .buffer_unordered(WRITES_IN_FLIGHT)
                .collect()
                .await;
            for (change, result) in results {
                match result {
                    Ok(Some(written)) => {
                        let notes =
                            self.change_events(&change, by_node.get(&*change.node).copied(), false);
                        events.push((NodeName::clone(&change.node), written.uid.clone(), notes));
                        self.index
                            .written(&change.node, written.version, written.marks);
                    }
                    Ok(None) => self.index.vanished(&change.node),
                    Err(error) if !policy.enabled() && code_of(&error) == Some(403) => {
                        tracing::warn!(
                            node = %change.node,
                            %error,
                            "cannot remove this operator's taints left from an earlier run (patch \
                             on nodes refused); giving up until the next start: grant it (chart: \
                             nodeConditions.cleanup=true) or remove the hostrisk.io/* taints whose \
                             value is hostrisk-operator by hand"
                        );
                        self.cleanup_forbidden = true;
                    }
                    Err(error) => {
                        tracing::warn!(node = %change.node, %error, "changing the Node's taints failed; retrying");
                        failed = true;
                    }
                }
            }
        }
        for (node, uid, notes) in events {
            self.writer.node_events(&node, uid.as_deref(), &notes).await;
        }
        (plan.next_due, failed)
    }

    /// The Events of one change, and its counts.
    fn change_events(
        &self,
        change: &crate::nodes::taints::TaintChange,
        node: Option<&TaintCandidate>,
        dry_run: bool,
    ) -> Vec<TransitionEvent> {
        let effect = self.policy.taints.effect.as_str();
        let source = self
            .index
            .source_of(&change.node)
            .map(|(key, _)| format!(" (HostRiskWatch {key})"))
            .unwrap_or_default();
        let mut out = Vec::new();
        for problem in change.added.iter() {
            self.metrics
                .record_taint_change(problem.name(), true, dry_run);
            let since = node
                .and_then(|n| n.true_since[problem as usize])
                .map(|t| t.to_string())
                .unwrap_or_default();
            let verb = if dry_run {
                "dry run: would add"
            } else {
                "added"
            };
            out.push(TransitionEvent {
                host_id: None,
                reason: if dry_run {
                    reason::TAINT_WOULD_BE_ADDED
                } else {
                    reason::TAINT_ADDED
                },
                note: format!(
                    "{verb} taint {}={TAINT_VALUE}:{effect}: {} has been True since {since}, \
                     longer than --node-taint-after {}{source}",
                    problem.key(),
                    problem.condition().as_str(),
                    format_duration(self.policy.taints.after),
                ),
                type_: if dry_run {
                    EventType::Normal
                } else {
                    EventType::Warning
                },
            });
        }
        for problem in change.removed.iter() {
            self.metrics
                .record_taint_change(problem.name(), false, dry_run);
            let verb = if dry_run {
                "dry run: would remove"
            } else {
                "removed"
            };
            out.push(TransitionEvent {
                host_id: None,
                reason: if dry_run {
                    reason::TAINT_WOULD_BE_REMOVED
                } else {
                    reason::TAINT_REMOVED
                },
                note: format!(
                    "{verb} taint {}: {}{source}",
                    problem.key(),
                    self.why_removed(problem, node)
                ),
                type_: EventType::Normal,
            });
        }
        out
    }

    fn why_removed(&self, problem: Problem, node: Option<&TaintCandidate>) -> String {
        let policy = &self.policy.taints;
        match node {
            Some(n) if !n.covered => {
                "no watch that drives Node conditions covers the Node any more".into()
            }
            _ if !policy.problems.contains(problem) => format!(
                "taints of {problem} are off (--node-taints {})",
                policy.problems
            ),
            Some(n) if n.control_plane && !policy.control_plane => {
                "control-plane Nodes are not tainted (--node-taint-control-plane)".into()
            }
            _ => format!("{} is no longer True", problem.condition().as_str()),
        }
    }

    /// Reports the Nodes the budget holds back: an Event on each Node newly held back and on
    /// the watch it shows, and each watch's report (its status says so).
    async fn held_back(&mut self, plan: &TaintPlan) {
        let still: HashSet<NodeName> = plan.held_back.iter().map(|h| h.node.clone()).collect();
        self.index.release_held_back(&still);
        let budget = format!(
            "the taint budget (--node-taint-max={}: {} of {} covered Nodes) is used up by {} \
             tainted Node(s)",
            self.policy.taints.budget, plan.limit, plan.covered, plan.tainted
        );
        let mut reports: HashMap<WatchKey, HeldBackReport> = HashMap::new();
        let mut node_events = Vec::new();
        let mut watch_events: BTreeMap<WatchKey, (Option<String>, Vec<String>)> = BTreeMap::new();
        for held in &plan.held_back {
            let new = self.index.hold_back(&held.node, held.problems);
            let source = self
                .index
                .source_of(&held.node)
                .map(|(key, uid)| (key.clone(), uid.map(str::to_string)));
            if let Some((key, _)) = &source {
                reports
                    .entry(key.clone())
                    .or_insert_with(|| HeldBackReport {
                        nodes: Vec::new(),
                        limit: plan.limit,
                        covered: plan.covered,
                    })
                    .nodes
                    .push((NodeName::clone(&held.node), held.problems));
            }
            if new.is_empty() {
                continue;
            }
            let keys: Vec<&str> = new.iter().map(Problem::key).collect();
            node_events.push((
                NodeName::clone(&held.node),
                TransitionEvent {
                    host_id: None,
                    reason: reason::TAINT_HELD_BACK,
                    note: format!("not tainted with {}: {budget}", keys.join(", ")),
                    type_: EventType::Warning,
                },
            ));
            if let Some((key, uid)) = source {
                let entry = watch_events.entry(key).or_insert((uid, Vec::new()));
                entry.1.push(format!("{} ({new})", held.node));
            }
        }
        for key in self.reports.replace(reports) {
            let _ = self.triggers.unbounded_send(key.object_ref());
        }
        for (node, event) in node_events {
            self.writer.node_events(&node, None, &[event]).await;
        }
        for (key, (uid, nodes)) in watch_events {
            let event = TransitionEvent {
                host_id: None,
                reason: reason::NODE_TAINTS_HELD_BACK,
                note: format!("not tainted: {}: {budget}", nodes.join(", ")),
                type_: EventType::Warning,
            };
            self.writer
                .watch_events(&key, uid.as_deref(), &[event])
                .await;
        }
    }

    fn set_gauges(&self) {
        let figures = self.index.figures();
        let any = figures.conditions.iter().flatten().any(|n| *n > 0)
            || figures.taints.iter().any(|n| *n > 0);
        if !self.policy.enabled && !any {
            return;
        }
        self.metrics.set_node_posture(&NodePostureFigures {
            conditions: NodeConditionType::ALL
                .iter()
                .map(|t| (t.as_str(), figures.conditions[t.index()]))
                .collect(),
            problems: Problem::ALL
                .iter()
                .map(|p| {
                    let i = *p as usize;
                    (
                        p.name(),
                        figures.taints[i],
                        figures.dry_run[i],
                        figures.held_back[i],
                    )
                })
                .collect(),
            dry_run: self.policy.taints.dry_run,
        });
    }
}
