//! The cluster-wide state of Node conditions, keyed by Node: which driving watches cover each
//! Node (each watch's status shared with the watch table, not copied), what the operator's
//! marks on each Node are (from the Node watch and the answers to its own writes), and which
//! Nodes must be looked at again. No I/O: the task turns its plans into writes.
//!
//! Per Node a few dozen bytes: the ids of the watches covering it, its [`NodeMarks`], the
//! resourceVersion of the operator's last write until the Node watch delivers it, and the
//! dry-run and held-back taint sets. A Node that nothing covers and that carries nothing of the
//! operator's is not kept.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use crate::crd::WatchKey;
use crate::nodes::conditions::{desired_conditions, plan_conditions, HostValues, NodeCondition};
use crate::nodes::marks::NodeMarks;
use crate::nodes::taints::{Problem, ProblemSet, TaintCandidate, TaintEffect};
use crate::status::{HostId, NodeName, WatchStatus};

/// A driving watch's latest view, as its reconcile hands it over.
#[derive(Debug, Clone)]
pub struct Coverage {
    pub key: WatchKey,
    pub uid: Option<String>,
    pub status: Arc<WatchStatus>,
    /// This reconcile applied a poll answer fetched then.
    pub fetched: Option<Timestamp>,
    /// The Nodes the watch covers, each with its host and the index of the host's record in
    /// `status.hosts` (`None`: no answer yet); `None` while the watch's Nodes are not known
    /// (the last known ones stay).
    pub nodes: Option<Vec<Covered>>,
}

/// One Node a watch covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Covered {
    pub node: NodeName,
    pub host: HostId,
    pub record: Option<u32>,
}

#[derive(Debug)]
struct WatchSlot {
    key: WatchKey,
    uid: Option<String>,
    status: Arc<WatchStatus>,
    /// When the data shown was fetched: the last poll applied, else the status' last sync.
    data_at: Option<Timestamp>,
    /// Sorted by Node name.
    nodes: Box<[Covered]>,
}

impl WatchSlot {
    fn covered(&self, node: &str) -> Option<&Covered> {
        self.nodes
            .binary_search_by(|c| (*c.node).cmp(node))
            .ok()
            .map(|i| &self.nodes[i])
    }
}

#[derive(Debug, Default)]
struct NodeEntry {
    /// Slots of the driving watches covering the Node.
    sources: Vec<u32>,
    marks: NodeMarks,
    /// The resourceVersion of the operator's last write, until the Node watch delivers it:
    /// events before it are older than what the write answered.
    awaiting: Option<Box<str>>,
    /// The taints a dry run pretends the Node carries.
    dry_run: ProblemSet,
    /// Problems the budget holds back (reported once).
    held_back: ProblemSet,
}

impl NodeEntry {
    fn is_idle(&self) -> bool {
        self.sources.is_empty()
            && self.marks.is_blank()
            && self.awaiting.is_none()
            && self.dry_run.is_empty()
            && self.held_back.is_empty()
    }
}

/// A write of the operator's conditions on one Node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConditionJob {
    /// Apply these three.
    Apply(NodeName, Box<[NodeCondition; 3]>),
    /// Remove the operator's conditions (the Node left every driving watch).
    Remove(NodeName),
}

#[derive(Debug, Default)]
pub struct PostureIndex {
    slots: Vec<Option<WatchSlot>>,
    free: Vec<u32>,
    ids: HashMap<WatchKey, u32>,
    nodes: HashMap<NodeName, NodeEntry>,
    dirty: BTreeSet<NodeName>,
    /// Nodes seen by a list in progress.
    listing: Option<HashSet<NodeName>>,
    /// The Node watch's first list is done: the marks are known.
    listed: bool,
}

impl PostureIndex {
    fn entry(&mut self, node: &NodeName) -> &mut NodeEntry {
        self.nodes.entry(NodeName::clone(node)).or_default()
    }

