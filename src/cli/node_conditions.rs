//! `run`'s flags for Node conditions and taints (flattened into `RunArgs`).

use std::time::Duration;

use crate::crd::duration::parse_duration_flag;
use crate::nodes::policy::NodeConditionPolicy;
use crate::nodes::taints::{Problem, ProblemSet, TaintBudget, TaintEffect, TaintPolicy};

/// Node conditions and taints set from node-backed watches.
#[derive(Debug, Clone, clap::Args)]
pub struct NodeConditionArgs {
    /// Set the HostSecurityAgentOffline, HostSecurityUnprotected and HostSecurityAtRisk
    /// conditions on the Nodes that node-backed watches cover (needs --node-watches, and patch
    /// on nodes/status).
    #[arg(long, env = "HOSTRISK_NODE_CONDITIONS", default_value_t = false)]
    pub node_conditions: bool,

    /// Namespaces whose node-backed watches drive Node conditions (repeatable or
    /// comma-separated); default: the operator's own namespace (env POD_NAMESPACE, else the
    /// in-cluster or kubeconfig namespace).
    #[arg(
        long,
        env = "HOSTRISK_NODE_CONDITIONS_NAMESPACES",
        value_delimiter = ','
    )]
    pub node_conditions_namespaces: Vec<String>,

    /// Problems that taint a Node (comma-separated: unprotected, agent-offline, at-risk);
    /// none by default. Needs --node-conditions and patch on nodes.
    #[arg(long, env = "HOSTRISK_NODE_TAINTS", value_delimiter = ',', value_parser = parse_problem)]
    pub node_taints: Vec<Problem>,

    /// Effect of the taints: NoSchedule or PreferNoSchedule (NoExecute is refused).
    #[arg(long, env = "HOSTRISK_NODE_TAINT_EFFECT", default_value = "PreferNoSchedule", value_parser = TaintEffect::parse)]
    pub node_taint_effect: TaintEffect,

    /// How long a problem must hold before its taint is added (0s: at once).
    #[arg(long, env = "HOSTRISK_NODE_TAINT_AFTER", default_value = "15m", value_parser = parse_duration_flag)]
    pub node_taint_after: Duration,

    /// Most Nodes tainted by the operator at once: a count (3) or a percentage of the Nodes
    /// covered (10%, rounded down).
    #[arg(long, env = "HOSTRISK_NODE_TAINT_MAX", default_value = "10%", value_parser = TaintBudget::parse)]
    pub node_taint_max: TaintBudget,

    /// Taint control-plane Nodes too (node-role.kubernetes.io/control-plane).
    #[arg(
        long,
        env = "HOSTRISK_NODE_TAINT_CONTROL_PLANE",
        default_value_t = false
    )]
    pub node_taint_control_plane: bool,

    /// Report the taints that would be added or removed (Events, metrics) without changing a
    /// Node.
    #[arg(long, env = "HOSTRISK_NODE_TAINT_DRY_RUN", default_value_t = false)]
    pub node_taint_dry_run: bool,
}

fn parse_problem(value: &str) -> Result<Problem, String> {
    Problem::of_name(value.trim()).ok_or_else(|| {
        format!("{value:?} is not a problem that taints: use unprotected, agent-offline or at-risk")
    })
}

