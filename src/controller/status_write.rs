//! The status write: the whole status as a JSON merge patch on the `/status` subresource, and
//! the previous status a reconcile computes from.

use kube::api::{Patch, PatchParams};
use kube::{Api, Resource};
use serde_json::{Map, Value};

use super::context::Context;
use super::error::{Error, Result};
use super::settings::CONTROLLER_NAME;
use crate::crd::{HostRiskWatch, HostRiskWatchStatus, WatchKey};

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

/// The previous status to compute from: the one the table keeps (seeded from the watch, or
/// what this process wrote); else, when the object has a status, the object read from the API.
/// The reflector store's copy has no host lists ([`super::slim`]), so computing from it would
/// write a status without the last good host data; it is never used. (The read only happens
/// when a seed was missed, e.g. pruned while a re-list had not yet swapped the store.)
pub async fn previous_status(
    watch: &HostRiskWatch,
    ctx: &Context,
    key: &WatchKey,
) -> Result<Previous> {
    let uid = watch.meta().uid.as_deref();
    if let Some(kept) = ctx.state.kept_status(key, uid) {
        return Ok(Previous::Status(Some(kept)));
    }
    if watch.status.is_none() {
        return Ok(Previous::Status(None));
    }
    let api: Api<HostRiskWatch> = Api::namespaced(ctx.client.clone(), &key.namespace);
    let current = api
        .get_opt(&key.name)
        .await
        .map_err(|source| Error::StatusRead {
            key: key.clone(),
            source,
        })?;
    // Gone, or re-created under another uid: the store lags; its own events will follow.
    let Some(current) = current.filter(|object| object.meta().uid.as_deref() == uid) else {
        return Ok(Previous::Stale);
    };
    let Some(status) = current.status else {
        return Ok(Previous::Status(None));
    };
    ctx.state.seed(
        key,
        uid,
        current.metadata.resource_version.as_deref(),
        &status,
    );
    Ok(Previous::Status(Some(status)))
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
) -> Result<()> {
    let body = status_patch_body(status, previous)?;
    let api: Api<HostRiskWatch> = Api::namespaced(ctx.client.clone(), &key.namespace);
    ctx.metrics.record_status_write(true);
    let params = PatchParams {
        field_manager: Some(CONTROLLER_NAME.to_string()),
        ..PatchParams::default()
    };
    let stored = api
        .patch_status(&key.name, &params, &Patch::Merge(&body))
        .await
        .map_err(|source| {
            ctx.metrics.record_status_write_error();
            Error::StatusWrite {
                key: key.clone(),
                source,
            }
        })?;
    ctx.state.remember_write(
        key,
        watch.meta().uid.as_deref(),
        stored.metadata.resource_version,
        status,
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
