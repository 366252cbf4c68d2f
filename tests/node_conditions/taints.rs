//! The taints: added only after the problem held for `--node-taint-after` and removed as soon
//! as it clears, the budget (3 of 20 Nodes unprotected with a budget of 2), the dry run,
//! control-plane Nodes, and administrators' taints of the same keys left alone.

use std::time::{Duration, Instant};

use hostrisk_operator::nodes::taints::{Problem, TaintBudget};
use serde_json::json;

use crate::harness::{condition, condition_is, Harness, NS};
use crate::support::*;

const UNPROTECTED: &str = "hostrisk.io/unprotected";

#[tokio::test]
async fn a_taint_waits_for_the_delay_without_polling_and_goes_as_soon_as_the_problem_clears() {
    let after = Duration::from_secs(3);
    let h = Harness::start(options(taints(
        &[Problem::Unprotected],
        after,
        TaintBudget::Nodes(5),
    )))
    .await;
    h.create_demo_secret(NS, "creds").await;
    node_in_state(&h, "slow-1", "ns-slow", State::Unprotected, &[]).await;
    h.create_node_watch(NS, "fleet", json!({}), "creds").await;
    let node = wait_conditions(
        &h,
        "slow-1",
        [
            ("False", "AgentOnline"),
            ("True", "ProtectionClosed"),
            ("Unknown", "NotScanned"),
        ],
    )
    .await;
    let since = ours_of(&node)["HostSecurityUnprotected"]
        .last_transition_time
        .clone()
        .expect("a transition time")
        .0;
    assert!(our_taint_keys(&node).is_empty(), "not before the delay");
    let tainted = wait_node(&h, "slow-1", "the operator's taint", |n| {
        our_taint_keys(n) == [UNPROTECTED]
    })
    .await;
    let held = jiff::Timestamp::now().duration_since(since);
    assert!(
        held >= jiff::SignedDuration::try_from(after).unwrap() - jiff::SignedDuration::from_secs(1),
        "tainted after {held:?}, before the delay of {after:?}"
    );
    assert_eq!(
        taint_texts(&h, "slow-1").await,
        ["hostrisk.io/unprotected=hostrisk-operator:PreferNoSchedule"]
    );
    assert_eq!(our_taint_keys(&tainted), [UNPROTECTED]);
    let note = wait_node_event(&h, "slow-1", "TaintAdded").await;
    assert!(
        note.contains("HostSecurityUnprotected has been True since"),
        "{note}"
    );
    assert!(note.contains("HostRiskWatch default/fleet"), "{note}");
    // Protection opened: the taint goes at once (no delay on removal).
    let cleared_at = Instant::now();
    change_host(&h, "fleet", "ns-slow", State::Healthy, "protected").await;
    wait_node(&h, "slow-1", "no taint", |n| our_taint_keys(n).is_empty()).await;
    assert!(cleared_at.elapsed() < after, "removal waited");
    let note = wait_node_event(&h, "slow-1", "TaintRemoved").await;
    assert!(
        note.contains("HostSecurityUnprotected is no longer True"),
        "{note}"
    );
    let metrics = h.ctx.metrics.encode().expect("metrics");
    for series in [
        "hostrisk_node_taint_changes_total{problem=\"unprotected\",action=\"added\",mode=\"applied\"} 1",
        "hostrisk_node_taint_changes_total{problem=\"unprotected\",action=\"removed\",mode=\"applied\"} 1",
        "hostrisk_node_taints{problem=\"unprotected\",mode=\"applied\"} 0",
    ] {
        assert!(metrics.contains(series), "{series} missing:\n{metrics}");
    }
    h.stop().await;
}

/// 20 Nodes, 3 unprotected, a budget of 2 (taints at once).
async fn twenty_nodes(h: &Harness) {
    h.create_demo_secret(NS, "creds").await;
    for i in 0..20 {
        let state = match i {
            4 | 9 | 15 => State::Unprotected,
            _ => State::Healthy,
        };
        node_in_state(
            h,
            &format!("node-{i:02}"),
            &format!("nbud-{i:02}"),
            state,
            &[],
        )
        .await;
    }
    h.create_node_watch(NS, "fleet", json!({}), "creds").await;
}

