//! Node-backed watches: hosts with Node names, the Nodes' part of the status, and the outcomes
//! only they have.

use super::*;
use crate::crd::status::{NodeSummary, UnresolvedNode};
use crate::status::targets::{HostTarget, NodeView, Targets};

fn targets(hosts: &[(&str, &str)], selected: usize, unresolved: &[(&str, &str)]) -> Targets {
    Targets {
        hosts: hosts
            .iter()
            .map(|(node, id)| HostTarget {
                host_id: (*id).into(),
                node_name: Some((*node).into()),
            })
            .collect(),
        source: "nodes: pool=web".into(),
        nodes: Some(NodeView {
            selected,
            unresolved: unresolved
                .iter()
                .map(|(node, why)| UnresolvedNode {
                    node_name: node.to_string(),
                    reason: why.to_string(),
                    message: format!("{node}: {why}"),
                })
                .collect(),
        }),
        node_backed: true,
        shared_ids: None,
    }
}

fn run_for(
    targets: &Targets,
    previous: Option<&HostRiskWatchStatus>,
    outcome: PollOutcome,
    minute: i64,
) -> StatusUpdate {
    let spec = spec(&[]);
    compute_status_for(
        StatusInput {
            spec: &spec,
            generation: Some(1),
            previous,
            outcome,
            now: at(minute),
            heartbeat: Duration::from_secs(30 * 60),
            effective_interval: Duration::from_secs(600),
        },
        None,
        targets,
    )
}

fn node_names(status: &HostRiskWatchStatus) -> Vec<(&str, Option<&str>)> {
    status
        .hosts
        .iter()
        .map(|h| (h.host_id.as_str(), h.node_name.as_deref()))
        .collect()
}

#[test]
fn a_poll_shows_each_host_with_its_node_and_says_which_nodes_are_not_watched() {
    let t = targets(
        &[("w-1", "id-1"), ("w-2", "id-2")],
        3,
        &[("kind-w", "ForeignProviderId")],
    );
    let update = run_for(
        &t,
        None,
        success(&[("id-1", healthy())], &["id-2"], "r1"),
        0,
    );
    let status = &update.status;
    assert_eq!(
        node_names(status),
        vec![("id-1", Some("w-1")), ("id-2", Some("w-2"))]
    );
    assert_eq!(status.source.as_deref(), Some("nodes: pool=web"));
    assert_eq!(
        status.nodes,
        Some(NodeSummary {
            selected: 3,
            watched: 2,
            unresolved: 1
        })
    );
    assert_eq!(status.unresolved_nodes[0].node_name, "kind-w");
    let resolved = condition(status, NODES_RESOLVED);
    assert_eq!(
        (resolved.status.as_str(), resolved.reason.as_str()),
        ("False", "UnresolvedNodes")
    );
    assert!(resolved.message.contains("kind-w (ForeignProviderId)"));
    assert_eq!(condition(status, READY).status, "True");
    assert_eq!(status.summary.as_ref().map(|s| s.hosts_requested), Some(2));
}

#[test]
fn a_node_without_id_joining_is_written_without_a_poll_and_a_label_change_writes_nothing() {
    let before = targets(&[("w-1", "id-1")], 1, &[]);
    let polled = run_for(&before, None, success(&[("id-1", healthy())], &[], "r1"), 0).status;
    assert_eq!(condition(&polled, NODES_RESOLVED).reason, "AllResolved");
    // The same Nodes again (a label change that selects the same Nodes): nothing to write.
    let same = run_for(&before, Some(&polled), PollOutcome::Pending, 1);
    assert!(!same.needs_write);
    assert_eq!(same.status, polled);
    // A Node without a providerID joins: no poll, but the status says so at once.
    let joined = targets(&[("w-1", "id-1")], 2, &[("w-2", "NoProviderId")]);
    let update = run_for(&joined, Some(&polled), PollOutcome::Pending, 2);
    assert!(update.needs_write);
    assert_eq!(update.status.unresolved_nodes.len(), 1);
    assert_eq!(condition(&update.status, NODES_RESOLVED).status, "False");
    assert_eq!(update.status.hosts, polled.hosts, "host data untouched");
    assert_eq!(
        condition(&update.status, READY),
        condition(&polled, READY),
        "Ready kept as it was"
    );
    assert!(update.events.is_empty());
}

