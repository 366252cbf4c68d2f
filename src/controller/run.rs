//! Wires the reconciler into kube-runtime `Controller`s: one per watched namespace (or one for
//! all namespaces), each with its primary watch filtered on what should trigger a poll, the
//! Secret changes of [`super::triggers`] and the poller's updates; with `--node-watches` and all
//! namespaces, also the Node changes of [`super::node_watch`].
//!
//! Several namespaces get one Controller each rather than a merged stream: a reflector store is
//! fed by exactly one watcher (each watcher's re-list replaces the whole store), and per-namespace
//! watches are what namespaced RBAC allows. The reconciles share one [`Context`], so the watch
//! table, the poller (with its per-credential quota) and the bound on calls in flight are common
//! to all of them.

use std::sync::Arc;
use std::time::Duration;

use futures::stream::FuturesUnordered;
use futures::{future, stream, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{self, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{watcher, PredicateConfig, WatchStreamExt};
use kube::Api;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::context::Context;
use super::node_cache::{FLAG_OFF, NAMESPACED};
use super::node_watch::node_changes;
use super::reconcile::{error_policy, reconcile};
use super::slim::slim_event;
use super::triggers::{poll_trigger_hash, poller_death, poller_updates, secret_changes};
use crate::crd::{HostRiskWatch, WatchKey};

/// Name of the CRD the operator waits for before it reports ready.
pub const CRD_NAME: &str = "hostriskwatches.hostrisk.io";

/// Longest wait for reconciles in flight after a shutdown request.
const DRAIN_GRACE: Duration = Duration::from_secs(20);

/// How often the CRD is looked up again while it is missing.
const CRD_RETRY: Duration = Duration::from_secs(5);

/// How often what is kept about deleted watches is swept; a deletion is handled at once, this
/// only catches a reconcile that finished after it.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Longest time the poller waits, after the controllers start, for every watch of the first
/// lists to be registered before its first call (see `WatchTable::start_poller`).
const STARTUP_HOLD_MAX: Duration = Duration::from_secs(60);

/// Objects per page of the primary watch's lists: a page of watches with 1,000-host statuses
/// is megabytes of JSON, and only one page is held at a time.
const LIST_PAGE_SIZE: u32 = 10;

/// Why the controllers stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the controller for {scope} stopped unexpectedly")]
    ControllerStopped { scope: String },
    #[error("the poller task of group {group} died; its watches would no longer be polled")]
    PollerStopped { group: String },
}

/// `None` = all namespaces.
fn scopes(namespaces: &[String]) -> Vec<Option<String>> {
    let mut list: Vec<String> = namespaces
        .iter()
        .map(|ns| ns.trim().to_string())
        .filter(|ns| !ns.is_empty())
        .collect();
    list.sort();
    list.dedup();
    if list.is_empty() {
        vec![None]
    } else {
        list.into_iter().map(Some).collect()
    }
}

fn scope_label(scope: &Option<String>) -> String {
    scope.as_ref().map_or_else(
        || "all namespaces".to_string(),
        |ns| format!("namespace {ns}"),
    )
}

/// Runs the controllers until `shutdown` is cancelled (then finishes the reconciles in flight)
/// or one of them stops by itself (an error: the caller should exit non-zero). Sets the
/// liveness and readiness flags of `ctx.health` along the way.
pub async fn run_controllers(
    ctx: Arc<Context>,
    namespaces: Vec<String>,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    // Only the leader gets here (cli/run.rs starts the controllers once leading), so only the
    // leader polls; the poller stops with the controllers. It plans its first calls once the
    // watches of every first list are registered: the first sweep packs them all.
    let scopes = scopes(&namespaces);
    let watch_nodes = serves_node_watches(&ctx, &scopes);
    // The Node list counts as a first list the poller waits for.
    ctx.state.start_poller(
        &ctx.hss,
        ctx.poller_options(),
        scopes.len() + usize::from(watch_nodes),
    );
    let hold_bound = {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(STARTUP_HOLD_MAX).await;
            ctx.state.end_startup_hold();
        })
    };
    ctx.metrics.set_leader(true);
    let mut synced = Vec::new();
    let mut controllers = Vec::new();
    for scope in scopes {
        let (first_syncs, controller) =
            build_controller(ctx.clone(), scope.clone(), watch_nodes, shutdown.clone());
        synced.extend(first_syncs);
        let label = scope_label(&scope);
        controllers.push(async move {
            controller.await;
            label
        });
    }
    ctx.health.set_controller_alive(true);
    let readiness = tokio::spawn(track_readiness(
        ctx.clone(),
        synced.clone(),
        shutdown.clone(),
    ));
    let mut running: FuturesUnordered<_> = controllers.into_iter().collect();
    let give_up = stop_waiting(&shutdown, &synced);
    tokio::pin!(give_up);
    let poller_died = poller_death(&ctx);
    tokio::pin!(poller_died);
    let mut result = Ok(());
    loop {
        tokio::select! {
            ended = running.next() => match ended {
                None => break,
                // A controller that ends without a shutdown request died: stop the others too,
                // the process must not limp on with part of its namespaces unwatched.
                Some(scope) if !shutdown.is_cancelled() => {
                    tracing::error!(%scope, "controller stopped without a shutdown request");
                    shutdown.cancel();
                    result = Err(RunError::ControllerStopped { scope });
                }
                Some(_) => {}
            },
            group = &mut poller_died, if result.is_ok() => {
                tracing::error!(%group, "poller stopped polling a group; stopping the controllers");
                shutdown.cancel();
                result = Err(RunError::PollerStopped { group });
            }
            () = &mut give_up => {
                tracing::warn!("controllers did not finish after the shutdown request; stopping anyway");
                break;
            }
        }
    }
    ctx.health.set_controller_alive(false);
    ctx.metrics.set_leader(false);
    ctx.state.stop_poller();
    hold_bound.abort();
    readiness.abort();
    result
}

