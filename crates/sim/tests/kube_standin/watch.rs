use crate::support::*;

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

pub async fn wait_for<K, S>(
    events: &mut S,
    seen: &mut std::collections::BTreeSet<String>,
    name: &str,
) where
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

pub async fn mark_ready(
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
