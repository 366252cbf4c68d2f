//! What brings a watch's reconcile back, besides its own spec: a change of the Secret it reads
//! and a new update of the poller. Status writes (the operator's own included) trigger nothing.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use futures::future;
use futures::stream::{self, BoxStream, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, ResourceExt};
use tokio::sync::watch;

use super::context::Context;
use super::secret_cache::SecretKey;
use crate::crd::{HostRiskWatch, REFRESH_ANNOTATION};

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

/// The watches to reconcile because a Secret they read changed, from a metadata-only watch of
/// the Secrets of the scope (the operator never watches Secret data; the table reads the one
/// Secret it needs when its `resourceVersion` moved). `synced` turns true after the first list.
pub fn secret_changes(
    ctx: Arc<Context>,
    api: Api<PartialObjectMeta<Secret>>,
    scope: Option<String>,
    synced: watch::Sender<bool>,
) -> BoxStream<'static, ObjectRef<HostRiskWatch>> {
    let mut listed: HashSet<SecretKey> = HashSet::new();
    watcher(api, watcher::Config::default())
        .default_backoff()
        .filter_map(|event| {
            future::ready(match event {
                Ok(event) => Some(event),
                Err(error) => {
                    tracing::warn!(%error, "Secret watch failed; rotated credentials are not seen until it recovers");
                    None
                }
            })
        })
        .flat_map(move |event| {
            let touched = match event {
                watcher::Event::Init => {
                    listed.clear();
                    Vec::new()
                }
                watcher::Event::InitApply(secret) => {
                    let key = secret_key(&secret);
                    let touched = seen(&ctx, &key, secret.resource_version().as_deref());
                    listed.insert(key);
                    touched
                }
                watcher::Event::InitDone => {
                    let in_scope = |ns: &str| scope.as_deref().is_none_or(|s| s == ns);
                    ctx.watches.secrets_listed(in_scope, &listed);
                    listed.clear();
                    synced.send_replace(true);
                    Vec::new()
                }
                watcher::Event::Apply(secret) => {
                    seen(&ctx, &secret_key(&secret), secret.resource_version().as_deref())
                }
                watcher::Event::Delete(secret) => seen(&ctx, &secret_key(&secret), None),
            };
            stream::iter(touched)
        })
        .boxed()
}

fn secret_key(secret: &PartialObjectMeta<Secret>) -> SecretKey {
    SecretKey {
        namespace: secret.namespace().unwrap_or_default(),
        name: secret.name_any(),
    }
}

fn seen(ctx: &Context, secret: &SecretKey, version: Option<&str>) -> Vec<ObjectRef<HostRiskWatch>> {
    ctx.watches
        .secret_seen(secret, version)
        .into_iter()
        .map(|key| {
            tracing::debug!(namespace = %key.namespace, secret = %secret.name, watch = %key.name, "secret changed");
            key.object_ref()
        })
        .collect()
}

/// The watches of `scope` with a new poller update (empty when there is no poller).
pub fn poller_updates(
    ctx: &Context,
    scope: Option<String>,
) -> BoxStream<'static, ObjectRef<HostRiskWatch>> {
    let Some(poller) = ctx.watches.poller() else {
        return stream::empty().boxed();
    };
    poller
        .handle()
        .subscribe()
        .filter(move |key| future::ready(scope.as_ref().is_none_or(|ns| *ns == key.namespace)))
        .map(|key| key.object_ref())
        .boxed()
}

/// Resolves when a group task of the running poller dies; never without a poller.
pub fn poller_death(ctx: &Context) -> impl std::future::Future<Output = String> {
    let died = ctx.watches.poller().map(|p| p.handle().group_task_died());
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
    use crate::crd::{CredentialsSecretRef, HostRiskWatchSpec};

    fn watch(generation: i64, refresh: Option<&str>, observed: Option<i64>) -> HostRiskWatch {
        let mut w = HostRiskWatch::new(
            "w",
            HostRiskWatchSpec {
                project_id: "p".into(),
                region: Some("cn-north-4".into()),
                endpoint: None,
                enterprise_project_id: None,
                host_ids: ["h"].into(),
                node_selector: None,
                node_host_id_from: None,
                credentials_secret_ref: Some(CredentialsSecretRef { name: "s".into() }),
                workload_identity: None,
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
}
