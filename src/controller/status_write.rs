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

/// The full status of each resource: the last one this process wrote, or the one the watch
/// showed before that (see [`super::slim`]: the reflector store keeps no host lists).
///
/// The reflector store can lag behind the operator's own writes (the watch event of a write may
/// arrive after the next reconcile starts, e.g. one a Secret change triggers at once). A stale
/// `previous` would re-announce transitions as Events or write the first `Pending` status over
/// real data. The operator is the only writer of this status, so what it wrote last is the
/// freshest previous status for the same object (same uid).
#[derive(Debug, Default)]
pub struct WrittenStatuses {
    entries: Mutex<HashMap<WatchKey, (Option<String>, HostRiskWatchStatus)>>,
}

impl WrittenStatuses {
    /// The previous status to compute from: the one written last for this object, else the
    /// stored one.
    pub fn previous(
        &self,
        key: &WatchKey,
        uid: Option<&str>,
        stored: Option<&HostRiskWatchStatus>,
    ) -> Option<HostRiskWatchStatus> {
        match self.lock().get(key) {
            Some((written_uid, status)) if written_uid.as_deref() == uid => Some(status.clone()),
            _ => stored.cloned(),
        }
    }

    /// Keeps `status` (made on demand) as the previous status of an object this process has
    /// none for, or had one for under another uid. What this process wrote stays: the watch
    /// may deliver an older status after the write.
    pub fn seed(
        &self,
        key: &WatchKey,
        uid: Option<String>,
        status: impl FnOnce() -> HostRiskWatchStatus,
    ) {
        let mut entries = self.lock();
        if entries.get(key).is_some_and(|(known, _)| *known == uid) {
            return;
        }
        entries.insert(key.clone(), (uid, status()));
    }

    /// Resources with a kept status.
    pub fn keys(&self) -> Vec<WatchKey> {
        self.lock().keys().cloned().collect()
    }

    pub fn remember(&self, key: &WatchKey, uid: Option<String>, status: HostRiskWatchStatus) {
        self.lock().insert(key.clone(), (uid, status));
    }

    pub fn forget(&self, key: &WatchKey) {
        self.lock().remove(key);
    }

    // A poisoned lock only means another reconcile panicked mid-update; the map is still usable.
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<WatchKey, (Option<String>, HostRiskWatchStatus)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
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
    api.patch_status(&key.name, &params, &Patch::Merge(&body))
        .await
        .map_err(|source| ReconcileError::StatusWrite {
            namespace: key.namespace.clone(),
            name: key.name.clone(),
            source,
        })?;
    ctx.written
        .remember(key, watch.meta().uid.clone(), status.clone());
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
    fn written_status_wins_over_a_stale_store_for_the_same_object_only() {
        let written = WrittenStatuses::default();
        let key = WatchKey {
            namespace: "ns".into(),
            name: "w".into(),
        };
        let stored = HostRiskWatchStatus {
            observed_generation: Some(1),
            ..Default::default()
        };
        assert_eq!(
            written.previous(&key, Some("u1"), Some(&stored)),
            Some(stored.clone())
        );
        let newer = HostRiskWatchStatus {
            observed_generation: Some(2),
            ..Default::default()
        };
        written.remember(&key, Some("u1".into()), newer.clone());
        assert_eq!(
            written.previous(&key, Some("u1"), Some(&stored)),
            Some(newer)
        );
        assert_eq!(
            written
                .previous(&key, Some("u1"), None)
                .map(|s| s.observed_generation),
            Some(Some(2))
        );
        // A re-created object (new uid) starts from what is stored.
        assert_eq!(written.previous(&key, Some("u2"), None), None);
        written.forget(&key);
        assert_eq!(
            written.previous(&key, Some("u1"), Some(&stored)),
            Some(stored)
        );
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
