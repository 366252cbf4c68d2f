//! The `helm test` hook (templates/tests/readyz.yaml) and the image pull secrets every pod gets.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;

use super::render::{assert_restricted, render, value_sets, Rendered, RELEASE_NAMESPACE};

fn test_pod(rendered: &Rendered) -> &Pod {
    assert_eq!(
        rendered.test_pods.len(),
        1,
        "{}: one test Pod",
        rendered.set
    );
    &rendered.test_pods[0]
}

fn labels(pod: &Pod) -> BTreeMap<String, String> {
    pod.metadata.labels.clone().unwrap_or_default()
}

fn pull_secret_names(
    secrets: Option<&Vec<k8s_openapi::api::core::v1::LocalObjectReference>>,
) -> Vec<String> {
    secrets
        .into_iter()
        .flatten()
        .map(|s| s.name.clone())
        .collect()
}

/// The Pod is a test hook that asks /readyz of the metrics Service (name, namespace and port as
/// rendered), expects the operator's `ok`, and is replaced by the next run.
#[test]
fn the_test_pod_asks_readyz_through_the_metrics_service() {
    for set in value_sets() {
        let rendered = render(&set);
        if set == "tests-off" {
            assert!(
                rendered.test_pods.is_empty(),
                "tests.enabled=false renders no Pod"
            );
            continue;
        }
        let pod = test_pod(&rendered);
        let annotations = pod.metadata.annotations.clone().unwrap_or_default();
        assert_eq!(
            annotations.get("helm.sh/hook").map(String::as_str),
            Some("test"),
            "{set}"
        );
        assert_eq!(
            annotations
                .get("helm.sh/hook-delete-policy")
                .map(String::as_str),
            Some("before-hook-creation,hook-succeeded"),
            "{set}"
        );
        let spec = pod.spec.as_ref().expect("pod spec");
        assert_eq!(spec.restart_policy.as_deref(), Some("Never"), "{set}");
        assert_eq!(spec.automount_service_account_token, Some(false), "{set}");
        assert_eq!(spec.containers.len(), 1, "{set}");
        let container = &spec.containers[0];

        let service = &rendered.services[0];
        let port = service
            .spec
            .as_ref()
            .and_then(|s| s.ports.as_ref())
            .expect("ports")[0]
            .port;
        let url = format!(
            "http://{}.{RELEASE_NAMESPACE}.svc:{port}/readyz",
            service.metadata.name.as_deref().expect("service name")
        );
        let env: Vec<_> = container.env.iter().flatten().collect();
        assert_eq!(env.len(), 1, "{set}");
        assert_eq!(
            (env[0].name.as_str(), env[0].value.as_deref()),
            ("READYZ_URL", Some(url.as_str())),
            "{set}"
        );
        let command = container.command.clone().expect("command");
        assert_eq!(command[..2], ["sh".to_owned(), "-c".to_owned()], "{set}");
        for needle in [
            "timeout 10 wget -q -O - \"$READYZ_URL\"",
            "[ \"$body\" = ok ]",
            "exit 1",
        ] {
            assert!(
                command[2].contains(needle),
                "{set}: {needle} in {}",
                command[2]
            );
        }

        // Not an operator pod for any selector of the chart.
        let pod_labels = labels(pod);
        let selector = service
            .spec
            .as_ref()
            .and_then(|s| s.selector.clone())
            .expect("selector");
        assert!(
            !selector.iter().all(|(k, v)| pod_labels.get(k) == Some(v)),
            "{set}: the metrics Service would send traffic to the test Pod"
        );
        assert_eq!(
            pod_labels
                .get("app.kubernetes.io/component")
                .map(String::as_str),
            Some("helm-test")
        );
        assert_eq!(
            pull_secret_names(spec.image_pull_secrets.as_ref()),
            pull_secret_names(rendered.pod_spec().image_pull_secrets.as_ref()),
            "{set}: the test Pod pulls with the operator's secrets"
        );
    }
}

/// The restricted Pod Security Standard, as for the operator, with the same user ids (nulled on
/// platforms that assign them).
#[test]
fn the_test_pod_is_restricted() {
    for set in value_sets().into_iter().filter(|s| s != "tests-off") {
        let rendered = render(&set);
        let spec = test_pod(&rendered).spec.clone().expect("spec");
        let ids = (set != "nulls").then_some(65532);
        assert_eq!(assert_restricted(&set, &spec), (ids, ids), "{set}");
        let resources = spec.containers[0].resources.clone().expect("resources");
        assert!(
            resources.limits.is_some_and(|l| l.contains_key("memory")),
            "{set}"
        );
    }
}

#[test]
fn the_test_image_is_configurable_and_pinned_by_digest() {
    let image = |set: &str| {
        test_pod(&render(set))
            .spec
            .as_ref()
            .expect("spec")
            .containers[0]
            .image
            .clone()
            .expect("image")
    };
    assert_eq!(image("defaults"), "busybox:1.37.0");
    assert_eq!(
        image("digest"),
        "registry.example.com/mirror/busybox@sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
    );
}

/// With the scrapers narrowed down, the NetworkPolicy also lets the test Pod (and nothing else of
/// this release) reach the health port; without a test Pod, only the scrapers.
#[test]
fn the_network_policy_lets_the_test_pod_in_only_when_there_is_one() {
    for (set, with_test_pod) in [("monitoring", true), ("tests-off", false)] {
        let rendered = render(set);
        let policy = rendered.network_policies[0]
            .spec
            .clone()
            .expect("policy spec");
        let from = policy.ingress.expect("ingress")[0]
            .from
            .clone()
            .expect("from");
        let test_peers: Vec<_> = from
            .iter()
            .filter_map(|peer| peer.pod_selector.as_ref()?.match_labels.clone())
            .collect();
        if with_test_pod {
            let pod_labels = labels(test_pod(&rendered));
            assert_eq!(test_peers.len(), 1, "{set}: {from:?}");
            assert!(
                test_peers[0]
                    .iter()
                    .all(|(k, v)| pod_labels.get(k) == Some(v)),
                "{set}: the peer does not select the test Pod"
            );
            assert!(test_peers[0].contains_key("app.kubernetes.io/instance"));
        } else {
            assert!(test_peers.is_empty(), "{set}: {from:?}");
        }
    }
}

/// `global.imagePullSecrets` (a parent chart's, names or objects) is merged with
/// `imagePullSecrets`, each Secret once, on the operator pods.
#[test]
fn global_image_pull_secrets_are_merged_into_every_pod() {
    let names = |set: &str| pull_secret_names(render(set).pod_spec().image_pull_secrets.as_ref());
    assert_eq!(names("platform"), ["regcred", "mirror-pull"]);
    assert_eq!(names("everything"), ["regcred"]);
    assert!(names("defaults").is_empty() && names("nulls").is_empty());
    assert!(render("defaults").pod_spec().image_pull_secrets.is_none());
}
