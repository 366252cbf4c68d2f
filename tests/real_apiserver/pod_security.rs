//! The chart's objects on a real API server whose release namespace enforces the restricted Pod
//! Security Standard: everything the chart renders applies, and both of its pods (the operator's,
//! from the Deployment's template, and the `helm test` Pod) pass Pod Security admission; a Pod
//! without the chart's securityContext is refused there, so admission really ran.

use k8s_openapi::api::core::v1::{Namespace, Pod, ServiceAccount};
use kube::api::PostParams;
use kube::Api;
use serde_json::{json, Value};

use crate::render::values_file;
use crate::support::*;

async fn create_pod(client: &kube::Client, pod: Value) -> Result<Pod, kube::Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), RELEASE_NAMESPACE);
    let pod: Pod = serde_json::from_value(pod).expect("a Pod");
    pods.create(&PostParams::default(), &pod).await
}

#[tokio::test]
async fn chart_pods_pass_restricted_pod_security_admission() {
    let test = "chart_pods_pass_restricted_pod_security_admission";
    let Some(plane) = cluster(test, false).await else {
        return;
    };
    let client = plane.client();
    let namespace: Namespace = serde_json::from_value(json!({"metadata": {
        "name": RELEASE_NAMESPACE,
        "labels": {"pod-security.kubernetes.io/enforce": "restricted"},
    }}))
    .expect("namespace");
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .expect("create the release namespace");
    // No controller manager here to create the namespace's `default` ServiceAccount, which the
    // test Pod runs as.
    let default: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "default"}})).expect("sa");
    Api::<ServiceAccount>::namespaced(client.clone(), RELEASE_NAMESPACE)
        .create(&PostParams::default(), &default)
        .await
        .expect("create the default ServiceAccount");

    // platform: a container securityContext merged into the defaults, pull secrets from global.
    for set in ["defaults", "platform"] {
        let rendered = render_chart(set, &[&values_file(set)]);
        // Not the Pod (created below), nor Prometheus Operator objects (no such CRDs here).
        let objects: Vec<Value> = rendered
            .docs
            .iter()
            .map(|doc| doc.value.clone())
            .filter(|object| {
                object["kind"] != "Pod"
                    && !object["apiVersion"]
                        .as_str()
                        .is_some_and(|v| v.starts_with("monitoring.coreos.com/"))
            })
            .collect();
        apply_objects(&client, &objects).await;

        let test_pod = rendered
            .docs
            .iter()
            .find(|doc| doc.kind() == ("v1", "Pod"))
            .expect("the helm test Pod")
            .value
            .clone();
        let name = test_pod["metadata"]["name"]
            .as_str()
            .expect("name")
            .to_owned();
        let created = create_pod(&client, test_pod.clone())
            .await
            .unwrap_or_else(|e| panic!("{set}: the helm test Pod is refused: {e}"));
        assert_eq!(created.metadata.name.as_deref(), Some(name.as_str()));

        let deployment = rendered
            .docs
            .iter()
            .find(|doc| doc.kind() == ("apps/v1", "Deployment"))
            .expect("the Deployment")
            .value
            .clone();
        let operator_pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": format!("operator-{set}"), "namespace": RELEASE_NAMESPACE},
            "spec": deployment["spec"]["template"]["spec"],
        });
        create_pod(&client, operator_pod)
            .await
            .unwrap_or_else(|e| panic!("{set}: the operator's pod is refused: {e}"));

        // The same test Pod without its container securityContext: refused by admission.
        let mut loose = test_pod;
        loose["metadata"]["name"] = json!(format!("loose-{set}"));
        loose["spec"]["containers"][0]
            .as_object_mut()
            .expect("container")
            .remove("securityContext");
        match create_pod(&client, loose).await {
            Err(kube::Error::Api(status)) => assert!(
                status.message.contains("violates PodSecurity \"restricted"),
                "{set}: {}",
                status.message
            ),
            other => panic!("{set}: a Pod without securityContext was not refused: {other:?}"),
        }
        let pods: Api<Pod> = Api::namespaced(client.clone(), RELEASE_NAMESPACE);
        for pod in [name, format!("operator-{set}")] {
            pods.delete(&pod, &Default::default())
                .await
                .unwrap_or_else(|e| panic!("deleting {pod}: {e}"));
        }
    }
    plane.stop().await;
}
