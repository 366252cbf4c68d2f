//! Taints from the Node conditions, opt-in and budgeted. Pure: from each Node's problems (since
//! when each condition has been `True`), the operator's own and other writers' taints of its
//! keys, and the policy, to the taints each Node should carry, the Nodes held back by the
//! budget, and when a problem next becomes old enough to taint.
//!
//! Rules, in this order:
//! - a taint key is `hostrisk.io/<problem>` with the value [`TAINT_VALUE`], which marks it as
//!   the operator's: a taint of the same key with another value (an administrator's) is never
//!   touched, and the operator adds none of its own beside it;
//! - the operator's taint stays while its problem holds on a covered Node and is removed as
//!   soon as it does not (never held back by the budget);
//! - a problem is tainted once it has held for `after`, on a covered Node that is not a
//!   control-plane Node (unless allowed);
//! - at most `budget` Nodes carry the operator's taints at once: a Node that carries one may
//!   get another, other Nodes are taken oldest problem first (then by name) until the budget is
//!   used up, and the rest are held back.

use std::fmt;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::conditions::NodeConditionType;
use crate::status::NodeName;

/// Prefix of every taint key of the operator.
pub const TAINT_KEY_PREFIX: &str = "hostrisk.io/";
/// Value of the operator's taints: what tells them from an administrator's of the same key.
pub const TAINT_VALUE: &str = "hostrisk-operator";

/// Reasons of the Events about the operator's taints (on the Node, and on the watch for the
/// budget).
pub mod reason {
    pub const TAINT_ADDED: &str = "TaintAdded";
    pub const TAINT_REMOVED: &str = "TaintRemoved";
    pub const TAINT_WOULD_BE_ADDED: &str = "TaintWouldBeAdded";
    pub const TAINT_WOULD_BE_REMOVED: &str = "TaintWouldBeRemoved";
    pub const TAINT_HELD_BACK: &str = "TaintHeldBack";
    pub const NODE_TAINTS_HELD_BACK: &str = "NodeTaintsHeldBack";
}

/// A problem that may taint a Node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Problem {
    Unprotected,
    AgentOffline,
    AtRisk,
}

impl Problem {
    pub const ALL: [Self; 3] = [Self::Unprotected, Self::AgentOffline, Self::AtRisk];

    /// The name in `--node-taints` and in the taint key.
    pub fn name(self) -> &'static str {
        match self {
            Self::Unprotected => "unprotected",
            Self::AgentOffline => "agent-offline",
            Self::AtRisk => "at-risk",
        }
    }

    /// The taint key.
    pub fn key(self) -> &'static str {
        match self {
            Self::Unprotected => "hostrisk.io/unprotected",
            Self::AgentOffline => "hostrisk.io/agent-offline",
            Self::AtRisk => "hostrisk.io/at-risk",
        }
    }

    /// The condition whose `True` is this problem.
    pub fn condition(self) -> NodeConditionType {
        match self {
            Self::Unprotected => NodeConditionType::Unprotected,
            Self::AgentOffline => NodeConditionType::AgentOffline,
            Self::AtRisk => NodeConditionType::AtRisk,
        }
    }

    pub fn of_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    pub fn of_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.key() == key)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of problems, in one byte.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ProblemSet(u8);

impl ProblemSet {
    pub const EMPTY: Self = Self(0);

    pub fn of(problems: impl IntoIterator<Item = Problem>) -> Self {
        problems.into_iter().fold(Self::EMPTY, |set, p| set.with(p))
    }

    pub fn with(self, problem: Problem) -> Self {
        Self(self.0 | problem.bit())
    }

    pub fn insert(&mut self, problem: Problem) {
        self.0 |= problem.bit();
    }