    fn slot(&self, id: u32) -> Option<&WatchSlot> {
        self.slots.get(id as usize).and_then(Option::as_ref)
    }

    /// The watch `coverage` describes drives conditions, with this view.
    pub fn drive(&mut self, coverage: Coverage) {
        let id = match self.ids.get(&coverage.key) {
            Some(id) => *id,
            None => {
                let id = self.free.pop().unwrap_or(self.slots.len() as u32);
                if id as usize == self.slots.len() {
                    self.slots.push(None);
                }
                self.ids.insert(coverage.key.clone(), id);
                id
            }
        };
        let old = self.slots[id as usize].take();
        let status_changed = old
            .as_ref()
            .is_none_or(|o| !Arc::ptr_eq(&o.status, &coverage.status));
        let nodes: Box<[Covered]> = match coverage.nodes {
            Some(mut nodes) => {
                nodes.sort_by(|a, b| a.node.cmp(&b.node));
                nodes.dedup_by(|a, b| a.node == b.node);
                nodes.into_boxed_slice()
            }
            None => match &old {
                Some(old) if status_changed => reindex(&old.nodes, &coverage.status),
                Some(old) => old.nodes.clone(),
                None => Box::default(),
            },
        };
        let data_at = coverage
            .fetched
            .or(old.as_ref().and_then(|o| o.data_at))
            .or(coverage.status.head().last_sync_time.as_ref().map(|t| t.0));
        let before: &[Covered] = old.as_ref().map_or(&[], |o| &o.nodes);
        for gone in before.iter().filter(|c| !contains(&nodes, &c.node)) {
            if let Some(entry) = self.nodes.get_mut(&gone.node) {
                entry.sources.retain(|s| *s != id);
            }
            self.dirty.insert(NodeName::clone(&gone.node));
        }
        let everything = status_changed || coverage.fetched.is_some();
        for covered in nodes.iter() {
            let added = !contains(before, &covered.node);
            if added {
                self.entry(&covered.node).sources.push(id);
            }
            if added || everything {
                self.dirty.insert(NodeName::clone(&covered.node));
            }
        }
        self.slots[id as usize] = Some(WatchSlot {
            key: coverage.key,
            uid: coverage.uid,
            status: coverage.status,
            data_at,
            nodes,
        });
    }

    /// The watch `key` no longer drives conditions (gone, suspended, not allowed).
    pub fn release(&mut self, key: &WatchKey) {
        let Some(id) = self.ids.remove(key) else {
            return;
        };
        if let Some(slot) = self.slots[id as usize].take() {
            for covered in slot.nodes.iter() {
                if let Some(entry) = self.nodes.get_mut(&covered.node) {
                    entry.sources.retain(|s| *s != id);
                }
                self.dirty.insert(NodeName::clone(&covered.node));
            }
        }
        self.free.push(id);
    }

    /// A list of the Nodes begins.
    pub fn list_started(&mut self) {
        self.listing = Some(HashSet::new());
    }

    /// The Node watch saw `node` at `version` with `marks`.
    pub fn seen(&mut self, node: NodeName, version: Option<&str>, marks: NodeMarks) {
        if let Some(listing) = self.listing.as_mut() {
            listing.insert(NodeName::clone(&node));
            // A list gives the latest state: whatever was awaited is in it or superseded.
            if let Some(entry) = self.nodes.get_mut(&node) {
                entry.awaiting = None;
            }
        }
        if marks.is_blank() && !self.nodes.contains_key(&node) {
            return;
        }
        let entry = self.entry(&node);
        if let Some(awaited) = entry.awaiting.as_deref() {
            if version == Some(awaited) {
                entry.awaiting = None;
            }
            // Older than the operator's write, which answered with newer marks.
            return;
        }
        if entry.marks != marks {
            entry.marks = marks;
            self.dirty.insert(node);
        }
    }

