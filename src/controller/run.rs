//! Wires the reconciler into kube-runtime `Controller`s: one per watched namespace (or one for
//! all namespaces), each with its primary watch filtered on what should trigger a poll, the
//! Secret changes of [`super::triggers`] and the poller's updates; with all namespaces, also the
//! changes of the host sources that watch something (the Nodes, with `--node-watches`).
//!
//! The primary watch is where a watch's life begins and ends: each delivered object, decoded
//! slim ([`WatchDocument`]), is handed to the watch table with its status before the store
//! takes it without, and a deletion (or an object missing from a re-list) is handed to it after
//! the store let it go.
//!
//! Several namespaces get one Controller each rather than a merged stream: a reflector store is
//! fed by exactly one watcher (each watcher's re-list replaces the whole store), and per-namespace
//! watches are what namespaced RBAC allows. The reconciles share one [`Context`], so the watch
//! table, the poller (with its per-credential quota) and the bound on calls in flight are common
//! to all of them.

use std::sync::Arc;
use std::time::Duration;

use futures::stream::{BoxStream, FuturesUnordered};
use futures::{future, stream, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{self, Controller};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{watcher, PredicateConfig, WatchStreamExt};
use kube::Api;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::context::Context;
use super::outputs::{OutputRun, OutputStarted};
use super::reconcile::{error_policy, reconcile};
use super::slim::{store_event, WatchDocument};
use super::triggers::{poll_trigger_hash, poller_death, poller_updates, secret_changes};
use crate::crd::{HostRiskWatch, WatchKey};

/// Name of the CRD the operator waits for before it reports ready.
pub const CRD_NAME: &str = "hostriskwatches.hostrisk.io";

/// Longest wait for reconciles in flight after a shutdown request.
const DRAIN_GRACE: Duration = Duration::from_secs(20);

/// How often the CRD is looked up again while it is missing.
const CRD_RETRY: Duration = Duration::from_secs(5);

/// Longest time the poller waits, after the controllers start, for every watch of the first
/// lists to be registered before its first call (see `WatchTable::start_poller`).
const STARTUP_HOLD_MAX: Duration = Duration::from_secs(60);

/// Objects per page of the primary watch's lists. A page is decoded slim as it arrives
/// ([`WatchDocument`]), so what a page holds at once is its response text: with 100-host
/// statuses and a real API server's `managedFields`, about 70 KB per object, some 7 MB a page;
/// 10,000 watches take 100 requests.
const LIST_PAGE_SIZE: u32 = 100;

/// Why the controllers stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the controller for {scope} stopped unexpectedly")]
    ControllerStopped { scope: String },
    #[error("the poller task of group {group} died; its watches would no longer be polled")]
    PollerStopped { group: String },
    #[error("the task of the {output} output stopped unexpectedly")]
    OutputStopped { output: String },
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
    let all_namespaces = scopes == [None];
    // The first lists of the host sources that watch something (the Nodes) count as first
    // lists the poller waits for, like each scope's list of watches.
    let source_lists = ctx.hosts.watching(all_namespaces);
    let poller =
        ctx.watches
            .start_poller(&ctx.hss, ctx.poller_options(), scopes.len() + source_lists);
    // Its groups' figures are read at each scrape, while it runs.
    ctx.metrics.observe_poller(Some(Arc::new(poller.handle())));
    let hold_bound = {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(STARTUP_HOLD_MAX).await;
            ctx.watches.end_startup_hold();
        })
    };
    ctx.metrics.set_leader(true);
    let mut synced = Vec::new();
    let mut source_triggers = Vec::new();
    // The outputs' tasks first: the Node watch feeds one of them from its first list on.
    let mut output_tasks = Vec::new();
    let mut output_triggers = Vec::new();
    let run = OutputRun {
        client: ctx.client.clone(),
        watches: ctx.watches.clone(),
        scopes: scopes.clone(),
        shutdown: shutdown.clone(),
    };
    for OutputStarted {
        name,
        task,
        triggers,
    } in ctx.outputs.start(&run)
    {
        output_tasks.push(tokio::spawn(async move {
            task.await;
            name
        }));
        output_triggers.extend(triggers);
    }
    for started in ctx.hosts.start(&ctx.client, &ctx.watches, &shutdown) {
        synced.push(started.synced);
        source_triggers.push(started.triggers);
    }
    let mut output_triggers = route_by_scope(output_triggers, &scopes).into_iter();
    let mut controllers = Vec::new();
    for scope in scopes {
        // Host sources watch only when the operator watches every namespace: one controller.
        let mut triggers = std::mem::take(&mut source_triggers);
        triggers.extend(output_triggers.next());
        let (first_syncs, controller) =
            build_controller(ctx.clone(), scope.clone(), triggers, shutdown.clone());
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
    let mut outputs_running: FuturesUnordered<_> = output_tasks.iter_mut().collect();
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
            Some(ended) = outputs_running.next(), if result.is_ok() => {
                // Output tasks end with the shutdown; one ending before it died.
                if !shutdown.is_cancelled() {
                    let output = ended.unwrap_or("an output's").to_string();
                    tracing::error!(%output, "an output's task stopped; stopping the controllers");
                    shutdown.cancel();
                    result = Err(RunError::OutputStopped { output });
                }
            }
            () = &mut give_up => {
                tracing::warn!("controllers did not finish after the shutdown request; stopping anyway");
                break;
            }
        }
    }
    ctx.health.set_controller_alive(false);
    ctx.metrics.set_leader(false);
    ctx.watches.stop_poller();
    ctx.metrics.observe_poller(None);
    hold_bound.abort();
    readiness.abort();
    drop(outputs_running);
    for task in output_tasks {
        task.abort();
    }
    result
}