#[test]
fn no_host_to_poll_is_ready_when_no_node_is_selected_and_not_when_none_resolves() {
    let none = run_for(&targets(&[], 0, &[]), None, PollOutcome::NoHosts, 0);
    let ready = condition(&none.status, READY);
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("True", "NoNodes")
    );
    assert!(none.status.hosts.is_empty());
    assert_eq!(
        none.status.summary.as_ref().map(|s| s.hosts_requested),
        Some(0)
    );
    let foreign = targets(
        &[],
        2,
        &[("a", "ForeignProviderId"), ("b", "ForeignProviderId")],
    );
    let unresolved = run_for(&foreign, Some(&none.status), PollOutcome::NoHosts, 1);
    let ready = condition(&unresolved.status, READY);
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "UnresolvedNodes")
    );
    assert!(ready.message.contains("none of the 2 selected Nodes"));
    // Not a poll failure: no PollFailed Event.
    assert!(unresolved.events.is_empty());
}

#[test]
fn refused_node_watches_keep_the_data_and_say_why() {
    let t = targets(&[("w-1", "id-1")], 1, &[]);
    let polled = run_for(&t, None, success(&[("id-1", healthy())], &[], "r1"), 0).status;
    let refused = run_for(
        &Targets::unknown_nodes("nodes: pool=web".into()),
        Some(&polled),
        PollOutcome::NodesUnavailable {
            reason: Reason::NodeWatchForbidden,
            message: "nodes is forbidden".into(),
        },
        1,
    );
    let status = &refused.status;
    let ready = condition(status, READY);
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "NodeWatchForbidden")
    );
    assert!(ready
        .message
        .starts_with("nodes is forbidden; hosts and summary are from"));
    let resolved = condition(status, NODES_RESOLVED);
    assert_eq!(
        (resolved.status.as_str(), resolved.reason.as_str()),
        ("Unknown", "NodeWatchForbidden")
    );
    assert_eq!(status.hosts, polled.hosts);
    assert_eq!(status.nodes, polled.nodes, "last known Node counts kept");
    assert_eq!(condition(status, CREDENTIALS_VALID).reason, "Accepted");
    // While the first Node list is under way, a first status says so.
    let first = run_for(
        &Targets::unknown_nodes("nodes".into()),
        None,
        PollOutcome::Pending,
        0,
    );
    let resolved = condition(&first.status, NODES_RESOLVED);
    assert_eq!(
        (resolved.status.as_str(), resolved.reason.as_str()),
        ("Unknown", "Pending")
    );
    assert_eq!(first.status.source.as_deref(), Some("nodes"));
}

#[test]
fn a_list_watch_has_no_node_fields_and_no_nodes_condition() {
    let s = spec(&["a"]);
    let update = run(&s, 1, None, success(&[("a", healthy())], &[], "r1"), 0);
    assert_eq!(update.status.source.as_deref(), Some("hostIds"));
    assert!(update.status.nodes.is_none() && update.status.unresolved_nodes.is_empty());
    assert!(!update
        .status
        .conditions
        .iter()
        .any(|c| c.type_ == NODES_RESOLVED));
    assert_eq!(update.status.hosts[0].node_name, None);
}

#[test]
fn a_node_leaving_drops_its_host_at_once_without_a_poll_and_recounts_the_summary() {
    let both = targets(&[("w-1", "id-1"), ("w-2", "id-2")], 2, &[]);
    let risky = risk(
        AgentStatus::Online,
        ProtectStatus::Opened,
        DetectResult::Risk,
    );
    let polled = run_for(
        &both,
        None,
        success(&[("id-1", healthy()), ("id-2", risky)], &[], "r1"),
        0,
    )
    .status;
    assert_eq!(polled.summary.as_ref().map(|s| s.detect_risk), Some(1));
    let left = targets(&[("w-1", "id-1")], 1, &[]);
    let update = run_for(&left, Some(&polled), PollOutcome::Pending, 1);
    assert!(update.needs_write);
    assert_eq!(node_names(&update.status), vec![("id-1", Some("w-1"))]);
    let summary = update.status.summary.as_ref().expect("summary");
    assert_eq!((summary.hosts_requested, summary.detect_risk), (1, 0));
    assert_eq!(update.status.last_sync_time, polled.last_sync_time);
    // A failed poll meanwhile keeps the data of the Nodes still there, not of those gone.
    let failed = run_for(&left, Some(&polled), throttled("r2"), 2);
    assert_eq!(node_names(&failed.status), vec![("id-1", Some("w-1"))]);
    // Unknown Nodes (the Node watch refused): the hosts stay as they were.
    let unknown = run_for(
        &Targets::unknown_nodes("nodes".into()),
        Some(&polled),
        PollOutcome::NodesUnavailable {
            reason: Reason::NodeWatchForbidden,
            message: "forbidden".into(),
        },
        3,
    );
    assert_eq!(unknown.status.hosts.len(), 2);
}