    /// The list completed: Nodes it did not have are gone.
    pub fn list_done(&mut self) {
        let Some(listed) = self.listing.take() else {
            return;
        };
        for (name, entry) in self.nodes.iter_mut() {
            if !listed.contains(name) {
                entry.marks = NodeMarks::default();
                entry.awaiting = None;
            }
        }
        self.listed = true;
    }

    /// The Node watch saw `node` deleted.
    pub fn deleted(&mut self, node: &str) {
        if let Some(entry) = self.nodes.get_mut(node) {
            entry.marks = NodeMarks::default();
            entry.awaiting = None;
        }
    }

    /// The Nodes' marks are known (the Node watch listed them once).
    pub fn is_listed(&self) -> bool {
        self.listed
    }

    /// The operator wrote `node`, which answered with `marks` at `version`.
    pub fn written(&mut self, node: &NodeName, version: Option<String>, marks: NodeMarks) {
        let entry = self.entry(node);
        entry.marks = marks;
        entry.awaiting = version.map(String::into_boxed_str);
    }

    /// The write to `node` found it gone.
    pub fn vanished(&mut self, node: &str) {
        self.deleted(node);
    }

    /// Looks at `node` again at the next pass (a write failed).
    pub fn retry(&mut self, node: &NodeName) {
        self.dirty.insert(NodeName::clone(node));
    }

    /// The watch whose data a covered Node shows: the newest data, then the first by key.
    fn winner(&self, entry: &NodeEntry) -> Option<&WatchSlot> {
        entry
            .sources
            .iter()
            .filter_map(|id| self.slot(*id))
            .max_by(|a, b| a.data_at.cmp(&b.data_at).then_with(|| b.key.cmp(&a.key)))
    }

    /// The watch (key, uid) whose data `node` shows, if a driving watch covers it.
    pub fn source_of(&self, node: &str) -> Option<(&WatchKey, Option<&str>)> {
        let slot = self.winner(self.nodes.get(node)?)?;
        Some((&slot.key, slot.uid.as_deref()))
    }

    /// The condition writes the Nodes looked at again need; `cleanup`: Nodes no driving watch
    /// covers lose the operator's conditions (once every watch had its say).
    pub fn condition_jobs(
        &mut self,
        now: Timestamp,
        heartbeat: Duration,
        cleanup: bool,
    ) -> Vec<ConditionJob> {
        let mut jobs = Vec::new();
        let mut later = BTreeSet::new();
        for name in std::mem::take(&mut self.dirty) {
            let Some(entry) = self.nodes.get(&name) else {
                continue;
            };
            match self.winner(entry) {
                Some(slot) => {
                    let Some(covered) = slot.covered(&name) else {
                        continue;
                    };
                    let record = covered
                        .record
                        .and_then(|i| slot.status.hosts.get(i as usize))
                        .filter(|r| r.id == covered.host);
                    let desired =
                        desired_conditions(&slot.key, &covered.host, record.map(HostValues::of));
                    if let Some(conditions) = plan_conditions(
                        &desired,
                        &entry.marks.conditions,
                        now,
                        slot.data_at,
                        heartbeat,
                    ) {
                        jobs.push(ConditionJob::Apply(
                            NodeName::clone(&name),
                            Box::new(conditions),
                        ));
                    }
                }
                None if entry.marks.conditions.any() => {
                    if cleanup {
                        jobs.push(ConditionJob::Remove(NodeName::clone(&name)));
                    } else {
                        later.insert(NodeName::clone(&name));
                    }
                }
                None => {}
            }
        }
        self.dirty = later;
        jobs
    }