/// Whether this run watches Nodes (node-backed watches are served); otherwise the Node cache
/// says why they are refused.
fn serves_node_watches(ctx: &Context, scopes: &[Option<String>]) -> bool {
    let all_namespaces = scopes == [None];
    match (ctx.settings.node_watches, all_namespaces) {
        (true, true) => true,
        (true, false) => {
            tracing::warn!("--node-watches is ignored with --namespace: node-backed watches are refused (NodeWatchesDisabled)");
            ctx.nodes.disable(NAMESPACED);
            false
        }
        (false, _) => {
            ctx.nodes.disable(FLAG_OFF);
            false
        }
    }
}

/// Builds the controller for one scope; returns flags that turn true once its primary watch,
/// its Secret watch and (with `nodes`) its Node watch finished their first list, and the
/// future that drives it.
///
/// The flags are set from the watch events rather than by awaiting `Store::wait_until_ready`:
/// the store's readiness is a one-shot channel that wakes only its latest waiter, so a second
/// waiter next to the controller's own runner could sleep forever (or steal the runner's wake-up).
fn build_controller(
    ctx: Arc<Context>,
    scope: Option<String>,
    nodes: bool,
    shutdown: CancellationToken,
) -> (
    Vec<watch::Receiver<bool>>,
    impl std::future::Future<Output = ()>,
) {
    let client = ctx.client.clone();
    let (watch_api, secret_api): (Api<HostRiskWatch>, Api<PartialObjectMeta<Secret>>) = match &scope
    {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
        ),
        None => (Api::all(client.clone()), Api::all(client.clone())),
    };
    let (reader, writer) = reflector::store();
    let (watches_synced, watches_synced_rx) = watch::channel(false);
    let (secrets_synced, secrets_synced_rx) = watch::channel(false);
    let in_scope = {
        let scope = scope.clone();
        move |key: &WatchKey| scope.as_ref().is_none_or(|ns| *ns == key.namespace)
    };
    let slim_ctx = ctx.clone();
    let event_ctx = ctx.clone();
    let event_store = reader.clone();
    let event_scope = in_scope.clone();
    let mut first_list = true;
    let watches = watcher(
        watch_api,
        watcher::Config::default().page_size(LIST_PAGE_SIZE),
    )
    .default_backoff()
    .map_ok(move |mut event| {
        if let watcher::Event::InitApply(watch) | watcher::Event::Apply(watch) = &event {
            slim_ctx
                .metrics
                .seed_watch(watch, &slim_ctx.settings.policy);
        }
        slim_event(&slim_ctx.state, &mut event);
        event
    })
    .reflect(writer)
    .inspect(move |event| match event {
        Ok(watcher::Event::Delete(watch)) => {
            if let Some(key) = WatchKey::of(watch) {
                event_ctx.state.forget(&key);
            }
        }
        Ok(watcher::Event::InitDone) => {
            // A re-list reports no deletion: drop what is gone from the fresh store.
            prune(&event_ctx, &event_scope, &event_store);
            if std::mem::take(&mut first_list) {
                let listed = event_store.state();
                event_ctx
                    .state
                    .initial_list(listed.iter().filter_map(|w| WatchKey::of(w)));
            }
            watches_synced.send_replace(true);
        }
        Err(error) => tracing::warn!(%error, "HostRiskWatch watch failed; retrying"),
        _ => {}
    })
    .applied_objects()
    .predicate_filter(poll_trigger_hash, PredicateConfig::default());
    let mut synced = vec![watches_synced_rx.clone(), secrets_synced_rx];
    let node_triggers = if nodes {
        let (nodes_synced, nodes_synced_rx) = watch::channel(false);
        synced.push(nodes_synced_rx);
        node_changes(ctx.clone(), nodes_synced, shutdown.clone())
    } else {
        stream::empty().boxed()
    };
    let triggers = stream::select(
        stream::select(
            poller_updates(&ctx, scope.clone()),
            secret_changes(ctx.clone(), secret_api, scope.clone(), secrets_synced),
        ),
        node_triggers,
    );
    let label = scope_label(&scope);
    let concurrency = ctx.settings.concurrency;
    let pruning = prune_periodically(
        ctx.clone(),
        in_scope,
        reader.clone(),
        watches_synced_rx.clone(),
    );
    let driver = Controller::for_stream(watches, reader)
        .reconcile_on(triggers)
        .with_config(controller::Config::default().concurrency(concurrency))
        .graceful_shutdown_on(shutdown.cancelled_owned())
        .run(reconcile, error_policy, ctx)
        .for_each(move |result| {
            match result {
                Ok((object, _)) => tracing::trace!(%object, "reconciled"),
                Err(controller::Error::ObjectNotFound(object)) => {
                    tracing::debug!(%object, "object gone before its reconcile")
                }
                Err(error) => tracing::warn!(scope = %label, %error, "controller error"),
            }
            future::ready(())
        });
    let driver = async move {
        tokio::select! {
            () = driver => {}
            () = pruning => {}
        }
    };
    (synced, driver)
}

