use crate::support::*;

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
