//! Optional objects (PDB, ServiceMonitor, NetworkPolicy), the image reference, schema rejections, NOTES.txt.

use std::collections::BTreeSet;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::render::{
    expected_rejection, render, repo, run_script, selects_pods, values_file, RELEASE_NAMESPACE,
};

#[test]
fn two_replicas_bring_a_pdb_and_leader_election() {
    let rendered = render("replicas");
    let spec = rendered.deployment().spec.as_ref().expect("spec");
    assert_eq!(spec.replicas, Some(2));
    assert_eq!(rendered.pod_disruption_budgets.len(), 1);
    let pdb = rendered.pod_disruption_budgets[0]
        .spec
        .as_ref()
        .expect("pdb spec");
    assert_eq!(pdb.min_available, Some(IntOrString::Int(1)));
    let selector = pdb
        .selector
        .as_ref()
        .and_then(|s| s.match_labels.clone())
        .expect("selector");
    assert!(selects_pods(&rendered, &selector));
    let args = rendered.args();
    assert!(args.contains(&"--leader-elect".to_owned()), "{args:?}");
    assert!(
        args.contains(&format!("--lease-namespace={RELEASE_NAMESPACE}")),
        "{args:?}"
    );

    let single = render("defaults");
    assert!(
        single.pod_disruption_budgets.is_empty(),
        "no PDB for one replica"
    );
    assert!(!single.args().contains(&"--leader-elect".to_owned()));
    assert!(
        single.roles.is_empty(),
        "no Lease Role without leader election"
    );
}

#[test]
fn image_digest_wins_over_the_tag() {
    let digest = "sha256:4b8a0e4a2c3d7f5e6a1b9c0d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f";
    assert_eq!(
        render("digest").container().image.as_deref(),
        Some(format!("registry.example.com/platform/hostrisk-operator@{digest}").as_str())
    );
    let by_tag = render("defaults").container().image.clone();
    assert_eq!(
        by_tag,
        Some(format!("hostrisk-operator:{}", env!("CARGO_PKG_VERSION")))
    );
}

#[test]
fn service_monitor_and_network_policy_when_enabled() {
    let rendered = render("monitoring");
    assert_eq!(rendered.service_monitors.len(), 1);
    let monitor = &rendered.service_monitors[0];
    let endpoint = monitor.pointer("/spec/endpoints/0").expect("endpoint");
    assert_eq!(endpoint["port"], "http");
    assert_eq!(endpoint["path"], "/metrics");
    // monitoringLabels and the rule's selector labels on both objects (the Prometheus evaluating the
    // rules scrapes the operator too), the ServiceMonitor's own labels on it alone.
    let rule = &rendered.prometheus_rules[0];
    for object in [monitor, rule] {
        for (key, value) in [("release", "prometheus"), ("rules", "hostrisk")] {
            assert_eq!(
                object.pointer(&format!("/metadata/labels/{key}")),
                Some(&value.into())
            );
        }
    }
    assert_eq!(
        monitor.pointer("/metadata/labels/scrape"),
        Some(&"hostrisk".into())
    );
    assert_eq!(rule.pointer("/metadata/labels/scrape"), None);
    let dashboards = &rendered.config_maps;
    assert_eq!(dashboards.len(), 1);
    let meta = &dashboards[0].metadata;
    assert_eq!(meta.namespace.as_deref(), Some("monitoring"));
    let labels = meta.labels.clone().expect("labels");
    assert_eq!(
        labels.get("grafana_dashboard").map(String::as_str),
        Some("1")
    );
    assert_eq!(labels.get("team").map(String::as_str), Some("platform"));
    let folder = meta.annotations.clone().expect("annotations");
    assert_eq!(
        folder.get("grafana_folder").map(String::as_str),
        Some("Security")
    );
    let service_labels = rendered.services[0]
        .metadata
        .labels
        .clone()
        .expect("service labels");
    let wanted = monitor
        .pointer("/spec/selector/matchLabels")
        .and_then(|m| m.as_object())
        .expect("selector");
    for (key, value) in wanted {
        assert_eq!(
            service_labels.get(key).map(String::as_str),
            value.as_str(),
            "{key}"
        );
    }

    assert_eq!(rendered.network_policies.len(), 1);
    let policy = rendered.network_policies[0]
        .spec
        .clone()
        .expect("policy spec");
    let selected = policy
        .pod_selector
        .and_then(|s| s.match_labels)
        .expect("podSelector");
    assert!(selects_pods(&rendered, &selected));
    let ingress = policy.ingress.expect("ingress");
    assert_eq!(ingress.len(), 1);
    let ingress_ports = ingress[0].ports.clone().expect("ingress ports");
    assert_eq!(
        ingress_ports[0].port,
        Some(IntOrString::String("http".into()))
    );
    // The scrapers, and the `helm test` Pod (tests/chart/helm_test.rs).
    assert!(ingress[0].from.as_ref().is_some_and(|from| from.len() == 2));
    let mut egress_ports = BTreeSet::new();
    let mut api_cidrs = BTreeSet::new();
    for rule in policy.egress.expect("egress") {
        for port in rule.ports.into_iter().flatten() {
            let number = match port.port {
                Some(IntOrString::Int(n)) => n,
                other => panic!("egress port {other:?}"),
            };
            egress_ports.insert((number, port.protocol.unwrap_or_default()));
            if number == 6443 {
                api_cidrs.extend(
                    rule.to
                        .iter()
                        .flatten()
                        .filter_map(|peer| peer.ip_block.clone())
                        .map(|b| b.cidr),
                );
            }
        }
    }
    let expected: BTreeSet<_> = [(53, "UDP"), (53, "TCP"), (443, "TCP"), (6443, "TCP")]
        .into_iter()
        .map(|(n, p)| (n, p.to_owned()))
        .collect();
    assert_eq!(egress_ports, expected);
    assert_eq!(
        api_cidrs,
        BTreeSet::from(["10.96.0.1/32".to_owned(), "192.168.10.0/24".to_owned()])
    );
    assert!(
        render("defaults").network_policies.is_empty()
            && render("defaults").service_monitors.is_empty()
    );
}

