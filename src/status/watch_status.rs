//! A watch's status as the operator computes, keeps and writes it: the CRD's status without its
//! host list, plus one [`HostRecord`] per host. At 1,000 watches × 100 hosts the operator holds
//! 100,000 host entries; a `HostStatus` with its strings and `Option` padding costs several
//! times a record, so the CRD's host list is made only for the moment a status is written.

use std::collections::HashMap;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::record::{HostId, HostRecord};
use crate::crd::status::HostRiskWatchStatus;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct WatchStatus {
    /// Everything but the host list (conditions, summary, times, request ids); its `hosts`
    /// stays empty.
    head: HostRiskWatchStatus,
    /// `status.hosts`, in order.
    pub hosts: Box<[HostRecord]>,
}

impl WatchStatus {
    pub fn new(mut head: HostRiskWatchStatus, hosts: Vec<HostRecord>) -> Self {
        head.hosts = Vec::new();
        Self {
            head,
            hosts: hosts.into_boxed_slice(),
        }
    }

    /// A status read from the API. Ids equal to one `share` returns reuse it.
    pub fn from_crd(status: &HostRiskWatchStatus, share: impl Fn(&str) -> Option<HostId>) -> Self {
        let hosts = status
            .hosts
            .iter()
            .map(|host| {
                let id =
                    share(&host.host_id).unwrap_or_else(|| HostId::from(host.host_id.as_str()));
                HostRecord::from_status(host, id)
            })
            .collect();
        Self::new(
            HostRiskWatchStatus {
                hosts: Vec::new(),
                ..status.clone()
            },
            hosts,
        )
    }

    /// A status whose hosts were decoded apart (`status.hosts` of `head` is not looked at).
    /// Ids equal to one `share` returns reuse it.
    pub fn from_records(
        head: &HostRiskWatchStatus,
        mut hosts: Vec<HostRecord>,
        share: impl Fn(&str) -> Option<HostId>,
    ) -> Self {
        for host in &mut hosts {
            if let Some(shared) = share(&host.id) {
                host.id = shared;
            }
        }
        let head = HostRiskWatchStatus {
            hosts: Vec::new(),
            conditions: head.conditions.clone(),
            source: head.source.clone(),
            summary: head.summary.clone(),
            nodes: head.nodes.clone(),
            unresolved_nodes: head.unresolved_nodes.clone(),
            last_sync_time: head.last_sync_time.clone(),
            last_request_ids: head.last_request_ids.clone(),
            effective_interval: head.effective_interval.clone(),
            observed_generation: head.observed_generation,
        };
        Self::new(head, hosts)
    }

    /// The status as the CRD holds it, host list and all.
    pub fn to_crd(&self) -> HostRiskWatchStatus {
        HostRiskWatchStatus {
            hosts: self.hosts.iter().map(HostRecord::to_status).collect(),
            ..self.head.clone()
        }
    }

    /// Everything but the host list.
    pub fn head(&self) -> &HostRiskWatchStatus {
        &self.head
    }

    pub fn head_mut(&mut self) -> &mut HostRiskWatchStatus {
        &mut self.head
    }

    /// The id of each host, for sharing them with what is built from this status.
    pub fn ids(&self) -> HashMap<&str, &HostId> {
        self.hosts.iter().map(|h| (&*h.id, &h.id)).collect()
    }

    /// True when `self` and `other` differ in anything but `lastSyncTime`, `lastRequestIds`
    /// (which only ever change together with `lastSyncTime`), conditions' `lastTransitionTime`
    /// and hosts' `lastChangeTime`.
    pub fn differs_ignoring_timestamps(&self, other: &WatchStatus) -> bool {
        normalized(&self.head) != normalized(&other.head)
            || self.hosts.len() != other.hosts.len()
            || self
                .hosts
                .iter()
                .zip(other.hosts.iter())
                .any(|(a, b)| !a.same_but_change_time(b))
    }
}

