//! Node changes as reconcile triggers of node-backed watches: one watch of all Nodes, decoded
//! as [`SlimNode`] and kept as [`NodeInfo`] in the [`NodeCache`] (never whole Node objects).
//! A Node added, changed in what a watch reads, or deleted brings back the node-backed watches
//! that select it (before or after the change); a change of what the cache is (first list,
//! refused, re-listed) brings back all of them. A Node whose status alone changed (the
//! kubelet's updates) triggers nothing.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::channel::mpsc;
use futures::stream::{BoxStream, StreamExt};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{watcher, WatchStreamExt};
use kube::Api;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::context::Context;
use crate::crd::{HostRiskWatch, WatchKey};
use crate::nodes::{NodeInfo, SlimNode};

/// Nodes per page of the list: a Node object is tens of kilobytes (images, conditions), and
/// only one page is held at a time.
const LIST_PAGE_SIZE: u32 = 100;

/// The watches to reconcile because of the Nodes. `synced` turns true once the Node watch got
/// its first answer (the list, or a refusal that node-backed watches then report). The watch
/// runs until `shutdown` or until the stream is dropped.
pub fn node_changes(
    ctx: Arc<Context>,
    synced: watch::Sender<bool>,
    shutdown: CancellationToken,
) -> BoxStream<'static, ObjectRef<HostRiskWatch>> {
    let (sender, receiver) = mpsc::unbounded();
    ctx.nodes.start();
    tokio::spawn(watch_nodes(ctx, sender, synced, shutdown));
    receiver.boxed()
}

struct NodeWatch {
    ctx: Arc<Context>,
    sender: mpsc::UnboundedSender<ObjectRef<HostRiskWatch>>,
    synced: watch::Sender<bool>,
    /// The first answer (list or refusal) is still to come.
    first: bool,
}

async fn watch_nodes(
    ctx: Arc<Context>,
    sender: mpsc::UnboundedSender<ObjectRef<HostRiskWatch>>,
    synced: watch::Sender<bool>,
    shutdown: CancellationToken,
) {
    let api: Api<SlimNode> = Api::all(ctx.client.clone());
    let mut wanted = ctx.nodes.wanted_keys();
    let mut state = NodeWatch {
        ctx,
        sender,
        synced,
        first: true,
    };
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

/// The message of an API server refusal (403) among the watcher's errors.
fn forbidden(error: &watcher::Error) -> Option<String> {
    let status = match error {
        watcher::Error::InitialListFailed(kube::Error::Api(status))
        | watcher::Error::WatchStartFailed(kube::Error::Api(status))
        | watcher::Error::WatchFailed(kube::Error::Api(status)) => status,
        watcher::Error::WatchError(status) => status,
        _ => return None,
    };
    (status.code == 403).then(|| status.message.clone())
}

impl NodeWatch {
    /// Applies one watcher event to the cache; returns the watches it concerns.
    fn handle(
        &mut self,
        event: Result<watcher::Event<SlimNode>, watcher::Error>,
        keys: &BTreeSet<String>,
    ) -> Vec<WatchKey> {
        let ctx = Arc::clone(&self.ctx);
        let (nodes, table) = (&ctx.nodes, &ctx.state);
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
                table.watches_selecting(None, None)
            }
            Ok(watcher::Event::Apply(node)) => match nodes.applied(NodeInfo::of(node, keys)) {
                Some((before, after)) => table.watches_selecting(before.as_ref(), Some(&after)),
                None => Vec::new(),
            },
            Ok(watcher::Event::Delete(node)) => {
                let name = node.metadata.name.unwrap_or_default();
                match nodes.deleted(&name) {
                    Some(before) => table.watches_selecting(Some(&before), None),
                    None => Vec::new(),
                }
            }
            Err(error) => {
                let news = match forbidden(&error) {
                    Some(message) => {
                        tracing::warn!(verb = "list/watch", resource = "nodes", %message, "the API server refused the Node watch; node-backed watches say NodeWatchForbidden until it is granted");
                        nodes.forbidden(&message)
                    }
                    None => {
                        tracing::warn!(resource = "nodes", %error, "Node watch failed; retrying");
                        nodes.failed(&error.to_string())
                    }
                };
                self.first_answer();
                if news {
                    table.watches_selecting(None, None)
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
            let waiting = self.ctx.state.watches_selecting(None, None);
            self.ctx.state.nodes_listed(&waiting);
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
