//! Node conditions and taints against a real kube-apiserver with real Node objects: the
//! operator's conditions next to the kubelet's (strategic merge patches of `Ready`) under
//! server-side apply, nothing written when nothing changed (audit log), the budget, an
//! administrator's taint of the same key left alone, cleanup when the watch goes; and the
//! chart's RBAC with conditions and taints on, with no 403.

use std::time::{Duration, Instant};

use hostrisk_operator::crd::HostRiskWatch;
use hostrisk_operator::hss::model::{AgentStatus, DetectResult, HssEdition};
use hostrisk_sim::hss::{HssSimulator, SimHost};
use k8s_openapi::api::core::v1::{Node, Secret};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::Api;
use serde_json::json;

use crate::e2e_story::{demo_secret, refresh, simulator};
use crate::least_privilege::{assert_no_403, deploy_until, Wait};
use crate::nodes::{create_node, node_watch};
use crate::support::*;

const TYPES: [&str; 3] = [
    "HostSecurityAgentOffline",
    "HostSecurityUnprotected",
    "HostSecurityAtRisk",
];

fn unprotected(sim: &HssSimulator, id: &str) {
    sim.set_host(SimHost::installed(
        id,
        "0",
        AgentStatus::Online,
        HssEdition::Null,
        DetectResult::Undetected,
        [3, 0, 0, 0],
    ));
}

fn healthy(sim: &HssSimulator, id: &str) {
    sim.set_host(SimHost::installed(
        id,
        "0",
        AgentStatus::Online,
        HssEdition::Enterprise,
        DetectResult::Clean,
        [3, 0, 0, 0],
    ));
}

/// `type -> status` of the operator's conditions on a Node.
fn ours(node: &Node) -> Vec<(String, String)> {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|c| TYPES.contains(&c.type_.as_str()))
        .map(|c| (c.type_, c.status))
        .collect()
}

fn ready(node: &Node) -> Option<String> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status.clone())
}

fn taints(node: &Node) -> Vec<String> {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|t| format!("{}={}:{}", t.key, t.value.unwrap_or_default(), t.effect))
        .collect()
}

