//! The Helm chart, rendered by Helm's own engine (see tests/chart/render.rs), checked object by object.
//! Needs `.venv` with helm-python-sdk: `bash .ci/setup-tools.sh`.

#[path = "chart/compat.rs"]
mod compat;
#[path = "chart/extras.rs"]
mod extras;
#[path = "chart/files.rs"]
mod files;
#[path = "chart/helm_test.rs"]
mod helm_test;
#[path = "chart/metadata.rs"]
mod metadata;
#[path = "chart/node_conditions.rs"]
mod node_conditions;
#[path = "chart/platform.rs"]
mod platform;
#[path = "chart/policy_reports.rs"]
mod policy_reports;
#[path = "chart/rbac.rs"]
mod rbac;
#[path = "chart/readyz_script.rs"]
mod readyz_script;
#[path = "chart/render.rs"]
mod render;
#[path = "chart/schema.rs"]
mod schema;

use std::collections::BTreeSet;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use rbac::{allow_list, grant, operator_grants, workload_identity_grants, Scope};
use render::{
    assert_restricted, cluster_scoped, render, run_script, selects_pods, value_sets, values_file,
    RELEASE_NAMESPACE,
};

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
            let namespaced = !cluster_scoped(doc.kind().1);
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
    for (set, leader_election, workload_identity, nodes) in [
        ("defaults", false, false, false),
        ("replicas", true, false, false),
        ("everything", true, false, true),
        ("workload-identity", false, true, false),
    ] {
        let rendered = render(set);
        let mut expected = allow_list(&[Scope::Cluster], leader_election, nodes);
        if workload_identity {
            expected.extend(workload_identity_grants(&[Scope::Cluster]));
        }
        assert_eq!(operator_grants(&rendered), expected, "value set {set}");
    }
}

/// `create` on serviceaccounts/token (acting as any ServiceAccount of a namespace) is granted only
/// with workloadIdentity.enabled, and then only where watches are.
#[test]
fn service_account_tokens_only_with_workload_identity_enabled() {
    for set in value_sets() {
        let enabled = set.starts_with("workload-identity");
        let token_grants: Vec<_> = operator_grants(&render(&set))
            .into_iter()
            .filter(|g| g.resource.starts_with("serviceaccounts"))
            .collect();
        assert_eq!(!token_grants.is_empty(), enabled, "{set}: {token_grants:?}");
    }
    let rendered = render("workload-identity-namespaced");
    let teams = [
        Scope::Namespace("team-a".into()),
        Scope::Namespace("team-b".into()),
    ];
    let mut expected = allow_list(&teams, false, false);
    expected.extend(workload_identity_grants(&teams));
    assert_eq!(operator_grants(&rendered), expected);
    assert!(
        operator_grants(&rendered)
            .iter()
            .all(|g| g.scope != Scope::Cluster || g.resource == "customresourcedefinitions"),
        "nothing cluster-wide but reading the CRD"
    );
}

/// workloadIdentity's lists become the operator's flags, comma-joined, only when enabled.
#[test]
fn workload_identity_values_become_the_operators_flags() {
    let flags = |set: &str| -> Vec<String> {
        render(set)
            .args()
            .into_iter()
            .filter(|a| a.starts_with("--workload-identity"))
            .collect()
    };
    assert_eq!(
        flags("workload-identity"),
        [
            "--workload-identity-audiences=hss-client,hss-client-2",
            "--workload-identity-providers=cce-oidc",
        ]
    );
    assert_eq!(
        flags("workload-identity-namespaced"),
        [
            "--workload-identity-audiences=hss-client",
            "--workload-identity-providers=cce-oidc,cce-oidc-2",
        ]
    );
    for set in value_sets() {
        if !set.starts_with("workload-identity") {
            assert!(flags(&set).is_empty(), "{set}: {:?}", flags(&set));
        }
    }
}

