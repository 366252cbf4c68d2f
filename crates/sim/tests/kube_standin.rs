//! The stand-in apiserver, driven by the real kube client and kube-runtime.

use std::net::SocketAddr;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use hostrisk_sim::kube::StandinApiServer;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ObjectReference, Secret};
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::core::PartialObjectMeta;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::watcher;
use kube::{Client, CustomResource, CustomResourceExt, ResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[kube(
    group = "test.standin.io",
    version = "v1",
    kind = "Widget",
    namespaced,
    status = "WidgetStatus"
)]
struct WidgetSpec {
    size: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
struct WidgetStatus {
    ready: bool,
}

const TIMEOUT: Duration = Duration::from_secs(10);

async fn server() -> (StandinApiServer, Client) {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = StandinApiServer::start(addr).await.unwrap();
    let client = server.client().await.unwrap();
    (server, client)
}

async fn with_widgets() -> (StandinApiServer, Client, Api<Widget>) {
    let (server, client) = server().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &Widget::crd())
        .await
        .unwrap();
    let widgets = Api::namespaced(client.clone(), "default");
    (server, client, widgets)
}

fn widget(name: &str, size: i64) -> Widget {
    Widget::new(name, WidgetSpec { size })
}

fn secret(name: &str, labels: &[(&str, &str)]) -> Secret {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels.iter().cloned().collect::<std::collections::BTreeMap<_, _>>()},
        "stringData": {"token": "abc"},
    }))
    .unwrap()
}

#[tokio::test]
async fn crd_enables_custom_resource_create_get_list() {
    let (server, _client, widgets) = with_widgets().await;
    let created = widgets
        .create(&PostParams::default(), &widget("a", 1))
        .await
        .unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    assert!(created.metadata.uid.is_some());
    assert!(created.metadata.creation_timestamp.is_some());
    let got = widgets.get("a").await.unwrap();
    assert_eq!(got.spec.size, 1);
    assert_eq!(got.resource_version(), created.resource_version());
    let list = widgets.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    assert!(list.metadata.resource_version.is_some());
    let err = widgets
        .create(&PostParams::default(), &widget("a", 2))
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 409 && s.reason == "AlreadyExists"),
        "{err:?}"
    );
    let missing = widgets.get("nope").await.unwrap_err();
    assert!(
        matches!(missing, kube::Error::Api(ref s) if s.code == 404 && s.reason == "NotFound"),
        "{missing:?}"
    );
    let stored = server
        .object("test.standin.io", "widgets", "default", "a")
        .unwrap();
    assert_eq!(stored["spec"]["size"], 1);
    let crd = server
        .object(
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            "",
            "widgets.test.standin.io",
        )
        .unwrap();
    assert_eq!(crd["status"]["conditions"][1]["type"], "Established");
}

#[tokio::test]
async fn generate_name_is_filled_in() {
    let (_server, _client, widgets) = with_widgets().await;
    let mut w = widget("", 1);
    w.metadata.name = None;
    w.metadata.generate_name = Some("gen-".into());
    let created = widgets.create(&PostParams::default(), &w).await.unwrap();
    let name = created.name_any();
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");
}

