//! The link between the controllers and the shared poller ([`crate::poller`]): the slot
//! holding the poller while the controllers run (only on the leader), the stream of updated
//! watches for `Controller::reconcile_on`, the poller's death as a future, and pruning of
//! what is kept about watches that are gone.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::future;
use futures::stream::{self, StreamExt};
use kube::runtime::reflector::{ObjectRef, Store};
use tokio::sync::watch;

use super::context::Context;
use super::schedule::{BackoffPolicy, WatchKey};
use crate::crd::HostRiskWatch;
use crate::hss::HssClient;
use crate::metrics::Metrics;
use crate::poller::{self, Poller, PollerOptions};

/// How often what is kept about deleted watches is swept (see [`prune`]); a deletion is
/// handled at once, this only catches a reconcile that finished after it.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The poller's key of a watch.
pub fn poller_key(key: &WatchKey) -> poller::WatchKey {
    poller::WatchKey::new(&key.namespace, &key.name)
}

/// The running poller, if any (set while the controllers run in batched mode).
#[derive(Default)]
pub struct PollerSlot {
    poller: Mutex<Option<Arc<Poller>>>,
}

impl PollerSlot {
    pub fn get(&self) -> Option<Arc<Poller>> {
        self.lock().clone()
    }

    /// Starts a poller planning with the client's quota and retrying failed calls with the
    /// controller's backoff (call from within the runtime); stops any previous one.
    pub fn start(&self, hss: &HssClient, backoff: BackoffPolicy, metrics: Metrics) -> Arc<Poller> {
        let options = PollerOptions {
            metrics: Some(metrics),
            backoff_base: backoff.base,
            backoff_floor: backoff.floor,
            ..PollerOptions::matching(hss.config())
        };
        let (poller, _handle) = Poller::new(hss.clone(), options);
        let poller = Arc::new(poller);
        if let Some(old) = self.lock().replace(Arc::clone(&poller)) {
            old.shutdown();
        }
        poller
    }

    /// Stops the poller (its group tasks end, subscription streams close).
    pub fn stop(&self) {
        if let Some(poller) = self.lock().take() {
            poller.shutdown();
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Arc<Poller>>> {
        // Only replaced or taken under the lock; a panic cannot leave it half updated.
        self.poller.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The watches of `scope` with a new poller update (empty when there is no poller).
pub(super) fn poller_updates(
    ctx: &Context,
    scope: Option<String>,
) -> stream::BoxStream<'static, ObjectRef<HostRiskWatch>> {
    let Some(poller) = ctx.poller.get() else {
        return stream::empty().boxed();
    };
    poller
        .handle()
        .subscribe()
        .filter(move |key| future::ready(scope.as_ref().is_none_or(|ns| *ns == key.namespace)))
        .map(|key| ObjectRef::new(&key.name).within(&key.namespace))
        .boxed()
}

/// Forgets every watch of `scope` known to the poller, the batched state, the kept statuses or
/// the metrics but absent from the store: deleted while the watch was re-listing, or touched
/// by a reconcile that finished after the deletion was handled.
pub(super) fn prune(ctx: &Context, scope: Option<&str>, store: &Store<HostRiskWatch>) {
    let in_scope = |key: &WatchKey| scope.is_none_or(|ns| ns == key.namespace);
    let present = |key: &WatchKey| {
        store
            .get(&ObjectRef::new(&key.name).within(&key.namespace))
            .is_some()
    };
    let mut gone: Vec<WatchKey> = ctx
        .batched
        .keys()
        .into_iter()
        .chain(ctx.written.keys())
        .chain(
            ctx.metrics
                .watches()
                .into_iter()
                .map(|(namespace, name)| WatchKey { namespace, name }),
        )
        .filter(|key| in_scope(key) && !present(key))
        .collect();
    if let Some(poller) = ctx.poller.get() {
        let removed = poller.retain(|key| {
            let key = WatchKey {
                namespace: key.namespace.clone(),
                name: key.name.clone(),
            };
            !in_scope(&key) || present(&key)
        });
        gone.extend(removed.into_iter().map(|key| WatchKey {
            namespace: key.namespace,
            name: key.name,
        }));
    }
    gone.sort();
    gone.dedup();
    for key in gone {
        tracing::debug!(namespace = %key.namespace, name = %key.name, "watch gone; forgotten");
        ctx.forget(&key);
    }
}

/// Runs [`prune`] every [`PRUNE_EVERY`] once the store has been filled; never ends.
pub(super) async fn prune_periodically(
    ctx: Arc<Context>,
    scope: Option<String>,
    store: Store<HostRiskWatch>,
    synced: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(PRUNE_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if *synced.borrow() {
            prune(&ctx, scope.as_deref(), &store);
        }
    }
}

/// Resolves when a group task of the running poller dies; never without a poller.
pub(super) fn poller_death(ctx: &Context) -> impl std::future::Future<Output = String> {
    let died = ctx.poller.get().map(|p| p.handle().group_task_died());
    async move {
        match died {
            Some(died) => died.await,
            None => future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::ControllerSettings;
    use crate::crd::{HostRiskWatchSpec, HostRiskWatchStatus};
    use crate::hss::ClientConfig;
    use kube::runtime::watcher;
    use std::time::Duration;

    fn watch(name: &str) -> HostRiskWatch {
        let spec: HostRiskWatchSpec = serde_json::from_value(serde_json::json!({
            "projectId": "p", "region": "ap-southeast-1",
            "credentialsSecretRef": {"name": "s"}, "hostIds": ["h1"],
        }))
        .expect("spec");
        let mut w = HostRiskWatch::new(name, spec);
        w.metadata.namespace = Some("ns".into());
        w
    }

    fn key(name: &str) -> WatchKey {
        WatchKey {
            namespace: "ns".into(),
            name: name.into(),
        }
    }

    #[tokio::test]
    async fn prune_drops_what_a_late_reconcile_left_of_a_deleted_watch() {
        // Never contacted: prune makes no request.
        let config = kube::Config::new("http://127.0.0.1:9".parse().expect("url"));
        let client = kube::Client::try_from(config).expect("client");
        let hss = HssClient::new(ClientConfig::default()).expect("hss client");
        let ctx = Context::new(client, hss, ControllerSettings::default());
        for name in ["kept", "deleted"] {
            ctx.metrics
                .set_watch_schedule("ns", name, Duration::from_secs(60), Duration::ZERO);
            ctx.written
                .remember(&key(name), None, None, HostRiskWatchStatus::default());
        }
        let (store, mut writer) = kube::runtime::reflector::store();
        writer.apply_watcher_event(&watcher::Event::Apply(watch("kept")));

        prune(&ctx, None, &store);

        assert_eq!(ctx.metrics.watches(), vec![("ns".into(), "kept".into())]);
        assert_eq!(ctx.written.keys(), vec![key("kept")]);
        // Another namespace's controller leaves this one's watches alone.
        ctx.metrics
            .set_watch_schedule("ns", "deleted", Duration::from_secs(60), Duration::ZERO);
        prune(&ctx, Some("other"), &store);
        assert_eq!(ctx.metrics.watches().len(), 2);
    }
}
