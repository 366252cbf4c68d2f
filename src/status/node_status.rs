//! The node-backed part of a status: `source`, `nodes`, `unresolvedNodes`, each host's
//! `nodeName`, and the `NodesResolved` condition, from a watch's [`Targets`].

use std::collections::HashMap;

use super::conditions::{ConditionStatus, ConditionType, ConditionUpdate, Reason};
use super::record::{HostRecord, NodeName};
use super::targets::{NodeView, Targets};
use crate::crd::schema::HOST_IDS_MAX;
use crate::crd::status::{HostRiskWatchStatus, NodeSummary, UNRESOLVED_NODES_MAX};

/// Nodes named in a condition message; the rest are counted.
const NAMED_IN_MESSAGE: usize = 10;

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Sets `source` and, for a node-backed watch whose Nodes are known, `nodes` and
/// `unresolvedNodes` from `targets` (Nodes not known right now: what was last learned stays).
pub fn apply_view(status: &mut HostRiskWatchStatus, targets: &Targets) {
    status.source = Some(targets.source.clone());
    match &targets.nodes {
        None if targets.node_backed => {}
        Some(view) => {
            status.nodes = Some(NodeSummary {
                selected: count(view.selected),
                watched: count(targets.hosts.len()),
                unresolved: count(view.unresolved.len()),
            });
            status.unresolved_nodes = view
                .unresolved
                .iter()
                .take(UNRESOLVED_NODES_MAX)
                .cloned()
                .collect();
        }
        None => {
            status.nodes = None;
            status.unresolved_nodes = Vec::new();
        }
    }
}

/// Names the Nodes of the hosts a node-backed watch still shows from an earlier poll (a failed
/// or pending poll keeps the hosts; the Nodes may have changed meanwhile). A host whose Node is
/// gone keeps the name it had until the next poll drops it.
pub fn name_kept_hosts(hosts: &mut [HostRecord], targets: &Targets) {
    if targets.nodes.is_none() {
        return;
    }
    let names: HashMap<&str, &NodeName> = targets
        .hosts
        .iter()
        .filter_map(|t| Some((&*t.host_id, t.node_name.as_ref()?)))
        .collect();
    for host in hosts {
        if let Some(name) = names.get(&*host.id) {
            if host.node.as_ref() != Some(*name) {
                host.node = Some(NodeName::clone(name));
            }
        }
    }
}

/// Drops the kept hosts of a node-backed watch whose Node is gone (or no longer selected):
/// the answers for the others stay good, so this needs no poll. True when some were dropped.
/// Hosts are kept as they are while the Nodes are not known.
pub fn drop_departed(hosts: &mut Vec<HostRecord>, targets: &Targets) -> bool {
    if targets.nodes.is_none() {
        return false;
    }
    let wanted: std::collections::HashSet<&str> =
        targets.hosts.iter().map(|t| &*t.host_id).collect();
    let before = hosts.len();
    hosts.retain(|h| wanted.contains(&*h.id));
    hosts.len() != before
}

fn listed(view: &NodeView, only: Option<&str>) -> String {
    let matching: Vec<_> = view
        .unresolved
        .iter()
        .filter(|n| only.is_none_or(|r| n.reason == r))
        .collect();
    let mut names: Vec<String> = matching
        .iter()
        .take(NAMED_IN_MESSAGE)
        .map(|n| format!("{} ({})", n.node_name, n.reason))
        .collect();
    if matching.len() > NAMED_IN_MESSAGE {
        names.push(format!("and {} more", matching.len() - NAMED_IN_MESSAGE));
    }
    names.join(", ")
}

/// `NodesResolved` of a node-backed watch (`None` for one listing its hosts): what the
/// selection found, that the Nodes are not listed yet, or why they cannot be known
/// (`unavailable`: the reason and message).
pub fn nodes_condition(
    targets: &Targets,
    unavailable: Option<(Reason, &str)>,
) -> Option<ConditionUpdate> {
    if !targets.node_backed {
        return None;
    }
    Some(match (unavailable, &targets.nodes) {
        (Some((reason, message)), _) => nodes_unavailable(reason, message),
        (None, Some(view)) => nodes_resolved(view),
        (None, None) => nodes_not_listed(),
    })
}

/// `NodesResolved` while the Nodes are not known yet (the first list is under way): the
/// previous one stays, or Unknown.
fn nodes_not_listed() -> ConditionUpdate {
    ConditionUpdate::keep_or(
        ConditionType::NodesResolved,
        ConditionStatus::Unknown,
        Reason::Pending,
        "the Nodes are not listed yet",
    )
}

/// `NodesResolved` while the Nodes cannot be known (`reason`: Node watches disabled, the Node
/// list refused or failing).
fn nodes_unavailable(reason: Reason, message: &str) -> ConditionUpdate {
    ConditionUpdate::set(
        ConditionType::NodesResolved,
        ConditionStatus::Unknown,
        reason,
        message,
    )
}