#[tokio::test]
async fn the_budget_taints_two_of_three_and_reports_the_third() {
    let h = Harness::start(options(taints(
        &[Problem::Unprotected],
        Duration::ZERO,
        TaintBudget::Nodes(2),
    )))
    .await;
    twenty_nodes(&h).await;
    // The problems are equally old: the first two by name are tainted, node-15 is held back.
    for node in ["node-04", "node-09"] {
        wait_node(&h, node, "the operator's taint", |n| {
            our_taint_keys(n) == [UNPROTECTED]
        })
        .await;
    }
    let watch = h
        .wait_for(NS, "fleet", "TaintsHeldBack", |_, s| {
            condition_is(s, "NodeConditionsDriven", "True", "TaintsHeldBack")
        })
        .await;
    let message = condition(watch.status.as_ref().unwrap(), "NodeConditionsDriven")
        .unwrap()
        .message
        .clone();
    assert!(
        message.contains("--node-taint-max=2: 2 of 20 covered Nodes) holds back 1 Node(s): node-15 (unprotected)"),
        "{message}"
    );
    let note = wait_node_event(&h, "node-15", "TaintHeldBack").await;
    assert!(
        note.contains("(--node-taint-max=2: 2 of 20 covered Nodes) is used up by 2 tainted"),
        "{note}"
    );
    let on_watch = h.events_for(NS, "fleet").await;
    assert!(
        on_watch
            .iter()
            .any(|e| e.reason.as_deref() == Some("NodeTaintsHeldBack")
                && e.note
                    .as_deref()
                    .unwrap_or_default()
                    .contains("node-15 (unprotected)")),
        "{on_watch:?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(our_taint_keys(&h.nodes().get("node-15").await.unwrap()).is_empty());
    let metrics = h.ctx.metrics.encode().expect("metrics");
    for series in [
        "hostrisk_node_taints_held_back{problem=\"unprotected\"} 1",
        "hostrisk_node_taints{problem=\"unprotected\",mode=\"applied\"} 2",
    ] {
        assert!(metrics.contains(series), "{series} missing:\n{metrics}");
    }
    // One tainted Node recovers: its taint goes and the held-back Node takes its place.
    change_host(&h, "fleet", "nbud-04", State::Healthy, "fixed").await;
    wait_node(&h, "node-04", "no taint", |n| our_taint_keys(n).is_empty()).await;
    wait_node(&h, "node-15", "the freed place", |n| {
        our_taint_keys(n) == [UNPROTECTED]
    })
    .await;
    h.wait_for(NS, "fleet", "nothing held back", |_, s| {
        condition_is(s, "NodeConditionsDriven", "True", "Driving")
    })
    .await;
    h.stop().await;
}

#[tokio::test]
async fn a_dry_run_reports_every_taint_and_changes_no_node() {
    let mut policy = taints(
        &[Problem::Unprotected],
        Duration::ZERO,
        TaintBudget::Nodes(2),
    );
    policy.taints.dry_run = true;
    let h = Harness::start(options(policy)).await;
    twenty_nodes(&h).await;
    for node in ["node-04", "node-09"] {
        let note = wait_node_event(&h, node, "TaintWouldBeAdded").await;
        assert!(
            note.starts_with("dry run: would add taint hostrisk.io/unprotected=hostrisk-operator:PreferNoSchedule"),
            "{note}"
        );
    }
    wait_node_event(&h, "node-15", "TaintHeldBack").await;
    change_host(&h, "fleet", "nbud-09", State::Healthy, "fixed").await;
    let note = wait_node_event(&h, "node-09", "TaintWouldBeRemoved").await;
    assert!(
        note.starts_with("dry run: would remove taint hostrisk.io/unprotected"),
        "{note}"
    );
    // The freed place goes to node-15, in the dry run too.
    wait_node_event(&h, "node-15", "TaintWouldBeAdded").await;
    assert_eq!(node_patches(&h), 0, "no Node's spec was written");
    for i in 0..20 {
        assert!(taints_of(&h, &format!("node-{i:02}")).await.is_empty());
    }
    let metrics = h.ctx.metrics.encode().expect("metrics");
    for series in [
        "hostrisk_node_taint_changes_total{problem=\"unprotected\",action=\"added\",mode=\"dry_run\"} 3",
        "hostrisk_node_taint_changes_total{problem=\"unprotected\",action=\"removed\",mode=\"dry_run\"} 1",
        "hostrisk_node_taints{problem=\"unprotected\",mode=\"dry_run\"} 2",
        "hostrisk_node_taints{problem=\"unprotected\",mode=\"applied\"} 0",
    ] {
        assert!(metrics.contains(series), "{series} missing:\n{metrics}");
    }
    h.stop().await;
}

#[tokio::test]
async fn control_plane_nodes_are_tainted_only_when_allowed() {
    for allowed in [false, true] {
        let mut policy = taints(
            &[Problem::AgentOffline],
            Duration::ZERO,
            TaintBudget::Percent(100),
        );
        policy.taints.control_plane = allowed;
        let h = Harness::start(options(policy)).await;
        h.create_demo_secret(NS, "creds").await;
        node_in_state(
            &h,
            "cp-1",
            "ncp-1",
            State::Offline,
            &[("node-role.kubernetes.io/control-plane", "")],
        )
        .await;
        node_in_state(&h, "worker-1", "ncp-w", State::Offline, &[]).await;
        h.create_node_watch(NS, "fleet", json!({}), "creds").await;
        wait_node(&h, "worker-1", "the worker's taint", |n| {
            our_taint_keys(n) == ["hostrisk.io/agent-offline"]
        })
        .await;
        wait_conditions(
            &h,
            "cp-1",
            [
                ("True", "AgentOffline"),
                ("False", "ProtectionOpened"),
                ("False", "NoRisksFound"),
            ],
        )
        .await;
        if allowed {
            wait_node(&h, "cp-1", "the control plane's taint", |n| {
                our_taint_keys(n) == ["hostrisk.io/agent-offline"]
            })
            .await;
        } else {
            tokio::time::sleep(Duration::from_millis(800)).await;
            assert!(
                taints_of(&h, "cp-1").await.is_empty(),
                "control plane tainted"
            );
        }
        h.stop().await;
    }
}

#[tokio::test]
async fn taints_an_administrator_set_on_the_same_keys_are_left_alone() {
    let h = Harness::start(options(taints(
        &[Problem::Unprotected, Problem::AtRisk],
        Duration::ZERO,
        TaintBudget::Percent(100),
    )))
    .await;
    h.create_demo_secret(NS, "creds").await;
    node_in_state(&h, "manual-1", "nm-1", State::Unprotected, &[]).await;
    node_in_state(&h, "manual-2", "nm-2", State::Healthy, &[]).await;
    node_in_state(&h, "ours-1", "nm-3", State::Unprotected, &[]).await;
    // By hand, before the operator: the same key without its value, and another key's.
    h.patch_node(
        "manual-1",
        json!({"spec": {"taints": [{"key": UNPROTECTED, "effect": "NoSchedule"},
                                   {"key": "dedicated", "value": "db", "effect": "NoSchedule"}]}}),
    )
    .await;
    h.patch_node(
        "manual-2",
        json!({"spec": {"taints": [{"key": "hostrisk.io/at-risk", "value": "admin", "effect": "PreferNoSchedule"}]}}),
    )
    .await;
    h.create_node_watch(NS, "fleet", json!({}), "creds").await;
    wait_node(&h, "ours-1", "the operator's taint", |n| {
        our_taint_keys(n) == [UNPROTECTED]
    })
    .await;
    wait_conditions(
        &h,
        "manual-1",
        [
            ("False", "AgentOnline"),
            ("True", "ProtectionClosed"),
            ("Unknown", "NotScanned"),
        ],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        taint_texts(&h, "manual-1").await,
        [
            "hostrisk.io/unprotected=:NoSchedule",
            "dedicated=db:NoSchedule"
        ],
        "no taint of the operator's beside the administrator's"
    );
    // Every problem clears: the operator removes its own taint only.
    for (id, refresh) in [("nm-1", "a"), ("nm-3", "b")] {
        change_host(&h, "fleet", id, State::Healthy, refresh).await;
    }
    wait_node(&h, "ours-1", "no taint", |n| our_taint_keys(n).is_empty()).await;
    wait_conditions(
        &h,
        "manual-1",
        [
            ("False", "AgentOnline"),
            ("False", "ProtectionOpened"),
            ("False", "NoRisksFound"),
        ],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        taint_texts(&h, "manual-1").await,
        [
            "hostrisk.io/unprotected=:NoSchedule",
            "dedicated=db:NoSchedule"
        ]
    );
    assert_eq!(
        taint_texts(&h, "manual-2").await,
        ["hostrisk.io/at-risk=admin:PreferNoSchedule"]
    );
    // Deleting the watch removes only the operator's leftovers, never the administrator's.
    h.delete_watch(NS, "fleet").await;
    wait_no_conditions(&h, "manual-1").await;
    assert_eq!(
        taint_texts(&h, "manual-1").await,
        [
            "hostrisk.io/unprotected=:NoSchedule",
            "dedicated=db:NoSchedule"
        ]
    );
    h.stop().await;
}
