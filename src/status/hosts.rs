//! Per-host status entries from an HSS answer.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::targets::HostTarget;
use crate::crd::schema::STATUS_VALUE_MAX_LEN;
use crate::crd::status::{HostRiskWatchStatus, HostStatus, StatusValue};
use crate::hss::model::{
    AgentStatus, DetectResult, HostRisk, HostsRiskResult, HssEdition, InstallResultCode, OpenEnum,
    ProtectStatus,
};

/// Keeps at most [`STATUS_VALUE_MAX_LEN`] characters of a value the service sent.
fn bounded(value: &str) -> String {
    value.chars().take(STATUS_VALUE_MAX_LEN).collect()
}

/// A status value: borrowed when the value is one this build knows (no allocation), else a
/// bounded copy.
fn value<T: OpenEnum>(field: &Option<T>) -> Option<StatusValue> {
    let field = field.as_ref()?;
    Some(match field.known_str() {
        Some(wire) => Cow::Borrowed(wire),
        None => Cow::Owned(bounded(field.as_str())),
    })
}

/// Every value of the HSS vocabularies this build knows.
fn vocabulary() -> impl Iterator<Item = &'static str> {
    [
        AgentStatus::KNOWN,
        InstallResultCode::KNOWN,
        HssEdition::KNOWN,
        ProtectStatus::KNOWN,
        DetectResult::KNOWN,
    ]
    .into_iter()
    .flatten()
    .copied()
}

/// `text` as a status value, borrowing the vocabulary's copy when it has one.
pub fn status_value(text: &str) -> StatusValue {
    match vocabulary().find(|known| *known == text) {
        Some(wire) => Cow::Borrowed(wire),
        None => Cow::Owned(text.to_string()),
    }
}

/// Makes the host values of a status read from the API (each an owned copy) borrow the
/// vocabulary where they can, so a status kept in memory costs what a computed one does.
pub fn share_vocabulary(status: &mut HostRiskWatchStatus) {
    for host in &mut status.hosts {
        for field in [
            &mut host.agent_status,
            &mut host.install_result_code,
            &mut host.version,
            &mut host.protect_status,
            &mut host.detect_result,
        ] {
            if let Some(Cow::Owned(text)) = field {
                *field = Some(status_value(text));
            }
        }
    }
    status.hosts.shrink_to_fit();
}

fn count(value: Option<u64>) -> Option<i64> {
    value.map(|v| i64::try_from(v).unwrap_or(i64::MAX))
}

/// The status entry of a host HSS returned (without `lastChangeTime`).
pub fn from_risk(host_id: &str, risk: &HostRisk) -> HostStatus {
    HostStatus {
        host_id: host_id.to_string(),
        node_name: None,
        found: true,
        agent_status: value(&risk.agent_status),
        install_result_code: value(&risk.install_result_code),
        version: value(&risk.version),
        protect_status: value(&risk.protect_status),
        detect_result: value(&risk.detect_result),
        asset: count(risk.asset),
        vulnerability: count(risk.vulnerability),
        baseline: count(risk.baseline),
        intrusion: count(risk.intrusion),
        last_change_time: None,
    }
}

/// The status entry of a requested host HSS did not return.
pub fn not_found(host_id: &str) -> HostStatus {
    HostStatus {
        host_id: host_id.to_string(),
        found: false,
        ..HostStatus::default()
    }
}

/// True when two entries carry the same host data (everything but `lastChangeTime` and
/// `nodeName`).
pub fn same_data(a: &HostStatus, b: &HostStatus) -> bool {
    HostStatus {
        last_change_time: None,
        node_name: None,
        ..a.clone()
    } == HostStatus {
        last_change_time: None,
        node_name: None,
        ..b.clone()
    }
}