    pub fn contains(self, problem: Problem) -> bool {
        self.0 & problem.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    pub fn intersection(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    pub fn minus(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }

    pub fn iter(self) -> impl Iterator<Item = Problem> {
        Problem::ALL.into_iter().filter(move |p| self.contains(*p))
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }
}

impl fmt::Display for ProblemSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Problem::name).collect();
        f.write_str(&names.join(","))
    }
}

/// The effect of the operator's taints. `NoExecute` is not one: evicting running Pods because
/// of a security scan is not this operator's call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaintEffect {
    NoSchedule,
    PreferNoSchedule,
}

impl TaintEffect {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoSchedule => "NoSchedule",
            Self::PreferNoSchedule => "PreferNoSchedule",
        }
    }

    /// The effect `--node-taint-effect` names.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value.trim() {
            "NoSchedule" => Ok(Self::NoSchedule),
            "PreferNoSchedule" => Ok(Self::PreferNoSchedule),
            "NoExecute" => Err("NoExecute is refused: it would evict running Pods; use NoSchedule or PreferNoSchedule".into()),
            other => Err(format!(
                "{other:?} is not a taint effect: use NoSchedule or PreferNoSchedule"
            )),
        }
    }
}

/// How many Nodes the operator may taint at once (`--node-taint-max`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaintBudget {
    /// At most this many Nodes.
    Nodes(u32),
    /// At most this percentage (0-100) of the Nodes covered, rounded down.
    Percent(u32),
}

impl Default for TaintBudget {
    fn default() -> Self {
        Self::Percent(10)
    }
}

impl TaintBudget {
    /// `3` or `10%`.
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        let refused = || {
            format!("{value:?} is not a Node count or a percentage: write e.g. 3 or 10% (0-100%)")
        };
        match value.strip_suffix('%') {
            Some(percent) => match percent.parse::<u32>() {
                Ok(p) if p <= 100 && !percent.starts_with('+') => Ok(Self::Percent(p)),
                _ => Err(refused()),
            },
            None => match value.parse::<u32>() {
                Ok(n) if !value.starts_with('+') => Ok(Self::Nodes(n)),
                _ => Err(refused()),
            },
        }
    }

    /// The most Nodes that may be tainted when `covered` Nodes are covered.
    pub fn limit(self, covered: usize) -> usize {
        match self {
            Self::Nodes(n) => n as usize,
            Self::Percent(p) => covered.saturating_mul(p as usize) / 100,
        }
    }
}

impl fmt::Display for TaintBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Nodes(n) => write!(f, "{n}"),
            Self::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// What taints the operator may set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaintPolicy {
    /// The problems that taint (`--node-taints`); empty: taints are off.
    pub problems: ProblemSet,
    pub effect: TaintEffect,
    /// How long a problem holds before it taints (`--node-taint-after`).
    pub after: Duration,
    pub budget: TaintBudget,
    /// Control-plane Nodes may be tainted too (`--node-taint-control-plane`).
    pub control_plane: bool,
    /// Report what would change without changing a Node (`--node-taint-dry-run`).
    pub dry_run: bool,
}

impl Default for TaintPolicy {
    fn default() -> Self {
        Self {
            problems: ProblemSet::EMPTY,
            effect: TaintEffect::PreferNoSchedule,
            after: Duration::from_secs(15 * 60),
            budget: TaintBudget::default(),
            control_plane: false,
            dry_run: false,
        }
    }
}

impl TaintPolicy {
    pub fn enabled(&self) -> bool {
        !self.problems.is_empty()
    }
}

/// One Node as the planner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaintCandidate {
    pub node: NodeName,
    /// A watch that drives conditions covers the Node.
    pub covered: bool,
    /// Since when each problem (by [`Problem::ALL`] index) has been `True`.
    pub true_since: [Option<Timestamp>; 3],
    pub control_plane: bool,
    /// The operator's taints the Node carries.
    pub ours: ProblemSet,
    /// Those of them with another effect than the policy's.
    pub stale: ProblemSet,
    /// Taints of the operator's keys that someone else set.
    pub manual: ProblemSet,
}