/// Forgets every watch of the scope that the table, the poller or the metrics know but the
/// store does not.
fn prune(ctx: &Context, in_scope: &impl Fn(&WatchKey) -> bool, store: &Store<HostRiskWatch>) {
    ctx.state.prune(in_scope, |key| {
        store
            .get(&ObjectRef::new(&key.name).within(&key.namespace))
            .is_some()
    });
}

/// Runs [`prune`] every [`PRUNE_EVERY`] once the store has been filled; never ends.
async fn prune_periodically(
    ctx: Arc<Context>,
    in_scope: impl Fn(&WatchKey) -> bool,
    store: Store<HostRiskWatch>,
    synced: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(PRUNE_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if *synced.borrow() {
            prune(&ctx, &in_scope, &store);
        }
    }
}

/// Completes when waiting for the controllers to drain after a shutdown request is pointless:
/// at once if a watch never finished its first list (kube-runtime holds its runner until the
/// store is ready, and the shutdown stopped the watch that would make it so), else after
/// `DRAIN_GRACE`.
async fn stop_waiting(shutdown: &CancellationToken, synced: &[watch::Receiver<bool>]) {
    shutdown.cancelled().await;
    if synced.iter().all(|flag| *flag.borrow()) {
        tokio::time::sleep(DRAIN_GRACE).await;
    }
}

/// Ready = the CRD exists and every watch (primary, Secrets, and Nodes when served) finished its
/// first list (a refused Node list counts: node-backed watches then say so in status).
async fn track_readiness(
    ctx: Arc<Context>,
    synced: Vec<watch::Receiver<bool>>,
    shutdown: CancellationToken,
) {
    let crds: Api<CustomResourceDefinition> = Api::all(ctx.client.clone());
    loop {
        match crds.get_opt(CRD_NAME).await {
            Ok(Some(_)) => break,
            Ok(None) => tracing::warn!(
                crd = CRD_NAME,
                "CRD not found; apply crds/hostriskwatch.yaml"
            ),
            Err(error) => tracing::warn!(crd = CRD_NAME, %error, "cannot read the CRD"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(CRD_RETRY) => {}
        }
    }
    ctx.health.set_crd_found(true);
    for mut flag in synced {
        // Err only when the controller (the sender) is gone: then it will never be ready.
        if flag.wait_for(|done| *done).await.is_err() {
            return;
        }
    }
    ctx.health.set_watches_synced(true);
    tracing::info!("CRD found and watches synced: ready");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_dedupe_and_default_to_all() {
        assert_eq!(scopes(&[]), vec![None]);
        assert_eq!(scopes(&[" ".into()]), vec![None]);
        assert_eq!(
            scopes(&["b".into(), "a".into(), "b".into()]),
            vec![Some("a".to_string()), Some("b".to_string())]
        );
    }
}
