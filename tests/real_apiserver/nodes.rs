//! Node-backed watches against a real kube-apiserver: Nodes created directly with a providerID
//! in every form Huawei Cloud's cloud provider writes or accepts, ids read from an annotation,
//! Nodes joining and leaving, Nodes without a usable id reported, and a label change that costs
//! neither an HSS call nor a status write (audit log).

use std::time::{Duration, Instant};

use hostrisk_operator::crd::HostRiskWatch;
use hostrisk_operator::hss::model::{AgentStatus, DetectResult, HssEdition};
use hostrisk_sim::hss::{HssSimulator, SimHost, DEMO_PROJECT_ID};
use k8s_openapi::api::core::v1::{Node, Secret};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::Api;
use serde_json::{json, Value};

use crate::e2e_story::{demo_secret, is_ready, simulator, wait_for};
use crate::node_views::{hosts, pairs, unresolved};
use crate::support::*;

/// Creates a Node (as an admin may: no kubelet needed) with labels, annotations and providerID.
pub async fn create_node(
    client: &kube::Client,
    name: &str,
    labels: Value,
    annotations: Value,
    provider_id: Option<&str>,
) {
    let mut node = json!({
        "metadata": {"name": name, "labels": labels, "annotations": annotations},
        "spec": {},
    });
    if let Some(id) = provider_id {
        node["spec"]["providerID"] = json!(id);
    }
    let node: Node = serde_json::from_value(node).unwrap();
    Api::<Node>::all(client.clone())
        .create(&PostParams::default(), &node)
        .await
        .unwrap_or_else(|e| panic!("creating Node {name}: {e}"));
}