#[tokio::test]
async fn generation_bumps_on_spec_change_only() {
    let (_server, _client, widgets) = with_widgets().await;
    widgets
        .create(&PostParams::default(), &widget("g", 1))
        .await
        .unwrap();
    let pp = PatchParams::default();
    let w = widgets
        .patch("g", &pp, &Patch::Merge(json!({"spec": {"size": 2}})))
        .await
        .unwrap();
    assert_eq!(w.metadata.generation, Some(2));
    let w = widgets
        .patch_status("g", &pp, &Patch::Merge(json!({"status": {"ready": true}})))
        .await
        .unwrap();
    assert_eq!(w.metadata.generation, Some(2));
    assert_eq!(w.status, Some(WidgetStatus { ready: true }));
    let w = widgets
        .patch(
            "g",
            &pp,
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .unwrap();
    assert_eq!(w.metadata.generation, Some(2));
    assert_eq!(w.labels().get("x").map(String::as_str), Some("y"));
}

#[tokio::test]
async fn status_and_main_resource_writes_are_isolated() {
    let (server, _client, widgets) = with_widgets().await;
    let pp = PatchParams::default();
    let mut w = widget("s", 1);
    w.status = Some(WidgetStatus { ready: true });
    let created = widgets.create(&PostParams::default(), &w).await.unwrap();
    assert_eq!(created.status, None, "status is dropped on create");
    let w = widgets
        .patch_status(
            "s",
            &pp,
            &Patch::Merge(json!({"spec": {"size": 9}, "status": {"ready": true}})),
        )
        .await
        .unwrap();
    assert_eq!(w.spec.size, 1);
    assert_eq!(w.status, Some(WidgetStatus { ready: true }));
    let w = widgets
        .patch(
            "s",
            &pp,
            &Patch::Merge(json!({"spec": {"size": 3}, "status": {"ready": false}})),
        )
        .await
        .unwrap();
    assert_eq!(w.spec.size, 3);
    assert_eq!(w.status, Some(WidgetStatus { ready: true }));
    assert_eq!(server.status_writes("widgets"), 1);
    let stored = server.stored_writes("test.standin.io", "widgets");
    let before = server.resource_version();
    widgets
        .patch_status("s", &pp, &Patch::Merge(json!({"status": {"ready": true}})))
        .await
        .unwrap();
    assert_eq!(
        server.resource_version(),
        before,
        "a no-op write stores nothing"
    );
    assert_eq!(server.status_writes("widgets"), 2);
    assert_eq!(server.stored_writes("test.standin.io", "widgets"), stored);
}

#[tokio::test]
async fn replace_with_stale_resource_version_conflicts() {
    let (_server, _client, widgets) = with_widgets().await;
    let created = widgets
        .create(&PostParams::default(), &widget("c", 1))
        .await
        .unwrap();
    let mut fresh = created.clone();
    fresh.spec.size = 2;
    widgets
        .replace("c", &PostParams::default(), &fresh)
        .await
        .unwrap();
    let mut stale = created;
    stale.spec.size = 3;
    let err = widgets
        .replace("c", &PostParams::default(), &stale)
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(s) => {
            assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"));
            assert!(
                s.message.contains("the object has been modified"),
                "{}",
                s.message
            );
        }
        other => panic!("{other:?}"),
    }
    let mut unconditional = widgets.get("c").await.unwrap();
    unconditional.metadata.resource_version = None;
    let err = widgets
        .replace("c", &PostParams::default(), &unconditional)
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 422),
        "{err:?}"
    );
}

#[tokio::test]
async fn raw_watch_sees_added_modified_deleted() {
    let (_server, _client, widgets) = with_widgets().await;
    let list = widgets.list(&ListParams::default()).await.unwrap();
    let rv = list.metadata.resource_version.unwrap();
    let mut stream = widgets
        .watch(&WatchParams::default().timeout(5), &rv)
        .await
        .unwrap()
        .boxed();
    widgets
        .create(&PostParams::default(), &widget("w", 1))
        .await
        .unwrap();
    widgets
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 2}})),
        )
        .await
        .unwrap();
    widgets.delete("w", &DeleteParams::default()).await.unwrap();
    let mut kinds = Vec::new();
    while kinds.len() < 3 {
        match tokio::time::timeout(TIMEOUT, stream.try_next())
            .await
            .unwrap()
            .unwrap()
        {
            Some(WatchEvent::Added(w)) => kinds.push(("ADDED", w.spec.size)),
            Some(WatchEvent::Modified(w)) => kinds.push(("MODIFIED", w.spec.size)),
            Some(WatchEvent::Deleted(w)) => kinds.push(("DELETED", w.spec.size)),
            Some(other) => panic!("{other:?}"),
            None => break,
        }
    }
    assert_eq!(kinds, vec![("ADDED", 1), ("MODIFIED", 2), ("DELETED", 2)]);
}

#[tokio::test]
async fn too_old_resource_version_gives_410_error_event() {
    let (server, _client, widgets) = with_widgets().await;
    let created = widgets
        .create(&PostParams::default(), &widget("o", 1))
        .await
        .unwrap();
    widgets
        .patch(
            "o",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 2}})),
        )
        .await
        .unwrap();
    server.compact_history();
    let mut stream = widgets
        .watch(
            &WatchParams::default(),
            &created.resource_version().unwrap(),
        )
        .await
        .unwrap()
        .boxed();
    match tokio::time::timeout(TIMEOUT, stream.try_next())
        .await
        .unwrap()
        .unwrap()
    {
        Some(WatchEvent::Error(e)) => assert_eq!((e.code, e.reason.as_str()), (410, "Expired")),
        other => panic!("{other:?}"),
    }
    let exact = ListParams::default()
        .at(&created.resource_version().unwrap())
        .matching(kube::api::VersionMatch::Exact);
    let err = widgets.list(&exact).await.unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 410),
        "{err:?}"
    );
}