/// The outputs' triggers, one stream per scope: all of them for a single controller, else each
/// to the controller of its namespace.
fn route_by_scope(
    triggers: Vec<BoxStream<'static, ObjectRef<HostRiskWatch>>>,
    scopes: &[Option<String>],
) -> Vec<BoxStream<'static, ObjectRef<HostRiskWatch>>> {
    if triggers.is_empty() {
        return Vec::new();
    }
    if scopes.len() <= 1 {
        return vec![stream::select_all(triggers).boxed()];
    }
    let (senders, receivers): (Vec<_>, Vec<_>) = scopes
        .iter()
        .map(|_| futures::channel::mpsc::unbounded())
        .unzip();
    let scopes = scopes.to_vec();
    tokio::spawn(async move {
        let mut all = stream::select_all(triggers);
        while let Some(object) = all.next().await {
            let scope = scopes.iter().position(|s| {
                s.as_ref()
                    .is_none_or(|ns| Some(ns) == object.namespace.as_ref())
            });
            if let Some(sender) = scope.and_then(|i| senders.get(i)) {
                let _ = sender.unbounded_send(object);
            }
        }
    });
    receivers.into_iter().map(StreamExt::boxed).collect()
}

/// Builds the controller for one scope, reconciling also on `triggers` (the host sources'):
/// returns flags that turn true once its primary watch and its Secret watch finished their
/// first list, and the future that drives it.
///
/// The flags are set from the watch events rather than by awaiting `Store::wait_until_ready`:
/// the store's readiness is a one-shot channel that wakes only its latest waiter, so a second
/// waiter next to the controller's own runner could sleep forever (or steal the runner's wake-up).
fn build_controller(
    ctx: Arc<Context>,
    scope: Option<String>,
    triggers: Vec<BoxStream<'static, ObjectRef<HostRiskWatch>>>,
    shutdown: CancellationToken,
) -> (
    Vec<watch::Receiver<bool>>,
    impl std::future::Future<Output = ()>,
) {
    let client = ctx.client.clone();
    let (watch_api, secret_api): (Api<WatchDocument>, Api<PartialObjectMeta<Secret>>) = match &scope
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
    let seen_ctx = ctx.clone();
    let event_ctx = ctx.clone();
    let event_store = reader.clone();
    let mut first_list = true;
    let watches = watcher(
        watch_api,
        watcher::Config::default().page_size(LIST_PAGE_SIZE),
    )
    .default_backoff()
    .map_ok(move |event| {
        store_event(event, |watch, hosts| {
            seen_ctx.watches.observe_decoded(watch, hosts)
        })
    })
    .reflect(writer)
    .inspect(move |event| match event {
        Ok(watcher::Event::Delete(watch)) => {
            if let Some(key) = WatchKey::of(watch) {
                event_ctx
                    .watches
                    .remove(&key, watch.metadata.uid.as_deref());
            }
        }
        Ok(watcher::Event::InitDone) => {
            // A re-list reports no deletion: what the fresh store lacks was deleted meanwhile.
            event_ctx.watches.relisted(&in_scope, |key| {
                event_store
                    .get(&ObjectRef::new(&key.name).within(&key.namespace))
                    .is_some()
            });
            if std::mem::take(&mut first_list) {
                let listed = event_store.state();
                event_ctx
                    .watches
                    .initial_list(listed.iter().filter_map(|w| WatchKey::of(w)));
            }
            watches_synced.send_replace(true);
        }
        Err(error) => tracing::warn!(%error, "HostRiskWatch watch failed; retrying"),
        _ => {}
    })
    .applied_objects()
    .predicate_filter(poll_trigger_hash, PredicateConfig::default());
    let synced = vec![watches_synced_rx, secrets_synced_rx];
    let triggers = stream::select(
        stream::select(
            poller_updates(&ctx, scope.clone()),
            secret_changes(ctx.clone(), secret_api, scope.clone(), secrets_synced),
        ),
        stream::select_all(triggers),
    );
    let label = scope_label(&scope);
    let concurrency = ctx.settings.concurrency;
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
    (synced, driver)
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
