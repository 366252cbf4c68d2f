//! Node changes as reconcile triggers of node-backed watches: one watch of all Nodes, decoded
//! as [`SlimNode`] and kept as [`NodeInfo`] in the node source's cache (never whole Node
//! objects).
//! A Node added, changed in what a watch reads, or deleted brings back the node-backed watches
//! that select it (before or after the change); a change of what the cache is (first list,
//! refused, re-listed) brings back all of them. A Node whose status alone changed (the
//! kubelet's updates) triggers nothing.
//!
//! The sink may name a [`NodeObserver`] (the Node conditions' writer), which sees every Node
//! event's [`NodeMarks`] in the watch's order.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::channel::mpsc;
use futures::stream::StreamExt;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{watcher, WatchStreamExt};
use kube::Api;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::node_cache::NodeCache;
use super::source::Started;
use crate::controller::watches::WatchTable;
use crate::crd::{HostRiskWatch, WatchKey};
use crate::nodes::marks::NodeMarks;
use crate::nodes::{NodeInfo, SlimNode};

/// Nodes per page of the list: a Node object is tens of kilobytes (images, conditions), and
/// only one page is held at a time.
const LIST_PAGE_SIZE: u32 = 100;

/// Who else reads the Nodes as the watch sees them: the operator's marks on each Node (its
/// conditions and taints), with the list boundaries of the watch.
pub trait NodeObserver: Send + Sync {
    /// A list begins (the watch's first, or a re-list).
    fn list_started(&self);
    /// A Node listed, added or changed, at `version`.
    fn seen(&self, name: &str, version: Option<&str>, marks: NodeMarks);
    /// The list completed: Nodes it did not have are gone.
    fn list_done(&self);
    fn deleted(&self, name: &str);
}

/// What the Node watch feeds: the cache of the Nodes, and who selects which.
pub trait NodeSink: Send + Sync + 'static {
    fn cache(&self) -> &NodeCache;

    /// Who else reads the Nodes' marks, if anyone.
    fn observer(&self) -> Option<&dyn NodeObserver> {
        None
    }

    /// The watches that select `before` or `after` (a Node that changed, appeared or went
    /// away), or all of them when both are `None`.
    fn watches_selecting(
        &self,
        before: Option<&NodeInfo>,
        after: Option<&NodeInfo>,
    ) -> Vec<WatchKey>;
}

/// The watches to reconcile because of the Nodes, and a flag that turns true once the Node
/// watch got its first answer (the list, or a refusal that node-backed watches then report).
/// The watch runs until `shutdown` or until the stream is dropped.
pub fn node_changes(
    client: kube::Client,
    nodes: Arc<dyn NodeSink>,
    watches: Arc<WatchTable>,
    shutdown: CancellationToken,
) -> Started {
    let (sender, receiver) = mpsc::unbounded();
    let (synced, synced_rx) = watch::channel(false);
    nodes.cache().start();
    let state = NodeWatch {
        nodes,
        watches,
        sender,
        synced,
        first: true,
    };
    tokio::spawn(watch_nodes(client, state, shutdown));
    Started {
        triggers: receiver.boxed(),
        synced: synced_rx,
    }
}

struct NodeWatch {
    nodes: Arc<dyn NodeSink>,
    watches: Arc<WatchTable>,
    sender: mpsc::UnboundedSender<ObjectRef<HostRiskWatch>>,
    synced: watch::Sender<bool>,
    /// The first answer (list or refusal) is still to come.
    first: bool,
}

async fn watch_nodes(client: kube::Client, mut state: NodeWatch, shutdown: CancellationToken) {
    let api: Api<SlimNode> = Api::all(client);
    let mut wanted = state.nodes.cache().wanted_keys();
    loop {
        let keys = wanted.borrow_and_update().clone();
        let mut events = watcher(
            api.clone(),
            watcher::Config::default().page_size(LIST_PAGE_SIZE),
        )
        .default_backoff()
        .boxed();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                changed = wanted.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    // A watch reads an annotation the Nodes were not kept with: list again.
                    tracing::info!(annotations = ?wanted.borrow().iter().collect::<Vec<_>>(), "listing Nodes again to keep another annotation");
                    break;
                }
                event = events.next() => {
                    let Some(event) = event else { return };
                    let touched = state.handle(event, &keys);
                    if !state.trigger(touched) {
                        return;
                    }
                }
            }
        }
    }
}