#[tokio::test]
async fn delete_with_finalizer_waits_for_finalizer_removal() {
    let (server, _client, widgets) = with_widgets().await;
    let mut w = widget("f", 1);
    w.metadata.finalizers = Some(vec!["test/hold".into()]);
    widgets.create(&PostParams::default(), &w).await.unwrap();
    let answer = widgets.delete("f", &DeleteParams::default()).await.unwrap();
    assert!(
        answer.is_left(),
        "an object waiting for finalizers is answered"
    );
    let pending = widgets.get("f").await.unwrap();
    assert!(pending.metadata.deletion_timestamp.is_some());
    assert_eq!(pending.metadata.generation, Some(2));
    widgets
        .patch(
            "f",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    assert!(server
        .object("test.standin.io", "widgets", "default", "f")
        .is_none());
    widgets
        .create(&PostParams::default(), &widget("now", 1))
        .await
        .unwrap();
    let answer = widgets
        .delete("now", &DeleteParams::default())
        .await
        .unwrap();
    let status = answer
        .right()
        .expect("an immediate delete answers a Status");
    assert_eq!(status.details.map(|d| d.name), Some("now".to_string()));
}

async fn wait_for<K, S>(events: &mut S, seen: &mut std::collections::BTreeSet<String>, name: &str)
where
    K: kube::Resource,
    S: futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Unpin,
{
    while !seen.contains(name) {
        match tokio::time::timeout(TIMEOUT, events.next()).await.unwrap() {
            Some(Ok(watcher::Event::Apply(w) | watcher::Event::InitApply(w))) => {
                seen.insert(w.name_any());
            }
            Some(_) => {}
            None => panic!("watcher ended"),
        }
    }
}

#[tokio::test]
async fn watcher_survives_dropped_watch_and_forced_410() {
    let (server, _client, widgets) = with_widgets().await;
    server.set_bookmark_interval(Duration::from_millis(100));
    widgets
        .create(&PostParams::default(), &widget("one", 1))
        .await
        .unwrap();
    let mut events = watcher(widgets.clone(), watcher::Config::default()).boxed();
    let mut seen = std::collections::BTreeSet::new();
    wait_for(&mut events, &mut seen, "one").await;
    server.drop_watches();
    widgets
        .create(&PostParams::default(), &widget("two", 2))
        .await
        .unwrap();
    wait_for(&mut events, &mut seen, "two").await;
    server.expire_next_watches(1);
    server.drop_watches();
    widgets
        .create(&PostParams::default(), &widget("three", 3))
        .await
        .unwrap();
    wait_for(&mut events, &mut seen, "three").await;
    assert!(
        server.request_count("list", "widgets", "") >= 2,
        "a 410 forces a re-list"
    );
}

#[tokio::test]
async fn streaming_list_watcher_gets_initial_events() {
    let (_server, _client, widgets) = with_widgets().await;
    widgets
        .create(&PostParams::default(), &widget("s1", 1))
        .await
        .unwrap();
    let cfg = watcher::Config::default().streaming_lists();
    let mut events = watcher(widgets.clone(), cfg).boxed();
    let mut got_init_done = false;
    let mut applied = Vec::new();
    while !got_init_done {
        match tokio::time::timeout(TIMEOUT, events.next()).await.unwrap() {
            Some(Ok(watcher::Event::InitApply(w))) => applied.push(w.name_any()),
            Some(Ok(watcher::Event::InitDone)) => got_init_done = true,
            Some(Ok(_)) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(applied, vec!["s1".to_string()]);
}

#[tokio::test]
async fn secrets_events_and_leases_round_trip() {
    let (server, client) = server().await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    let s = secrets
        .create(&PostParams::default(), &secret("creds", &[]))
        .await
        .unwrap();
    assert_eq!(s.type_.as_deref(), Some("Opaque"));
    assert_eq!(
        s.data.unwrap().get("token").map(|b| b.0.clone()),
        Some(b"abc".to_vec())
    );
    assert!(s.string_data.is_none());

    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "standin-test".into(),
            instance: None,
        },
    );
    let reference = ObjectReference {
        kind: Some("Secret".into()),
        namespace: Some("default".into()),
        name: Some("creds".into()),
        api_version: Some("v1".into()),
        ..Default::default()
    };
    let ev = Event {
        type_: EventType::Normal,
        reason: "Tested".into(),
        note: Some("hello".into()),
        action: "Test".into(),
        secondary: None,
    };
    recorder.publish(&ev, &reference).await.unwrap();
    recorder.publish(&ev, &reference).await.unwrap();
    let events: Api<K8sEvent> = Api::namespaced(client.clone(), "default");
    let listed = events.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].series.as_ref().map(|s| s.count), Some(2));
    assert_eq!(server.request_count("patch", "events", ""), 1);

    let leases: Api<Lease> = Api::namespaced(client, "default");
    let lease: Lease = serde_json::from_value(json!({"metadata": {"name": "leader"}, "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}})).unwrap();
    leases.create(&PostParams::default(), &lease).await.unwrap();
    let mut l = leases.get("leader").await.unwrap();
    l.spec.as_mut().unwrap().holder_identity = Some("b".into());
    let replaced = leases
        .replace("leader", &PostParams::default(), &l)
        .await
        .unwrap();
    assert_eq!(replaced.spec.unwrap().holder_identity.as_deref(), Some("b"));
    leases
        .delete("leader", &DeleteParams::default())
        .await
        .unwrap();
    assert!(leases.get_opt("leader").await.unwrap().is_none());
}

#[tokio::test]
async fn metadata_watcher_on_secrets() {
    let (_server, client) = server().await;
    let secrets: Api<Secret> = Api::namespaced(client, "default");
    secrets
        .create(&PostParams::default(), &secret("m1", &[("app", "x")]))
        .await
        .unwrap();
    let list = secrets.list_metadata(&ListParams::default()).await.unwrap();
    assert_eq!(list.items[0].metadata.name.as_deref(), Some("m1"));
    let metadata_only: Api<PartialObjectMeta<Secret>> =
        Api::namespaced(secrets.clone().into_client(), "default");
    let mut events = watcher(metadata_only, watcher::Config::default()).boxed();
    let mut names = Vec::new();
    while !names.contains(&"m2".to_string()) {
        if names.contains(&"m1".to_string()) && secrets.get_opt("m2").await.unwrap().is_none() {
            secrets
                .create(&PostParams::default(), &secret("m2", &[]))
                .await
                .unwrap();
        }
        match tokio::time::timeout(TIMEOUT, events.next()).await.unwrap() {
            Some(Ok(watcher::Event::Apply(m) | watcher::Event::InitApply(m))) => {
                names.push(m.name_any())
            }
            Some(Ok(_)) => {}
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn label_and_field_selectors_filter_lists() {
    let (_server, client) = server().await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    secrets
        .create(&PostParams::default(), &secret("a", &[("tier", "web")]))
        .await
        .unwrap();
    secrets
        .create(&PostParams::default(), &secret("b", &[("tier", "db")]))
        .await
        .unwrap();
    secrets
        .create(&PostParams::default(), &secret("c", &[]))
        .await
        .unwrap();
    let names =
        |l: kube::api::ObjectList<Secret>| l.items.iter().map(|s| s.name_any()).collect::<Vec<_>>();
    assert_eq!(
        names(
            secrets
                .list(&ListParams::default().labels("tier=web"))
                .await
                .unwrap()
        ),
        ["a"]
    );
    assert_eq!(
        names(
            secrets
                .list(&ListParams::default().labels("tier!=web"))
                .await
                .unwrap()
        ),
        ["b", "c"]
    );
    assert_eq!(
        names(
            secrets
                .list(&ListParams::default().labels("tier in (web,db)"))
                .await
                .unwrap()
        ),
        ["a", "b"]
    );
    assert_eq!(
        names(
            secrets
                .list(&ListParams::default().labels("!tier"))
                .await
                .unwrap()
        ),
        ["c"]
    );
    assert_eq!(
        names(
            secrets
                .list(&ListParams::default().fields("metadata.name=b"))
                .await
                .unwrap()
        ),
        ["b"]
    );
    let err = secrets
        .list(&ListParams::default().fields("spec.nope=1"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 400),
        "{err:?}"
    );
    let all: Api<Secret> = Api::all(client);
    assert_eq!(
        all.list(&ListParams::default()).await.unwrap().items.len(),
        3
    );
}

#[tokio::test]
async fn watch_with_selector_turns_unmatching_objects_into_deleted() {
    let (_server, client) = server().await;
    let secrets: Api<Secret> = Api::namespaced(client, "default");
    secrets
        .create(&PostParams::default(), &secret("sel", &[("keep", "yes")]))
        .await
        .unwrap();
    let mut stream = secrets
        .watch(&WatchParams::default().labels("keep=yes").timeout(5), "0")
        .await
        .unwrap()
        .boxed();
    let first = tokio::time::timeout(TIMEOUT, stream.try_next())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(first, Some(WatchEvent::Added(_))), "{first:?}");
    secrets
        .patch(
            "sel",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"keep": "no"}}})),
        )
        .await
        .unwrap();
    let second = tokio::time::timeout(TIMEOUT, stream.try_next())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(second, Some(WatchEvent::Deleted(_))), "{second:?}");
}

