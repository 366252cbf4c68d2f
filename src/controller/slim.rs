//! Slim objects for the reflector store: one full copy of each status in memory, not two.
//!
//! Every status is computed from the previous one, which the watch table keeps (as the watch
//! delivered it, or as this process wrote it: see `WatchTable::observe`). A second copy of the
//! per-host list in the reflector store would double the operator's memory at scale (1,000
//! watches × 100 hosts), and a real API server adds `managedFields`, which for a list-map of
//! 100 hosts is larger than the status itself. So the store keeps the status without `hosts`
//! (conditions, summary and generation stay, for anything that reads health from the store),
//! and no `managedFields` or `last-applied-configuration` annotation, which nothing here reads.
//! The table is handed the full object first.

use kube::runtime::watcher;
use kube::ResourceExt;

use crate::crd::HostRiskWatch;

/// The annotation `kubectl apply` keeps a copy of the whole object in.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Slims the object of a watch event.
pub fn slim_event(event: &mut watcher::Event<HostRiskWatch>) {
    match event {
        watcher::Event::Apply(watch)
        | watcher::Event::InitApply(watch)
        | watcher::Event::Delete(watch) => slim(watch),
        watcher::Event::Init | watcher::Event::InitDone => {}
    }
}

fn slim(watch: &mut HostRiskWatch) {
    watch.metadata.managed_fields = None;
    watch.annotations_mut().remove(LAST_APPLIED);
    if let Some(status) = watch.status.as_mut() {
        status.hosts = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::status::HostStatus;
    use crate::crd::{HostRiskWatchSpec, HostRiskWatchStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;

    fn watch(hosts: &[&str]) -> HostRiskWatch {
        let spec: HostRiskWatchSpec = serde_json::from_value(serde_json::json!({
            "projectId": "p", "region": "ap-southeast-1",
            "credentialsSecretRef": {"name": "s"}, "hostIds": ["h1"],
        }))
        .expect("spec");
        let mut w = HostRiskWatch::new("w", spec);
        w.metadata.namespace = Some("ns".into());
        w.metadata.managed_fields = Some(vec![ManagedFieldsEntry::default()]);
        w.annotations_mut()
            .insert(LAST_APPLIED.into(), "{...}".into());
        w.status = Some(HostRiskWatchStatus {
            observed_generation: Some(1),
            hosts: hosts
                .iter()
                .map(|id| HostStatus {
                    host_id: id.to_string(),
                    found: true,
                    ..HostStatus::default()
                })
                .collect(),
            ..HostRiskWatchStatus::default()
        });
        w
    }

    #[test]
    fn the_store_copy_loses_hosts_and_bulky_metadata_but_keeps_health() {
        let mut event = watcher::Event::InitApply(watch(&["h1", "h2"]));
        slim_event(&mut event);
        let watcher::Event::InitApply(slimmed) = event else {
            panic!("event kind changed");
        };
        let status = slimmed.status.clone().expect("status stays");
        assert!(status.hosts.is_empty());
        assert_eq!(status.observed_generation, Some(1), "health fields stay");
        assert_eq!(slimmed.metadata.managed_fields, None);
        assert!(!slimmed.annotations().contains_key(LAST_APPLIED));
    }
}