/// `nodeWatches.enabled` adds exactly get/list/watch on nodes (cluster-wide) and `--node-watches`;
/// without it the operator can neither read Nodes nor is asked to.
#[test]
fn node_watches_toggle_the_nodes_rule_and_the_flag_together() {
    let on = render("everything");
    let off = render("defaults");
    let nodes = |rendered: &render::Rendered| -> Vec<_> {
        operator_grants(rendered)
            .into_iter()
            .filter(|g| g.resource == "nodes")
            .collect()
    };
    assert_eq!(
        nodes(&on),
        ["get", "list", "watch"]
            .iter()
            .map(|verb| grant(&Scope::Cluster, "", "nodes", verb, None))
            .collect::<Vec<_>>()
    );
    assert!(on.args().contains(&"--node-watches".to_owned()));
    assert!(nodes(&off).is_empty(), "{:?}", nodes(&off));
    assert!(!off.args().iter().any(|a| a == "--node-watches"));
    assert!(nodes(&render("namespaced")).is_empty());
}

#[test]
fn namespaced_mode_grants_only_in_the_watched_namespaces_and_scopes_the_operator() {
    let rendered = render("namespaced");
    let teams = [
        Scope::Namespace("team-a".into()),
        Scope::Namespace("team-b".into()),
    ];
    assert_eq!(operator_grants(&rendered), allow_list(&teams, false, false));
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

/// The restricted Pod Security Standard in every value set. The ids are the image's user unless a
/// value set nulls them (nulls.yaml: the platform assigns them, as OpenShift's restricted SCC does).
#[test]
fn pod_and_container_security_context_are_restricted() {
    for set in value_sets() {
        let rendered = render(&set);
        let pod = rendered.pod_spec();
        let ids = (set != "nulls").then_some(65532);
        assert_eq!(assert_restricted(&set, pod), (ids, ids), "{set}");
        let fs_group = pod.security_context.as_ref().and_then(|sc| sc.fs_group);
        assert_eq!(fs_group, ids, "{set}");
        assert_eq!(
            rendered.container().resources.is_some(),
            set != "nulls",
            "{set}: resources"
        );
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
        "--iam-endpoint=https://iam.internal.example.com/",
        "--hss-calls-per-minute=12",
        "--ca-bundle=/etc/hostrisk-operator/ca/bundle.pem",
        "--health-addr=0.0.0.0:9090",
        "--leader-elect",
        "--lease-name=hrw-leader",
        &format!("--lease-namespace={RELEASE_NAMESPACE}"),
        "--log-level=info,hostrisk_operator=debug",
        "--log-format=json",
        "--metrics-per-host",
        "--node-watches",
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

/// The binary's own flag parser accepts what every value set renders, and reads it back into the
/// settings the operator would run with (so a renamed flag or a bad value format fails here, not
/// in a crash-looping pod).
#[test]
fn rendered_args_parse_with_the_binary_flag_definitions() {
    use clap::{FromArgMatches, Subcommand};
    use hostrisk_operator::cli::run::RunArgs;

    #[derive(Debug, clap::Parser)]
    enum Binary {
        Run(RunArgs),
    }
    for set in value_sets() {
        let set = set.as_str();
        let rendered = render(set);
        let argv = std::iter::once("hostrisk-operator".to_string()).chain(rendered.args());
        let command = Binary::augment_subcommands(clap::Command::new("hostrisk-operator"));
        let matches = command
            .try_get_matches_from(argv)
            .unwrap_or_else(|e| panic!("{set}: the binary refuses the rendered args: {e}"));
        let Binary::Run(args) = Binary::from_arg_matches(&matches).expect("run args");
        let settings = args
            .controller_settings()
            .unwrap_or_else(|e| panic!("{set}: settings: {e}"));
        assert_eq!(
            settings.workload_identity.is_enabled(),
            set.starts_with("workload-identity"),
            "{set}: keyless credentials"
        );
        if set == "everything" {
            assert!(args.leader_elect && args.lease_name == "hrw-leader");
            assert!(args.metrics_per_host);
            assert!(args
                .controller_settings()
                .expect("settings")
                .iam_endpoint
                .is_some());
            assert_eq!(args.health_addr.port(), 9090);
        }
    }
}
