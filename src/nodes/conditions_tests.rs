use std::time::Duration;

use jiff::Timestamp;

use super::*;
use crate::hss::model::{AgentStatus, DetectResult, HostRisk, HssEdition, ProtectStatus};
use crate::status::record::HostData;
use ConditionStatus::{False, True, Unknown};

fn watch() -> WatchKey {
    WatchKey::new("security", "workers")
}

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + second).expect("time")
}

fn host<'a>(agent: &'a str, protect: &'a str, detect: &'a str) -> HostValues<'a> {
    HostValues {
        host_id: "h-1",
        found: true,
        agent_status: Some(agent),
        install_result_code: Some("install_succeed"),
        version: Some("hss.version.enterprise"),
        protect_status: Some(protect),
        detect_result: Some(detect),
        vulnerability: Some(3),
        baseline: Some(2),
        intrusion: Some(1),
        asset: Some(40),
    }
}

/// `(status, reason)` of the three types, in order.
fn summary(conditions: &[DesiredNodeCondition; 3]) -> [(ConditionStatus, &'static str); 3] {
    conditions.clone().map(|c| (c.status, c.reason.as_str()))
}

#[test]
fn each_hss_state_gives_its_conditions() {
    let cases: &[(HostValues, [(ConditionStatus, &str); 3])] = &[
        (
            host("online", "opened", "clean"),
            [
                (False, "AgentOnline"),
                (False, "ProtectionOpened"),
                (False, "NoRisksFound"),
            ],
        ),
        (
            host("offline", "opened", "risk"),
            [
                (True, "AgentOffline"),
                (False, "ProtectionOpened"),
                (True, "RisksFound"),
            ],
        ),
        (
            host("not_installed", "closed", "undetected"),
            [
                (True, "AgentNotInstalled"),
                (True, "ProtectionClosed"),
                (Unknown, "NotScanned"),
            ],
        ),
        (
            host("install_failed", "closed", "undetected"),
            [
                (True, "AgentInstallFailed"),
                (True, "ProtectionClosed"),
                (Unknown, "NotScanned"),
            ],
        ),
        (
            host("installing", "paused", "scanning"),
            [
                (Unknown, "AgentInstalling"),
                (Unknown, "ProtectionStatusUnknown"),
                (Unknown, "Scanning"),
            ],
        ),
        (
            host("hibernating", "opened", "quarantined"),
            [
                (Unknown, "AgentStatusUnknown"),
                (False, "ProtectionOpened"),
                (Unknown, "DetectResultUnknown"),
            ],
        ),
    ];
    for (values, expected) in cases {
        let got = desired_conditions(&watch(), "h-1", Some(*values));
        assert_eq!(summary(&got), *expected, "{values:?}");
        let types: Vec<_> = got.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(
            types,
            [
                "HostSecurityAgentOffline",
                "HostSecurityUnprotected",
                "HostSecurityAtRisk"
            ]
        );
        for condition in &got {
            assert!(
                condition
                    .message
                    .contains("HostRiskWatch security/workers, host h-1"),
                "{}",
                condition.message
            );
            assert!(
                condition.message.contains(&format!(
                    "agent_status={}",
                    values.agent_status.unwrap_or("none")
                )),
                "{}",
                condition.message
            );
            assert!(
                condition
                    .message
                    .contains("vulnerability=3, baseline=2, intrusion=1, asset=40"),
                "{}",
                condition.message
            );
        }
    }
    let risky = desired_conditions(&watch(), "h-1", Some(host("online", "opened", "risk")));
    assert!(
        risky[2]
            .message
            .starts_with("HSS found risks: 3 vulnerabilities, 2 baseline issues, 1 intrusions"),
        "{}",
        risky[2].message
    );
}

#[test]
fn an_unknown_host_and_a_host_without_data_are_unknown_and_say_why() {
    let missing = HostValues {
        found: false,
        ..host("online", "opened", "clean")
    };
    let got = desired_conditions(&watch(), "h-1", Some(missing));
    assert_eq!(summary(&got), [(Unknown, "HostNotFound"); 3]);
    assert!(got[0].message.contains("HSS does not know host h-1"));
    assert!(got[0].message.contains("HostRiskWatch security/workers"));
    let pending = desired_conditions(&watch(), "h-2", None);
    assert_eq!(summary(&pending), [(Unknown, "NoData"); 3]);
    assert!(pending[1]
        .message
        .contains("HSS has not answered for host h-2 yet"));
}

#[test]
fn the_values_of_a_host_record_are_read_through_its_accessors() {
    let risk = HostRisk {
        host_id: Some("h-9".into()),
        agent_status: Some(AgentStatus::Offline),
        version: Some(HssEdition::Premium),
        protect_status: Some(ProtectStatus::Opened),
        detect_result: Some(DetectResult::Risk),
        vulnerability: Some(7),
        ..HostRisk::default()
    };
    let record = HostRecord::new("h-9".into(), HostData::of(Some(&risk)));
    let values = HostValues::of(&record);
    assert_eq!(values.host_id, "h-9");
    assert!(values.found);
    assert_eq!(values.agent_status, Some("offline"));
    assert_eq!(values.version, Some("hss.version.premium"));
    assert_eq!(values.vulnerability, Some(7));
    assert_eq!(values.baseline, None);
    let gone = HostRecord::new("h-0".into(), HostData::not_found());
    assert!(!HostValues::of(&gone).found);
}

const HEARTBEAT: Duration = Duration::from_secs(1800);

fn desired(agent: &str) -> [DesiredNodeCondition; 3] {
    desired_conditions(&watch(), "h-1", Some(host(agent, "opened", "clean")))
}

#[test]
fn transition_times_move_only_when_a_status_changes() {
    let first = plan_conditions(
        &desired("online"),
        &ObservedConditions::default(),
        at(0),
        Some(at(0)),
        HEARTBEAT,
    )
    .expect("a first write");
    assert!(first
        .iter()
        .all(|c| c.last_transition == at(0) && c.last_heartbeat == at(0)));
    let observed = ObservedConditions::written(&first);
    // The agent goes offline: only that type's transition time moves.
    let second = plan_conditions(
        &desired("offline"),
        &observed,
        at(60),
        Some(at(60)),
        HEARTBEAT,
    )
    .expect("a change is written");
    assert_eq!(second[0].status, True);
    assert_eq!(second[0].last_transition, at(60));
    assert_eq!(second[1].last_transition, at(0));
    assert_eq!(second[2].last_transition, at(0));
    assert!(second.iter().all(|c| c.last_heartbeat == at(60)));
    // A new message with the same status is a write, not a transition.
    let observed = ObservedConditions::written(&second);
    let mut other = desired("offline");
    other[2].message.push_str(" (rescanned)");
    let third = plan_conditions(&other, &observed, at(120), Some(at(120)), HEARTBEAT)
        .expect("a new message is written");
    assert_eq!(third[2].last_transition, at(0));
    assert_eq!(
        observed.true_since(NodeConditionType::AgentOffline),
        Some(at(60))
    );
}

#[test]
fn nothing_is_written_until_something_changes_or_the_heartbeat_is_due_with_new_data() {
    let first = plan_conditions(
        &desired("online"),
        &ObservedConditions::default(),
        at(0),
        Some(at(0)),
        HEARTBEAT,
    )
    .expect("first");
    let observed = ObservedConditions::written(&first);
    // The same data polled again within the heartbeat: nothing.
    assert_eq!(
        plan_conditions(
            &desired("online"),
            &observed,
            at(600),
            Some(at(600)),
            HEARTBEAT
        ),
        None
    );
    // The heartbeat is due, but no data arrived since the last one (HSS failing): nothing.
    assert_eq!(
        plan_conditions(
            &desired("online"),
            &observed,
            at(3600),
            Some(at(0)),
            HEARTBEAT
        ),
        None
    );
    // Due, with new data: the heartbeat alone moves.
    let refreshed = plan_conditions(
        &desired("online"),
        &observed,
        at(3600),
        Some(at(3500)),
        HEARTBEAT,
    )
    .expect("heartbeat");
    assert!(refreshed
        .iter()
        .all(|c| c.last_heartbeat == at(3600) && c.last_transition == at(0)));
}

#[test]
fn conditions_read_back_from_a_node_compare_equal_to_what_was_written() {
    let written = plan_conditions(
        &desired("offline"),
        &ObservedConditions::default(),
        at(0),
        None,
        HEARTBEAT,
    )
    .expect("first");
    let json: Vec<serde_json::Value> = written.iter().map(NodeCondition::to_json).collect();
    let read: Vec<crate::nodes::marks::SlimCondition> =
        serde_json::from_value(serde_json::Value::Array(json)).expect("decodes");
    let marks = crate::nodes::marks::NodeMarks::read(&read, &[], None);
    assert_eq!(marks.conditions, ObservedConditions::written(&written));
    assert_eq!(
        plan_conditions(
            &desired("offline"),
            &marks.conditions,
            at(5),
            None,
            HEARTBEAT
        ),
        None,
        "what the Node carries is what would be written"
    );
    // A Node missing one of the three is completed.
    let partial = ObservedConditions::written(&written[..2]);
    assert!(plan_conditions(&desired("offline"), &partial, at(5), None, HEARTBEAT).is_some());
}
