//! Node conditions and taints: gauges over the cluster's Nodes (set after each pass of the
//! Node-condition writer) and counters of its writes and taint changes. Labels are closed
//! sets (three condition types, three statuses, three problems), never a Node name: the
//! cardinality does not grow with the cluster. Every family is labelled, so an operator that
//! never writes Nodes exports none of them.

use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

use super::exposition::encode_family;
use super::Metrics;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct NodeConditionLabels {
    pub r#type: &'static str,
    pub status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct TaintLabels {
    pub problem: &'static str,
    pub mode: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ProblemLabels {
    pub problem: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct TaintChangeLabels {
    pub problem: &'static str,
    pub action: &'static str,
    pub mode: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct NodeWriteLabels {
    pub kind: &'static str,
    pub result: &'static str,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct NodeFamilies {
    conditions: Family<NodeConditionLabels, Gauge>,
    taints: Family<TaintLabels, Gauge>,
    held_back: Family<ProblemLabels, Gauge>,
    taint_changes: Family<TaintChangeLabels, Counter>,
    writes: Family<NodeWriteLabels, Counter>,
}

impl NodeFamilies {
    /// Writes the families that have series (like the registry does with families).
    pub(crate) fn encode(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        encode_family(
            encoder,
            "node_conditions",
            "Nodes carrying the operator's condition of a type (HostSecurityAgentOffline|\
             HostSecurityUnprotected|HostSecurityAtRisk) with a status (True|False|Unknown).",
            None,
            &self.conditions,
        )?;
        encode_family(
            encoder,
            "node_taints",
            "Nodes carrying the operator's taint of a problem (unprotected|agent-offline|at-risk); \
             mode=dry_run: the taints a dry run would have set.",
            None,
            &self.taints,
        )?;
        encode_family(
            encoder,
            "node_taints_held_back",
            "Nodes whose taint of a problem the budget (--node-taint-max) holds back.",
            None,
            &self.held_back,
        )?;
        encode_family(
            encoder,
            "node_taint_changes",
            "Taints of a problem the operator added or removed (action), or would have in a \
             dry run (mode=dry_run).",
            None,
            &self.taint_changes,
        )?;
        encode_family(
            encoder,
            "node_writes",
            "Writes to Nodes by kind (conditions: nodes/status; taints: nodes) and result \
             (ok|error).",
            None,
            &self.writes,
        )
    }
}

/// What the gauges show: per condition type, Nodes by status; per problem, Nodes tainted,
/// dry-run tainted and held back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodePostureFigures {
    /// `(type, [True, False, Unknown])`.
    pub conditions: Vec<(&'static str, [usize; 3])>,
    /// `(problem, tainted, dry-run tainted, held back)`.
    pub problems: Vec<(&'static str, usize, usize, usize)>,
    /// The taints are in a dry run: their gauges say `mode=dry_run`.
    pub dry_run: bool,
}

const STATUSES: [&str; 3] = ["True", "False", "Unknown"];

fn gauge(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Metrics {
    /// Sets the Node gauges.
    pub fn set_node_posture(&self, figures: &NodePostureFigures) {
        let families = &self.inner.families.nodes;
        for (type_, counts) in &figures.conditions {
            for (status, count) in STATUSES.iter().zip(counts) {
                families
                    .conditions
                    .get_or_create(&NodeConditionLabels {
                        r#type: type_,
                        status,
                    })
                    .set(gauge(*count));
            }
        }
        for (problem, tainted, dry_run, held_back) in &figures.problems {
            let taint = |mode, count: usize| {
                families
                    .taints
                    .get_or_create(&TaintLabels { problem, mode })
                    .set(gauge(count));
            };
            taint("applied", *tainted);
            if figures.dry_run || *dry_run > 0 {
                taint("dry_run", *dry_run);
            }
            families
                .held_back
                .get_or_create(&ProblemLabels { problem })
                .set(gauge(*held_back));
        }
    }

    /// Counts a taint of `problem` added (or removed), for real or in a dry run.
    pub fn record_taint_change(&self, problem: &'static str, added: bool, dry_run: bool) {
        self.inner
            .families
            .nodes
            .taint_changes
            .get_or_create(&TaintChangeLabels {
                problem,
                action: if added { "added" } else { "removed" },
                mode: if dry_run { "dry_run" } else { "applied" },
            })
            .inc();
    }

    /// Counts a write to Nodes (`kind`: `conditions` or `taints`).
    pub fn record_node_write(&self, kind: &'static str, ok: bool) {
        self.inner
            .families
            .nodes
            .writes
            .get_or_create(&NodeWriteLabels {
                kind,
                result: if ok { "ok" } else { "error" },
            })
            .inc();
    }

    /// Writes to Nodes so far, of `kind`, successful or not.
    pub fn node_writes_total(&self, kind: &'static str, ok: bool) -> u64 {
        self.inner
            .families
            .nodes
            .writes
            .get(&NodeWriteLabels {
                kind,
                result: if ok { "ok" } else { "error" },
            })
            .map_or(0, |counter| counter.get())
    }
}
