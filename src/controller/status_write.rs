//! The status write: the whole status as a JSON merge patch on the `/status` subresource.

use std::collections::HashMap;
use std::sync::Mutex;

use kube::api::{Patch, PatchParams};
use kube::{Api, Resource};
use serde_json::{Map, Value};

use super::context::{Context, CONTROLLER_NAME};
use super::health::Counters;
use super::reconcile::ReconcileError;
use super::schedule::WatchKey;
use crate::crd::{HostRiskWatch, HostRiskWatchStatus};
use crate::status::hosts::share_vocabulary;

/// The full status of each resource: the last one this process wrote, or the one the watch
/// showed before that (see [`super::slim`]: the reflector store keeps no host lists).
///
/// The reflector store can lag behind the operator's own writes (the watch event of a write may
/// arrive after the next reconcile starts, e.g. one a Secret change triggers at once). A stale
/// `previous` would re-announce transitions as Events or write the first `Pending` status over
/// real data. So what this process wrote stays until the watch delivers that very write; from
/// then on the watch is ahead of it (see `Kept::awaiting`).
#[derive(Debug, Default)]
pub struct WrittenStatuses {
    entries: Mutex<HashMap<WatchKey, Kept>>,
}

#[derive(Debug)]
struct Kept {
    uid: Option<String>,
    status: HostRiskWatchStatus,
    /// `Some(resourceVersion)` of this process's own write until the watch delivers that very
    /// version: events before it are older than the write and must not replace it. `None` once
    /// the watch has caught up (or for a status first seen on the watch): every later event
    /// is newer (a watch delivers in order), e.g. the write of a previous leader still draining.
    awaiting: Option<String>,
}

impl WrittenStatuses {
    /// The full status kept for this object (same uid), if any.
    pub fn kept(&self, key: &WatchKey, uid: Option<&str>) -> Option<HostRiskWatchStatus> {
        match self.lock().get(key) {
            Some(kept) if kept.uid.as_deref() == uid => Some(kept.status.clone()),
            _ => None,
        }
    }

    /// Takes the status (made on demand) the watch shows at `resource_version`: kept unless
    /// it is older than this process's own last write for the same object. Read back from the
    /// API, its values are owned copies: they are made to share the vocabulary again.
    pub fn seed(
        &self,
        key: &WatchKey,
        uid: Option<String>,
        resource_version: Option<&str>,
        status: impl FnOnce() -> HostRiskWatchStatus,
    ) {
        let mut entries = self.lock();
        if let Some(kept) = entries.get_mut(key).filter(|kept| kept.uid == uid) {
            match kept.awaiting.as_deref() {
                // The watch reached our write: from now on it reports newer statuses.
                Some(written) if Some(written) == resource_version => {
                    kept.awaiting = None;
                    return;
                }
                // Older than our write.
                Some(_) => return,
                None => {}
            }
        }
        let mut status = status();
        share_vocabulary(&mut status);
        entries.insert(
            key.clone(),
            Kept {
                uid,
                status,
                awaiting: None,
            },
        );
    }

    /// Resources with a kept status.
    pub fn keys(&self) -> Vec<WatchKey> {
        self.lock().keys().cloned().collect()
    }

    /// Keeps the status this process wrote, which the API server stored at `resource_version`.
    pub fn remember(
        &self,
        key: &WatchKey,
        uid: Option<String>,
        resource_version: Option<String>,
        status: HostRiskWatchStatus,
    ) {
        self.lock().insert(
            key.clone(),
            Kept {
                uid,
                status,
                // Without a version to wait for, nothing tells older events from newer ones:
                // keep the write until the next one.
                awaiting: Some(resource_version.unwrap_or_default()),
            },
        );
    }

    pub fn forget(&self, key: &WatchKey) {
        self.lock().remove(key);
    }

    // A poisoned lock only means another reconcile panicked mid-update; the map is still usable.
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<WatchKey, Kept>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The previous status to compute from: the kept one; else, when the object has a status, the
/// object read from the API. The store's copy has no host lists ([`super::slim`]), so computing
/// from it would write a status without the last good host data; it is never used. (Kept
/// statuses are seeded from the watch, so the read only happens when a seed was missed, e.g.
/// pruned while a re-list had not yet swapped the store.)
pub async fn previous_status(
    watch: &HostRiskWatch,
    ctx: &Context,
    key: &WatchKey,
) -> Result<Previous, ReconcileError> {
    let uid = watch.meta().uid.clone();
    if let Some(kept) = ctx.written.kept(key, uid.as_deref()) {
        return Ok(Previous::Status(Some(kept)));
    }
    if watch.status.is_none() {
        return Ok(Previous::Status(None));
    }
    let api: Api<HostRiskWatch> = Api::namespaced(ctx.client.clone(), &key.namespace);
    let current = api
        .get_opt(&key.name)
        .await
        .map_err(|source| ReconcileError::StatusRead {
            namespace: key.namespace.clone(),
            name: key.name.clone(),
            source,
        })?;
    // Gone, or re-created under another uid: the store lags; its own events will follow.
    let Some(current) = current.filter(|object| object.meta().uid == uid) else {
        return Ok(Previous::Stale);
    };
    let Some(status) = current.status else {
        return Ok(Previous::Status(None));
    };
    ctx.written.seed(
        key,
        uid,
        current.metadata.resource_version.as_deref(),
        || status.clone(),
    );
    Ok(Previous::Status(Some(status)))
}

/// What a reconcile computes from.
// Returned once per reconcile and unpacked at once: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Previous {
    /// The object's full previous status (`None`: it has none yet).
    Status(Option<HostRiskWatchStatus>),
    /// The object is gone or re-created under another uid: nothing may be written for the
    /// version at hand (a status meant for it would land on the new object).
    Stale,
}

