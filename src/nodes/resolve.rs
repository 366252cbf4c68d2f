//! From the Nodes of the cluster to a node-backed watch's hosts: select, read each selected
//! Node's ECS server id, and account for every selected Node that is not watched (no usable id,
//! an id another Node already has, or beyond the 1000-host cap).

use std::collections::HashMap;

use kube::core::SelectorExt;

use super::info::NodeInfo;
use super::provider_id::{host_id_from_provider_id, host_id_from_value, reason, Unresolved};
use crate::crd::nodes::HostIdSource;
use crate::crd::schema::HOST_IDS_MAX;
use crate::crd::selector::NodeSource;
use crate::crd::status::{UnresolvedNode, UNRESOLVED_MESSAGE_MAX_LEN};
use crate::status::targets::{HostTarget, NodeView, Targets};

/// The host id of one Node, read where `source` says.
pub fn host_id_of(node: &NodeInfo, source: &HostIdSource) -> Result<String, Unresolved> {
    match source {
        HostIdSource::ProviderId => {
            host_id_from_provider_id(node.provider_id.as_deref().unwrap_or_default())
        }
        HostIdSource::Label(key) => match node.labels.get(key) {
            Some(value) => host_id_from_value(&format!("label {key}"), value),
            None => Err(Unresolved::new(
                reason::LABEL_MISSING,
                format!("the Node has no label {key} (spec.nodeHostIdFrom.label)"),
            )),
        },
        HostIdSource::Annotation(key) => match node.annotations.get(key) {
            Some(value) => host_id_from_value(&format!("annotation {key}"), value),
            None => Err(Unresolved::new(
                reason::ANNOTATION_MISSING,
                format!("the Node has no annotation {key} (spec.nodeHostIdFrom.annotation)"),
            )),
        },
    }
}

fn unresolved(node: &NodeInfo, why: Unresolved) -> UnresolvedNode {
    UnresolvedNode {
        node_name: node.name.clone(),
        reason: why.reason.to_string(),
        message: why
            .message
            .chars()
            .take(UNRESOLVED_MESSAGE_MAX_LEN)
            .collect(),
    }
}

