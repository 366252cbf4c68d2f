//! The opt-in garbage collector (`enable_garbage_collector`), doing what kube-controller-manager
//! does beside a real API server.

use std::time::Duration;

use crate::support::*;

fn owned(name: &str, owners: &[(&str, &str)], block: bool) -> Widget {
    let mut w = widget(name, 1);
    w.metadata.owner_references = Some(
        owners
            .iter()
            .map(|(n, uid)| {
                serde_json::from_value(
                    json!({"apiVersion": "test.standin.io/v1", "kind": "Widget", "name": n,
                    "uid": uid, "blockOwnerDeletion": block}),
                )
                .unwrap()
            })
            .collect(),
    );
    w
}

async fn gone(widgets: &Api<Widget>, name: &str) {
    for _ in 0..200 {
        if widgets.get_opt(name).await.unwrap().is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{name} was not collected");
}

#[tokio::test]
async fn dependents_of_a_deleted_owner_are_collected_and_partly_owned_ones_kept() {
    let (server, _client, widgets) = with_widgets().await;
    server.enable_garbage_collector();
    let a = widgets
        .create(&PostParams::default(), &widget("a", 1))
        .await
        .unwrap();
    let b = widgets
        .create(&PostParams::default(), &widget("b", 1))
        .await
        .unwrap();
    let (ua, ub) = (a.metadata.uid.unwrap(), b.metadata.uid.unwrap());
    widgets
        .create(
            &PostParams::default(),
            &owned("only-a", &[("a", &ua)], false),
        )
        .await
        .unwrap();
    widgets
        .create(
            &PostParams::default(),
            &owned("a-and-b", &[("a", &ua), ("b", &ub)], false),
        )
        .await
        .unwrap();
    widgets.delete("a", &DeleteParams::default()).await.unwrap();
    gone(&widgets, "only-a").await;
    // The one still owned by b only loses its reference to a.
    for _ in 0..200 {
        let kept = widgets.get("a-and-b").await.unwrap();
        let refs: Vec<String> = kept
            .metadata
            .owner_references
            .unwrap_or_default()
            .into_iter()
            .map(|r| r.name)
            .collect();
        if refs == ["b"] {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the reference to the deleted owner stayed");
}

#[tokio::test]
async fn a_dependent_created_for_a_missing_owner_is_collected() {
    let (server, _client, widgets) = with_widgets().await;
    server.enable_garbage_collector();
    widgets
        .create(
            &PostParams::default(),
            &owned(
                "stray",
                &[("ghost", "00000000-0000-4000-8000-000000000000")],
                false,
            ),
        )
        .await
        .unwrap();
    gone(&widgets, "stray").await;
}

#[tokio::test]
async fn orphan_and_foreground_deletions_complete() {
    let (server, _client, widgets) = with_widgets().await;
    server.enable_garbage_collector();
    let o = widgets
        .create(&PostParams::default(), &widget("orphaner", 1))
        .await
        .unwrap();
    let uo = o.metadata.uid.unwrap();
    widgets
        .create(
            &PostParams::default(),
            &owned("kid", &[("orphaner", &uo)], false),
        )
        .await
        .unwrap();
    widgets
        .delete("orphaner", &DeleteParams::orphan())
        .await
        .unwrap();
    gone(&widgets, "orphaner").await;
    let kid = widgets.get("kid").await.unwrap();
    assert!(
        kid.metadata.owner_references.unwrap_or_default().is_empty(),
        "orphaned"
    );
    // Foreground: the blocking dependent (held by a finalizer) keeps the owner until it goes.
    let f = widgets
        .create(&PostParams::default(), &widget("parent", 1))
        .await
        .unwrap();
    let uf = f.metadata.uid.unwrap();
    let mut held = owned("held", &[("parent", &uf)], true);
    held.metadata.finalizers = Some(vec!["test/hold".into()]);
    widgets.create(&PostParams::default(), &held).await.unwrap();
    widgets
        .delete("parent", &DeleteParams::foreground())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let held = widgets.get("held").await.unwrap();
    assert!(
        held.metadata.deletion_timestamp.is_some(),
        "the dependent is being deleted"
    );
    assert!(
        widgets.get_opt("parent").await.unwrap().is_some(),
        "blockOwnerDeletion holds the owner"
    );
    widgets
        .patch(
            "held",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    gone(&widgets, "parent").await;
}
