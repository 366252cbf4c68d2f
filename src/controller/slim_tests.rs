use super::*;
use crate::crd::status::HostStatus;
use crate::status::record::records_of;
use crate::status::WatchStatus;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, Time};
use kube::ResourceExt;

fn watch(hosts: &[&str]) -> HostRiskWatch {
    let spec: HostRiskWatchSpec = serde_json::from_value(serde_json::json!({
        "projectId": "p", "region": "ap-southeast-1",
        "credentialsSecretRef": {"name": "s"}, "hostIds": ["h1", "h2"],
    }))
    .expect("spec");
    let mut w = HostRiskWatch::new("w", spec);
    w.metadata.namespace = Some("ns".into());
    w.metadata.uid = Some("u1".into());
    w.metadata.resource_version = Some("7".into());
    w.metadata.generation = Some(2);
    w.metadata.managed_fields = Some(vec![ManagedFieldsEntry {
        manager: Some("hostrisk-operator".into()),
        ..ManagedFieldsEntry::default()
    }]);
    w.annotations_mut()
        .insert(LAST_APPLIED.into(), "{...}".into());
    w.annotations_mut()
        .insert("hostrisk.io/refresh".into(), "now".into());
    w.status = Some(HostRiskWatchStatus {
        observed_generation: Some(1),
        last_request_ids: vec!["r1".into()],
        hosts: hosts
            .iter()
            .map(|id| HostStatus {
                host_id: id.to_string(),
                node_name: Some(format!("node-{id}")),
                found: true,
                agent_status: Some("online".into()),
                detect_result: Some("not-a-known-value".into()),
                vulnerability: Some(3),
                last_change_time: Some(Time(
                    jiff::Timestamp::from_second(1_700_000_000).expect("time"),
                )),
                ..HostStatus::default()
            })
            .collect(),
        ..HostRiskWatchStatus::default()
    });
    w
}

fn decode(watch: &HostRiskWatch) -> WatchDocument {
    serde_json::from_slice(&serde_json::to_vec(watch).expect("encode")).expect("decode")
}

#[test]
fn the_store_copy_loses_hosts_and_bulky_metadata_but_keeps_health() {
    let full = watch(&["h1", "h\"2"]);
    let doc = decode(&full);
    let slimmed = &doc.watch;
    let status = slimmed.status.clone().expect("status stays");
    assert!(status.hosts.is_empty());
    assert_eq!(status.observed_generation, Some(1), "health fields stay");
    assert_eq!(status.last_request_ids, ["r1"]);
    assert_eq!(slimmed.metadata.managed_fields, None);
    assert!(!slimmed.annotations().contains_key(LAST_APPLIED));
    assert_eq!(
        slimmed
            .annotations()
            .get("hostrisk.io/refresh")
            .map(String::as_str),
        Some("now"),
        "other annotations stay"
    );
    assert_eq!(slimmed.metadata.uid.as_deref(), Some("u1"));
    assert_eq!(slimmed.metadata.resource_version.as_deref(), Some("7"));
    assert_eq!(slimmed.metadata.generation, Some(2));
    assert_eq!(slimmed.spec, full.spec);
}

#[test]
fn the_hosts_decode_to_the_records_of_the_full_status() {
    let full = watch(&["h1", "h\"2"]);
    let doc = decode(&full);
    let original = full.status.expect("status");
    assert_eq!(doc.hosts, records_of(&original.hosts));
    // Kept and written back, the decoded status is the one the API server holds.
    let kept = WatchStatus::from_records(
        doc.watch.status.as_ref().expect("status"),
        doc.hosts,
        |_| None,
    );
    assert_eq!(kept.to_crd(), original);
}

#[test]
fn an_object_without_status_or_annotations_decodes_too() {
    let mut bare = watch(&[]);
    bare.status = None;
    bare.metadata.annotations = None;
    bare.metadata.managed_fields = None;
    let doc = decode(&bare);
    assert!(doc.hosts.is_empty());
    assert_eq!(doc.watch, bare);
    let mut value = serde_json::to_value(&bare).expect("encode");
    value["metadata"]["annotations"] = serde_json::Value::Null;
    value["status"] = serde_json::Value::Null;
    let doc: WatchDocument = serde_json::from_value(value).expect("nulls decode");
    assert_eq!(doc.watch, bare);
    assert!(serde_json::from_str::<WatchDocument>(r#"{"metadata":{}}"#).is_err());
}

#[test]
fn a_store_event_hands_the_hosts_over_and_keeps_the_object() {
    let doc = decode(&watch(&["h1"]));
    let mut handed = Vec::new();
    let event = store_event(watcher::Event::InitApply(doc.clone()), |w, hosts| {
        handed.push((w.name_any(), hosts.len()));
        None
    });
    let watcher::Event::InitApply(stored) = event else {
        panic!("event kind changed");
    };
    assert_eq!(stored.status, None, "the table keeps the status");
    assert_eq!(
        HostRiskWatch {
            status: None,
            ..doc.watch.clone()
        },
        stored
    );
    let deleted = store_event(watcher::Event::Delete(doc), |_, _| {
        panic!("a deletion is no sighting")
    });
    assert!(matches!(deleted, watcher::Event::Delete(_)));
    assert_eq!(handed, [("w".to_string(), 1)]);
}

#[test]
fn the_stored_spec_shares_the_ids_of_the_kept_status_when_it_holds_them_all() {
    let doc = decode(&watch(&["h1", "h2"]));
    let kept = std::sync::Arc::new(WatchStatus::from_records(
        doc.watch.status.as_ref().expect("status"),
        doc.hosts.clone(),
        |_| None,
    ));
    let event = store_event(watcher::Event::Apply(doc.clone()), |_, _| {
        Some(std::sync::Arc::clone(&kept))
    });
    let watcher::Event::Apply(stored) = event else {
        panic!("event kind changed");
    };
    assert_eq!(stored.spec, doc.watch.spec, "the same ids");
    let shared = stored.spec.host_ids.shared().expect("shared");
    assert!(HostId::ptr_eq(&shared[1], &kept.hosts[1].id));
    // A status lacking an id of the spec leaves the spec as it is.
    let partial = decode(&watch(&["h1"]));
    let kept = std::sync::Arc::new(WatchStatus::from_records(
        partial.watch.status.as_ref().expect("status"),
        partial.hosts.clone(),
        |_| None,
    ));
    let event = store_event(watcher::Event::Apply(partial), |_, _| Some(kept.clone()));
    let watcher::Event::Apply(stored) = event else {
        panic!("event kind changed");
    };
    assert!(stored.spec.host_ids.shared().is_none());
}