#[tokio::test]
async fn pagination_with_limit_and_continue() {
    let (_server, client) = server().await;
    let secrets: Api<Secret> = Api::namespaced(client, "default");
    for i in 0..5 {
        secrets
            .create(&PostParams::default(), &secret(&format!("p{i}"), &[]))
            .await
            .unwrap();
    }
    let first = secrets.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(first.items.len(), 2);
    assert_eq!(first.metadata.remaining_item_count, Some(3));
    let token = first.metadata.continue_.clone().unwrap();
    // an object created between pages is not part of the snapshot
    secrets
        .create(&PostParams::default(), &secret("p9", &[]))
        .await
        .unwrap();
    let second = secrets
        .list(&ListParams::default().limit(10).continue_token(&token))
        .await
        .unwrap();
    let names: Vec<String> = second.items.iter().map(|s| s.name_any()).collect();
    assert_eq!(names, ["p2", "p3", "p4"]);
    assert!(second
        .metadata
        .continue_
        .as_deref()
        .unwrap_or("")
        .is_empty());
    assert_eq!(
        second.metadata.resource_version,
        first.metadata.resource_version
    );
}

#[tokio::test]
async fn server_side_apply_creates_updates_and_detects_conflicts() {
    let (_server, _client, widgets) = with_widgets().await;
    let doc = json!({"apiVersion": "test.standin.io/v1", "kind": "Widget", "metadata": {"name": "ssa"}, "spec": {"size": 1}});
    let w = widgets
        .patch("ssa", &PatchParams::apply("one"), &Patch::Apply(&doc))
        .await
        .unwrap();
    assert_eq!(w.spec.size, 1);
    let doc2 = json!({"apiVersion": "test.standin.io/v1", "kind": "Widget", "metadata": {"name": "ssa"}, "spec": {"size": 2}});
    let err = widgets
        .patch("ssa", &PatchParams::apply("two"), &Patch::Apply(&doc2))
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 409),
        "{err:?}"
    );
    let w = widgets
        .patch(
            "ssa",
            &PatchParams::apply("two").force(),
            &Patch::Apply(&doc2),
        )
        .await
        .unwrap();
    assert_eq!(w.spec.size, 2);
    let err = widgets
        .patch("ssa", &PatchParams::default(), &Patch::Apply(&doc2))
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 422),
        "{err:?}"
    );
    let smp = widgets
        .patch(
            "ssa",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"size": 5}})),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(smp, kube::Error::Api(ref s) if s.code == 415),
        "{smp:?}"
    );
}

