//! The operator-wide settings of Node conditions and taints (from `run`'s `--node-conditions*`
//! and `--node-taint*` flags).

use super::taints::TaintPolicy;

/// What the administrator allows: whether node-backed watches drive Node conditions, which
/// namespaces' watches may, and the taints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeConditionPolicy {
    /// `--node-conditions`.
    pub enabled: bool,
    /// Namespaces whose node-backed watches drive conditions (`--node-conditions-namespaces`,
    /// default the operator's own namespace); a namespaced resource changes cluster-scoped
    /// Nodes, so this is the administrator's choice, not a watch's.
    pub namespaces: Vec<String>,
    pub taints: TaintPolicy,
}

impl NodeConditionPolicy {
    /// Watches in `namespace` may drive Node conditions.
    pub fn allows(&self, namespace: &str) -> bool {
        self.enabled && self.namespaces.iter().any(|ns| ns == namespace)
    }

    /// The namespaces, as messages name them.
    pub fn describe_namespaces(&self) -> String {
        match self.namespaces.as_slice() {
            [] => "none".to_string(),
            namespaces => namespaces.join(", "),
        }
    }
}
