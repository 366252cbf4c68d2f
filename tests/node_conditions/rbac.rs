//! Least privilege on the stand-in: the chart rendered by Helm's engine with Node conditions and
//! taints on, its RBAC objects stored, RBAC enforced, and the operator started with the settings
//! the rendered Deployment's args give, as the chart's ServiceAccount. Conditions, taints,
//! Events and the cleanup all work, and the API server refused nothing.

use std::sync::Arc;
use std::time::Duration;

use clap::{FromArgMatches, Subcommand};
use hostrisk_operator::cli::run::RunArgs;
use hostrisk_operator::controller::{run_controllers, Context};
use hostrisk_operator::hss::HssClient;
use hostrisk_operator::metrics::{Metrics, MetricsOptions};
use hostrisk_sim::hss::{HssSimulator, SimConfig, DEMO_PROJECT_ID};
use hostrisk_sim::kube::StandinApiServer;
use k8s_openapi::api::core::v1::{Node, Secret};
use kube::api::{DeleteParams, PostParams};
use kube::Api;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::harness::{fast_retry_client, CRD_YAML};
use crate::render::{parse_stream, run_script, RELEASE_NAMESPACE};
use crate::support::{our_taint_keys, ours_of, sim_host, State};

#[derive(Debug, clap::Parser)]
enum Binary {
    Run(RunArgs),
}

/// The chart with `values` (on top of the `node-conditions` value set), rendered.
fn rendered(dir: &std::path::Path, values: Value) -> crate::render::Rendered {
    let extra = dir.join("extra.yaml");
    std::fs::write(&extra, serde_yaml::to_string(&values).unwrap()).unwrap();
    let base = crate::render::values_file("node-conditions");
    let stream = run_script(&[
        "render",
        "-f",
        base.to_str().unwrap(),
        "-f",
        extra.to_str().unwrap(),
    ])
    .unwrap_or_else(|e| panic!("the chart does not render: {e}"));
    parse_stream("node-conditions", &stream)
}

/// A Node whose providerID names the HSS host `host_id`, created by the administrator.
async fn create_node(admin: &kube::Client, name: &str, host_id: &str) {
    let body: Node = serde_json::from_value(json!({
        "metadata": {"name": name}, "spec": {"providerID": format!("huaweicloud:///{host_id}")}
    }))
    .unwrap();
    Api::<Node>::all(admin.clone())
        .create(&PostParams::default(), &body)
        .await
        .unwrap();
}

/// The watch's credentials Secret `creds` in the release namespace (the simulator's demo key).
async fn create_credentials(admin: &kube::Client) {
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "creds"},
        "stringData": {"accessKey": hostrisk_sim::hss::DEMO_ACCESS_KEY,
                       "secretKey": hostrisk_sim::hss::DEMO_SECRET_KEY},
    }))
    .unwrap();
    Api::<Secret>::namespaced(admin.clone(), RELEASE_NAMESPACE)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
}

/// The RBAC objects and the ServiceAccount, as one YAML stream.
fn rbac_yaml(rendered: &crate::render::Rendered) -> String {
    rendered
        .docs
        .iter()
        .filter(|d| {
            matches!(
                d.kind().1,
                "ServiceAccount" | "ClusterRole" | "ClusterRoleBinding" | "Role" | "RoleBinding"
            )
        })
        .map(|d| serde_yaml::to_string(&d.value).unwrap())
        .collect::<Vec<_>>()
        .join("---\n")
}

