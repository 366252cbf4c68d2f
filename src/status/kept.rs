//! The status the controller remembers for each watch, kept compact: at 1,000 watches × 100
//! hosts the operator holds 100,000 host entries, and a [`HostStatus`] with its strings and
//! `Option` padding costs several times what the same information does as one-byte codes
//! ([`CompactRisk`]), the change time as seconds, and the watch's ids in one string. The full
//! status is rebuilt only for the moment a reconcile computes from it, and rebuilds exactly (the
//! round trip is tested below; Kubernetes keeps times to the second, and so does this). The
//! Node names of a node-backed watch's hosts sit in a table of their own, empty for a list.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::compact::CompactRisk;
use super::hosts::{from_risk, not_found};
use crate::crd::status::{HostRiskWatchStatus, HostStatus};
use crate::hss::model::{
    AgentStatus, DetectResult, HostRisk, HssEdition, InstallResultCode, OpenEnum, ProtectStatus,
};

/// `KeptHost::last_change` of an entry without `lastChangeTime`.
const NEVER: i64 = i64::MIN;

/// One host entry of a kept status (its id is in `KeptStatus::ids`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct KeptHost {
    /// [`CompactRisk::not_found`]: HSS did not return the id (`found: false`).
    risk: CompactRisk,
    /// Unix seconds of `lastChangeTime`, or [`NEVER`].
    last_change: i64,
}

/// A [`HostRiskWatchStatus`] as the controller keeps it between reconciles.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptStatus {
    /// Everything but the host list (conditions, summary, times, request ids).
    head: HostRiskWatchStatus,
    /// Every host id, one after the other; host `i` ends at `ends[i]`.
    ids: Box<str>,
    ends: Box<[u32]>,
    hosts: Box<[KeptHost]>,
    /// `nodeName` of host `i` (node-backed watches); empty when no host has one, so a watch of
    /// listed ids pays nothing per host for it.
    nodes: Box<[Option<Box<str>>]>,
}

impl KeptStatus {
    pub fn new(status: &HostRiskWatchStatus) -> Self {
        let head = HostRiskWatchStatus {
            hosts: Vec::new(),
            ..status.clone()
        };
        let mut ids = String::with_capacity(status.hosts.iter().map(|h| h.host_id.len()).sum());
        let mut ends = Vec::with_capacity(status.hosts.len());
        let mut hosts = Vec::with_capacity(status.hosts.len());
        for host in &status.hosts {
            ids.push_str(&host.host_id);
            ends.push(u32::try_from(ids.len()).unwrap_or(u32::MAX));
            hosts.push(KeptHost {
                risk: match host.found {
                    true => CompactRisk::new(&risk_of(host)),
                    false => CompactRisk::not_found(),
                },
                last_change: host
                    .last_change_time
                    .as_ref()
                    .map_or(NEVER, |time| time.0.as_second()),
            });
        }
        let nodes = if status.hosts.iter().any(|h| h.node_name.is_some()) {
            status
                .hosts
                .iter()
                .map(|h| h.node_name.as_deref().map(Into::into))
                .collect()
        } else {
            Box::default()
        };
        Self {
            head,
            ids: ids.into_boxed_str(),
            ends: ends.into_boxed_slice(),
            hosts: hosts.into_boxed_slice(),
            nodes,
        }
    }

    /// The id of host `i`.
    fn id(&self, i: usize) -> &str {
        let start = match i {
            0 => 0,
            _ => self.ends[i - 1] as usize,
        };
        self.ids
            .get(start..self.ends[i] as usize)
            .unwrap_or_default()
    }

    /// The full status again.
    pub fn to_status(&self) -> HostRiskWatchStatus {
        let hosts = self
            .hosts
            .iter()
            .enumerate()
            .map(|(i, host)| {
                let id = self.id(i);
                let mut entry = match host.risk.found(id) {
                    Some(risk) => from_risk(id, &risk),
                    None => not_found(id),
                };
                entry.node_name = self
                    .nodes
                    .get(i)
                    .and_then(|node| node.as_deref())
                    .map(str::to_string);
                entry.last_change_time = (host.last_change != NEVER)
                    .then(|| Timestamp::from_second(host.last_change).ok())
                    .flatten()
                    .map(Time);
                entry
            })
            .collect();
        HostRiskWatchStatus {
            hosts,
            ..self.head.clone()
        }
    }

    /// `status.observedGeneration`.
    pub fn observed_generation(&self) -> Option<i64> {
        self.head.observed_generation
    }
}

/// The HSS answer a status entry was made from (its values were bounded when it was made, so
/// they map back to themselves).
fn risk_of(host: &HostStatus) -> HostRisk {
    fn open<T: OpenEnum>(value: &Option<std::borrow::Cow<'static, str>>) -> Option<T> {
        value.as_deref().map(T::from_wire)
    }
    let count = |value: Option<i64>| value.map(|v| u64::try_from(v).unwrap_or(0));
    HostRisk {
        host_id: Some(host.host_id.clone()),
        agent_status: open::<AgentStatus>(&host.agent_status),
        install_result_code: open::<InstallResultCode>(&host.install_result_code),
        version: open::<HssEdition>(&host.version),
        protect_status: open::<ProtectStatus>(&host.protect_status),
        detect_result: open::<DetectResult>(&host.detect_result),
        asset: count(host.asset),
        vulnerability: count(host.vulnerability),
        baseline: count(host.baseline),
        intrusion: count(host.intrusion),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::status::{HostRiskSummary, NodeSummary, UnresolvedNode};
    use crate::status::hosts::status_value;

    fn time(seconds: i64) -> Time {
        Time(Timestamp::from_second(seconds).expect("timestamp"))
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
                    agent_status: Some(status_value("online")),
                    install_result_code: Some(status_value("install_succeed")),
                    version: Some(status_value("hss.version.enterprise")),
                    protect_status: Some(status_value("opened")),
                    detect_result: Some(status_value("risk")),
                    asset: Some(12),
                    vulnerability: Some(i64::MAX),
                    baseline: Some(0),
                    intrusion: None,
                    last_change_time: Some(time(1_700_000_000)),
                },
                HostStatus {
                    host_id: "odd-1".into(),
                    found: true,
                    agent_status: Some(status_value("hibernating")),
                    detect_result: Some(status_value("")),
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
    fn a_kept_status_rebuilds_exactly() {
        let original = status();
        let kept = KeptStatus::new(&original);
        assert_eq!(kept.to_status(), original);
        assert_eq!(kept.observed_generation(), Some(3));
        // Node names on some hosts and not others (a host kept from before its Node was
        // known), so a compact form that forgot or shifted them fails above.
        assert!(original.hosts.iter().any(|h| h.node_name.is_some()));
        assert!(original.hosts.iter().any(|h| h.node_name.is_none()));
        // A list watch's hosts have no Node: no table for them.
        let mut listed = original.clone();
        listed.hosts.iter_mut().for_each(|h| h.node_name = None);
        let kept = KeptStatus::new(&listed);
        assert!(kept.nodes.is_empty());
        assert_eq!(kept.to_status(), listed);
        let empty = HostRiskWatchStatus::default();
        assert_eq!(KeptStatus::new(&empty).to_status(), empty);
    }

    #[test]
    fn a_kept_host_is_much_smaller_than_a_status_entry() {
        assert!(
            std::mem::size_of::<KeptHost>() * 5 < std::mem::size_of::<HostStatus>(),
            "{} vs {}",
            std::mem::size_of::<KeptHost>(),
            std::mem::size_of::<HostStatus>()
        );
    }
}
