//! The conditions: each HSS state, nothing written when nothing changed, the kubelet's
//! conditions beside the operator's, the newest of two watches, the namespace allow-list, and
//! cleanup when a Node leaves, a watch goes, the feature is switched off, and across restarts.

use std::time::Duration;

use hostrisk_operator::nodes::policy::NodeConditionPolicy;
use serde_json::json;

use crate::harness::{condition_is, eventually, hss_calls, is_synced, Harness, NS};
use crate::support::*;

#[tokio::test]
async fn each_hss_state_gives_its_conditions_naming_the_watch_values_and_counts() {
    let h = Harness::start(options(conditions())).await;
    h.create_demo_secret(NS, "creds").await;
    let cases = [
        ("n-healthy", "nc-healthy", State::Healthy),
        ("n-offline", "nc-offline", State::Offline),
        ("n-unprotected", "nc-unprotected", State::Unprotected),
        ("n-risk", "nc-risk", State::AtRisk),
        ("n-noagent", "nc-noagent", State::NotInstalled),
        ("n-scanning", "nc-scanning", State::Scanning),
    ];
    for (node, id, state) in cases {
        node_in_state(&h, node, id, state, &[]).await;
    }
    // A host HSS does not know.
    h.create_node("n-unknown", &[], Some("huaweicloud:///nc-unknown"))
        .await;
    h.create_node_watch(NS, "fleet", json!({}), "creds").await;
    let expected: [(&str, [(&str, &str); 3]); 7] = [
        (
            "n-healthy",
            [
                ("False", "AgentOnline"),
                ("False", "ProtectionOpened"),
                ("False", "NoRisksFound"),
            ],
        ),
        (
            "n-offline",
            [
                ("True", "AgentOffline"),
                ("False", "ProtectionOpened"),
                ("False", "NoRisksFound"),
            ],
        ),
        (
            "n-unprotected",
            [
                ("False", "AgentOnline"),
                ("True", "ProtectionClosed"),
                ("Unknown", "NotScanned"),
            ],
        ),
        (
            "n-risk",
            [
                ("False", "AgentOnline"),
                ("False", "ProtectionOpened"),
                ("True", "RisksFound"),
            ],
        ),
        (
            "n-noagent",
            [
                ("True", "AgentNotInstalled"),
                ("True", "ProtectionClosed"),
                ("Unknown", "NotScanned"),
            ],
        ),
        (
            "n-scanning",
            [
                ("False", "AgentOnline"),
                ("False", "ProtectionOpened"),
                ("Unknown", "Scanning"),
            ],
        ),
        ("n-unknown", [("Unknown", "HostNotFound"); 3]),
    ];
    for (node, want) in expected {
        wait_conditions(&h, node, want).await;
    }
    let risky = ours(&h, "n-risk").await;
    let message = risky["HostSecurityAtRisk"]
        .message
        .clone()
        .unwrap_or_default();
    for needed in [
        "HSS found risks: 3 vulnerabilities, 2 baseline issues, 1 intrusions",
        "HostRiskWatch default/fleet, host nc-risk",
        "agent_status=online",
        "version=hss.version.enterprise",
        "detect_result=risk",
        "vulnerability=3, baseline=2, intrusion=1, asset=10",
    ] {
        assert!(message.contains(needed), "{needed} missing from {message}");
    }
    let at_risk = &risky["HostSecurityAtRisk"];
    assert!(at_risk.last_heartbeat_time.is_some() && at_risk.last_transition_time.is_some());
    let watch = h
        .wait_for(NS, "fleet", "NodeConditionsDriven", |_, s| {
            condition_is(s, "NodeConditionsDriven", "True", "Driving")
        })
        .await;
    assert!(is_synced(&watch, watch.status.as_ref().unwrap()));
    let metrics = h.ctx.metrics.encode().expect("metrics");
    assert!(
        metrics.contains("hostrisk_node_conditions{type=\"HostSecurityAtRisk\",status=\"True\"} 1"),
        "{metrics}"
    );
    h.stop().await;
}

