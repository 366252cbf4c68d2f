//! The cluster's Nodes as node-backed watches need them: one [`NodeInfo`] per Node (name,
//! labels, `spec.providerID`, the annotations some watch reads), fed by the Node watch
//! ([`super::node_watch`]), and whether that watch can be trusted: not started (node-backed
//! watches are refused), listing, synced, refused by the API server.
//!
//! Annotations are kept only for the keys some watch asked for: a watch naming a key the
//! current list did not keep asks for it ([`NodeCache::targets_for`]), and the Node watch lists
//! again with it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

use tokio::sync::watch;

use crate::crd::nodes::HostIdSource;
use crate::crd::selector::NodeSource;
use crate::nodes::{resolve, NodeInfo};
use crate::status::{Reason, Targets};

/// Whether the Nodes are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeWatchState {
    /// No Node watch runs (flag off, or the operator is namespaced): why, and how to fix it.
    Disabled(String),
    /// The first list has not completed.
    Listing,
    /// The Nodes are known (and kept current by the watch).
    Synced,
    /// The API server refused the Node list or watch (403).
    Forbidden(String),
    /// The Node list failed otherwise before it ever completed (the watch retries).
    Failed(String),
}

/// What the Nodes say about one node-backed watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeAnswer {
    /// Its hosts, each with its Node, and the selected Nodes that are not watched.
    Known(Targets),
    /// Not known yet: the first list (or a list keeping the watch's annotation) is under way.
    Listing,
    /// Not known, and not about to be: the condition reason and message.
    Unavailable { reason: Reason, message: String },
}

#[derive(Debug)]
struct Inner {
    state: NodeWatchState,
    nodes: BTreeMap<String, NodeInfo>,
    /// Annotation keys `nodes` carries (those wanted when its list started).
    listed_keys: BTreeSet<String>,
    /// The Nodes of a list in progress, swapped in when it completes.
    listing: Option<BTreeMap<String, NodeInfo>>,
}

pub struct NodeCache {
    inner: Mutex<Inner>,
    /// Annotation keys some watch reads ids from; the Node watch lists again when it grows.
    wanted: watch::Sender<BTreeSet<String>>,
}

/// Why node-backed watches are refused when the operator runs without `--node-watches`.
pub const FLAG_OFF: &str = "this operator does not watch Nodes: start it with --node-watches (chart value nodeWatches.enabled=true), which also grants it get/list/watch on nodes";
/// Why node-backed watches are refused when the operator watches only some namespaces.
pub const NAMESPACED: &str = "this operator watches only some namespaces (--namespace): node-backed watches need an operator watching all namespaces, with --node-watches";

impl Default for NodeCache {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                state: NodeWatchState::Disabled(FLAG_OFF.to_string()),
                nodes: BTreeMap::new(),
                listed_keys: BTreeSet::new(),
                listing: None,
            }),
            wanted: watch::channel(BTreeSet::new()).0,
        }
    }
}