/// Entries for `targets` (in their order, repeats skipped so the list-map keys stay unique)
/// from `result`, each with its target's Node name. An id missing from the answer is
/// `found: false` whether or not the client listed it in `not_found`. `lastChangeTime` is the
/// previous one when the host's data is unchanged, `now` when it changed or the host is new to
/// the list (a Node name alone is not host data: it never moves `lastChangeTime`).
pub fn rebuild_hosts(
    targets: &[HostTarget],
    result: &HostsRiskResult,
    previous: &[HostStatus],
    now: &Time,
) -> Vec<HostStatus> {
    let previous_by_id: HashMap<&str, &HostStatus> =
        previous.iter().map(|h| (h.host_id.as_str(), h)).collect();
    let mut seen = BTreeSet::new();
    // Sized up front: kept for the object's lifetime, so no growth slack.
    let mut hosts = Vec::with_capacity(targets.len());
    hosts.extend(
        targets
            .iter()
            .filter(|target| seen.insert(target.host_id.as_str()))
            .map(|target| {
                let id = &target.host_id;
                let mut entry = match result.hosts.get(id) {
                    Some(risk) => from_risk(id, risk),
                    None => not_found(id),
                };
                entry.node_name = target.node_name.clone();
                entry.last_change_time = match previous_by_id.get(id.as_str()) {
                    Some(old) if same_data(old, &entry) && old.last_change_time.is_some() => {
                        old.last_change_time.clone()
                    }
                    _ => Some(now.clone()),
                };
                entry
            }),
    );
    hosts.shrink_to_fit();
    hosts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hss::model::{AgentStatus, DetectResult, ProtectStatus};
    use jiff::Timestamp;

    fn at(second: i64) -> Time {
        Time(Timestamp::from_second(second).expect("valid"))
    }

    fn risk(detect: DetectResult) -> HostRisk {
        HostRisk {
            host_id: Some("ignored".into()),
            agent_status: Some(AgentStatus::Online),
            protect_status: Some(ProtectStatus::Opened),
            detect_result: Some(detect),
            vulnerability: Some(3),
            ..HostRisk::default()
        }
    }

    fn result(entries: &[(&str, HostRisk)], missing: &[&str]) -> HostsRiskResult {
        HostsRiskResult {
            hosts: entries
                .iter()
                .map(|(id, r)| (id.to_string(), r.clone()))
                .collect(),
            not_found: missing.iter().map(|s| s.to_string()).collect(),
            request_ids: vec!["r1".into()],
        }
    }

    fn ids(list: &[&str]) -> Vec<HostTarget> {
        list.iter()
            .map(|s| HostTarget {
                host_id: s.to_string(),
                node_name: None,
            })
            .collect()
    }

    #[test]
    fn spec_order_found_flags_and_dedup() {
        let r = result(&[("b", risk(DetectResult::Clean))], &["a"]);
        let hosts = rebuild_hosts(&ids(&["b", "a", "c", "b"]), &r, &[], &at(5));
        let summary: Vec<_> = hosts
            .iter()
            .map(|h| (h.host_id.as_str(), h.found))
            .collect();
        assert_eq!(summary, vec![("b", true), ("a", false), ("c", false)]);
        assert_eq!(hosts[0].detect_result.as_deref(), Some("clean"));
        assert_eq!(hosts[0].vulnerability, Some(3));
        assert!(hosts.iter().all(|h| h.last_change_time == Some(at(5))));
    }

    #[test]
    fn last_change_time_kept_when_data_unchanged() {
        let r1 = result(
            &[
                ("a", risk(DetectResult::Clean)),
                ("b", risk(DetectResult::Clean)),
            ],
            &[],
        );
        let first = rebuild_hosts(&ids(&["a", "b"]), &r1, &[], &at(10));
        let r2 = result(
            &[
                ("a", risk(DetectResult::Clean)),
                ("b", risk(DetectResult::Risk)),
            ],
            &[],
        );
        let second = rebuild_hosts(&ids(&["a", "b"]), &r2, &first, &at(20));
        assert_eq!(second[0].last_change_time, Some(at(10)));
        assert_eq!(second[1].last_change_time, Some(at(20)));
    }

    #[test]
    fn node_names_come_from_the_targets_and_do_not_count_as_a_data_change() {
        let r = result(&[("a", risk(DetectResult::Clean))], &["b"]);
        let named = |node: &str| {
            vec![
                HostTarget {
                    host_id: "a".into(),
                    node_name: Some(node.into()),
                },
                HostTarget {
                    host_id: "b".into(),
                    node_name: Some("node-b".into()),
                },
            ]
        };
        let first = rebuild_hosts(&named("node-a"), &r, &[], &at(10));
        assert_eq!(first[0].node_name.as_deref(), Some("node-a"));
        assert_eq!(first[1].node_name.as_deref(), Some("node-b"));
        let second = rebuild_hosts(&named("node-a2"), &r, &first, &at(20));
        assert_eq!(second[0].node_name.as_deref(), Some("node-a2"));
        assert_eq!(second[0].last_change_time, Some(at(10)));
    }

    #[test]
    fn known_values_borrow_the_vocabulary_and_read_back_values_are_shared_again() {
        let entry = from_risk("h", &risk(DetectResult::Clean));
        assert!(matches!(entry.detect_result, Some(Cow::Borrowed("clean"))));
        assert!(matches!(entry.agent_status, Some(Cow::Borrowed("online"))));
        let mut status = HostRiskWatchStatus {
            hosts: vec![HostStatus {
                host_id: "h".into(),
                found: true,
                agent_status: Some(Cow::Owned("offline".into())),
                version: Some(Cow::Owned("hss.version.premium".into())),
                detect_result: Some(Cow::Owned("quarantined".into())),
                ..HostStatus::default()
            }],
            ..HostRiskWatchStatus::default()
        };
        let before = status.clone();
        share_vocabulary(&mut status);
        assert_eq!(status, before, "same values");
        let host = &status.hosts[0];
        assert!(matches!(host.agent_status, Some(Cow::Borrowed("offline"))));
        assert!(matches!(
            host.version,
            Some(Cow::Borrowed("hss.version.premium"))
        ));
        assert!(
            matches!(host.detect_result, Some(Cow::Owned(_))),
            "unknown stays owned"
        );
    }

    #[test]
    fn unknown_values_are_kept_and_long_ones_cut() {
        let mut r = risk(DetectResult::Other("quarantined".into()));
        r.agent_status = Some(AgentStatus::Other("x".repeat(100)));
        r.asset = Some(u64::MAX);
        let entry = from_risk("h", &r);
        assert_eq!(entry.detect_result.as_deref(), Some("quarantined"));
        assert_eq!(entry.agent_status.map(|s| s.len()), Some(64));
        assert_eq!(entry.asset, Some(i64::MAX));
    }
}