impl NodeConditionArgs {
    /// The policy these flags describe, for an operator with `--node-watches` = `node_watches`
    /// whose own namespace is `own_namespace` (the default of `--node-conditions-namespaces`).
    pub fn policy(
        &self,
        node_watches: bool,
        own_namespace: Option<&str>,
    ) -> Result<NodeConditionPolicy, String> {
        let taints = TaintPolicy {
            problems: ProblemSet::of(self.node_taints.iter().copied()),
            effect: self.node_taint_effect,
            after: self.node_taint_after,
            budget: self.node_taint_max,
            control_plane: self.node_taint_control_plane,
            dry_run: self.node_taint_dry_run,
        };
        if !self.node_conditions {
            if taints.enabled() {
                return Err("--node-taints (env HOSTRISK_NODE_TAINTS) needs --node-conditions: \
                            taints follow the Node conditions; set both (chart: nodeConditions.enabled \
                            and nodeConditions.taints)"
                    .into());
            }
            return Ok(NodeConditionPolicy::default());
        }
        if !node_watches {
            return Err(
                "--node-conditions (env HOSTRISK_NODE_CONDITIONS) needs --node-watches: \
                        Node conditions come from node-backed watches; add --node-watches (chart: \
                        nodeWatches.enabled=true)"
                    .into(),
            );
        }
        let mut namespaces: Vec<String> = self
            .node_conditions_namespaces
            .iter()
            .map(|ns| ns.trim().to_string())
            .filter(|ns| !ns.is_empty())
            .collect();
        if namespaces.is_empty() {
            match own_namespace.map(str::trim).filter(|ns| !ns.is_empty()) {
                Some(own) => namespaces.push(own.to_string()),
                None => {
                    return Err(
                        "--node-conditions: the operator's own namespace is unknown (no \
                                POD_NAMESPACE, no in-cluster or kubeconfig namespace): name the \
                                namespaces whose watches drive Node conditions with \
                                --node-conditions-namespaces"
                            .into(),
                    )
                }
            }
        }
        namespaces.sort();
        namespaces.dedup();
        Ok(NodeConditionPolicy {
            enabled: true,
            namespaces,
            taints,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Harness {
        #[command(flatten)]
        args: NodeConditionArgs,
    }

    fn parse(args: &[&str]) -> Result<NodeConditionArgs, String> {
        Harness::try_parse_from(std::iter::once("run").chain(args.iter().copied()))
            .map(|h| h.args)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_off_with_a_ten_percent_budget_after_fifteen_minutes() {
        let args = parse(&[]).expect("defaults");
        assert!(!args.node_conditions && args.node_taints.is_empty());
        assert_eq!(args.node_taint_effect, TaintEffect::PreferNoSchedule);
        assert_eq!(args.node_taint_after, Duration::from_secs(900));
        assert_eq!(args.node_taint_max, TaintBudget::Percent(10));
        assert_eq!(
            args.policy(false, None).expect("off"),
            NodeConditionPolicy::default()
        );
    }

    #[test]
    fn the_namespaces_default_to_the_operators_own() {
        let on = parse(&["--node-conditions"]).expect("on");
        let policy = on.policy(true, Some("hostrisk-system")).expect("policy");
        assert!(policy.allows("hostrisk-system") && !policy.allows("team-a"));
        let listed =
            parse(&["--node-conditions", "--node-conditions-namespaces", "b,a,b"]).expect("listed");
        assert_eq!(
            listed.policy(true, Some("own")).expect("policy").namespaces,
            ["a", "b"]
        );
        let error = on.policy(true, None).expect_err("no namespace");
        assert!(error.contains("--node-conditions-namespaces"), "{error}");
    }

    #[test]
    fn contradictions_and_bad_values_are_refused_naming_the_fix() {
        let error = parse(&["--node-conditions"])
            .expect("parses")
            .policy(false, Some("ns"))
            .expect_err("needs node watches");
        assert!(error.contains("needs --node-watches"), "{error}");
        let error = parse(&["--node-taints", "unprotected"])
            .expect("parses")
            .policy(true, Some("ns"))
            .expect_err("needs conditions");
        assert!(error.contains("needs --node-conditions"), "{error}");
        let error = parse(&["--node-taint-effect", "NoExecute"]).expect_err("refused");
        assert!(error.contains("NoExecute is refused"), "{error}");
        let error = parse(&["--node-taints", "unprotected,cold"]).expect_err("refused");
        assert!(
            error.contains("use unprotected, agent-offline or at-risk"),
            "{error}"
        );
        assert!(parse(&["--node-taint-max", "150%"]).is_err());
        let taints = parse(&[
            "--node-conditions",
            "--node-taints",
            "at-risk,unprotected",
            "--node-taint-after",
            "0s",
            "--node-taint-max",
            "2",
            "--node-taint-dry-run",
        ])
        .expect("parses")
        .policy(true, Some("ns"))
        .expect("policy")
        .taints;
        assert_eq!(
            taints.problems,
            ProblemSet::of([Problem::AtRisk, Problem::Unprotected])
        );
        assert_eq!(taints.after, Duration::ZERO);
        assert_eq!(taints.budget, TaintBudget::Nodes(2));
        assert!(taints.dry_run && !taints.control_plane);
    }
}