#[tokio::test]
async fn fault_hooks_conflict_and_unavailable() {
    let (server, _client, widgets) = with_widgets().await;
    server.conflict_next_writes("widgets", 1);
    let err = widgets
        .create(&PostParams::default(), &widget("x", 1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 409 && s.reason == "Conflict"),
        "{err:?}"
    );
    widgets
        .create(&PostParams::default(), &widget("x", 1))
        .await
        .unwrap();
    server.unavailable_for(Duration::from_millis(300));
    let raw = reqwest::get(format!(
        "{}/apis/test.standin.io/v1/namespaces/default/widgets/x",
        server.url()
    ))
    .await
    .unwrap();
    assert_eq!(raw.status().as_u16(), 503);
    let status: serde_json::Value = raw.json().await.unwrap();
    assert_eq!(
        (status["kind"].as_str(), status["reason"].as_str()),
        (Some("Status"), Some("ServiceUnavailable"))
    );
    // kube's client retries 503 with backoff, so the read succeeds once the outage ends
    let got = widgets.get("x").await.unwrap();
    assert_eq!(got.spec.size, 1);
    assert!(
        server.request_count("get", "widgets", "") >= 3,
        "{:?}",
        server.request_counts()
    );
}

#[tokio::test]
async fn discovery_finds_custom_resources() {
    let (_server, client, _widgets) = with_widgets().await;
    let discovery = kube::Discovery::new(client.clone()).run().await.unwrap();
    let (ar, caps) = discovery
        .groups()
        .flat_map(|g| g.recommended_resources())
        .find(|(ar, _)| ar.kind == "Widget")
        .unwrap();
    assert_eq!(ar.plural, "widgets");
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);
    let aggregated = kube::Discovery::new(client).run_aggregated().await.unwrap();
    assert!(aggregated.groups().any(|g| g.name() == "test.standin.io"));
    assert!(aggregated.groups().any(|g| g.name() == ""));
}

