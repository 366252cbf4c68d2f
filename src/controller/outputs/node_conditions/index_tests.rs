use std::time::Duration;

use super::*;
use crate::crd::status::HostRiskWatchStatus;
use crate::hss::model::{AgentStatus, DetectResult, HostRisk, ProtectStatus};
use crate::nodes::conditions::{NodeConditionType, ObservedConditions};
use crate::status::conditions::ConditionStatus;
use crate::status::record::HostData;
use crate::status::HostRecord;

const HEARTBEAT: Duration = Duration::from_secs(1800);

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + second).expect("time")
}

fn record(id: &str, agent: AgentStatus) -> HostRecord {
    let risk = HostRisk {
        host_id: Some(id.into()),
        agent_status: Some(agent),
        protect_status: Some(ProtectStatus::Opened),
        detect_result: Some(DetectResult::Clean),
        ..HostRisk::default()
    };
    HostRecord::new(id.into(), HostData::of(Some(&risk)))
}

/// A watch covering `nodes` (name, host id), with records for the hosts in `answered`.
fn coverage(
    name: &str,
    nodes: &[(&str, &str)],
    answered: &[(&str, AgentStatus)],
    fetched: i64,
) -> Coverage {
    let status = Arc::new(WatchStatus::new(
        HostRiskWatchStatus::default(),
        answered
            .iter()
            .map(|(id, agent)| record(id, agent.clone()))
            .collect(),
    ));
    let nodes = nodes
        .iter()
        .map(|(node, host)| Covered {
            node: (*node).into(),
            host: (*host).into(),
            record: answered
                .iter()
                .position(|(id, _)| id == host)
                .map(|i| i as u32),
        })
        .collect();
    Coverage {
        key: WatchKey::new("security", name),
        uid: Some(format!("uid-{name}")),
        status,
        fetched: Some(at(fetched)),
        nodes: Some(nodes),
    }
}

fn listed(index: &mut PostureIndex) {
    index.list_started();
    index.list_done();
}

/// Node -> (AgentOffline status, message) of the Apply jobs.
fn applied(jobs: &[ConditionJob]) -> Vec<(String, ConditionStatus, String)> {
    jobs.iter()
        .filter_map(|job| match job {
            ConditionJob::Apply(node, conditions) => Some((
                node.to_string(),
                conditions[0].status,
                conditions[0].message.clone(),
            )),
            ConditionJob::Remove(_) => None,
        })
        .collect()
}

/// Applies the jobs' writes as the API server would answer them.
fn write(index: &mut PostureIndex, jobs: &[ConditionJob], version: &str) {
    for job in jobs {
        match job {
            ConditionJob::Apply(node, conditions) => index.written(
                node,
                Some(version.into()),
                NodeMarks {
                    conditions: ObservedConditions::written(&conditions[..]),
                    ..NodeMarks::default()
                },
            ),
            ConditionJob::Remove(node) => {
                index.written(node, Some(version.into()), NodeMarks::default())
            }
        }
    }
}

#[test]
fn a_watch_sets_its_nodes_conditions_once_and_then_writes_nothing() {
    let mut index = PostureIndex::default();
    listed(&mut index);
    index.drive(coverage(
        "workers",
        &[("n1", "h1"), ("n2", "h2")],
        &[("h1", AgentStatus::Offline)],
        0,
    ));
    let jobs = index.condition_jobs(at(1), HEARTBEAT, false);
    let got = applied(&jobs);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].1, ConditionStatus::True);
    assert!(got[0].2.contains("HostRiskWatch security/workers, host h1"));
    assert_eq!(got[1].1, ConditionStatus::Unknown, "no answer for h2 yet");
    write(&mut index, &jobs, "10");
    // The same view again (an idle reconcile), and a new poll with the same data.
    index.drive(coverage(
        "workers",
        &[("n1", "h1"), ("n2", "h2")],
        &[("h1", AgentStatus::Offline)],
        60,
    ));
    assert!(index.condition_jobs(at(61), HEARTBEAT, false).is_empty());
    assert_eq!(
        index.source_of("n1").map(|(k, _)| k.name.as_str()),
        Some("workers")
    );
}

#[test]
fn a_node_covered_twice_shows_the_newest_data_and_names_its_watch() {
    let mut index = PostureIndex::default();
    listed(&mut index);
    index.drive(coverage(
        "old",
        &[("n1", "h1")],
        &[("h1", AgentStatus::Offline)],
        0,
    ));
    index.drive(coverage(
        "new",
        &[("n1", "h1")],
        &[("h1", AgentStatus::Online)],
        30,
    ));
    let jobs = index.condition_jobs(at(31), HEARTBEAT, false);
    let got = applied(&jobs);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, ConditionStatus::False);
    assert!(
        got[0].2.contains("HostRiskWatch security/new"),
        "{}",
        got[0].2
    );
    write(&mut index, &jobs, "5");
    // The other watch polls later: its data is now the newest.
    index.drive(coverage(
        "old",
        &[("n1", "h1")],
        &[("h1", AgentStatus::Offline)],
        90,
    ));
    let got = applied(&index.condition_jobs(at(91), HEARTBEAT, false));
    assert_eq!(got[0].1, ConditionStatus::True);
    assert!(got[0].2.contains("HostRiskWatch security/old"));
}

