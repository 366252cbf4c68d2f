//! Slim objects for the reflector store: one full copy of each status in memory, not two.
//!
//! The reconciler computes every status from the previous one, and the freshest previous status
//! is the one this process wrote last (kept in the [`WatchTable`]). Keeping the per-host list in the
//! reflector store as well doubled the operator's memory at scale (1,000 watches × 100 hosts:
//! ~45 MiB per copy), and a real API server adds `managedFields`, which for a list-map of 100
//! hosts is larger than the status itself. So, before an object enters the store:
//! - its status is handed to the [`WatchTable`] (start-up, re-list, a re-created object, a
//!   status written by a previous leader still draining), unless it is older than this
//!   process's own last write;
//! - the store keeps the status without `hosts` (conditions, summary and generation stay, for
//!   anything that reads health from the store), and no `managedFields` or
//!   `last-applied-configuration` annotation, which nothing here reads.

use kube::runtime::watcher;
use kube::ResourceExt;

use super::state::WatchTable;
use crate::crd::{HostRiskWatch, WatchKey};

/// The annotation `kubectl apply` keeps a copy of the whole object in.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Slims the object of a watch event, first handing its full status to `written` where needed.
pub fn slim_event(table: &WatchTable, event: &mut watcher::Event<HostRiskWatch>) {
    match event {
        watcher::Event::Apply(watch) | watcher::Event::InitApply(watch) => {
            keep_status(table, watch);
            slim(watch);
        }
        watcher::Event::Delete(watch) => slim(watch),
        watcher::Event::Init | watcher::Event::InitDone => {}
    }
}

fn keep_status(table: &WatchTable, watch: &HostRiskWatch) {
    let (Some(key), Some(status)) = (WatchKey::of(watch), watch.status.as_ref()) else {
        return;
    };
    let version = watch.metadata.resource_version.as_deref();
    table.seed(&key, watch.metadata.uid.as_deref(), version, status);
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
    use crate::metrics::{Metrics, MetricsOptions};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;

    fn watch(uid: &str, hosts: &[&str]) -> HostRiskWatch {
        versioned(uid, "1", hosts)
    }

    fn versioned(uid: &str, version: &str, hosts: &[&str]) -> HostRiskWatch {
        let spec: HostRiskWatchSpec = serde_json::from_value(serde_json::json!({
            "projectId": "p", "region": "ap-southeast-1",
            "credentialsSecretRef": {"name": "s"}, "hostIds": ["h1"],
        }))
        .expect("spec");
        let mut w = HostRiskWatch::new("w", spec);
        w.metadata.namespace = Some("ns".into());
        w.metadata.uid = Some(uid.into());
        w.metadata.resource_version = Some(version.into());
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

    fn key() -> WatchKey {
        WatchKey::new("ns", "w")
    }

    fn table() -> WatchTable {
        WatchTable::new(Metrics::new(MetricsOptions::default()))
    }

    fn kept_hosts(written: &WatchTable, uid: &str) -> Vec<String> {
        written
            .kept_status(&key(), Some(uid))
            .map(|s| s.hosts.into_iter().map(|h| h.host_id).collect())
            .unwrap_or_default()
    }

    #[test]
    fn the_store_copy_loses_hosts_and_bulky_metadata_but_the_status_is_kept() {
        let written = table();
        let mut event = watcher::Event::InitApply(watch("u1", &["h1", "h2"]));
        slim_event(&written, &mut event);
        let watcher::Event::InitApply(slimmed) = event else {
            panic!("event kind changed");
        };
        let status = slimmed.status.clone().expect("status stays");
        assert!(status.hosts.is_empty());
        assert_eq!(status.observed_generation, Some(1), "health fields stay");
        assert_eq!(slimmed.metadata.managed_fields, None);
        assert!(!slimmed.annotations().contains_key(LAST_APPLIED));
        assert_eq!(kept_hosts(&written, "u1"), vec!["h1", "h2"]);
    }

    #[test]
    fn what_this_process_wrote_is_not_replaced_by_a_stale_watch_event() {
        let written = table();
        written.remember_write(
            &key(),
            Some("u1"),
            Some("7".into()),
            &watch("u1", &["newer"]).status.expect("status"),
        );
        slim_event(
            &written,
            &mut watcher::Event::Apply(versioned("u1", "6", &["older"])),
        );
        assert_eq!(kept_hosts(&written, "u1"), vec!["newer"]);
        // The watch reaches the write (version 7); what follows is newer, e.g. the last write of
        // a previous leader still draining, and replaces it.
        slim_event(
            &written,
            &mut watcher::Event::Apply(versioned("u1", "7", &["newer"])),
        );
        slim_event(
            &written,
            &mut watcher::Event::Apply(versioned("u1", "8", &["newest"])),
        );
        assert_eq!(kept_hosts(&written, "u1"), vec!["newest"]);
        // A re-created object (another uid) starts from its own stored status.
        slim_event(
            &written,
            &mut watcher::Event::Apply(watch("u2", &["fresh"])),
        );
        assert_eq!(kept_hosts(&written, "u2"), vec!["fresh"]);
    }

    #[test]
    fn a_deletion_does_not_seed_anything() {
        let written = table();
        slim_event(&written, &mut watcher::Event::Delete(watch("u1", &["h1"])));
        assert_eq!(written.kept_status(&key(), Some("u1")), None);
    }
}
