use crate::support::*;

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