/// Hands a watcher event's marks to `observer`.
fn observe(observer: &dyn NodeObserver, event: &Result<watcher::Event<SlimNode>, watcher::Error>) {
    match event {
        Ok(watcher::Event::Init) => observer.list_started(),
        Ok(watcher::Event::InitApply(node) | watcher::Event::Apply(node)) => {
            let meta = &node.metadata;
            observer.seen(
                meta.name.as_deref().unwrap_or_default(),
                meta.resource_version.as_deref(),
                node.marks(),
            );
        }
        Ok(watcher::Event::InitDone) => observer.list_done(),
        Ok(watcher::Event::Delete(node)) => {
            observer.deleted(node.metadata.name.as_deref().unwrap_or_default())
        }
        Err(_) => {}
    }
}

impl NodeWatch {
    /// Applies one watcher event to the cache; returns the watches it concerns.
    fn handle(
        &mut self,
        event: Result<watcher::Event<SlimNode>, watcher::Error>,
        keys: &BTreeSet<String>,
    ) -> Vec<WatchKey> {
        let source = Arc::clone(&self.nodes);
        let nodes = source.cache();
        if let Some(observer) = source.observer() {
            observe(observer, &event);
        }
        match event {
            Ok(watcher::Event::Init) => {
                nodes.list_started();
                Vec::new()
            }
            Ok(watcher::Event::InitApply(node)) => {
                nodes.listed(NodeInfo::of(node, keys));
                Vec::new()
            }
            Ok(watcher::Event::InitDone) => {
                nodes.list_done(keys);
                tracing::debug!(nodes = nodes.len(), "Nodes listed");
                self.first_answer();
                source.watches_selecting(None, None)
            }
            Ok(watcher::Event::Apply(node)) => match nodes.applied(NodeInfo::of(node, keys)) {
                Some((before, after)) => source.watches_selecting(before.as_ref(), Some(&after)),
                None => Vec::new(),
            },
            Ok(watcher::Event::Delete(node)) => {
                let name = node.metadata.name.unwrap_or_default();
                match nodes.deleted(&name) {
                    Some(before) => source.watches_selecting(Some(&before), None),
                    None => Vec::new(),
                }
            }
            Err(error) => {
                let news = match crate::controller::error::watcher_forbidden(&error) {
                    Some(message) => {
                        tracing::warn!(verb = "list/watch", resource = "nodes", %message, "the API server refused the Node watch; node-backed watches say NodeWatchForbidden until it is granted");
                        nodes.forbidden(message)
                    }
                    None => {
                        tracing::warn!(resource = "nodes", %error, "Node watch failed; retrying");
                        nodes.failed(&error.to_string())
                    }
                };
                self.first_answer();
                if news {
                    source.watches_selecting(None, None)
                } else {
                    Vec::new()
                }
            }
        }
    }

    /// The first list or refusal: the node-backed watches reconciled before it register now
    /// (the poller's first sweep waits for them), and readiness no longer waits.
    fn first_answer(&mut self) {
        if std::mem::take(&mut self.first) {
            let waiting = self.nodes.watches_selecting(None, None);
            self.watches.initial_list_again(&waiting);
            self.synced.send_replace(true);
        }
    }

    /// Sends the reconcile triggers; false once the controller is gone.
    fn trigger(&self, touched: Vec<WatchKey>) -> bool {
        for key in touched {
            tracing::debug!(namespace = %key.namespace, name = %key.name, "Nodes changed");
            if self.sender.unbounded_send(key.object_ref()).is_err() {
                return false;
            }
        }
        true
    }
}
