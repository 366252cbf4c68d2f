//! The status output: the whole status as a JSON merge patch on the `/status` subresource,
//! written only when something but timestamps changed; what was written becomes the status the
//! next reconcile computes from.

use std::sync::Arc;

use futures::future::BoxFuture;
use kube::api::{Patch, PatchParams};
use kube::Api;
use serde_json::{Map, Value};

use super::{Output, WatchView};
use crate::controller::error::{Error, Result};
use crate::controller::settings::CONTROLLER_NAME;
use crate::controller::watches::WatchScoped;
use crate::crd::{HostRiskWatch, HostRiskWatchStatus, WatchKey};
use crate::metrics::Metrics;

pub struct StatusWriter {
    client: kube::Client,
    metrics: Metrics,
}

impl StatusWriter {
    pub fn new(client: kube::Client, metrics: Metrics) -> Self {
        Self { client, metrics }
    }

    async fn write(&self, view: &WatchView<'_>) -> Result<()> {
        if !view.changed {
            self.metrics.record_status_write(false);
            return Ok(());
        }
        let key = view.key;
        let status = view.status.to_crd();
        // Only which fields the previous status had matters here, not its hosts' data.
        let previous = view.previous.map(|p| HostRiskWatchStatus {
            hosts: p.hosts.first().map(|h| h.to_status()).into_iter().collect(),
            ..p.head().clone()
        });
        let body = status_patch_body(&status, previous.as_ref())?;
        let api: Api<HostRiskWatch> = Api::namespaced(self.client.clone(), &key.namespace);
        self.metrics.record_status_write(true);
        let params = PatchParams {
            field_manager: Some(CONTROLLER_NAME.to_string()),
            ..PatchParams::default()
        };
        let stored = api
            .patch_status(&key.name, &params, &Patch::Merge(&body))
            .await
            .map_err(|source| {
                self.metrics.record_status_write_error();
                Error::StatusWrite {
                    key: key.clone(),
                    source,
                }
            })?;
        view.watches.remember_write(
            key,
            view.uid(),
            stored.metadata.resource_version,
            Arc::clone(view.status),
        );
        tracing::info!(
            namespace = %key.namespace,
            name = %key.name,
            generation = view.watch.metadata.generation.unwrap_or_default(),
            hosts = status.hosts.len(),
            "status written"
        );
        Ok(())
    }
}

impl WatchScoped for StatusWriter {
    // What was written is kept in the watch table's entry, which goes with the watch.
    fn forget(&self, _key: &WatchKey) {}
}

impl Output for StatusWriter {
    fn name(&self) -> &'static str {
        "status"
    }

    fn publish<'a>(&'a self, view: &'a WatchView<'a>) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.write(view))
    }
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
