//! The Helm chart, rendered by Helm's own engine (see tests/chart/render.rs), checked object by object.
//! Needs `.venv` with helm-python-sdk: `bash .ci/setup-tools.sh`.

#[path = "chart/rbac.rs"]
mod rbac;
#[path = "chart/render.rs"]
mod render;

use std::collections::BTreeSet;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use rbac::{allow_list, grant, operator_grants, Scope};
use render::{
    expected_rejection, render, repo, run_script, value_sets, values_file, ChartMetadata, Rendered,
    RELEASE_NAMESPACE,
};

const CHART: &str = "charts/hostrisk-operator";

fn pod_labels(rendered: &Rendered) -> std::collections::BTreeMap<String, String> {
    let spec = rendered.deployment().spec.as_ref().expect("spec");
    spec.template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .expect("pod labels")
}

fn selects_pods(
    rendered: &Rendered,
    selector: &std::collections::BTreeMap<String, String>,
) -> bool {
    let labels = pod_labels(rendered);
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

#[test]
fn chart_version_and_app_version_follow_cargo_toml() {
    let text = std::fs::read_to_string(repo().join(CHART).join("Chart.yaml")).expect("Chart.yaml");
    let chart: ChartMetadata = serde_yaml::from_str(&text).expect("Chart.yaml parses");
    assert_eq!(
        chart.version,
        env!("CARGO_PKG_VERSION"),
        "Chart.yaml version"
    );
    assert_eq!(
        chart.app_version,
        env!("CARGO_PKG_VERSION"),
        "Chart.yaml appVersion"
    );
}

#[test]
fn chart_crd_is_byte_for_byte_the_repository_crd() {
    let chart_crd = std::fs::read(repo().join(CHART).join("crds/hostriskwatch.yaml"))
        .expect("chart crds/hostriskwatch.yaml");
    let repo_crd =
        std::fs::read(repo().join("crds/hostriskwatch.yaml")).expect("crds/hostriskwatch.yaml");
    assert!(
        chart_crd == repo_crd,
        "{CHART}/crds/hostriskwatch.yaml differs from crds/hostriskwatch.yaml: \
         run `cp crds/hostriskwatch.yaml {CHART}/crds/`"
    );
}

#[test]
fn chart_lints_clean_for_every_value_set() {
    for set in value_sets() {
        let file = values_file(&set);
        let result = run_script(&["lint", "-f", file.to_str().expect("utf-8")]);
        assert!(
            result.is_ok(),
            "helm lint --strict, value set {set}: {result:?}"
        );
    }
}

#[test]
fn every_rendered_object_parses_as_the_kubernetes_type_it_claims() {
    for set in value_sets() {
        // render() parses each document into its k8s-openapi type and round-trips it.
        let rendered = render(&set);
        assert_eq!(rendered.deployments.len(), 1, "{set}");
        assert_eq!(rendered.service_accounts.len(), 1, "{set}");
        assert_eq!(rendered.services.len(), 1, "{set}");
        for doc in &rendered.docs {
            let namespaced = !matches!(doc.kind().1, "ClusterRole" | "ClusterRoleBinding");
            let namespace = doc
                .value
                .pointer("/metadata/namespace")
                .and_then(|n| n.as_str());
            assert_eq!(
                namespaced,
                namespace.is_some(),
                "{set}: {} namespace",
                doc.source
            );
        }
    }
}

#[test]
fn operator_rbac_grants_exactly_the_allow_list_in_cluster_mode() {
    for (set, leader_election) in [
        ("defaults", false),
        ("replicas", true),
        ("everything", true),
    ] {
        let rendered = render(set);
        assert_eq!(
            operator_grants(&rendered),
            allow_list(&[Scope::Cluster], leader_election),
            "value set {set}"
        );
    }
}

#[test]
fn namespaced_mode_grants_only_in_the_watched_namespaces_and_scopes_the_operator() {
    let rendered = render("namespaced");
    let teams = [
        Scope::Namespace("team-a".into()),
        Scope::Namespace("team-b".into()),
    ];
    assert_eq!(operator_grants(&rendered), allow_list(&teams, false));
    let role_namespaces: BTreeSet<_> = rendered
        .roles
        .iter()
        .map(|r| r.metadata.namespace.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        role_namespaces,
        BTreeSet::from(["team-a".to_owned(), "team-b".to_owned()])
    );
    // The only cluster-wide grant left is reading the CRD itself.
    let cluster_wide: Vec<_> = operator_grants(&rendered)
        .into_iter()
        .filter(|g| g.scope == Scope::Cluster)
        .collect();
    assert_eq!(
        cluster_wide,
        vec![grant(
            &Scope::Cluster,
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            "get",
            Some("hostriskwatches.hostrisk.io")
        )]
    );
    let args = rendered.args();
    assert!(
        args.contains(&"--namespace=team-a,team-b".to_owned()),
        "{args:?}"
    );
    assert!(!render("defaults")
        .args()
        .iter()
        .any(|a| a.starts_with("--namespace")));
}

#[test]
fn aggregated_roles_extend_view_edit_admin_with_hostriskwatches_only() {
    let rendered = render("defaults");
    let aggregated: Vec<_> = rendered
        .cluster_roles
        .iter()
        .filter(|role| {
            role.metadata.labels.iter().flatten().any(|(k, v)| {
                k.starts_with("rbac.authorization.k8s.io/aggregate-to-") && v == "true"
            })
        })
        .collect();
    let label = |suffix: &str| format!("rbac.authorization.k8s.io/aggregate-to-{suffix}");
    let view = aggregated
        .iter()
        .find(|r| {
            r.metadata
                .labels
                .as_ref()
                .is_some_and(|l| l.contains_key(&label("view")))
        })
        .expect("a ClusterRole aggregated to view");
    for rule in view.rules.iter().flatten() {
        assert!(
            rule.verbs
                .iter()
                .all(|v| ["get", "list", "watch"].contains(&v.as_str())),
            "{rule:?}"
        );
    }
    for role in &aggregated {
        for rule in role.rules.iter().flatten() {
            assert_eq!(
                rule.api_groups.as_deref(),
                Some(&["hostrisk.io".to_owned()][..]),
                "{rule:?}"
            );
            assert!(rule
                .resources
                .iter()
                .flatten()
                .all(|r| r.starts_with("hostriskwatches")));
        }
        let name = role.metadata.name.clone().unwrap_or_default();
        let bound = rendered
            .cluster_role_bindings
            .iter()
            .any(|b| b.role_ref.name == name);
        assert!(
            !bound,
            "aggregated role {name} must not be bound to the operator"
        );
    }
    assert_eq!(aggregated.len(), 2, "a view and an edit/admin role");
}

#[test]
fn pod_and_container_security_context_are_restricted() {
    for set in value_sets() {
        let rendered = render(&set);
        let pod = rendered
            .deployment()
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .expect("pod");
        let pod_sc = pod.security_context.as_ref().expect("pod securityContext");
        assert_eq!(pod_sc.run_as_non_root, Some(true), "{set}");
        assert_eq!(pod_sc.run_as_user, Some(65532), "{set}");
        let pod_seccomp = pod_sc.seccomp_profile.as_ref().map(|p| p.type_.as_str());
        assert_eq!(pod_seccomp, Some("RuntimeDefault"), "{set}");
        assert_ne!(pod.host_network, Some(true), "{set}");
        let sc = rendered
            .container()
            .security_context
            .clone()
            .expect("container securityContext");
        assert_eq!(sc.run_as_non_root, Some(true), "{set}");
        assert_eq!(sc.read_only_root_filesystem, Some(true), "{set}");
        assert_eq!(sc.allow_privilege_escalation, Some(false), "{set}");
        assert_ne!(sc.privileged, Some(true), "{set}");
        let caps = sc.capabilities.expect("capabilities");
        assert_eq!(caps.drop, Some(vec!["ALL".to_owned()]), "{set}");
        assert_eq!(caps.add, None, "{set}");
        let seccomp = sc.seccomp_profile.map(|p| p.type_);
        assert_eq!(seccomp.as_deref(), Some("RuntimeDefault"), "{set}");
        assert!(rendered.container().resources.is_some(), "{set}: resources");
    }
}

#[test]
fn probes_hit_livez_and_readyz_on_the_health_port() {
    for (set, port) in [("defaults", 8080), ("everything", 9090)] {
        let rendered = render(set);
        let container = rendered.container();
        let ports = container.ports.clone().expect("ports");
        assert_eq!(ports.len(), 1, "{set}");
        assert_eq!(
            (ports[0].name.as_deref(), ports[0].container_port),
            (Some("http"), port),
            "{set}"
        );
        let args = rendered.args();
        assert!(
            args.contains(&format!("--health-addr=0.0.0.0:{port}")),
            "{set}: {args:?}"
        );
        for (probe, path) in [
            (container.liveness_probe.clone(), "/livez"),
            (container.readiness_probe.clone(), "/readyz"),
        ] {
            let get = probe.and_then(|p| p.http_get).expect("httpGet probe");
            assert_eq!(get.path.as_deref(), Some(path), "{set}");
            assert_eq!(get.port, IntOrString::String("http".into()), "{set}");
        }
        let service = &rendered.services[0];
        let spec = service.spec.as_ref().expect("service spec");
        let service_port = &spec.ports.as_ref().expect("ports")[0];
        assert_eq!(
            service_port.target_port,
            Some(IntOrString::String("http".into()))
        );
        assert!(
            selects_pods(&rendered, spec.selector.as_ref().expect("selector")),
            "{set}"
        );
    }
}

#[test]
fn args_carry_every_controller_flag_from_values() {
    let expected_defaults = [
        "run",
        "--concurrency=4",
        "--default-interval=10m",
        "--min-interval=1m",
        "--status-heartbeat=30m",
        "--hss-calls-per-minute=5",
        "--health-addr=0.0.0.0:8080",
        "--log-level=info",
        "--log-format=text",
    ];
    assert_eq!(render("defaults").args(), expected_defaults);
    let expected_everything = [
        "run",
        "--concurrency=8",
        "--default-interval=15m",
        "--min-interval=2m",
        "--status-heartbeat=1h",
        "--allowed-endpoints=https://hss.internal.example.com/,https://iam.internal.example.com/",
        "--hss-calls-per-minute=12",
        "--ca-bundle=/etc/hostrisk-operator/ca/bundle.pem",
        "--health-addr=0.0.0.0:9090",
        "--leader-elect",
        "--lease-name=hrw-leader",
        &format!("--lease-namespace={RELEASE_NAMESPACE}"),
        "--log-level=info,hostrisk_operator=debug",
        "--log-format=json",
    ];
    let rendered = render("everything");
    assert_eq!(rendered.args(), expected_everything);
    let env = rendered.container().env.clone().expect("env");
    let pod_namespace = env
        .iter()
        .find(|e| e.name == "POD_NAMESPACE")
        .expect("POD_NAMESPACE");
    let field = pod_namespace
        .value_from
        .as_ref()
        .and_then(|v| v.field_ref.as_ref());
    assert_eq!(
        field.map(|f| f.field_path.as_str()),
        Some("metadata.namespace")
    );
    assert!(env.iter().any(|e| e.name == "RUST_BACKTRACE"), "extraEnv");
}

#[test]
fn ca_bundle_is_mounted_read_only_where_the_flag_points() {
    let rendered = render("everything");
    let pod = rendered
        .deployment()
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("pod");
    let volume = pod
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == "ca-bundle")
        .expect("ca-bundle volume");
    let config_map = volume.config_map.as_ref().expect("configMap source");
    assert_eq!(config_map.name, "corporate-ca");
    let items = config_map.items.clone().expect("items");
    assert_eq!(
        (items[0].key.as_str(), items[0].path.as_str()),
        ("bundle.pem", "bundle.pem")
    );
    let mounts = rendered.container().volume_mounts.clone().expect("mounts");
    let mount = mounts
        .iter()
        .find(|m| m.name == "ca-bundle")
        .expect("ca-bundle mount");
    assert_eq!(mount.read_only, Some(true));
    let flag = format!("--ca-bundle={}/bundle.pem", mount.mount_path);
    assert!(rendered.args().contains(&flag), "{flag}");
    assert!(
        pod.volumes.iter().flatten().any(|v| v.name == "scratch"),
        "extraVolumes"
    );
    assert!(
        mounts.iter().any(|m| m.mount_path == "/scratch"),
        "extraVolumeMounts"
    );
    assert!(pod.node_selector.is_some() && pod.tolerations.is_some() && pod.affinity.is_some());
}

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
    assert_eq!(
        monitor.pointer("/metadata/labels/release"),
        Some(&"prometheus".into())
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
    assert!(ingress[0].from.as_ref().is_some_and(|from| from.len() == 1));
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