#[tokio::test]
async fn apply_yaml_documents_creates_crd_and_objects() {
    let (server, _client) = server().await;
    let crd = serde_yaml::to_string(&Widget::crd()).unwrap();
    let yaml = format!(
        "{crd}---\napiVersion: test.standin.io/v1\nkind: Widget\nmetadata:\n  name: y\n  namespace: demo\nspec:\n  size: 4\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: demo\nstringData:\n  k: v\n"
    );
    let objs = server.apply_yaml_documents(&yaml).await.unwrap();
    assert_eq!(objs.len(), 3);
    assert_eq!(
        server
            .object("test.standin.io", "widgets", "demo", "y")
            .unwrap()["spec"]["size"],
        4
    );
    assert_eq!(
        server.object("", "secrets", "demo", "s").unwrap()["data"]["k"],
        "dg=="
    );
}

#[tokio::test]
async fn unknown_fields_are_pruned_by_the_crd_schema() {
    let (server, client, _widgets) = with_widgets().await;
    let ar = kube::core::ApiResource::erase::<Widget>(&());
    let dynamic: Api<kube::core::DynamicObject> = Api::namespaced_with(client, "default", &ar);
    let obj: kube::core::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "test.standin.io/v1", "kind": "Widget",
        "metadata": {"name": "p"},
        "spec": {"size": 1, "bogus": true},
        "extra": 1
    }))
    .unwrap();
    let created = dynamic.create(&PostParams::default(), &obj).await.unwrap();
    assert_eq!(created.data, json!({"spec": {"size": 1}}));
    let stored = server
        .object("test.standin.io", "widgets", "default", "p")
        .unwrap();
    assert!(stored.get("extra").is_none());
}

async fn mark_ready(
    w: std::sync::Arc<Widget>,
    api: std::sync::Arc<Api<Widget>>,
) -> Result<kube::runtime::controller::Action, kube::Error> {
    if w.status.as_ref().is_none_or(|s| !s.ready) {
        let patch = Patch::Merge(json!({"status": {"ready": true}}));
        api.patch_status(&w.name_any(), &PatchParams::default(), &patch)
            .await?;
    }
    Ok(kube::runtime::controller::Action::requeue(
        Duration::from_millis(50),
    ))
}

#[tokio::test]
async fn controller_reconciles_and_idle_requeues_write_nothing() {
    let (server, _client, widgets) = with_widgets().await;
    widgets
        .create(&PostParams::default(), &widget("c1", 1))
        .await
        .unwrap();
    let controller = kube::runtime::Controller::new(widgets.clone(), watcher::Config::default())
        .run(
            mark_ready,
            |_, _: &kube::Error, _| {
                kube::runtime::controller::Action::requeue(Duration::from_secs(1))
            },
            std::sync::Arc::new(widgets.clone()),
        )
        .for_each(|_| async {});
    let handle = tokio::spawn(controller);
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while widgets
        .get("c1")
        .await
        .unwrap()
        .status
        .is_none_or(|s| !s.ready)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "controller never wrote status"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    handle.abort();
    assert!(server.request_count("patch", "widgets", "status") >= 1);
    assert_eq!(
        server.status_writes("widgets"),
        1,
        "{:?}",
        server.request_counts()
    );
}

