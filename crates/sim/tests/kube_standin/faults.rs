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
        "nodes is forbidden: User \"standin-admin\" cannot list resource \"nodes\" in API group \"\" at the cluster scope"
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

#[tokio::test]
async fn forbidding_a_subresource_leaves_the_main_resource_alone_and_vice_versa() {
    use k8s_openapi::api::core::v1::Node;
    let (server, client) = server().await;
    let nodes: Api<Node> = Api::all(client);
    let node: Node = serde_json::from_value(json!({"metadata": {"name": "n"}})).unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    server.forbid("nodes/status", &["patch"]);
    let status = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
    let err = nodes
        .patch_status("n", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap_err();
    let kube::Error::Api(refused) = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        refused.message,
        "nodes \"n\" is forbidden: User \"standin-admin\" cannot patch resource \"nodes/status\" in API group \"\" at the cluster scope"
    );
    let labels = json!({"metadata": {"labels": {"a": "b"}}});
    nodes
        .patch("n", &PatchParams::default(), &Patch::Merge(&labels))
        .await
        .unwrap();
    server.forbid("nodes/status", &[]);
    server.forbid("nodes", &["patch"]);
    nodes
        .patch_status("n", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
    assert!(nodes
        .patch("n", &PatchParams::default(), &Patch::Merge(&labels))
        .await
        .is_err());
}

#[tokio::test]
async fn throttled_requests_answer_429_with_retry_after_and_the_client_retries() {
    let (server, _client, widgets) = with_widgets().await;
    widgets
        .create(&PostParams::default(), &widget("t", 1))
        .await
        .unwrap();
    server.throttle_next("widgets", 1, 1);
    let raw = reqwest::Client::new()
        .get(format!(
            "{}/apis/test.standin.io/v1/namespaces/default/widgets/t",
            server.url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 429);
    assert_eq!(raw.headers()["retry-after"], "1");
    assert_eq!(
        raw.text().await.unwrap(),
        "Too many requests, please try again later.\n"
    );
    // Every verb and subresource of the resource: here a status patch, retried by kube's
    // client after the Retry-After delay.
    server.throttle_next("widgets", 2, 1);
    let started = std::time::Instant::now();
    widgets
        .patch_status(
            "t",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"ready": true}})),
        )
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(server.request_count("patch", "widgets", "status") >= 3);
}

#[tokio::test]
async fn forced_conflicts_hit_every_write_verb_and_subresource() {
    let (server, _client, widgets) = with_widgets().await;
    let created = widgets
        .create(&PostParams::default(), &widget("c", 1))
        .await
        .unwrap();
    let is_conflict = |r: Result<(), kube::Error>| {
        matches!(r, Err(kube::Error::Api(ref s)) if s.code == 409 && s.reason == "Conflict"
            && s.message.starts_with("Operation cannot be fulfilled on widgets.test.standin.io \"c\""))
    };
    let pp = PatchParams::default();
    let status = Patch::Merge(json!({"status": {"ready": true}}));
    server.conflict_next_writes("widgets", 1);
    assert!(is_conflict(
        widgets
            .replace("c", &PostParams::default(), &created)
            .await
            .map(|_| ())
    ));
    server.conflict_next_writes("widgets", 1);
    assert!(is_conflict(
        widgets
            .patch("c", &pp, &Patch::Merge(json!({"spec": {"size": 2}})))
            .await
            .map(|_| ())
    ));
    server.conflict_next_writes("widgets", 1);
    assert!(is_conflict(
        widgets.patch_status("c", &pp, &status).await.map(|_| ())
    ));
    server.conflict_next_writes("widgets", 1);
    let apply = json!({"apiVersion": "test.standin.io/v1", "kind": "Widget", "metadata": {"name": "c"}, "status": {"ready": true}});
    assert!(is_conflict(
        widgets
            .patch_status("c", &PatchParams::apply("t"), &Patch::Apply(&apply))
            .await
            .map(|_| ())
    ));
    server.conflict_next_writes("widgets", 1);
    assert!(is_conflict(
        widgets
            .delete("c", &DeleteParams::default())
            .await
            .map(|_| ())
    ));
    // Each fault answered once: the object is untouched and writable again.
    let got = widgets.get("c").await.unwrap();
    assert_eq!((got.spec.size, got.status), (1, None));
    widgets.patch_status("c", &pp, &status).await.unwrap();
}