fn normalized(status: &HostRiskWatchStatus) -> HostRiskWatchStatus {
    let mut status = status.clone();
    status.last_sync_time = None;
    status.last_request_ids.clear();
    for condition in &mut status.conditions {
        condition.last_transition_time = Time(Timestamp::UNIX_EPOCH);
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::status::{
        HostRiskSummary, HostStatus, NodeSummary, StatusValue, UnresolvedNode,
    };

    fn time(seconds: i64) -> Time {
        Time(Timestamp::from_second(seconds).expect("timestamp"))
    }

    fn value(text: &str) -> Option<StatusValue> {
        Some(text.to_string().into())
    }

    fn status() -> HostRiskWatchStatus {
        HostRiskWatchStatus {
            observed_generation: Some(3),
            summary: Some(HostRiskSummary {
                hosts_requested: 3,
                ..HostRiskSummary::default()
            }),
            hosts: vec![
                HostStatus {
                    host_id: "web-1".into(),
                    node_name: Some("worker-1".into()),
                    found: true,
                    agent_status: value("online"),
                    install_result_code: value("install_succeed"),
                    version: value("hss.version.enterprise"),
                    protect_status: value("opened"),
                    detect_result: value("risk"),
                    asset: Some(12),
                    vulnerability: Some(i64::MAX),
                    baseline: Some(0),
                    intrusion: None,
                    last_change_time: Some(time(1_700_000_000)),
                },
                HostStatus {
                    host_id: "odd-1".into(),
                    found: true,
                    agent_status: value("hibernating"),
                    detect_result: value(""),
                    ..HostStatus::default()
                },
                HostStatus {
                    host_id: "gone-1".into(),
                    found: false,
                    last_change_time: Some(time(1_600_000_000)),
                    ..HostStatus::default()
                },
            ],
            last_sync_time: Some(time(1_700_000_100)),
            last_request_ids: vec!["r1".into()],
            effective_interval: Some("10m".into()),
            source: Some("nodes: pool=web".into()),
            nodes: Some(NodeSummary {
                selected: 4,
                watched: 3,
                unresolved: 1,
            }),
            unresolved_nodes: vec![UnresolvedNode {
                node_name: "kind-worker".into(),
                reason: "ForeignProviderId".into(),
                message: "another cloud".into(),
            }],
            ..HostRiskWatchStatus::default()
        }
    }

    #[test]
    fn a_status_read_from_the_api_is_written_back_exactly() {
        let original = status();
        let kept = WatchStatus::from_crd(&original, |_| None);
        assert_eq!(kept.to_crd(), original);
        assert!(kept.head().hosts.is_empty());
        // Node names on some hosts and not others (a host kept from before its Node was
        // known), so a record that forgot or shifted them fails above.
        assert!(original.hosts.iter().any(|h| h.node_name.is_some()));
        assert!(original.hosts.iter().any(|h| h.node_name.is_none()));
        let empty = HostRiskWatchStatus::default();
        assert_eq!(WatchStatus::from_crd(&empty, |_| None).to_crd(), empty);
    }

    #[test]
    fn ids_are_shared_with_what_already_holds_them() {
        let shared = HostId::from("web-1");
        let kept = WatchStatus::from_crd(&status(), |id| (id == "web-1").then(|| shared.clone()));
        assert!(HostId::ptr_eq(&kept.hosts[0].id, &shared));
        assert!(kept.ids().contains_key("gone-1"));
    }

    #[test]
    fn timestamps_alone_are_no_difference() {
        let a = WatchStatus::from_crd(&status(), |_| None);
        let mut later = status();
        later.last_sync_time = Some(time(1_800_000_000));
        later.last_request_ids = vec!["r2".into()];
        later.hosts[0].last_change_time = Some(time(1_800_000_000));
        let b = WatchStatus::from_crd(&later, |_| None);
        assert!(!a.differs_ignoring_timestamps(&b));
        later.hosts[1].agent_status = value("online");
        let c = WatchStatus::from_crd(&later, |_| None);
        assert!(a.differs_ignoring_timestamps(&c));
        later.hosts.pop();
        let d = WatchStatus::from_crd(&later, |_| None);
        assert!(a.differs_ignoring_timestamps(&d));
    }
}
