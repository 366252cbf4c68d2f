use crate::support::*;

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
async fn unsupported_requests_are_refused_not_faked() {
    let (server, _client, widgets) = with_widgets().await;
    widgets
        .create(&PostParams::default(), &widget("r", 1))
        .await
        .unwrap();
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
async fn shutdown_stops_serving() {
    let (server, client) = server().await;
    let secrets: Api<Secret> = Api::namespaced(client, "default");
    secrets.list(&ListParams::default()).await.unwrap();
    let url = server.url();
    server.shutdown().await;
    assert!(reqwest::get(format!("{url}/api")).await.is_err());
}
