//! The node source: node-backed watches' hosts among the cluster's Nodes. It keeps the Nodes
//! ([`NodeCache`], fed by [`super::node_watch`]) and which Nodes each watch selects, so a Node
//! change brings back exactly the watches it may concern; the watch table drops a watch's
//! selection when the watch goes ([`WatchScoped`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use kube::core::SelectorExt;
use tokio_util::sync::CancellationToken;

use super::node_cache::{NodeAnswer, NodeCache, FLAG_OFF, NAMESPACED};
use super::node_watch::{node_changes, NodeObserver, NodeSink};
use super::source::{HostAnswer, HostSource, Started};
use crate::controller::watches::{WatchScoped, WatchTable};
use crate::crd::selector::NodeSource;
use crate::crd::validation::ValidatedSpec;
use crate::crd::WatchKey;
use crate::nodes::NodeInfo;
use crate::status::{Targets, WatchStatus};

pub struct NodeHosts {
    pub cache: NodeCache,
    /// `--node-watches`, and the operator watches every namespace: the Nodes are watched.
    serving: AtomicBool,
    /// The Nodes each node-backed watch selects, as its last reconcile validated them.
    selections: Mutex<HashMap<WatchKey, NodeSource>>,
    /// Who else reads the Nodes (the Node conditions' writer).
    observer: OnceLock<Arc<dyn NodeObserver>>,
}

impl NodeHosts {
    pub fn new(enabled: bool) -> Self {
        let cache = NodeCache::default();
        cache.disable(FLAG_OFF);
        Self {
            cache,
            serving: AtomicBool::new(enabled),
            selections: Mutex::default(),
            observer: OnceLock::new(),
        }
    }

    /// Hands every Node event's marks to `observer` too (set once, before the watch starts).
    pub fn observe(&self, observer: Arc<dyn NodeObserver>) {
        if self.observer.set(observer).is_err() {
            tracing::warn!("a second Node observer was ignored");
        }
    }

    // Updates are plain map operations: a panic elsewhere cannot leave one half done.
    fn selections(&self) -> MutexGuard<'_, HashMap<WatchKey, NodeSource>> {
        self.selections.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The operator watches only some namespaces: node-backed watches are refused.
    pub fn namespaced(&self) {
        if self.serving.swap(false, Ordering::Relaxed) {
            tracing::warn!("--node-watches is ignored with --namespace: node-backed watches are refused (NodeWatchesDisabled)");
            self.cache.disable(NAMESPACED);
        }
    }
}

impl NodeSink for NodeHosts {
    fn cache(&self) -> &NodeCache {
        &self.cache
    }

    fn observer(&self) -> Option<&dyn NodeObserver> {
        self.observer.get().map(|o| &**o)
    }

    fn watches_selecting(
        &self,
        before: Option<&NodeInfo>,
        after: Option<&NodeInfo>,
    ) -> Vec<WatchKey> {
        let selects = |source: &NodeSource, node: Option<&NodeInfo>| {
            node.is_some_and(|n| source.selector.matches(&n.labels))
        };
        let all = before.is_none() && after.is_none();
        let mut keys: Vec<WatchKey> = self
            .selections()
            .iter()
            .filter(|(_, source)| all || selects(source, before) || selects(source, after))
            .map(|(key, _)| key.clone())
            .collect();
        keys.sort();
        keys
    }
}

impl HostSource for NodeHosts {
    fn answer(&self, spec: &ValidatedSpec, previous: Option<&WatchStatus>) -> HostAnswer {
        let Some(source) = &spec.nodes else {
            return HostAnswer::Known(Targets::listed(&spec.host_ids));
        };
        let unknown = || Targets::unknown_nodes(source.describe());
        match self.cache.targets_for(source) {
            NodeAnswer::Known(targets) => HostAnswer::Known(targets.share_ids(previous)),
            NodeAnswer::Listing => HostAnswer::Listing(unknown()),
            NodeAnswer::Unavailable { reason, message } => HostAnswer::Unavailable {
                targets: unknown(),
                reason,
                message,
            },
        }
    }

    fn select(&self, key: &WatchKey, spec: Option<&ValidatedSpec>) {
        let mut selections = self.selections();
        match spec.and_then(|s| s.nodes.as_ref()) {
            Some(source) if selections.get(key) != Some(source) => {
                selections.insert(key.clone(), source.clone());
            }
            Some(_) => {}
            None => {
                selections.remove(key);
            }
        }
    }

    fn watches(&self) -> bool {
        self.serving.load(Ordering::Relaxed)
    }

    fn start(
        self: Arc<Self>,
        client: kube::Client,
        watches: Arc<WatchTable>,
        shutdown: CancellationToken,
    ) -> Option<Started> {
        Some(node_changes(client, self, watches, shutdown))
    }
}

impl WatchScoped for NodeHosts {
    fn forget(&self, key: &WatchKey) {
        self.selections().remove(key);
    }
}