/// Writes the whole status with a JSON merge patch on `/status`. Arrays in a merge patch replace
/// the stored ones wholesale, and fields the new status drops are sent as `null`, so the stored
/// status ends up exactly equal to `status` on any API server.
pub async fn write_status(
    watch: &HostRiskWatch,
    ctx: &Context,
    key: &WatchKey,
    status: &HostRiskWatchStatus,
    previous: Option<&HostRiskWatchStatus>,
) -> Result<(), ReconcileError> {
    let body = status_patch_body(status, previous)?;
    let api: Api<HostRiskWatch> = Api::namespaced(ctx.client.clone(), &key.namespace);
    Counters::inc(&ctx.counters.status_writes);
    ctx.metrics.record_status_write(true);
    let params = PatchParams {
        field_manager: Some(CONTROLLER_NAME.to_string()),
        ..PatchParams::default()
    };
    let stored = api
        .patch_status(&key.name, &params, &Patch::Merge(&body))
        .await
        .map_err(|source| ReconcileError::StatusWrite {
            namespace: key.namespace.clone(),
            name: key.name.clone(),
            source,
        })?;
    ctx.written.remember(
        key,
        watch.meta().uid.clone(),
        stored.metadata.resource_version,
        status.clone(),
    );
    tracing::info!(
        namespace = %key.namespace,
        name = %key.name,
        generation = watch.meta().generation.unwrap_or_default(),
        hosts = status.hosts.len(),
        "status written"
    );
    Ok(())
}

/// `{"status": {...}}` with every field of `previous` that `status` lacks set to `null`.
pub fn status_patch_body(
    status: &HostRiskWatchStatus,
    previous: Option<&HostRiskWatchStatus>,
) -> Result<Value, serde_json::Error> {
    let mut fields = match serde_json::to_value(status)? {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    if let Some(Value::Object(old)) = previous.map(serde_json::to_value).transpose()? {
        for old_key in old.keys() {
            if !fields.contains_key(old_key) {
                fields.insert(old_key.clone(), Value::Null);
            }
        }
    }
    Ok(serde_json::json!({ "status": Value::Object(fields) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_statuses_belong_to_one_object_and_seeds_never_replace_writes() {
        let written = WrittenStatuses::default();
        let key = WatchKey {
            namespace: "ns".into(),
            name: "w".into(),
        };
        let status = |generation| HostRiskWatchStatus {
            observed_generation: Some(generation),
            ..Default::default()
        };
        assert_eq!(written.kept(&key, Some("u1")), None);
        written.seed(&key, Some("u1".into()), Some("1"), || status(1));
        assert_eq!(written.kept(&key, Some("u1")), Some(status(1)));
        written.seed(&key, Some("u1".into()), Some("2"), || status(2));
        assert_eq!(
            written.kept(&key, Some("u1")),
            Some(status(2)),
            "a seen status follows the watch"
        );
        written.remember(&key, Some("u1".into()), Some("4".into()), status(4));
        written.seed(&key, Some("u1".into()), Some("3"), || status(3));
        assert_eq!(
            written.kept(&key, Some("u1")),
            Some(status(4)),
            "a stale watch event does not replace what was written"
        );
        written.seed(&key, Some("u1".into()), Some("4"), || status(99));
        assert_eq!(written.kept(&key, Some("u1")), Some(status(4)), "caught up");
        written.seed(&key, Some("u1".into()), Some("5"), || status(5));
        assert_eq!(
            written.kept(&key, Some("u1")),
            Some(status(5)),
            "newer than the write"
        );
        // A re-created object (new uid) has nothing kept until its own status is seen.
        assert_eq!(written.kept(&key, Some("u2")), None);
        written.seed(&key, Some("u2".into()), Some("9"), || status(7));
        assert_eq!(written.kept(&key, Some("u2")), Some(status(7)));
        written.forget(&key);
        assert_eq!(written.kept(&key, Some("u2")), None);
        assert!(written.keys().is_empty());
    }

    #[test]
    fn patch_body_nulls_dropped_fields_and_keeps_arrays_whole() {
        let previous = HostRiskWatchStatus {
            observed_generation: Some(1),
            effective_interval: Some("10m".into()),
            last_request_ids: vec!["r1".into()],
            ..Default::default()
        };
        let status = HostRiskWatchStatus {
            observed_generation: Some(2),
            ..Default::default()
        };
        let body = status_patch_body(&status, Some(&previous)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"status": {
                "observedGeneration": 2,
                "effectiveInterval": null,
                "lastRequestIds": null,
            }})
        );
        let first = status_patch_body(&status, None).unwrap();
        assert_eq!(
            first,
            serde_json::json!({"status": {"observedGeneration": 2}})
        );
    }
}