#[tokio::test]
async fn strict_field_validation_refuses_unknown_fields() {
    let (_server, _client, widgets) = with_widgets().await;
    widgets
        .create(&PostParams::default(), &widget("v", 1))
        .await
        .unwrap();
    let strict = PatchParams::default().validation(kube::api::ValidationDirective::Strict);
    let err = widgets
        .patch("v", &strict, &Patch::Merge(json!({"spec": {"bogus": 1}})))
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 400 && s.message.contains("spec.bogus")),
        "{err:?}"
    );
    let lenient = widgets
        .patch(
            "v",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"bogus": 1, "size": 4}})),
        )
        .await
        .unwrap();
    assert_eq!(lenient.spec.size, 4);
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let (server, client) = server().await;
    let secrets: Api<Secret> = Api::namespaced(client, "default");
    secrets.list(&ListParams::default()).await.unwrap();
    let url = server.url();
    server.shutdown().await;
    assert!(reqwest::get(format!("{url}/api")).await.is_err());
}

#[tokio::test]
async fn namespaces_are_cluster_scoped_with_defaults() {
    let (_server, client) = server().await;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client);
    let ns = serde_json::from_value(json!({"metadata": {"name": "team-a"}})).unwrap();
    let created = namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    assert_eq!(
        created.status.clone().and_then(|s| s.phase).as_deref(),
        Some("Active")
    );
    assert_eq!(
        created
            .labels()
            .get("kubernetes.io/metadata.name")
            .map(String::as_str),
        Some("team-a")
    );
    assert_eq!(namespaces.get("team-a").await.unwrap().name_any(), "team-a");
    let err = namespaces
        .delete("team-a", &DeleteParams::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 501),
        "{err:?}"
    );
}

#[tokio::test]
async fn bookmarks_carry_the_latest_resource_version() {
    let (server, _client, widgets) = with_widgets().await;
    server.set_bookmark_interval(Duration::from_millis(50));
    let created = widgets
        .create(&PostParams::default(), &widget("b", 1))
        .await
        .unwrap();
    let rv = created.resource_version().unwrap();
    let mut stream = widgets
        .watch(&WatchParams::default().timeout(5), &rv)
        .await
        .unwrap()
        .boxed();
    match tokio::time::timeout(TIMEOUT, stream.try_next())
        .await
        .unwrap()
        .unwrap()
    {
        Some(WatchEvent::Bookmark(b)) => assert_eq!(
            b.metadata.resource_version,
            server.resource_version().to_string()
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn exact_list_returns_the_state_at_that_version() {
    let (_server, client) = server().await;
    let secrets: Api<Secret> = Api::namespaced(client, "default");
    let a = secrets
        .create(&PostParams::default(), &secret("a", &[]))
        .await
        .unwrap();
    secrets
        .create(&PostParams::default(), &secret("b", &[]))
        .await
        .unwrap();
    secrets.delete("a", &DeleteParams::default()).await.unwrap();
    let at = ListParams::default()
        .at(&a.resource_version().unwrap())
        .matching(kube::api::VersionMatch::Exact);
    let then: Vec<String> = secrets
        .list(&at)
        .await
        .unwrap()
        .items
        .iter()
        .map(|s| s.name_any())
        .collect();
    assert_eq!(then, ["a"]);
    let now: Vec<String> = secrets
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|s| s.name_any())
        .collect();
    assert_eq!(now, ["b"]);
}

#[tokio::test]
async fn unsupported_requests_are_refused_not_faked() {
    let (server, _client, widgets) = with_widgets().await;
    widgets
        .create(&PostParams::default(), &widget("r", 1))
        .await
        .unwrap();
    let err = widgets
        .delete("r", &DeleteParams::foreground())
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 501),
        "{err:?}"
    );
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let err = widgets.create(&dry, &widget("dry", 1)).await.unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 501),
        "{err:?}"
    );
    assert!(server
        .object("test.standin.io", "widgets", "default", "dry")
        .is_none());
    assert!(widgets.get_opt("r").await.unwrap().is_some());
}

