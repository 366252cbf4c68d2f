//! The hosts a watch covers, as status computation takes them: the ids of `spec.hostIds`, or
//! those of the Nodes a node-backed watch selects (each with its Node's name), plus what the
//! selection found that is not watched.

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
        let hosts = match ids.shared() {
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
        }
    }

    /// The host ids, in order.
    pub fn ids(&self) -> Vec<HostId> {
        self.hosts.iter().map(|h| h.host_id.clone()).collect()
    }

    /// Takes the ids `previous` holds already instead of copies of its own, so a host's id is
    /// one allocation for the status, the targets and the poller.
    pub fn share_ids(mut self, previous: Option<&WatchStatus>) -> Self {
        if let Some(previous) = previous {
            let known = previous.ids();
            for host in &mut self.hosts {
                if let Some(id) = known.get(&*host.host_id) {
                    host.host_id = HostId::clone(id);
                }
            }
        }
        self
    }
}