/// The hosts of the watch `source` describes among `nodes`, in Node name order. Every selected
/// Node is either a host (with its name) or in the view's `unresolved` list with the reason.
pub fn resolve<'a>(source: &NodeSource, nodes: impl IntoIterator<Item = &'a NodeInfo>) -> Targets {
    let mut selected: Vec<&NodeInfo> = nodes
        .into_iter()
        .filter(|node| source.selector.matches(&node.labels))
        .collect();
    selected.sort_by(|a, b| a.name.cmp(&b.name));
    let mut hosts = Vec::new();
    let mut owner: HashMap<String, &str> = HashMap::new();
    let mut view = NodeView {
        selected: selected.len(),
        unresolved: Vec::new(),
    };
    for node in selected {
        let id = match host_id_of(node, &source.host_id) {
            Ok(id) => id,
            Err(why) => {
                view.unresolved.push(unresolved(node, why));
                continue;
            }
        };
        if let Some(first) = owner.get(id.as_str()) {
            let why = Unresolved::new(
                reason::DUPLICATE_HOST_ID,
                format!(
                    "Node {first} has the same host id {id}; the host is watched once, as {first}"
                ),
            );
            view.unresolved.push(unresolved(node, why));
            continue;
        }
        if hosts.len() >= HOST_IDS_MAX {
            let why = Unresolved::new(
                reason::HOST_LIMIT_EXCEEDED,
                format!(
                    "host {id} left out: a HostRiskWatch watches at most {HOST_IDS_MAX} hosts (the first Nodes by name); narrow spec.nodeSelector or split the Nodes over several watches"
                ),
            );
            view.unresolved.push(unresolved(node, why));
            continue;
        }
        owner.insert(id.clone(), node.name.as_str());
        hosts.push(HostTarget {
            host_id: id.as_str().into(),
            node_name: Some(node.name.as_str().into()),
        });
    }
    Targets {
        hosts,
        source: source.describe(),
        nodes: Some(view),
        node_backed: true,
        shared_ids: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::nodes::{NodeSelector, NodeSelectorRequirement};
    use crate::crd::selector::check_node_source;
    use crate::crd::NodeHostIdFrom;
    use std::collections::BTreeMap;

    fn node(name: &str, labels: &[(&str, &str)], provider_id: Option<&str>) -> NodeInfo {
        NodeInfo {
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            provider_id: provider_id.map(str::to_string),
            annotations: BTreeMap::new(),
        }
    }

    fn source(selector: NodeSelector, from: Option<NodeHostIdFrom>) -> NodeSource {
        let mut errors = Vec::new();
        check_node_source(
            &mut errors,
            &crate::crd::HostIdList::default(),
            Some(&selector),
            from.as_ref(),
        )
        .expect("valid")
    }

    fn names(targets: &Targets) -> Vec<(&str, &str)> {
        targets
            .hosts
            .iter()
            .map(|h| (h.node_name.as_deref().unwrap_or(""), &*h.host_id))
            .collect()
    }

    fn reasons(targets: &Targets) -> Vec<(&str, &str)> {
        targets
            .nodes
            .as_ref()
            .map(|v| {
                v.unresolved
                    .iter()
                    .map(|n| (n.node_name.as_str(), n.reason.as_str()))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn the_selector_picks_nodes_and_each_one_is_a_host_or_says_why_not() {
        let nodes = [
            node("web-2", &[("pool", "web")], Some("huaweicloud:///id-2")),
            node("web-1", &[("pool", "web")], Some("huaweicloud://id-1")),
            node("db-1", &[("pool", "db")], Some("huaweicloud:///id-3")),
            node("web-3", &[("pool", "web")], None),
            node(
                "web-4",
                &[("pool", "web")],
                Some("kind://docker/kind/web-4"),
            ),
            node("web-5", &[("pool", "web")], Some("id-1")),
        ];
        let web = source(
            NodeSelector {
                match_labels: BTreeMap::from([("pool".into(), "web".into())]),
                ..NodeSelector::default()
            },
            None,
        );
        let targets = resolve(&web, &nodes);
        assert_eq!(names(&targets), vec![("web-1", "id-1"), ("web-2", "id-2")]);
        assert_eq!(
            reasons(&targets),
            vec![
                ("web-3", "NoProviderId"),
                ("web-4", "ForeignProviderId"),
                ("web-5", "DuplicateHostId"),
            ]
        );
        assert_eq!(targets.nodes.as_ref().map(|v| v.selected), Some(5));
        assert_eq!(targets.source, "nodes: pool=web");
        let all = resolve(&source(NodeSelector::default(), None), &nodes);
        assert_eq!(all.hosts.len(), 3);
        let not_db = source(
            NodeSelector {
                match_expressions: vec![NodeSelectorRequirement {
                    key: "pool".into(),
                    operator: "NotIn".into(),
                    values: vec!["db".into()],
                }],
                ..NodeSelector::default()
            },
            None,
        );
        assert_eq!(resolve(&not_db, &nodes).nodes.map(|v| v.selected), Some(5));
    }

    #[test]
    fn ids_from_a_label_or_an_annotation() {
        let mut labelled = node("a", &[("ecs", "id-a")], None);
        labelled.annotations.insert("x/ecs".into(), "id-x".into());
        let unlabelled = node("b", &[], Some("huaweicloud:///id-b"));
        let bad = node("c", &[("ecs", "has space")], None);
        let by_label = source(
            NodeSelector::default(),
            Some(NodeHostIdFrom {
                label: Some("ecs".into()),
                annotation: None,
            }),
        );
        let targets = resolve(&by_label, [&labelled, &unlabelled, &bad]);
        assert_eq!(names(&targets), vec![("a", "id-a")]);
        assert_eq!(
            reasons(&targets),
            vec![("b", "LabelMissing"), ("c", "InvalidHostId")]
        );
        let by_annotation = source(
            NodeSelector::default(),
            Some(NodeHostIdFrom {
                label: None,
                annotation: Some("x/ecs".into()),
            }),
        );
        let targets = resolve(&by_annotation, [&labelled, &unlabelled]);
        assert_eq!(names(&targets), vec![("a", "id-x")]);
        assert_eq!(reasons(&targets), vec![("b", "AnnotationMissing")]);
    }

    #[test]
    fn beyond_1000_hosts_the_last_nodes_by_name_are_left_out_and_listed() {
        let nodes: Vec<NodeInfo> = (0..1003)
            .map(|i| node(&format!("n-{i:04}"), &[], Some(&format!("id-{i}"))))
            .collect();
        let targets = resolve(&source(NodeSelector::default(), None), &nodes);
        assert_eq!(targets.hosts.len(), HOST_IDS_MAX);
        assert_eq!(
            reasons(&targets),
            vec![
                ("n-1000", "HostLimitExceeded"),
                ("n-1001", "HostLimitExceeded"),
                ("n-1002", "HostLimitExceeded"),
            ]
        );
        assert_eq!(targets.nodes.map(|v| v.over_limit()), Some(3));
    }
}