    /// Every Node the taint planner must see: covered ones and those carrying the operator's
    /// taints (or, in a dry run, pretending to).
    pub fn taint_candidates(&self, effect: TaintEffect, dry_run: bool) -> Vec<TaintCandidate> {
        let mut candidates: Vec<TaintCandidate> = self
            .nodes
            .iter()
            .filter(|(_, e)| {
                !e.sources.is_empty() || !e.marks.our_taints().is_empty() || !e.dry_run.is_empty()
            })
            .map(|(name, entry)| {
                let marks = &entry.marks;
                TaintCandidate {
                    node: NodeName::clone(name),
                    covered: !entry.sources.is_empty(),
                    true_since: Problem::ALL.map(|p| marks.conditions.true_since(p.condition())),
                    control_plane: marks.control_plane,
                    ours: if dry_run {
                        entry.dry_run
                    } else {
                        marks.our_taints()
                    },
                    stale: if dry_run {
                        ProblemSet::EMPTY
                    } else {
                        marks.stale_taints(effect)
                    },
                    manual: marks.manual,
                }
            })
            .collect();
        candidates.sort_by(|a, b| a.node.cmp(&b.node));
        candidates
    }

    /// A dry run pretends `node` carries `taints`.
    pub fn set_dry_run(&mut self, node: &NodeName, taints: ProblemSet) {
        self.entry(node).dry_run = taints;
    }

    /// Records the problems the budget holds back on `node`; returns those newly held back.
    pub fn hold_back(&mut self, node: &NodeName, problems: ProblemSet) -> ProblemSet {
        let entry = self.entry(node);
        let new = problems.minus(entry.held_back);
        entry.held_back = problems;
        new
    }

    /// Nodes held back before, and not any more.
    pub fn release_held_back(&mut self, still: &HashSet<NodeName>) {
        for (name, entry) in self.nodes.iter_mut() {
            if !still.contains(name) {
                entry.held_back = ProblemSet::EMPTY;
            }
        }
    }

    /// Forgets the Nodes nothing covers that carry nothing of the operator's.
    pub fn prune(&mut self) {
        self.nodes.retain(|_, entry| !entry.is_idle());
    }

    /// `(type index, status)` of the operator's conditions over every Node, our taints and
    /// dry-run taints per problem, and Nodes held back.
    pub fn figures(&self) -> Figures {
        let mut figures = Figures::default();
        for entry in self.nodes.values() {
            for type_ in crate::nodes::conditions::NodeConditionType::ALL {
                if let Some(status) = entry.marks.conditions.status(type_) {
                    let column = match status.as_str() {
                        "True" => 0,
                        "False" => 1,
                        _ => 2,
                    };
                    figures.conditions[type_.index()][column] += 1;
                }
            }
            for problem in Problem::ALL {
                let i = problem as usize;
                figures.taints[i] += usize::from(entry.marks.our_taints().contains(problem));
                figures.dry_run[i] += usize::from(entry.dry_run.contains(problem));
                figures.held_back[i] += usize::from(entry.held_back.contains(problem));
            }
        }
        figures
    }

    /// Nodes kept, and watches driving.
    pub fn sizes(&self) -> (usize, usize) {
        (self.nodes.len(), self.ids.len())
    }
}

/// Counts for the gauges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    /// Per condition type (index), Nodes with status True, False, Unknown.
    pub conditions: [[usize; 3]; 3],
    /// Per problem: Nodes with the operator's taint, with a dry-run taint, held back.
    pub taints: [usize; 3],
    pub dry_run: [usize; 3],
    pub held_back: [usize; 3],
}

fn contains(nodes: &[Covered], node: &str) -> bool {
    nodes.binary_search_by(|c| (*c.node).cmp(node)).is_ok()
}

/// `nodes` with their records' indexes looked up again in `status`.
fn reindex(nodes: &[Covered], status: &WatchStatus) -> Box<[Covered]> {
    let index: HashMap<&str, u32> = status
        .hosts
        .iter()
        .enumerate()
        .map(|(i, h)| (&*h.id, i as u32))
        .collect();
    nodes
        .iter()
        .map(|c| Covered {
            record: index.get(&*c.host).copied(),
            ..c.clone()
        })
        .collect()
}

#[cfg(test)]
#[path = "index_tests.rs"]
mod tests;