/// A node-backed HostRiskWatch polling the simulator; `extra` is merged into its spec.
pub fn node_watch(name: &str, sim: &HssSimulator, selector: Value, extra: Value) -> HostRiskWatch {
    let mut spec = json!({
        "projectId": DEMO_PROJECT_ID,
        "endpoint": sim.base_url().to_string(),
        "nodeSelector": selector,
        "credentialsSecretRef": {"name": "creds"},
        "interval": "1h",
    });
    if let (Some(spec), Value::Object(extra)) = (spec.as_object_mut(), extra) {
        spec.extend(extra);
    }
    serde_json::from_value(json!({
        "apiVersion": "hostrisk.io/v1alpha1",
        "kind": "HostRiskWatch",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .unwrap()
}

/// `hostrisk_reconciles_total` of the operator, from its /metrics.
async fn reconciles(operator: &Operator) -> f64 {
    let url = format!("http://127.0.0.1:{}/metrics", operator.health_port);
    let text = reqwest::get(url).await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with("hostrisk_reconciles_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn node_backed_watches_follow_real_nodes_in_every_provider_id_form() {
    let test = "node_backed_watches_follow_real_nodes_in_every_provider_id_form";
    let Some(plane) = cluster(test, true).await else {
        return;
    };
    let client = plane.client();
    let sim = simulator().await;
    sim.set_host(SimHost::installed(
        "join-01",
        "0",
        AgentStatus::Online,
        HssEdition::Enterprise,
        DetectResult::Clean,
        [5, 0, 0, 0],
    ));
    let operator = admin_operator(
        &plane,
        sim.base_url().as_str(),
        "nodes",
        &["--node-watches"],
    )
    .await;
    create_namespace_named(&client, "apps").await;
    Api::<Secret>::namespaced(client.clone(), "apps")
        .create(&PostParams::default(), &demo_secret("creds"))
        .await
        .unwrap();
    let pool = json!({"pool": "a"});
    for (name, provider_id) in [
        ("n-triple", Some("huaweicloud:///demo-web-01")),
        ("n-double", Some("huaweicloud://demo-db-01")),
        ("n-bare", Some("demo-batch-01")),
        ("n-slash", Some("/demo-new-01")),
        ("n-aws", Some("aws:///eu-west-1a/i-0123456789abcdef0")),
        ("n-none", None),
    ] {
        create_node(&client, name, pool.clone(), json!({}), provider_id).await;
    }
    create_node(
        &client,
        "n-annotated",
        json!({"pool": "b"}),
        json!({"example.com/ecs-id": "demo-db-01"}),
        Some("kind://docker/kind/n-annotated"),
    )
    .await;
    let watches: Api<HostRiskWatch> = Api::namespaced(client.clone(), "apps");
    watches
        .create(
            &PostParams::default(),
            &node_watch(
                "pool-a",
                &sim,
                json!({"matchLabels": {"pool": "a"}}),
                json!({}),
            ),
        )
        .await
        .unwrap();
    watches
        .create(
            &PostParams::default(),
            &node_watch(
                "annotated",
                &sim,
                json!({"matchExpressions": [{"key": "pool", "operator": "In", "values": ["b"]}]}),
                json!({"nodeHostIdFrom": {"annotation": "example.com/ecs-id"}}),
            ),
        )
        .await
        .unwrap();

    let ready = wait_for(
        &watches,
        "pool-a",
        "the hosts of the four Huawei Cloud Nodes",
        |w, s| is_ready(w, s) && s.hosts.len() == 4,
    )
    .await;
    let status = ready.status.unwrap();
    assert_eq!(
        hosts(&status),
        pairs(&[
            ("n-bare", "demo-batch-01"),
            ("n-double", "demo-db-01"),
            ("n-slash", "demo-new-01"),
            ("n-triple", "demo-web-01"),
        ])
    );
    assert!(status.hosts.iter().all(|h| h.found), "{status:#?}");
    assert_eq!(
        unresolved(&status),
        pairs(&[("n-aws", "ForeignProviderId"), ("n-none", "NoProviderId")])
    );
    let resolved = status
        .conditions
        .iter()
        .find(|c| c.type_ == "NodesResolved")
        .expect("NodesResolved");
    assert_eq!(
        (resolved.status.as_str(), resolved.reason.as_str()),
        ("False", "UnresolvedNodes")
    );
    assert!(
        resolved.message.contains("n-aws (ForeignProviderId)"),
        "{}",
        resolved.message
    );
    assert_eq!(status.source.as_deref(), Some("nodes: pool=a"));

    let annotated = wait_for(
        &watches,
        "annotated",
        "the annotated Node's host",
        |w, s| is_ready(w, s) && s.hosts.len() == 1,
    )
    .await;
    assert_eq!(
        hosts(annotated.status.as_ref().unwrap()),
        pairs(&[("n-annotated", "demo-db-01")])
    );

    // A Node joins: its host is watched within seconds.
    let joined = Instant::now();
    create_node(
        &client,
        "n-join",
        pool.clone(),
        json!({}),
        Some("huaweicloud:///join-01"),
    )
    .await;
    wait_for(&watches, "pool-a", "the joining Node's host", |_, s| {
        hosts(s).contains(&("n-join".into(), "join-01".into())) && s.hosts.iter().all(|h| h.found)
    })
    .await;
    eprintln!(
        "{test}: Node created -> host in status in {} ms",
        joined.elapsed().as_millis()
    );

    // A Node leaves: its host goes, without an HSS call.
    let calls = sim.counters().hss_requests;
    Api::<Node>::all(client.clone())
        .delete("n-double", &DeleteParams::default())
        .await
        .unwrap();
    wait_for(
        &watches,
        "pool-a",
        "the deleted Node's host gone",
        |_, s| !s.hosts.iter().any(|h| h.host_id == "demo-db-01"),
    )
    .await;
    assert_eq!(
        sim.counters().hss_requests,
        calls,
        "a leaving Node called HSS"
    );
    // The annotated watch reads demo-db-01 from another Node: it keeps it.
    let annotated = watches.get("annotated").await.unwrap();
    assert_eq!(
        hosts(annotated.status.as_ref().unwrap()),
        pairs(&[("n-annotated", "demo-db-01")])
    );

    // A label change that keeps the ids: the operator reconciles, and neither calls HSS nor
    // writes status.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let calls = sim.counters().hss_requests;
    let writes = plane
        .audit_events()
        .unwrap()
        .iter()
        .filter(|e| is_status_write(e))
        .count();
    let before = reconciles(&operator).await;
    Api::<Node>::all(client.clone())
        .patch(
            "n-triple",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"team": "x"}}})),
        )
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while reconciles(&operator).await <= before {
        assert!(
            Instant::now() < deadline,
            "no reconcile after the label change:\n{}",
            operator.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        sim.counters().hss_requests,
        calls,
        "the label change called HSS"
    );
    let after = plane
        .audit_events()
        .unwrap()
        .iter()
        .filter(|e| is_status_write(e))
        .count();
    assert_eq!(after, writes, "the label change wrote status");
    drop(operator);
    sim.shutdown().await;
    plane.stop().await;
}
