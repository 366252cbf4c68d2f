//! The hosts a watch covers, as status computation takes them: the ids of `spec.hostIds`, or
//! those of the Nodes a node-backed watch selects (each with its Node's name), plus what the
//! selection found that is not watched.

use std::sync::Arc;

use super::record::{HostId, NodeName};
use super::watch_status::WatchStatus;
use crate::crd::status::UnresolvedNode;
use crate::crd::HostIdList;

/// One host a watch covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostTarget {
    pub host_id: HostId,
    /// The Node this host is (node-backed watches).
    pub node_name: Option<NodeName>,
}

/// What a node-backed watch's selection found besides its hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeView {
    /// Nodes the selector selects.
    pub selected: usize,
    /// Every selected Node whose host is not watched, by Node name.
    pub unresolved: Vec<UnresolvedNode>,
}

impl NodeView {
    /// True when some Node was left out for the 1000-host cap.
    pub fn over_limit(&self) -> usize {
        self.unresolved
            .iter()
            .filter(|n| n.reason == crate::nodes::provider_id::reason::HOST_LIMIT_EXCEEDED)
            .count()
    }
}

/// The hosts of a watch and where they come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets {
    /// In status order: spec order, or Node name order.
    pub hosts: Vec<HostTarget>,
    /// `status.source`.
    pub source: String,
    /// What the Nodes say, for a node-backed watch whose Nodes are known.
    pub nodes: Option<NodeView>,
    /// The hosts come from Nodes (whether or not they are known right now).
    pub node_backed: bool,
    /// The ids of `hosts` as one list the watch's spec holds already ([`HostIdList::shared`]),
    /// so the poller keeps that list instead of a copy.
    pub shared_ids: Option<Arc<[HostId]>>,
}

impl Targets {
    /// The targets of a watch listing `ids` (`spec.hostIds`).
    pub fn listed(ids: &HostIdList) -> Self {
        Self::listed_sharing(ids, None)
    }

    /// [`Targets::listed`], taking the ids the list shares ([`HostIdList::share`]) or else
    /// those `previous` holds already, instead of copies of its own.
    pub fn listed_sharing(ids: &HostIdList, previous: Option<&WatchStatus>) -> Self {
        let target = |host_id| HostTarget {
            host_id,
            node_name: None,
        };
        let shared_ids = ids.shared().cloned();
        let hosts = match &shared_ids {
            Some(shared) => shared.iter().cloned().map(target).collect(),
            None => {
                let known = previous.map(WatchStatus::ids).unwrap_or_default();
                ids.iter()
                    .map(|id| {
                        target(
                            known
                                .get(id)
                                .map_or_else(|| HostId::from(id), |shared| HostId::clone(shared)),
                        )
                    })
                    .collect()
            }
        };
        Self {
            hosts,
            source: "hostIds".to_string(),
            nodes: None,
            node_backed: false,
            shared_ids,
        }
    }

    /// The targets of a node-backed watch whose Nodes are not known (being listed, or the
    /// Node watch is refused): no host, and what was last learned of the Nodes stays in status.
    pub fn unknown_nodes(source: String) -> Self {
        Self {
            hosts: Vec::new(),
            source,
            nodes: None,
            node_backed: true,
            shared_ids: None,
        }
    }

    /// The host ids, in order: the spec's list when the targets are it.
    pub fn ids(&self) -> Arc<[HostId]> {
        match &self.shared_ids {
            Some(shared) => Arc::clone(shared),
            None => self.hosts.iter().map(|h| h.host_id.clone()).collect(),
        }
    }

    /// Takes the ids `previous` holds already instead of copies of its own, so a host's id is
    /// one allocation for the status, the targets and the poller.
    pub fn share_ids(mut self, previous: Option<&WatchStatus>) -> Self {
        if let Some(previous) = previous {
            let known = previous.ids();
            for host in &mut self.hosts {
                if let Some(id) = known.get(&*host.host_id) {
                    if !HostId::ptr_eq(id, &host.host_id) {
                        host.host_id = HostId::clone(id);
                        // The list no longer holds the same allocations as the hosts.
                        self.shared_ids = None;
                    }
                }
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::HostRiskWatchStatus;
    use crate::status::record::{HostData, HostRecord};

    fn shared_spec(ids: &[&str]) -> HostIdList {
        let mut list = HostIdList::default();
        ids.iter().for_each(|id| list.push(id));
        list.share(|id| Some(HostId::from(id)));
        list
    }

    #[test]
    fn a_shared_spec_list_is_the_targets_list() {
        let spec = shared_spec(&["a", "b"]);
        let targets = Targets::listed(&spec);
        let ids = targets.ids();
        assert!(Arc::ptr_eq(&ids, spec.shared().expect("shared")));
        assert!(HostId::ptr_eq(&targets.hosts[1].host_id, &ids[1]));
    }

    #[test]
    fn a_text_spec_list_gives_a_list_of_its_own() {
        let mut spec = HostIdList::default();
        spec.push("a");
        spec.push("a");
        let targets = Targets::listed(&spec);
        assert!(targets.shared_ids.is_none());
        assert_eq!(
            targets
                .ids()
                .iter()
                .map(|id| id.as_str())
                .collect::<Vec<_>>(),
            ["a", "a"],
            "repeats are the poller's to skip"
        );
    }

    #[test]
    fn ids_taken_from_a_status_end_the_shared_list() {
        let spec = shared_spec(&["a", "b"]);
        let kept = WatchStatus::new(
            HostRiskWatchStatus::default(),
            vec![HostRecord::new("b".into(), HostData::not_found())],
        );
        let targets = Targets::listed(&spec).share_ids(Some(&kept));
        assert!(targets.shared_ids.is_none());
        assert!(HostId::ptr_eq(&targets.ids()[1], &kept.hosts[0].id));
        let same = Targets::listed(&spec).share_ids(None);
        assert!(Arc::ptr_eq(&same.ids(), spec.shared().expect("shared")));
    }
}