async fn wait_node(
    nodes: &Api<Node>,
    name: &str,
    what: &str,
    check: impl Fn(&Node) -> bool,
) -> Node {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let node = nodes.get(name).await.unwrap();
        if check(&node) {
            return node;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what} on {name}: conditions {:?}, taints {:?}",
            ours(&node),
            taints(&node)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The kubelet's status update of `Ready`, as it sends it.
async fn kubelet_ready(nodes: &Api<Node>, name: &str, status: &str) -> Node {
    let patch = json!({"status": {"conditions": [{
        "type": "Ready", "status": status, "reason": "KubeletReady",
        "message": "kubelet is posting ready status",
        "lastHeartbeatTime": jiff::Timestamp::now().to_string(),
        "lastTransitionTime": jiff::Timestamp::now().to_string(),
    }]}});
    let params = PatchParams {
        field_manager: Some("kubelet".into()),
        ..PatchParams::default()
    };
    nodes
        .patch_status(name, &params, &Patch::Strategic(&patch))
        .await
        .unwrap()
}

/// Condition writes the operator (by its User-Agent) sent, from the audit log.
fn operator_status_patches(plane: &hostrisk_envtest::ControlPlane) -> usize {
    plane
        .audit_events()
        .unwrap()
        .iter()
        .filter(|e| {
            e.verb == "patch"
                && e.resource() == "nodes/status"
                && e.user_agent
                    .as_deref()
                    .is_some_and(|a| a.starts_with("hostrisk-operator/"))
        })
        .count()
}

#[tokio::test]
async fn node_conditions_beside_the_kubelet_and_budgeted_taints_on_real_nodes() {
    let test = "node_conditions_beside_the_kubelet_and_budgeted_taints_on_real_nodes";
    let Some(plane) = cluster(test, true).await else {
        return;
    };
    let client = plane.client();
    let sim = simulator().await;
    unprotected(&sim, "rc-1");
    unprotected(&sim, "rc-2");
    healthy(&sim, "rc-3");
    let mut operator = admin_operator(
        &plane,
        sim.base_url().as_str(),
        "node-conditions",
        &[
            "--node-watches",
            "--node-conditions",
            "--node-conditions-namespaces=apps",
            "--node-taints=unprotected",
            "--node-taint-after=0s",
            "--node-taint-max=1",
        ],
    )
    .await;
    create_namespace_named(&client, "apps").await;
    Api::<Secret>::namespaced(client.clone(), "apps")
        .create(&PostParams::default(), &demo_secret("creds"))
        .await
        .unwrap();
    let nodes: Api<Node> = Api::all(client.clone());
    for (name, id) in [("rc-n1", "rc-1"), ("rc-n2", "rc-2"), ("rc-n3", "rc-3")] {
        create_node(
            &client,
            name,
            json!({"pool": "rc"}),
            json!({}),
            Some(&format!("huaweicloud:///{id}")),
        )
        .await;
        kubelet_ready(&nodes, name, "True").await;
    }
    // An administrator's taint of the operator's key, by hand.
    nodes
        .patch(
            "rc-n3",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"taints": [
                {"key": "hostrisk.io/unprotected", "effect": "NoSchedule"}]}})),
        )
        .await
        .unwrap();
    let watches: Api<HostRiskWatch> = Api::namespaced(client.clone(), "apps");
    watches
        .create(
            &PostParams::default(),
            &node_watch(
                "fleet",
                &sim,
                json!({"matchLabels": {"pool": "rc"}}),
                json!({}),
            ),
        )
        .await
        .unwrap();
    // The three conditions, with HSS's answer (not the Unknown of before it).
    for name in ["rc-n1", "rc-n2", "rc-n3"] {
        wait_node(&nodes, name, "the three conditions", |n| {
            let conditions = ours(n);
            conditions.len() == 3
                && conditions
                    .iter()
                    .any(|(t, s)| t == "HostSecurityUnprotected" && s != "Unknown")
        })
        .await;
    }
    // The budget of 1: one of the two unprotected Nodes is tainted, the other held back.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let tainted: Vec<String> = {
            let mut out = Vec::new();
            for name in ["rc-n1", "rc-n2"] {
                let node = nodes.get(name).await.unwrap();
                if taints(&node)
                    .iter()
                    .any(|t| t.ends_with("=hostrisk-operator:PreferNoSchedule"))
                {
                    out.push(name.to_string());
                }
            }
            out
        };
        if tainted == ["rc-n1"] {
            break;
        }
        assert!(Instant::now() < deadline, "tainted: {tainted:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        taints(&nodes.get("rc-n3").await.unwrap()),
        ["hostrisk.io/unprotected=:NoSchedule"],
        "the administrator's taint alone"
    );
    // The kubelet flips Ready: the operator's conditions stay; the operator's manager owns
    // exactly its three conditions on nodes/status.
    let after = kubelet_ready(&nodes, "rc-n1", "False").await;
    assert_eq!(ours(&after).len(), 3);
    let managed = after.metadata.managed_fields.clone().unwrap_or_default();
    let entry = managed
        .iter()
        .find(|m| {
            m.manager.as_deref() == Some("hostrisk-operator")
                && m.operation.as_deref() == Some("Apply")
        })
        .expect("the operator's apply entry");
    assert_eq!(entry.subresource.as_deref(), Some("status"));
    let owned = entry.fields_v1.clone().unwrap().0;
    let keys: Vec<&String> = owned["f:status"]["f:conditions"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("k:"))
        .collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(keys.iter().all(|k| k.contains("HostSecurity")), "{keys:?}");
    // Nothing changes: a poll with the same data and the kubelet's updates write nothing.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let writes = operator_status_patches(&plane);
    refresh(&watches, "fleet", "same").await;
    kubelet_ready(&nodes, "rc-n2", "True").await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        operator_status_patches(&plane),
        writes,
        "a write with nothing changed"
    );
    // rc-n1 is protected again: its taint goes and rc-n2 takes the freed place.
    healthy(&sim, "rc-1");
    refresh(&watches, "fleet", "protected").await;
    wait_node(&nodes, "rc-n2", "the freed place", |n| {
        taints(n) == ["hostrisk.io/unprotected=hostrisk-operator:PreferNoSchedule"]
    })
    .await;
    let n1 = wait_node(&nodes, "rc-n1", "no taint", |n| taints(n).is_empty()).await;
    assert_eq!(
        ready(&n1).as_deref(),
        Some("False"),
        "the kubelet's Ready kept"
    );
    // The watch goes: conditions and the operator's taints go; the kubelet's and the
    // administrator's stay.
    watches
        .delete("fleet", &DeleteParams::default())
        .await
        .unwrap();
    for name in ["rc-n1", "rc-n2", "rc-n3"] {
        let node = wait_node(&nodes, name, "nothing of the operator's", |n| {
            ours(n).is_empty() && !taints(n).iter().any(|t| t.contains("=hostrisk-operator:"))
        })
        .await;
        assert!(ready(&node).is_some(), "{name}: the kubelet's Ready kept");
    }
    assert_eq!(
        taints(&nodes.get("rc-n3").await.unwrap()),
        ["hostrisk.io/unprotected=:NoSchedule"]
    );
    assert_eq!(operator.terminate(), Some(0));
    sim.shutdown().await;
    plane.stop().await;
}