#[tokio::test]
async fn lease_put_creates_like_the_real_server() {
    let (server, client) = server().await;
    let leases: Api<Lease> = Api::namespaced(client, "default");
    let lease: Lease = serde_json::from_value(
        json!({"metadata": {"name": "put-made"}, "spec": {"holderIdentity": "a"}}),
    )
    .unwrap();
    let created = leases
        .replace("put-made", &PostParams::default(), &lease)
        .await
        .unwrap();
    assert!(created.metadata.uid.is_some());
    assert_eq!(server.request_count("update", "leases", ""), 1);
    let secrets: Api<Secret> = Api::namespaced(leases.into_client(), "default");
    let err = secrets
        .replace("nope", &PostParams::default(), &secret("nope", &[]))
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 404),
        "{err:?}"
    );
}

#[tokio::test]
async fn nodes_are_cluster_scoped_with_a_status_subresource_and_a_fixed_provider_id() {
    use k8s_openapi::api::core::v1::Node;
    let (_server, client) = server().await;
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({
        "metadata": {"name": "worker-1", "labels": {"pool": "web"}},
        "spec": {"providerID": "huaweicloud:///id-1"},
    }))
    .unwrap();
    let created = nodes.create(&PostParams::default(), &node).await.unwrap();
    assert_eq!(created.metadata.namespace, None);
    assert_eq!(created.metadata.generation, None, "no generation for Nodes");
    // Status writes go through /status only, and leave the spec alone.
    let status = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
    nodes
        .patch_status("worker-1", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
    let got = nodes.get("worker-1").await.unwrap();
    assert!(got.status.is_some());
    assert_eq!(
        got.spec.and_then(|s| s.provider_id).as_deref(),
        Some("huaweicloud:///id-1")
    );
    // Labels may change; a set providerID may not (ValidateNodeUpdate).
    let labels = json!({"metadata": {"labels": {"pool": "db"}}});
    nodes
        .patch("worker-1", &PatchParams::default(), &Patch::Merge(&labels))
        .await
        .unwrap();
    let moved = json!({"spec": {"providerID": "huaweicloud:///id-2"}});
    let err = nodes
        .patch("worker-1", &PatchParams::default(), &Patch::Merge(&moved))
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 422 && s.message.contains("spec.providerID: Forbidden")),
        "{err:?}"
    );
    // From "" to a value is allowed (the cloud controller manager initialising a Node).
    let bare: Node = serde_json::from_value(json!({"metadata": {"name": "worker-2"}})).unwrap();
    nodes.create(&PostParams::default(), &bare).await.unwrap();
    nodes
        .patch("worker-2", &PatchParams::default(), &Patch::Merge(&moved))
        .await
        .unwrap();
    let listed: Vec<String> = nodes
        .list(&ListParams::default().labels("pool=db"))
        .await
        .unwrap()
        .items
        .iter()
        .map(|n| n.name_any())
        .collect();
    assert_eq!(listed, vec!["worker-1"]);
}

#[tokio::test]
async fn forbidden_verbs_answer_403_like_rbac_and_open_watches_go_on() {
    use k8s_openapi::api::core::v1::Node;
    let (server, client) = server().await;
    let nodes: Api<Node> = Api::all(client.clone());
    let node = |name: &str| -> Node {
        serde_json::from_value(json!({"metadata": {"name": name}})).unwrap()
    };
    // A watch open before the refusal (the request was authorised when it started).
    let version = nodes
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap_or_default();
    let mut open = nodes
        .watch(&WatchParams::default(), &version)
        .await
        .unwrap()
        .boxed();
    server.forbid("nodes", &["list", "watch"]);
    let err = nodes.list(&ListParams::default()).await.unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("{err:?}")
    };
    assert_eq!((status.code, status.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        status.message,
        "nodes is forbidden: User \"system:anonymous\" cannot list resource \"nodes\" in API group \"\" at the cluster scope"
    );
    assert_eq!(status.details.map(|d| d.kind), Some("nodes".to_string()));
    let err = nodes
        .watch(&WatchParams::default(), &version)
        .await
        .err()
        .expect("a new watch is refused");
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 403),
        "{err:?}"
    );
    // Other verbs stay allowed, and the open watch keeps delivering.
    nodes
        .create(&PostParams::default(), &node("a"))
        .await
        .unwrap();
    nodes.get("a").await.unwrap();
    match tokio::time::timeout(TIMEOUT, open.next()).await.unwrap() {
        Some(Ok(WatchEvent::Added(added))) => assert_eq!(added.name_any(), "a"),
        other => panic!("{other:?}"),
    }
    server.forbid("nodes", &[]);
    assert_eq!(
        nodes
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}
