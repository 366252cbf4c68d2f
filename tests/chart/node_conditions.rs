//! Node conditions in the chart: the grants on `nodes/status` and `nodes` rendered only when the
//! feature (or its cleanup) asks for them, and the values as the operator's flags.

use super::rbac::{grant, operator_grants, Grant, Scope};
use super::render::{render, value_sets, RELEASE_NAMESPACE};

/// The operator's grants that write Nodes.
fn node_writes(set: &str) -> Vec<Grant> {
    operator_grants(&render(set))
        .into_iter()
        .filter(|g| {
            g.resource.starts_with("nodes")
                && g.verb != "get"
                && g.verb != "list"
                && g.verb != "watch"
        })
        .collect()
}

#[test]
fn node_write_grants_are_rendered_only_for_conditions_taints_or_their_cleanup() {
    let status = grant(&Scope::Cluster, "", "nodes/status", "patch", None);
    let spec = grant(&Scope::Cluster, "", "nodes", "patch", None);
    for set in value_sets() {
        let expected = match set.as_str() {
            "node-conditions" => vec![status.clone()],
            "node-taints" | "node-conditions-cleanup" => vec![spec.clone(), status.clone()],
            _ => Vec::new(),
        };
        assert_eq!(node_writes(&set), expected, "value set {set}");
    }
}

#[test]
fn node_condition_values_become_the_operators_flags() {
    let flags = |set: &str| -> Vec<String> {
        render(set)
            .args()
            .into_iter()
            .filter(|a| a.starts_with("--node-") && a != "--node-watches")
            .collect()
    };
    assert_eq!(
        flags("node-conditions"),
        [
            "--node-conditions".to_string(),
            format!("--node-conditions-namespaces={RELEASE_NAMESPACE}")
        ]
    );
    assert_eq!(
        flags("node-taints"),
        [
            "--node-conditions",
            "--node-conditions-namespaces=security,platform",
            "--node-taints=unprotected,agent-offline",
            "--node-taint-effect=NoSchedule",
            "--node-taint-after=30m",
            "--node-taint-max=2",
            "--node-taint-control-plane",
            "--node-taint-dry-run",
        ]
    );
    for set in value_sets() {
        if !set.starts_with("node-conditions") && set != "node-taints" {
            assert!(flags(&set).is_empty(), "{set}: {:?}", flags(&set));
        }
    }
    assert!(
        flags("node-conditions-cleanup").is_empty(),
        "cleanup passes no flag"
    );
}
