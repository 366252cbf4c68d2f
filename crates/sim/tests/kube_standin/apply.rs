use crate::support::*;

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
