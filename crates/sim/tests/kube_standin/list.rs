use crate::support::*;

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
