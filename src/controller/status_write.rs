//! The status write: the whole status as a JSON merge patch on the `/status` subresource.

use kube::api::{Patch, PatchParams};
use kube::{Api, Resource};
use serde_json::{Map, Value};

use super::context::{Context, CONTROLLER_NAME};
use super::health::Counters;
use super::reconcile::ReconcileError;
use super::schedule::WatchKey;
use crate::crd::{HostRiskWatch, HostRiskWatchStatus};

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
