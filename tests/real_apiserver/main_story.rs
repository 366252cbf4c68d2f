//! The main story of tests/e2e_cluster.rs (tests/support/e2e_story.rs), in-process controller,
//! against a kube-apiserver started for the test.

use hostrisk_envtest::create_namespace;

use crate::e2e_story::main_story;
use crate::support::cluster;

#[tokio::test]
async fn main_story_against_a_real_kube_apiserver() {
    let Some(plane) = cluster("main_story_against_a_real_kube_apiserver", false).await else {
        return;
    };
    let client = plane.client();
    let namespace = create_namespace(&client, "story").await.unwrap();
    main_story(&client, &namespace).await;
    plane.stop().await;
}