#[test]
fn a_node_no_watch_covers_loses_the_conditions_once_cleanup_is_allowed() {
    let mut index = PostureIndex::default();
    listed(&mut index);
    index.drive(coverage(
        "w",
        &[("n1", "h1")],
        &[("h1", AgentStatus::Online)],
        0,
    ));
    let jobs = index.condition_jobs(at(1), HEARTBEAT, false);
    write(&mut index, &jobs, "2");
    index.release(&WatchKey::new("security", "w"));
    assert!(
        index.condition_jobs(at(2), HEARTBEAT, false).is_empty(),
        "held until the watches had their say"
    );
    assert_eq!(
        index.condition_jobs(at(3), HEARTBEAT, true),
        [ConditionJob::Remove("n1".into())]
    );
    index.written(&"n1".into(), Some("3".into()), NodeMarks::default());
    index.seen("n1".into(), Some("3"), NodeMarks::default());
    index.prune();
    assert_eq!(
        index.sizes(),
        (0, 0),
        "nothing kept for a Node nothing covers"
    );
}

#[test]
fn leftovers_from_an_earlier_run_are_seen_by_the_list_and_removed() {
    let mut index = PostureIndex::default();
    let leftover = NodeMarks {
        conditions: ObservedConditions::of([crate::nodes::conditions::SeenCondition {
            type_: NodeConditionType::AtRisk,
            status: "True",
            reason: "RisksFound",
            message: "m",
            last_transition: Some(at(0)),
            last_heartbeat: Some(at(0)),
        }]),
        ..NodeMarks::default()
    };
    index.list_started();
    index.seen("old".into(), Some("7"), leftover);
    index.seen("plain".into(), Some("8"), NodeMarks::default());
    index.list_done();
    assert!(index.is_listed());
    assert_eq!(
        index.condition_jobs(at(1), HEARTBEAT, true),
        [ConditionJob::Remove("old".into())]
    );
    assert_eq!(index.sizes().0, 1, "a blank Node is not kept");
}

#[test]
fn events_older_than_the_operators_write_are_ignored_and_others_writers_changes_seen() {
    let mut index = PostureIndex::default();
    listed(&mut index);
    index.drive(coverage(
        "w",
        &[("n1", "h1")],
        &[("h1", AgentStatus::Online)],
        0,
    ));
    let jobs = index.condition_jobs(at(1), HEARTBEAT, false);
    write(&mut index, &jobs, "20");
    // An event from before the write (the kubelet's): ignored, nothing to write.
    index.seen("n1".into(), Some("19"), NodeMarks::default());
    assert!(index.condition_jobs(at(2), HEARTBEAT, false).is_empty());
    // The write's own event, then someone deletes the conditions: written again.
    let ours = match &jobs[0] {
        ConditionJob::Apply(_, c) => ObservedConditions::written(&c[..]),
        ConditionJob::Remove(_) => unreachable!(),
    };
    index.seen(
        "n1".into(),
        Some("20"),
        NodeMarks {
            conditions: ours,
            ..NodeMarks::default()
        },
    );
    index.seen("n1".into(), Some("21"), NodeMarks::default());
    assert_eq!(
        applied(&index.condition_jobs(at(3), HEARTBEAT, false)).len(),
        1
    );
}

#[test]
fn taint_candidates_cover_the_covered_and_the_tainted_nodes() {
    let mut index = PostureIndex::default();
    listed(&mut index);
    index.drive(coverage(
        "w",
        &[("n1", "h1")],
        &[("h1", AgentStatus::Online)],
        0,
    ));
    let mut tainted = NodeMarks::default();
    tainted.ours[0] = crate::nodes::marks::SeenEffect::Is(TaintEffect::NoSchedule);
    index.seen("gone".into(), Some("1"), tainted);
    let candidates = index.taint_candidates(TaintEffect::PreferNoSchedule, false);
    let summary: Vec<(String, bool, ProblemSet, ProblemSet)> = candidates
        .iter()
        .map(|c| (c.node.to_string(), c.covered, c.ours, c.stale))
        .collect();
    let unprotected = ProblemSet::of([Problem::Unprotected]);
    assert_eq!(
        summary,
        [
            ("gone".to_string(), false, unprotected, unprotected),
            ("n1".to_string(), true, ProblemSet::EMPTY, ProblemSet::EMPTY),
        ]
    );
    index.set_dry_run(&"n1".into(), unprotected);
    let dry = index.taint_candidates(TaintEffect::PreferNoSchedule, true);
    assert_eq!(dry[1].ours, unprotected);
    assert_eq!(
        dry[0].ours,
        ProblemSet::EMPTY,
        "a dry run ignores real taints"
    );
}