#[tokio::test]
async fn chart_rbac_with_node_conditions_and_taints_is_enough() {
    let test = "chart_rbac_with_node_conditions_and_taints_is_enough";
    let Some(mut deployed) = deploy_until(
        test,
        "node-conditions",
        json!({"nodeConditions": {"namespaces": ["apps"], "taints": ["unprotected"],
                                  "taintAfter": "0s", "taintMax": "100%"}}),
        |_| {},
        Wait::Ready,
    )
    .await
    else {
        return;
    };
    let client = deployed.plane.client();
    unprotected(&deployed.sim, "rb-1");
    create_namespace_named(&client, "apps").await;
    Api::<Secret>::namespaced(client.clone(), "apps")
        .create(&PostParams::default(), &demo_secret("creds"))
        .await
        .unwrap();
    create_node(
        &client,
        "rb-n1",
        json!({}),
        json!({}),
        Some("huaweicloud:///rb-1"),
    )
    .await;
    let watches: Api<HostRiskWatch> = Api::namespaced(client.clone(), "apps");
    watches
        .create(
            &PostParams::default(),
            &node_watch("fleet", &deployed.sim, json!({}), json!({})),
        )
        .await
        .unwrap();
    let nodes: Api<Node> = Api::all(client.clone());
    wait_node(&nodes, "rb-n1", "conditions and the taint", |n| {
        ours(n).len() == 3
            && taints(n) == ["hostrisk.io/unprotected=hostrisk-operator:PreferNoSchedule"]
    })
    .await;
    watches
        .delete("fleet", &DeleteParams::default())
        .await
        .unwrap();
    wait_node(&nodes, "rb-n1", "nothing of the operator's", |n| {
        ours(n).is_empty() && taints(n).is_empty()
    })
    .await;
    assert_eq!(deployed.operator.terminate(), Some(0));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mine = assert_no_403(&deployed);
    for needed in ["patch nodes/status", "patch nodes", "create events"] {
        assert!(
            mine.iter()
                .any(|e| format!("{} {}", e.verb, e.resource()) == needed),
            "the operator never did {needed}"
        );
    }
    deployed.sim.shutdown().await;
    deployed.plane.stop().await;
}
