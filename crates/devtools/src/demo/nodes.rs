//! The demo's Nodes as `kubectl describe node` shows the operator's work on them: one line per
//! Node with its `HostSecurity*` problems and taints, and what a step expects to see there.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, NodeCondition};
use kube::{Api, ResourceExt};

use super::DemoError;

/// How often a step's Nodes are read back while waiting for their conditions.
const READ_BACK_EVERY: Duration = Duration::from_millis(100);

/// Prefix of the condition types the operator sets.
const CONDITION_PREFIX: &str = "HostSecurity";

/// What a step expects of a Node once the operator took the change in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeExpect {
    /// The Node's condition `type_` has this status.
    Condition {
        node: &'static str,
        type_: &'static str,
        status: &'static str,
    },
    /// The Node carries no taint of the operator (`hostrisk.io/`).
    Untainted { node: &'static str },
}

impl NodeExpect {
    pub fn node(&self) -> &'static str {
        match self {
            Self::Condition { node, .. } | Self::Untainted { node } => node,
        }
    }

    pub fn holds(&self, node: &Node) -> bool {
        match self {
            Self::Condition { type_, status, .. } => {
                ours(node).any(|c| c.type_ == *type_ && c.status == *status)
            }
            Self::Untainted { .. } => !taints(node)
                .iter()
                .any(|t| t.starts_with(hostrisk_operator::nodes::taints::TAINT_KEY_PREFIX)),
        }
    }

    /// `Node cce-node-2 HostSecurityAtRisk=True`, for a step that did not see it.
    pub fn describe(&self) -> String {
        match self {
            Self::Condition {
                node,
                type_,
                status,
            } => format!("Node {node} {type_}={status}"),
            Self::Untainted { node } => format!("Node {node} without the operator's taints"),
        }
    }
}

fn ours(node: &Node) -> impl Iterator<Item = &NodeCondition> {
    node.status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten())
        .filter(|c| c.type_.starts_with(CONDITION_PREFIX))
}

/// `key:effect` of every taint of the Node.
fn taints(node: &Node) -> Vec<String> {
    node.spec
        .iter()
        .flat_map(|s| s.taints.iter().flatten())
        .map(|t| format!("{}:{}", t.key, t.effect))
        .collect()
}

/// `Node cce-node-1: HostSecurityAtRisk=True (RisksFound); taints hostrisk.io/at-risk:NoSchedule`:
/// the operator's conditions that are not `False` and the Node's taints; `None` for a Node
/// without the operator's conditions.
pub fn node_line(node: &Node) -> Option<String> {
    let mut conditions = ours(node).peekable();
    conditions.peek()?;
    let problems: Vec<String> = conditions
        .filter(|c| c.status != "False")
        .map(|c| {
            format!(
                "{}={} ({})",
                c.type_,
                c.status,
                c.reason.as_deref().unwrap_or_default()
            )
        })
        .collect();
    let taints = taints(node);
    Some(format!(
        "Node {}: {}; {}",
        node.name_any(),
        if problems.is_empty() {
            "no HostSecurity* problem".to_string()
        } else {
            problems.join(", ")
        },
        if taints.is_empty() {
            "no taints".to_string()
        } else {
            format!("taints {}", taints.join(", "))
        }
    ))
}

/// One line per Node carrying the operator's conditions, read back over HTTP.
pub async fn lines(client: kube::Client) -> Result<Vec<String>, DemoError> {
    let nodes: Api<Node> = Api::all(client);
    Ok(nodes
        .list(&Default::default())
        .await?
        .iter()
        .filter_map(node_line)
        .collect())
}

/// What the Nodes of `expect` showed: their lines, and the expectations still unmet at `until`
/// (none when every one held).
pub async fn wait_for_nodes(
    nodes: &Api<Node>,
    expect: &[NodeExpect],
    until: Instant,
) -> Result<(Vec<String>, Vec<NodeExpect>), DemoError> {
    let mut names: Vec<&str> = expect.iter().map(NodeExpect::node).collect();
    names.dedup();
    loop {
        let mut read = Vec::new();
        for name in &names {
            read.push(nodes.get(name).await?);
        }
        let unmet: Vec<NodeExpect> = expect
            .iter()
            .filter(|e| !read.iter().any(|n| n.name_any() == e.node() && e.holds(n)))
            .cloned()
            .collect();
        if unmet.is_empty() || Instant::now() + READ_BACK_EVERY > until {
            return Ok((read.iter().filter_map(node_line).collect(), unmet));
        }
        tokio::time::sleep(READ_BACK_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NodeSpec, NodeStatus, Taint};

    fn node(conditions: &[(&str, &str, &str)], taints: &[&str]) -> Node {
        let mut node = Node::default();
        node.metadata.name = Some("cce-node-1".into());
        node.spec = Some(NodeSpec {
            taints: Some(
                taints
                    .iter()
                    .map(|key| Taint {
                        key: key.to_string(),
                        value: Some("hostrisk-operator".into()),
                        effect: "PreferNoSchedule".into(),
                        time_added: None,
                    })
                    .collect(),
            ),
            ..Default::default()
        });
        node.status = Some(NodeStatus {
            conditions: Some(
                conditions
                    .iter()
                    .map(|(type_, status, reason)| NodeCondition {
                        type_: type_.to_string(),
                        status: status.to_string(),
                        reason: Some(reason.to_string()),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        });
        node
    }

    #[test]
    fn a_line_shows_the_problems_and_taints_and_skips_other_nodes() {
        let at_risk = node(
            &[
                ("Ready", "True", "KubeletReady"),
                ("HostSecurityAgentOffline", "False", "AgentOnline"),
                ("HostSecurityAtRisk", "True", "RisksFound"),
            ],
            &["hostrisk.io/at-risk"],
        );
        assert_eq!(
            node_line(&at_risk).as_deref(),
            Some(
                "Node cce-node-1: HostSecurityAtRisk=True (RisksFound); taints \
                 hostrisk.io/at-risk:PreferNoSchedule"
            )
        );
        let clean = node(&[("HostSecurityAtRisk", "False", "NoRisksFound")], &[]);
        assert_eq!(
            node_line(&clean).as_deref(),
            Some("Node cce-node-1: no HostSecurity* problem; no taints")
        );
        assert_eq!(
            node_line(&node(&[("Ready", "True", "KubeletReady")], &[])),
            None
        );
    }

    #[test]
    fn expectations_read_conditions_and_the_operators_taints() {
        let at_risk = node(
            &[("HostSecurityAtRisk", "True", "RisksFound")],
            &["hostrisk.io/at-risk"],
        );
        let risk = NodeExpect::Condition {
            node: "cce-node-1",
            type_: "HostSecurityAtRisk",
            status: "True",
        };
        assert!(risk.holds(&at_risk));
        assert!(!risk.holds(&node(
            &[("HostSecurityAtRisk", "False", "NoRisksFound")],
            &[]
        )));
        let untainted = NodeExpect::Untainted { node: "cce-node-1" };
        assert!(!untainted.holds(&at_risk));
        assert!(untainted.holds(&node(&[], &["example.com/maintenance"])));
        assert_eq!(risk.describe(), "Node cce-node-1 HostSecurityAtRisk=True");
    }
}
