//! A watch's host records after a poll answered.

use std::collections::{BTreeSet, HashMap};

use jiff::Timestamp;

use super::record::{HostData, HostId, HostRecord};
use super::targets::HostTarget;

/// What a poll answered for a watch: one record per id it asked (found or not), ids shared
/// with the poller's table, and the request ids of the calls that answered, in call order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollAnswer {
    pub hosts: Vec<HostRecord>,
    pub request_ids: Vec<String>,
}

/// Records for `targets` (in their order, repeats skipped so the list-map keys stay unique)
/// from `answer`, each with its target's Node name. An id missing from the answer is not found.
/// The change time is the previous one when the host's data is unchanged, `now` when it changed
/// or the host is new to the list (a Node name alone is not host data: it never moves it).
pub fn rebuild_hosts(
    targets: &[HostTarget],
    answer: &PollAnswer,
    previous: &[HostRecord],
    now: Timestamp,
) -> Vec<HostRecord> {
    let answered: HashMap<&str, &HostRecord> = answer.hosts.iter().map(|h| (&*h.id, h)).collect();
    let previous_by_id: HashMap<&str, &HostRecord> = previous.iter().map(|h| (&*h.id, h)).collect();
    let mut seen = BTreeSet::new();
    // Sized up front: kept for the object's lifetime, so no growth slack.
    let mut hosts = Vec::with_capacity(targets.len());
    hosts.extend(
        targets
            .iter()
            .filter(|target| seen.insert(&*target.host_id))
            .map(|target| {
                let (id, data) = match answered.get(&*target.host_id) {
                    Some(record) => (HostId::clone(&record.id), record.data.clone()),
                    None => (target.host_id.clone(), HostData::not_found()),
                };
                let mut record = HostRecord::new(id, data);
                record.node = target.node_name.clone();
                let unchanged = previous_by_id
                    .get(&*target.host_id)
                    .filter(|old| old.data == record.data)
                    .and_then(|old| old.last_change());
                record.set_last_change(Some(unchanged.unwrap_or(now)));
                record
            }),
    );
    hosts.shrink_to_fit();
    hosts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hss::model::{AgentStatus, DetectResult, HostRisk, ProtectStatus};
    use crate::status::record::Text;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).expect("valid")
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

    fn answer(entries: &[(&str, HostRisk)], missing: &[&str]) -> PollAnswer {
        let found = entries
            .iter()
            .map(|(id, r)| HostRecord::new((*id).into(), HostData::from_risk(r)));
        let gone = missing
            .iter()
            .map(|id| HostRecord::new((*id).into(), HostData::not_found()));
        PollAnswer {
            hosts: found.chain(gone).collect(),
            request_ids: vec!["r1".into()],
        }
    }

    fn ids(list: &[&str]) -> Vec<HostTarget> {
        list.iter()
            .map(|s| HostTarget {
                host_id: (*s).into(),
                node_name: None,
            })
            .collect()
    }

    #[test]
    fn spec_order_found_flags_and_dedup() {
        let r = answer(&[("b", risk(DetectResult::Clean))], &["a"]);
        let hosts = rebuild_hosts(&ids(&["b", "a", "c", "b"]), &r, &[], at(5));
        let summary: Vec<_> = hosts.iter().map(|h| (&*h.id, h.data.is_found())).collect();
        assert_eq!(summary, vec![("b", true), ("a", false), ("c", false)]);
        assert_eq!(hosts[0].data.text(Text::Detection), Some("clean"));
        assert!(hosts.iter().all(|h| h.last_change() == Some(at(5))));
        // The answer's id is the one kept: shared with the poller's table.
        assert!(HostId::ptr_eq(&hosts[0].id, &r.hosts[0].id));
    }

    #[test]
    fn change_time_moves_only_with_the_data() {
        let first = rebuild_hosts(
            &ids(&["a", "b"]),
            &answer(
                &[
                    ("a", risk(DetectResult::Clean)),
                    ("b", risk(DetectResult::Clean)),
                ],
                &[],
            ),
            &[],
            at(1),
        );
        let mut named = ids(&["a", "b"]);
        named[0].node_name = Some("worker-1".into());
        let second = rebuild_hosts(
            &named,
            &answer(
                &[
                    ("a", risk(DetectResult::Clean)),
                    ("b", risk(DetectResult::Risk)),
                ],
                &[],
            ),
            &first,
            at(2),
        );
        assert_eq!(
            second[0].last_change(),
            Some(at(1)),
            "a Node name is no change"
        );
        assert_eq!(second[0].node.as_deref(), Some("worker-1"));
        assert_eq!(second[1].last_change(), Some(at(2)));
    }
}