/// `NodesResolved` from what the selection found.
pub fn nodes_resolved(view: &NodeView) -> ConditionUpdate {
    let selected = view.selected;
    let missing = view.unresolved.len();
    let (status, why, message) = if missing == 0 {
        let message = if selected == 0 {
            "spec.nodeSelector selects no Node".to_string()
        } else {
            format!("all {selected} selected Nodes have an ECS server id and are watched")
        };
        (ConditionStatus::True, Reason::AllResolved, message)
    } else if view.over_limit() > 0 {
        let left_out = view.over_limit();
        (
            ConditionStatus::False,
            Reason::HostLimitExceeded,
            format!(
                "{selected} Nodes are selected but a HostRiskWatch watches at most {HOST_IDS_MAX} hosts: {left_out} Nodes are left out ({}); narrow spec.nodeSelector or split the Nodes over several watches. {missing} Nodes in all are not watched, see status.unresolvedNodes",
                listed(view, Some(crate::nodes::provider_id::reason::HOST_LIMIT_EXCEEDED))
            ),
        )
    } else {
        (
            ConditionStatus::False,
            Reason::UnresolvedNodes,
            format!(
                "{missing} of {selected} selected Nodes are not watched: {}; see status.unresolvedNodes",
                listed(view, None)
            ),
        )
    };
    ConditionUpdate::set(ConditionType::NodesResolved, status, why, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::status::UnresolvedNode;
    use crate::status::targets::HostTarget;

    fn view(selected: usize, unresolved: &[(&str, &str)]) -> NodeView {
        NodeView {
            selected,
            unresolved: unresolved
                .iter()
                .map(|(name, why)| UnresolvedNode {
                    node_name: name.to_string(),
                    reason: why.to_string(),
                    message: "m".into(),
                })
                .collect(),
        }
    }

    use crate::status::conditions::DesiredCondition;

    fn desired(update: ConditionUpdate) -> DesiredCondition {
        match update {
            ConditionUpdate::Set(d) | ConditionUpdate::KeepOr(d) => d,
        }
    }

    #[test]
    fn the_condition_names_the_nodes_that_are_not_watched() {
        let all = desired(nodes_resolved(&view(3, &[])));
        assert_eq!(
            (all.status, all.reason.as_str()),
            (ConditionStatus::True, "AllResolved")
        );
        let none = desired(nodes_resolved(&view(0, &[])));
        assert_eq!(none.message, "spec.nodeSelector selects no Node");
        let some = desired(nodes_resolved(&view(
            3,
            &[
                ("kind-worker", "ForeignProviderId"),
                ("w-2", "NoProviderId"),
            ],
        )));
        assert_eq!(some.status, ConditionStatus::False);
        assert_eq!(some.reason.as_str(), "UnresolvedNodes");
        assert_eq!(
            some.message,
            "2 of 3 selected Nodes are not watched: kind-worker (ForeignProviderId), w-2 (NoProviderId); see status.unresolvedNodes"
        );
        let many: Vec<(String, &str)> = (0..12)
            .map(|i| (format!("n-{i:02}"), "HostLimitExceeded"))
            .collect();
        let refs: Vec<(&str, &str)> = many.iter().map(|(n, r)| (n.as_str(), *r)).collect();
        let over = desired(nodes_resolved(&view(1012, &refs)));
        assert_eq!(over.reason.as_str(), "HostLimitExceeded");
        assert!(over
            .message
            .contains("12 Nodes are left out (n-00 (HostLimitExceeded)"));
        assert!(over.message.contains("and 2 more"), "{}", over.message);
    }

    #[test]
    fn the_view_fills_source_counts_and_a_bounded_list() {
        let unresolved: Vec<(String, &str)> = (0..150)
            .map(|i| (format!("n-{i:03}"), "NoProviderId"))
            .collect();
        let refs: Vec<(&str, &str)> = unresolved.iter().map(|(n, r)| (n.as_str(), *r)).collect();
        let targets = Targets {
            hosts: vec![HostTarget {
                host_id: "id-1".into(),
                node_name: Some("w-1".into()),
            }],
            source: "nodes".into(),
            nodes: Some(view(151, &refs)),
            node_backed: true,
            shared_ids: None,
        };
        let mut status = HostRiskWatchStatus::default();
        apply_view(&mut status, &targets);
        assert_eq!(status.source.as_deref(), Some("nodes"));
        assert_eq!(
            status.nodes,
            Some(NodeSummary {
                selected: 151,
                watched: 1,
                unresolved: 150
            })
        );
        assert_eq!(status.unresolved_nodes.len(), UNRESOLVED_NODES_MAX);
        let before = status.clone();
        apply_view(
            &mut status,
            &Targets::unknown_nodes("nodes: pool=db".into()),
        );
        assert_eq!(status.source.as_deref(), Some("nodes: pool=db"));
        assert_eq!(
            (status.nodes.clone(), status.unresolved_nodes.len()),
            (before.nodes, UNRESOLVED_NODES_MAX),
            "unknown Nodes keep what was learned"
        );
        apply_view(&mut status, &Targets::listed(&["h"].into()));
        assert_eq!(status.source.as_deref(), Some("hostIds"));
        assert_eq!((status.nodes, status.unresolved_nodes.len()), (None, 0));
    }
}