impl NodeCache {
    // Updates are plain map operations: a panic elsewhere cannot leave one half done.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn state(&self) -> NodeWatchState {
        self.lock().state.clone()
    }

    /// Node-backed watches are refused, saying `why`; what was known of the Nodes is dropped.
    pub fn disable(&self, why: &str) {
        let mut inner = self.lock();
        inner.state = NodeWatchState::Disabled(why.to_string());
        inner.nodes.clear();
        inner.listing = None;
    }

    /// A Node watch is starting.
    pub fn start(&self) {
        let mut inner = self.lock();
        inner.state = NodeWatchState::Listing;
        inner.nodes.clear();
        inner.listing = None;
    }

    /// What the Nodes say about the watch `source` describes.
    pub fn targets_for(&self, source: &NodeSource) -> NodeAnswer {
        let inner = self.lock();
        match &inner.state {
            NodeWatchState::Disabled(why) => {
                return NodeAnswer::Unavailable {
                    reason: Reason::NodeWatchesDisabled,
                    message: format!("spec.nodeSelector is refused: {why}"),
                }
            }
            NodeWatchState::Forbidden(why) => {
                return NodeAnswer::Unavailable {
                    reason: Reason::NodeWatchForbidden,
                    message: format!(
                        "the API server refused the operator's Node list: {why}; grant it get, list and watch on nodes (chart value nodeWatches.enabled=true)"
                    ),
                }
            }
            NodeWatchState::Failed(why) => {
                return NodeAnswer::Unavailable {
                    reason: Reason::NodeWatchFailed,
                    message: format!("listing Nodes failed (retrying): {why}"),
                }
            }
            NodeWatchState::Listing => return NodeAnswer::Listing,
            NodeWatchState::Synced => {}
        }
        if let HostIdSource::Annotation(key) = &source.host_id {
            if !inner.listed_keys.contains(key) {
                drop(inner);
                self.wanted
                    .send_if_modified(|keys| keys.insert(key.clone()));
                return NodeAnswer::Listing;
            }
        }
        NodeAnswer::Known(resolve(source, inner.nodes.values()))
    }

    /// The annotation keys to keep, and their changes (for the Node watch).
    pub fn wanted_keys(&self) -> watch::Receiver<BTreeSet<String>> {
        self.wanted.subscribe()
    }

    /// A list begins (the watch's first, or a re-list).
    pub fn list_started(&self) {
        self.lock().listing = Some(BTreeMap::new());
    }

    /// One Node of the list in progress.
    pub fn listed(&self, node: NodeInfo) {
        let mut inner = self.lock();
        let listing = inner.listing.get_or_insert_with(BTreeMap::new);
        listing.insert(node.name.clone(), node);
    }

    /// The list completed, keeping the annotations in `keys`: its Nodes replace the known ones.
    pub fn list_done(&self, keys: &BTreeSet<String>) {
        let mut inner = self.lock();
        let listed = inner.listing.take().unwrap_or_default();
        inner.nodes = listed;
        inner.listed_keys = keys.clone();
        inner.state = NodeWatchState::Synced;
    }

    /// A Node was added or changed. Returns what it was and is when that matters to a watch
    /// (`None`: nothing a watch reads changed, e.g. only its status did).
    pub fn applied(&self, node: NodeInfo) -> Option<(Option<NodeInfo>, NodeInfo)> {
        let mut inner = self.lock();
        let old = inner.nodes.get(&node.name);
        if old == Some(&node) {
            return None;
        }
        let old = inner.nodes.insert(node.name.clone(), node.clone());
        Some((old, node))
    }

    /// A Node was deleted; returns what it was, if known.
    pub fn deleted(&self, name: &str) -> Option<NodeInfo> {
        self.lock().nodes.remove(name)
    }

    /// The API server refused the Node watch. True when that is news.
    pub fn forbidden(&self, message: &str) -> bool {
        self.set_state(NodeWatchState::Forbidden(message.to_string()))
    }

    /// A Node list failed otherwise. While the Nodes were never listed that is what
    /// node-backed watches show; once listed, the known Nodes stay in use while the watch
    /// retries. True when that is news.
    pub fn failed(&self, message: &str) -> bool {
        let never_listed = matches!(
            self.lock().state,
            NodeWatchState::Listing | NodeWatchState::Failed(_)
        );
        never_listed && self.set_state(NodeWatchState::Failed(message.to_string()))
    }

    fn set_state(&self, state: NodeWatchState) -> bool {
        let mut inner = self.lock();
        let news = std::mem::discriminant(&inner.state) != std::mem::discriminant(&state);
        inner.state = state;
        news
    }

    /// Nodes known.
    pub fn len(&self) -> usize {
        self.lock().nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::nodes::{NodeHostIdFrom, NodeSelector};
    use crate::crd::selector::check_node_source;

    fn source(from: Option<NodeHostIdFrom>) -> NodeSource {
        let mut errors = Vec::new();
        check_node_source(
            &mut errors,
            &crate::crd::HostIdList::default(),
            Some(&NodeSelector::default()),
            from.as_ref(),
        )
        .expect("valid")
    }

    fn node(name: &str, id: &str) -> NodeInfo {
        NodeInfo {
            name: name.into(),
            provider_id: Some(format!("huaweicloud:///{id}")),
            ..NodeInfo::default()
        }
    }

    fn ids(answer: NodeAnswer) -> Vec<String> {
        match answer {
            NodeAnswer::Known(targets) => targets.ids().iter().map(|id| id.to_string()).collect(),
            other => panic!("not known: {other:?}"),
        }
    }

    #[test]
    fn watches_are_refused_until_a_list_completes_and_then_see_the_nodes() {
        let cache = NodeCache::default();
        assert!(matches!(
            cache.targets_for(&source(None)),
            NodeAnswer::Unavailable {
                reason: Reason::NodeWatchesDisabled,
                ..
            }
        ));
        cache.start();
        assert_eq!(cache.targets_for(&source(None)), NodeAnswer::Listing);
        cache.list_started();
        cache.listed(node("a", "id-a"));
        assert_eq!(cache.targets_for(&source(None)), NodeAnswer::Listing);
        cache.list_done(&BTreeSet::new());
        assert_eq!(ids(cache.targets_for(&source(None))), vec!["id-a"]);
        assert!(cache.applied(node("b", "id-b")).is_some());
        assert!(
            cache.applied(node("b", "id-b")).is_none(),
            "nothing changed"
        );
        assert_eq!(ids(cache.targets_for(&source(None))), vec!["id-a", "id-b"]);
        assert_eq!(cache.deleted("a").map(|n| n.name), Some("a".into()));
        assert_eq!(ids(cache.targets_for(&source(None))), vec!["id-b"]);
    }

    #[test]
    fn a_refusal_is_news_once_and_a_later_failure_keeps_the_known_nodes() {
        let cache = NodeCache::default();
        cache.start();
        assert!(cache.forbidden("nodes is forbidden"));
        assert!(!cache.forbidden("nodes is forbidden"));
        assert!(matches!(
            cache.targets_for(&source(None)),
            NodeAnswer::Unavailable {
                reason: Reason::NodeWatchForbidden,
                ..
            }
        ));
        cache.list_started();
        cache.listed(node("a", "id-a"));
        cache.list_done(&BTreeSet::new());
        assert!(
            !cache.failed("connection reset"),
            "listed once: keep serving"
        );
        assert_eq!(ids(cache.targets_for(&source(None))), vec!["id-a"]);
    }

    #[test]
    fn a_watch_reading_an_annotation_asks_for_it_and_waits_for_a_list_keeping_it() {
        let cache = NodeCache::default();
        let wanted = cache.wanted_keys();
        cache.start();
        cache.list_started();
        cache.list_done(&BTreeSet::new());
        let by_annotation = source(Some(NodeHostIdFrom {
            label: None,
            annotation: Some("example.com/ecs-id".into()),
        }));
        assert_eq!(cache.targets_for(&by_annotation), NodeAnswer::Listing);
        assert!(wanted.has_changed().unwrap_or(false));
        let keys = wanted.borrow().clone();
        assert!(keys.contains("example.com/ecs-id"));
        cache.list_started();
        cache.list_done(&keys);
        assert!(matches!(
            cache.targets_for(&by_annotation),
            NodeAnswer::Known(_)
        ));
    }
}