/// The operator's taints of one Node change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaintChange {
    pub node: NodeName,
    /// Every taint of the operator the Node is to carry.
    pub taints: ProblemSet,
    pub added: ProblemSet,
    pub removed: ProblemSet,
}

/// A Node the budget keeps from being tainted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldBack {
    pub node: NodeName,
    pub problems: ProblemSet,
}

/// What [`plan_taints`] decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaintPlan {
    pub changes: Vec<TaintChange>,
    pub held_back: Vec<HeldBack>,
    /// Nodes covered, and the most that may be tainted.
    pub covered: usize,
    pub limit: usize,
    /// Nodes that carry the operator's taints once the changes are made.
    pub tainted: usize,
    /// When a problem next becomes old enough to taint.
    pub next_due: Option<Timestamp>,
}

fn index(problem: Problem) -> usize {
    problem as usize
}

/// The taints every Node is to carry (see the module docs).
pub fn plan_taints(policy: &TaintPolicy, nodes: &[TaintCandidate], now: Timestamp) -> TaintPlan {
    let after = SignedDuration::try_from(policy.after).unwrap_or(SignedDuration::MAX);
    let covered = nodes.iter().filter(|n| n.covered).count();
    let limit = policy.budget.limit(covered);
    let mut plan = TaintPlan {
        covered,
        limit,
        ..TaintPlan::default()
    };
    // (node, taints kept, taints due): decided below.
    let mut waiting: Vec<(&TaintCandidate, ProblemSet, Timestamp)> = Vec::new();
    let mut decided: Vec<(&TaintCandidate, ProblemSet)> = Vec::new();
    for node in nodes {
        let excluded = !node.covered || (node.control_plane && !policy.control_plane);
        let mut eligible = ProblemSet::EMPTY;
        let mut due = ProblemSet::EMPTY;
        let mut oldest: Option<Timestamp> = None;
        for problem in policy.problems.iter() {
            let Some(since) = node.true_since[index(problem)] else {
                continue;
            };
            if excluded || node.manual.contains(problem) {
                continue;
            }
            eligible.insert(problem);
            let ripe = since.checked_add(after).unwrap_or(Timestamp::MAX);
            if ripe <= now {
                due.insert(problem);
                oldest = Some(oldest.map_or(since, |o| o.min(since)));
            } else if !node.ours.contains(problem) {
                plan.next_due = Some(plan.next_due.map_or(ripe, |d| d.min(ripe)));
            }
        }
        let kept = node.ours.intersection(eligible);
        let new = due.minus(node.ours);
        if !kept.is_empty() || new.is_empty() {
            decided.push((node, kept.union(new)));
        } else {
            waiting.push((node, new, oldest.unwrap_or(now)));
        }
    }
    let mut tainted = decided.iter().filter(|(_, t)| !t.is_empty()).count();
    waiting.sort_by(|a, b| a.2.cmp(&b.2).then_with(|| a.0.node.cmp(&b.0.node)));
    for (node, new, _) in waiting {
        if tainted < limit {
            tainted += 1;
            decided.push((node, new));
        } else {
            plan.held_back.push(HeldBack {
                node: NodeName::clone(&node.node),
                problems: new,
            });
            decided.push((node, ProblemSet::EMPTY));
        }
    }
    plan.tainted = tainted;
    for (node, taints) in decided {
        let refreshed = !taints.intersection(node.stale).is_empty();
        if taints != node.ours || refreshed {
            plan.changes.push(TaintChange {
                node: NodeName::clone(&node.node),
                taints,
                added: taints.minus(node.ours),
                removed: node.ours.minus(taints),
            });
        }
    }
    plan.changes.sort_by(|a, b| a.node.cmp(&b.node));
    plan.held_back.sort_by(|a, b| a.node.cmp(&b.node));
    plan
}

#[cfg(test)]
#[path = "taints_tests.rs"]
mod tests;