#[test]
fn invalid_values_are_rejected() {
    let dir = repo().join("tests/chart/invalid");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("invalid dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    for file in files {
        let expected = expected_rejection(&file);
        let path = file.to_str().expect("utf-8");
        for command in ["render", "lint"] {
            match run_script(&[command, "-f", path]) {
                Ok(_) => panic!("{command} accepted {}", file.display()),
                Err(message) => assert!(
                    message.contains(&expected),
                    "{command} {}: expected {expected:?} in:\n{message}",
                    file.display()
                ),
            }
        }
    }
}

#[test]
fn notes_tell_the_user_what_to_do_next() {
    let notes = run_script(&[
        "notes",
        "-f",
        values_file("namespaced").to_str().expect("utf-8"),
    ])
    .expect("notes");
    for needle in [
        "create secret generic",
        "kind: HostRiskWatch",
        "kubectl get hrw",
        "team-a, team-b",
    ] {
        assert!(
            notes.contains(needle),
            "NOTES.txt lacks {needle:?}:\n{notes}"
        );
    }
}

/// With the default image (a name without a registry, which resolves to Docker Hub's library
/// namespace, where nothing is published) NOTES.txt says so first and how to set image.repository;
/// with a registry it does not.
#[test]
fn notes_warn_about_the_unpublished_default_image() {
    let notes = |set: &str| {
        run_script(&["notes", "-f", values_file(set).to_str().expect("utf-8")]).expect("notes")
    };
    let default = notes("defaults");
    assert!(
        default.starts_with("WARNING: the operator's image is \"hostrisk-operator:"),
        "{default}"
    );
    for needle in [
        "docker.io/library/hostrisk-operator",
        "ImagePullBackOff",
        "--set image.repository=<registry>/hostrisk-operator",
        "kind load docker-image",
    ] {
        assert!(
            default.contains(needle),
            "NOTES.txt lacks {needle:?}:\n{default}"
        );
    }
    let registry = notes("digest");
    assert!(
        !registry.contains("WARNING") && !registry.contains("ImagePullBackOff"),
        "{registry}"
    );
}
