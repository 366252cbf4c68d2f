//! Where a watch's hosts come from, behind one interface ([`HostSource`]): the ids it lists
//! ([`ListedHosts`]) or the cluster's Nodes it selects ([`nodes::NodeHosts`]). A source gives a
//! watch its hosts (or says why it cannot yet), the condition it contributes to the watch's
//! status, the reconcile triggers of its changes, and the first list the poller's first sweep
//! waits for.
//!
//! - [`node_cache`]: the cluster's Nodes as the operator keeps them;
//! - [`nodes`]: the node source (selections per watch, the Nodes' answer);
//! - [`node_watch`]: the watch of the Nodes, as reconcile triggers.

pub mod node_cache;
pub mod node_watch;
pub mod nodes;
pub mod source;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::watches::WatchTable;
use crate::crd::validation::ValidatedSpec;
use crate::crd::WatchKey;
use crate::status::{Targets, WatchStatus};
use nodes::NodeHosts;
pub use source::{HostAnswer, HostSource, Started};

/// The ids `spec.hostIds` lists.
pub struct ListedHosts;

impl HostSource for ListedHosts {
    fn answer(&self, spec: &ValidatedSpec, previous: Option<&WatchStatus>) -> HostAnswer {
        HostAnswer::Known(Targets::listed_sharing(&spec.host_ids, previous))
    }
}

/// Every host source of the operator.
pub struct HostSources {
    pub listed: Arc<ListedHosts>,
    pub nodes: Arc<NodeHosts>,
}

impl HostSources {
    /// The sources, serving node-backed watches when `node_watches` (`--node-watches`).
    pub fn new(node_watches: bool) -> Self {
        Self {
            listed: Arc::new(ListedHosts),
            nodes: Arc::new(NodeHosts::new(node_watches)),
        }
    }

    /// The source `spec` names.
    pub fn for_spec(&self, spec: &ValidatedSpec) -> &dyn HostSource {
        match spec.nodes {
            Some(_) => &*self.nodes,
            None => &*self.listed,
        }
    }

    fn all(&self) -> [Arc<dyn HostSource>; 2] {
        [
            Arc::clone(&self.listed) as Arc<dyn HostSource>,
            Arc::clone(&self.nodes) as Arc<dyn HostSource>,
        ]
    }

    /// Notes in every source what the watch reads from it (through the table: see
    /// [`HostSource::select`]).
    pub fn select(&self, key: &WatchKey, spec: Option<&ValidatedSpec>) {
        for source in self.all() {
            source.select(key, spec);
        }
    }

    /// Readies the sources for a run (`all_namespaces`: the operator watches every namespace,
    /// which node-backed watches need) and counts those that will watch something.
    pub fn watching(&self, all_namespaces: bool) -> usize {
        if !all_namespaces {
            self.nodes.namespaced();
        }
        self.all().iter().filter(|source| source.watches()).count()
    }

    /// Starts every source that watches something.
    pub fn start(
        &self,
        client: &kube::Client,
        watches: &Arc<WatchTable>,
        shutdown: &CancellationToken,
    ) -> Vec<Started> {
        self.all()
            .into_iter()
            .filter(|source| source.watches())
            .filter_map(|source| source.start(client.clone(), watches.clone(), shutdown.clone()))
            .collect()
    }
}