async fn wait_node(nodes: &Api<Node>, name: &str, what: &str, check: impl Fn(&Node) -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let node = nodes.get(name).await.unwrap();
        if check(&node) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}: {node:#?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn the_chart_rbac_with_node_conditions_and_taints_is_all_the_operator_needs() {
    let dir = tempfile::tempdir().unwrap();
    let sim = HssSimulator::start(SimConfig::default()).await.unwrap();
    let rendered = rendered(
        dir.path(),
        json!({
            "controller": {"allowedEndpoints": [sim.base_url().to_string()]},
            "nodeConditions": {"taints": ["unprotected"], "taintAfter": "0s", "taintMax": "100%"},
        }),
    );
    let kube = StandinApiServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    kube.apply_yaml_documents(CRD_YAML).await.unwrap();
    kube.apply_yaml_documents(&rbac_yaml(&rendered))
        .await
        .unwrap();
    kube.enable_rbac();
    let admin = kube.client().await.unwrap();
    let account = rendered.service_accounts[0].metadata.name.clone().unwrap();
    let operator_client = kube
        .service_account_client(RELEASE_NAMESPACE, &account)
        .await
        .unwrap();

    // The operator as the Deployment runs it.
    let argv = std::iter::once("hostrisk-operator".to_string()).chain(rendered.args());
    let matches = Binary::augment_subcommands(clap::Command::new("hostrisk-operator"))
        .try_get_matches_from(argv)
        .unwrap();
    let Binary::Run(args) = Binary::from_arg_matches(&matches).unwrap();
    let settings = args.controller_settings().unwrap();
    assert!(settings.node_conditions.allows(RELEASE_NAMESPACE));
    let ctx = Arc::new(Context::with_metrics(
        operator_client,
        HssClient::new(fast_retry_client()).unwrap(),
        settings,
        Metrics::new(MetricsOptions::default()),
    ));
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(run_controllers(ctx.clone(), Vec::new(), shutdown.clone()));

    // The world, as an administrator makes it.
    for (node, id, state) in [
        ("rbac-1", "nr-rbac-1", State::Unprotected),
        ("rbac-2", "nr-rbac-2", State::Healthy),
    ] {
        sim.set_host(sim_host(id, state));
        create_node(&admin, node, id).await;
    }
    create_credentials(&admin).await;
    let watch = json!({
        "apiVersion": "hostrisk.io/v1alpha1", "kind": "HostRiskWatch",
        "metadata": {"name": "nodes", "namespace": RELEASE_NAMESPACE},
        "spec": {"projectId": DEMO_PROJECT_ID, "endpoint": sim.base_url().to_string(),
                 "nodeSelector": {}, "credentialsSecretRef": {"name": "creds"}, "interval": "1h"},
    });
    kube.create_unvalidated(watch).unwrap();

    let nodes: Api<Node> = Api::all(admin.clone());
    wait_node(&nodes, "rbac-1", "conditions and the taint", |n| {
        ours_of(n).len() == 3 && our_taint_keys(n) == ["hostrisk.io/unprotected"]
    })
    .await;
    wait_node(&nodes, "rbac-2", "conditions", |n| ours_of(n).len() == 3).await;
    // The watch goes: conditions and the taint go too.
    Api::<hostrisk_operator::crd::HostRiskWatch>::namespaced(admin.clone(), RELEASE_NAMESPACE)
        .delete("nodes", &DeleteParams::default())
        .await
        .unwrap();
    for node in ["rbac-1", "rbac-2"] {
        wait_node(&nodes, node, "nothing of the operator's", |n| {
            ours_of(n).is_empty() && our_taint_keys(n).is_empty()
        })
        .await;
    }
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(admin, "default");
    let reasons: Vec<String> = events
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|e| e.reason)
        .collect();
    assert!(
        reasons.iter().any(|r| r == "TaintAdded") && reasons.iter().any(|r| r == "TaintRemoved"),
        "{reasons:?}"
    );
    shutdown.cancel();
    task.await.unwrap().unwrap();
    assert_eq!(
        kube.refused_requests(),
        std::collections::BTreeMap::new(),
        "the API server refused requests"
    );
    assert_eq!(ctx.metrics.node_writes_total("conditions", false), 0);
    assert_eq!(ctx.metrics.node_writes_total("taints", false), 0);
    sim.shutdown().await;
    kube.shutdown().await;
}

#[tokio::test]
async fn without_the_grant_the_operator_says_so_and_keeps_serving_watches() {
    let dir = tempfile::tempdir().unwrap();
    let rendered = rendered(dir.path(), json!({}));
    let sim = HssSimulator::start(SimConfig::default()).await.unwrap();
    let kube = StandinApiServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    kube.apply_yaml_documents(CRD_YAML).await.unwrap();
    // Every grant but the Node conditions' own.
    let without: String = rbac_yaml(&rendered)
        .split("---\n")
        .filter(|doc| !doc.contains("-node-conditions"))
        .collect::<Vec<_>>()
        .join("---\n");
    kube.apply_yaml_documents(&without).await.unwrap();
    kube.enable_rbac();
    let admin = kube.client().await.unwrap();
    let account = rendered.service_accounts[0].metadata.name.clone().unwrap();
    let operator_client = kube
        .service_account_client(RELEASE_NAMESPACE, &account)
        .await
        .unwrap();
    let mut settings = hostrisk_operator::controller::ControllerSettings {
        node_watches: true,
        ..Default::default()
    };
    settings.node_conditions = crate::support::conditions();
    settings.node_conditions.namespaces = vec![RELEASE_NAMESPACE.to_string()];
    settings.policy.allowed_endpoint_prefixes = vec![sim.base_url().to_string()];
    let ctx = Arc::new(Context::new(
        operator_client,
        HssClient::new(fast_retry_client()).unwrap(),
        settings,
    ));
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(run_controllers(ctx.clone(), Vec::new(), shutdown.clone()));
    sim.set_host(sim_host("nr-deny", State::Offline));
    create_node(&admin, "deny-1", "nr-deny").await;
    create_credentials(&admin).await;
    kube.create_unvalidated(json!({
        "apiVersion": "hostrisk.io/v1alpha1", "kind": "HostRiskWatch",
        "metadata": {"name": "nodes", "namespace": RELEASE_NAMESPACE},
        "spec": {"projectId": DEMO_PROJECT_ID, "endpoint": sim.base_url().to_string(),
                 "nodeSelector": {}, "credentialsSecretRef": {"name": "creds"}, "interval": "1h"},
    }))
    .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while ctx.metrics.node_writes_total("conditions", false) == 0 {
        assert!(std::time::Instant::now() < deadline, "no refused write");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let refused = kube.refused_requests();
    assert!(
        refused.keys().all(
            |k| (k.verb.as_str(), k.resource.as_str(), k.subresource.as_str())
                == ("patch", "nodes", "status")
        ),
        "{refused:?}"
    );
    // The watch itself is served.
    let watches: Api<hostrisk_operator::crd::HostRiskWatch> =
        Api::namespaced(admin, RELEASE_NAMESPACE);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let watch = watches.get("nodes").await.unwrap();
        let ready = watch.status.as_ref().is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        });
        if ready {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not Ready");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(!task.is_finished(), "the operator keeps running");
    shutdown.cancel();
    task.await.unwrap().unwrap();
    sim.shutdown().await;
    kube.shutdown().await;
}
