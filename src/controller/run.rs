//! Wires the reconciler into kube-runtime `Controller`s: one per watched namespace (or one for
//! all namespaces), each with its primary watch filtered on what should trigger a poll and a
//! metadata-only watch of Secrets mapped to the resources that use them.
//!
//! Several namespaces get one Controller each rather than a merged stream: a reflector store is
//! fed by exactly one watcher (each watcher's re-list replaces the whole store), and per-namespace
//! watches are what namespaced RBAC allows. The reconciles share one [`Context`], so the poll
//! table, the HSS client (with its per-credential rate limiter) and the global bound on
//! concurrent polls are common to all of them.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use futures::stream::FuturesUnordered;
use futures::{future, stream, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{self, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{predicates, watcher, PredicateConfig, WatchStreamExt};
use kube::{Api, ResourceExt};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::context::{Context, PollingMode};
use super::poller_link::{poller_death, poller_updates, prune, prune_periodically};
use super::reconcile::{error_policy, reconcile, watch_key};
use super::schedule::{PollScheduler, WatchKey};
use super::slim::slim_event;
use crate::crd::{HostRiskWatch, REFRESH_ANNOTATION};

/// Name of the CRD the operator waits for before it reports ready.
pub const CRD_NAME: &str = "hostriskwatches.hostrisk.io";

/// Longest wait for reconciles in flight after a shutdown request.
const DRAIN_GRACE: Duration = Duration::from_secs(20);

/// How often the CRD is looked up again while it is missing.
const CRD_RETRY: Duration = Duration::from_secs(5);

/// Why the controllers stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the controller for {scope} stopped unexpectedly")]
    ControllerStopped { scope: String },
    #[error("the poller task of group {group} died; its watches would no longer be polled")]
    PollerStopped { group: String },
}

/// Hash of what should trigger a poll when it changes: the generation (spec changes) and the
/// refresh annotation. Status writes (the operator's own included) change neither.
pub fn poll_trigger_hash(watch: &HostRiskWatch) -> Option<u64> {
    let mut hasher = DefaultHasher::new();
    watch.metadata.generation.hash(&mut hasher);
    watch
        .annotations()
        .get(REFRESH_ANNOTATION)
        .hash(&mut hasher);
    Some(hasher.finish())
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
    // leader polls; the poller stops with the controllers.
    if ctx.settings.polling == PollingMode::Batched {
        ctx.poller
            .start(&ctx.hss, ctx.settings.backoff, ctx.metrics.clone());
    }
    ctx.metrics.set_leader(true);
    let mut synced = Vec::new();
    let mut controllers = Vec::new();
    for scope in scopes(&namespaces) {
        let (first_sync, controller) =
            build_controller(ctx.clone(), scope.clone(), shutdown.clone());
        synced.push(first_sync);
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
    ctx.poller.stop();
    readiness.abort();
    result
}

/// Builds the controller for one scope; returns a flag that turns true once its primary watch
/// finished the first list (the store is complete), and the future that drives it.
///
/// The flag is set from the watch events rather than by awaiting `Store::wait_until_ready`:
/// the store's readiness is a one-shot channel that wakes only its latest waiter, so a second
/// waiter next to the controller's own runner could sleep forever (or steal the runner's wake-up).
fn build_controller(
    ctx: Arc<Context>,
    scope: Option<String>,
    shutdown: CancellationToken,
) -> (watch::Receiver<bool>, impl std::future::Future<Output = ()>) {
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
    let forget_ctx = ctx.clone();
    let prune_store = reader.clone();
    let prune_scope = scope.clone();
    let (synced_tx, synced_rx) = watch::channel(false);
    let slim_ctx = ctx.clone();
    let watches = watcher(watch_api, watcher::Config::default())
        .default_backoff()
        .map_ok(move |mut event| {
            slim_event(&slim_ctx.written, &mut event);
            event
        })
        .reflect(writer)
        .inspect(move |event| match event {
            Ok(watcher::Event::Delete(watch)) => {
                if let Ok(key) = watch_key(watch) {
                    forget_ctx.forget(&key);
                }
            }
            Ok(watcher::Event::InitDone) => {
                // A re-list reports no deletion: drop what is gone from the fresh store.
                prune(&forget_ctx, prune_scope.as_deref(), &prune_store);
                synced_tx.send_replace(true);
            }
            _ => {}
        })
        .applied_objects()
        .predicate_filter(poll_trigger_hash, PredicateConfig::default());
    // Metadata only: the operator never caches Secret data; it GETs the one Secret it needs at
    // poll time. The resource-version filter drops re-lists of unchanged Secrets.
    let secrets = watcher(secret_api, watcher::Config::default())
        .default_backoff()
        .map_ok(|event| stream::iter(secret_touches(event).into_iter().map(Ok)))
        .try_flatten()
        .predicate_filter(predicates::resource_version, PredicateConfig::default());
    let mapper_store = reader.clone();
    let mapper_ctx = ctx.clone();
    let mapper = move |secret: PartialObjectMeta<Secret>| {
        watches_using_secret(&mapper_store, &mapper_ctx.scheduler, &secret)
    };
    let label = scope_label(&scope);
    let concurrency = ctx.settings.concurrency;
    let updates = poller_updates(&ctx, scope.clone());
    let pruning = prune_periodically(
        ctx.clone(),
        scope.clone(),
        reader.clone(),
        synced_rx.clone(),
    );
    let driver = Controller::for_stream(watches, reader.clone())
        .watches_stream(secrets, mapper)
        .reconcile_on(updates)
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
    (synced_rx, driver)
}

/// Secrets the watch reports: created or changed ones as they are, deleted ones without a
/// `resourceVersion` (so "gone" differs from any version a poll read, and the
/// resource-version filter lets every deletion through).
fn secret_touches(
    event: watcher::Event<PartialObjectMeta<Secret>>,
) -> Vec<PartialObjectMeta<Secret>> {
    match event {
        watcher::Event::Apply(secret) | watcher::Event::InitApply(secret) => vec![secret],
        watcher::Event::Delete(mut secret) => {
            secret.metadata.resource_version = None;
            vec![secret]
        }
        watcher::Event::Init | watcher::Event::InitDone => Vec::new(),
    }
}

/// The resources in the Secret's namespace that name it; marks them so their next reconcile
/// polls with the new credentials.
fn watches_using_secret(
    store: &Store<HostRiskWatch>,
    scheduler: &PollScheduler,
    secret: &PartialObjectMeta<Secret>,
) -> Vec<ObjectRef<HostRiskWatch>> {
    let (Some(namespace), name) = (secret.namespace(), secret.name_any()) else {
        return Vec::new();
    };
    store
        .state()
        .into_iter()
        .filter(|watch| {
            watch.namespace().as_deref() == Some(namespace.as_str())
                && watch.spec.credentials_secret_ref.name == name
        })
        .map(|watch| {
            let key = WatchKey {
                namespace: namespace.clone(),
                name: watch.name_any(),
            };
            scheduler.mark_secret_changed(key, secret.resource_version());
            tracing::debug!(namespace = %namespace, secret = %name, watch = %watch.name_any(), "secret changed");
            ObjectRef::from_obj(&*watch)
        })
        .collect()
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

/// Ready = the CRD exists and every primary watch finished its first list.
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
    use crate::controller::schedule::{Due, Observed, PollReason};
    use crate::crd::{CredentialsSecretRef, HostRiskWatchSpec};

    fn watch(generation: i64, refresh: Option<&str>, observed: Option<i64>) -> HostRiskWatch {
        let mut w = HostRiskWatch::new(
            "w",
            HostRiskWatchSpec {
                project_id: "p".into(),
                region: Some("cn-north-4".into()),
                endpoint: None,
                enterprise_project_id: None,
                host_ids: vec!["h".into()],
                credentials_secret_ref: CredentialsSecretRef { name: "s".into() },
                interval: None,
                suspend: false,
            },
        );
        w.metadata.generation = Some(generation);
        if let Some(value) = refresh {
            w.metadata
                .annotations
                .get_or_insert_with(Default::default)
                .insert(REFRESH_ANNOTATION.into(), value.into());
        }
        w.status = observed.map(|g| crate::crd::HostRiskWatchStatus {
            observed_generation: Some(g),
            ..Default::default()
        });
        w
    }

    fn named(namespace: &str, name: &str, secret: &str) -> HostRiskWatch {
        let mut w = watch(1, None, None);
        w.metadata.name = Some(name.into());
        w.metadata.namespace = Some(namespace.into());
        w.metadata.uid = Some(format!("uid-{namespace}-{name}"));
        w.spec.credentials_secret_ref.name = secret.into();
        w
    }

    fn secret_meta(namespace: &str, name: &str, version: &str) -> PartialObjectMeta<Secret> {
        let mut meta = PartialObjectMeta::<Secret>::default();
        meta.metadata.name = Some(name.into());
        meta.metadata.namespace = Some(namespace.into());
        meta.metadata.resource_version = Some(version.into());
        meta
    }

    #[test]
    fn a_secret_maps_to_the_watches_of_its_namespace_that_name_it() {
        let (reader, mut writer) = reflector::store::<HostRiskWatch>();
        for w in [
            named("a", "uses", "creds"),
            named("a", "other", "other-creds"),
            named("b", "same-name-elsewhere", "creds"),
        ] {
            writer.apply_watcher_event(&watcher::Event::Apply(w));
        }
        let scheduler = PollScheduler::default();
        let refs = watches_using_secret(&reader, &scheduler, &secret_meta("a", "creds", "5"));
        let names: Vec<_> = refs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["uses"]);
        assert_eq!(refs[0].namespace.as_deref(), Some("a"));
        let key = |ns: &str, name: &str| WatchKey {
            namespace: ns.into(),
            name: name.into(),
        };
        let observed = Observed {
            uid: None,
            generation: None,
            refresh_requested_at: None,
        };
        let now = std::time::Instant::now();
        scheduler.record_success(
            &key("a", "uses"),
            observed.clone(),
            Duration::from_secs(60),
            now,
        );
        scheduler.record_success(
            &key("b", "same-name-elsewhere"),
            observed.clone(),
            Duration::from_secs(60),
            now,
        );
        assert_eq!(
            scheduler.due(&key("a", "uses"), &observed, now),
            Due::Now(PollReason::SecretChanged)
        );
        assert!(matches!(
            scheduler.due(&key("b", "same-name-elsewhere"), &observed, now),
            Due::NotBefore(_)
        ));
    }

    #[test]
    fn trigger_hash_ignores_status_and_other_metadata() {
        let base = poll_trigger_hash(&watch(1, None, None));
        assert_eq!(base, poll_trigger_hash(&watch(1, None, Some(1))));
        let mut labelled = watch(1, None, Some(1));
        labelled.metadata.resource_version = Some("99".into());
        assert_eq!(base, poll_trigger_hash(&labelled));
        assert_ne!(base, poll_trigger_hash(&watch(2, None, None)));
        assert_ne!(base, poll_trigger_hash(&watch(1, Some("t1"), None)));
        assert_ne!(
            poll_trigger_hash(&watch(1, Some("t1"), None)),
            poll_trigger_hash(&watch(1, Some("t2"), None))
        );
    }

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