#[tokio::test]
async fn nothing_is_written_when_nothing_changed_and_transitions_alone_move_the_time() {
    let h = Harness::start(options(conditions())).await;
    h.create_demo_secret(NS, "creds").await;
    node_in_state(&h, "web-1", "nw-web-1", State::Healthy, &[("pool", "web")]).await;
    node_in_state(&h, "web-2", "nw-web-2", State::Healthy, &[("pool", "web")]).await;
    h.create_node_watch(NS, "web", json!({"matchLabels": {"pool": "web"}}), "creds")
        .await;
    let first = wait_conditions(
        &h,
        "web-1",
        [
            ("False", "AgentOnline"),
            ("False", "ProtectionOpened"),
            ("False", "NoRisksFound"),
        ],
    )
    .await;
    wait_conditions(
        &h,
        "web-2",
        [
            ("False", "AgentOnline"),
            ("False", "ProtectionOpened"),
            ("False", "NoRisksFound"),
        ],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let writes = status_patches(&h);
    // One write per Node, and one before while HSS had not answered yet (Unknown, NoData).
    assert!((2..=4).contains(&writes), "{writes} writes");
    // A poll with the same data, a label change, and the kubelet's own status updates: nothing.
    let calls = hss_calls(&h.sim);
    h.request_refresh(NS, "web", "again").await;
    eventually(Duration::from_secs(10), "the refresh polled", || async {
        hss_calls(&h.sim) > calls
    })
    .await;
    h.patch_node("web-1", json!({"metadata": {"labels": {"team": "a"}}}))
        .await;
    kubelet_ready(&h, "web-2", "True").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(status_patches(&h) - 1, writes, "only the kubelet's write");
    // The agent of web-1 goes offline: one write, one transition.
    change_host(&h, "web", "nw-web-1", State::Offline, "offline").await;
    let after = wait_conditions(
        &h,
        "web-1",
        [
            ("True", "AgentOffline"),
            ("False", "ProtectionOpened"),
            ("False", "NoRisksFound"),
        ],
    )
    .await;
    let (before, now) = (ours_of(&first), ours_of(&after));
    assert_ne!(
        before["HostSecurityAgentOffline"].last_transition_time,
        now["HostSecurityAgentOffline"].last_transition_time
    );
    assert_eq!(
        before["HostSecurityUnprotected"].last_transition_time,
        now["HostSecurityUnprotected"].last_transition_time,
        "a status that did not change keeps its transition time"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        status_patches(&h) - 1,
        writes + 1,
        "one more write, web-1's"
    );
    h.stop().await;
}

#[tokio::test]
async fn the_kubelets_conditions_and_the_operators_coexist() {
    let h = Harness::start(options(conditions())).await;
    h.create_demo_secret(NS, "creds").await;
    node_in_state(&h, "kube-1", "nk-1", State::AtRisk, &[]).await;
    kubelet_ready(&h, "kube-1", "True").await;
    h.create_node_watch(NS, "fleet", json!({}), "creds").await;
    wait_conditions(
        &h,
        "kube-1",
        [
            ("False", "AgentOnline"),
            ("False", "ProtectionOpened"),
            ("True", "RisksFound"),
        ],
    )
    .await;
    // The kubelet flips Ready with a strategic merge patch of its own entry: ours stay.
    let after = kubelet_ready(&h, "kube-1", "False").await;
    assert_eq!(ours_of(&after).len(), 3);
    let ready = |node: &k8s_openapi::api::core::v1::Node| {
        node.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
            .map(|c| c.status.clone())
    };
    assert_eq!(ready(&after).as_deref(), Some("False"));
    // The operator writes again (the host is clean now): the kubelet's Ready stays.
    change_host(&h, "fleet", "nk-1", State::Healthy, "clean").await;
    let node = wait_conditions(
        &h,
        "kube-1",
        [
            ("False", "AgentOnline"),
            ("False", "ProtectionOpened"),
            ("False", "NoRisksFound"),
        ],
    )
    .await;
    assert_eq!(
        ready(&node).as_deref(),
        Some("False"),
        "the kubelet's Ready kept"
    );
    // The operator's field manager owns exactly its three conditions, on nodes/status.
    let managed = node.metadata.managed_fields.clone().unwrap_or_default();
    let ours = managed
        .iter()
        .find(|m| m.manager.as_deref() == Some("hostrisk-operator"))
        .expect("the operator's managedFields entry");
    assert_eq!(
        (ours.operation.as_deref(), ours.subresource.as_deref()),
        (Some("Apply"), Some("status"))
    );
    let owned = ours.fields_v1.clone().expect("fieldsV1").0;
    let owned_conditions = owned["f:status"]["f:conditions"]
        .as_object()
        .expect("conditions owned")
        .keys()
        .filter(|k| k.starts_with("k:"))
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(owned_conditions.len(), 3, "{owned_conditions:?}");
    assert!(owned_conditions.iter().all(|k| k.contains("HostSecurity")));
    // And the kubelet updates again: still both.
    let after = kubelet_ready(&h, "kube-1", "True").await;
    assert_eq!(ours_of(&after).len(), 3);
    h.stop().await;
}

#[tokio::test]
async fn a_node_covered_by_two_watches_shows_the_newest_data_and_names_that_watch() {
    let h = Harness::start(options(conditions())).await;
    h.create_demo_secret(NS, "creds").await;
    node_in_state(&h, "both-1", "nb-1", State::Healthy, &[("pool", "web")]).await;
    h.create_node_watch(NS, "all", json!({}), "creds").await;
    let named = |node: &k8s_openapi::api::core::v1::Node, watch: &str| {
        ours_of(node).values().all(|c| {
            c.message
                .as_deref()
                .unwrap_or_default()
                .contains(&format!("HostRiskWatch default/{watch},"))
        })
    };
    wait_node(&h, "both-1", "data of the watch all", |n| {
        ours_of(n).len() == 3 && named(n, "all")
    })
    .await;
    // A second watch polls later: its data is the newest.
    h.sim.set_host(sim_host("nb-1", State::Offline));
    h.create_node_watch(NS, "web", json!({"matchLabels": {"pool": "web"}}), "creds")
        .await;
    let node = wait_node(&h, "both-1", "data of the watch web", |n| named(n, "web")).await;
    assert_eq!(
        summary(&ours_of(&node))[0],
        pair("True", "AgentOffline"),
        "the newest data"
    );
    // The first watch polls again, later still: its data and its name.
    h.request_refresh(NS, "all", "later").await;
    wait_node(&h, "both-1", "data of the watch all again", |n| {
        named(n, "all")
    })
    .await;
    // The second watch goes: the first one still covers the Node, which keeps its conditions.
    h.delete_watch(NS, "all").await;
    wait_node(&h, "both-1", "data of the remaining watch", |n| {
        ours_of(n).len() == 3 && named(n, "web")
    })
    .await;
    h.stop().await;
}

#[tokio::test]
async fn only_watches_of_the_allowed_namespaces_drive_conditions_and_the_others_say_so() {
    let h = Harness::start(options(conditions())).await;
    h.create_demo_secret("team-a", "creds").await;
    node_in_state(&h, "team-1", "nt-1", State::AtRisk, &[]).await;
    h.create_node_watch("team-a", "mine", json!({}), "creds")
        .await;
    let watch = h
        .wait_for("team-a", "mine", "NamespaceNotAllowed", |w, s| {
            is_synced(w, s)
                && s.hosts.len() == 1
                && condition_is(s, "NodeConditionsDriven", "False", "NamespaceNotAllowed")
        })
        .await;
    let status = watch.status.unwrap();
    let driven = status
        .conditions
        .iter()
        .find(|c| c.type_ == "NodeConditionsDriven")
        .unwrap();
    assert!(
        driven
            .message
            .contains("namespaces default (--node-conditions-namespaces)"),
        "{}",
        driven.message
    );
    assert!(
        condition_is(&status, "Ready", "True", "Synced"),
        "its status is served"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(ours(&h, "team-1").await.is_empty());
    assert_eq!(status_patches(&h), 0, "no Node written");
    h.stop().await;
}

#[tokio::test]
async fn a_node_leaving_every_watch_and_a_deleted_watch_take_their_conditions_along() {
    let h = Harness::start(options(conditions())).await;
    h.create_demo_secret(NS, "creds").await;
    node_in_state(&h, "leave-1", "nl-1", State::Offline, &[("pool", "web")]).await;
    node_in_state(&h, "leave-2", "nl-2", State::Offline, &[("pool", "web")]).await;
    kubelet_ready(&h, "leave-1", "True").await;
    h.create_node_watch(NS, "web", json!({"matchLabels": {"pool": "web"}}), "creds")
        .await;
    for node in ["leave-1", "leave-2"] {
        wait_node(&h, node, "conditions", |n| ours_of(n).len() == 3).await;
    }
    // Relabelled out of the selector: its conditions go, the kubelet's stay.
    h.patch_node(
        "leave-1",
        json!({"metadata": {"labels": {"pool": "spare"}}}),
    )
    .await;
    let left = wait_no_conditions(&h, "leave-1").await;
    let types: Vec<String> = left
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.type_)
        .collect();
    assert_eq!(types, ["Ready"]);
    assert!(
        !ours(&h, "leave-2").await.is_empty(),
        "the other Node keeps them"
    );
    // The watch is deleted: its last Node's conditions go too.
    h.delete_watch(NS, "web").await;
    wait_no_conditions(&h, "leave-2").await;
    // A suspended watch releases its Nodes the same way.
    h.create_node_watch(
        NS,
        "again",
        json!({"matchLabels": {"pool": "web"}}),
        "creds",
    )
    .await;
    wait_node(&h, "leave-2", "conditions again", |n| ours_of(n).len() == 3).await;
    h.patch_watch(NS, "again", json!({"spec": {"suspend": true}}))
        .await;
    wait_no_conditions(&h, "leave-2").await;
    h.wait_for(
        NS,
        "again",
        "NodeConditionsDriven=False Suspended",
        |_, s| condition_is(s, "NodeConditionsDriven", "False", "Suspended"),
    )
    .await;
    h.stop().await;
}

#[tokio::test]
async fn across_restarts_conditions_stay_untouched_leftovers_go_and_switching_off_removes_them() {
    let mut h = Harness::start(options(conditions())).await;
    h.create_demo_secret(NS, "creds").await;
    node_in_state(&h, "keep-1", "nr-keep", State::Offline, &[("pool", "web")]).await;
    node_in_state(&h, "drop-1", "nr-drop", State::Offline, &[("pool", "web")]).await;
    h.create_node_watch(NS, "web", json!({"matchLabels": {"pool": "web"}}), "creds")
        .await;
    let offline = [
        ("True", "AgentOffline"),
        ("False", "ProtectionOpened"),
        ("False", "NoRisksFound"),
    ];
    let before = wait_conditions(&h, "keep-1", offline).await;
    wait_conditions(&h, "drop-1", offline).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Down: drop-1 leaves the selection meanwhile. Back up: keep-1 is not rewritten (the
    // same data, the heartbeat not due), drop-1 loses its conditions once every watch had
    // its say.
    h.pause().await;
    h.patch_node("drop-1", json!({"metadata": {"labels": {"pool": "spare"}}}))
        .await;
    let writes = status_patches(&h);
    h.resume(|_| {});
    wait_no_conditions(&h, "drop-1").await;
    h.wait_for(NS, "web", "Ready after the restart", is_synced)
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(status_patches(&h), writes + 1, "only drop-1's removal");
    let after = ours(&h, "keep-1").await;
    assert_eq!(
        after,
        ours_of(&before),
        "keep-1 untouched across the restart"
    );

    // Switched off (the Nodes still watched): the operator removes what it wrote.
    h.pause().await;
    h.resume(|settings| settings.node_conditions = NodeConditionPolicy::default());
    wait_no_conditions(&h, "keep-1").await;
    let status = h.status(NS, "web").await;
    assert!(
        !status
            .conditions
            .iter()
            .any(|c| c.type_ == "NodeConditionsDriven"),
        "no NodeConditionsDriven condition with the feature off"
    );
    h.stop().await;
}
