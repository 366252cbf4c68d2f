use crate::support::*;

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
