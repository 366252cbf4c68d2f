//! The status the controller remembers for each watch, kept compact: at 1,000 watches × 100
//! hosts the operator holds 100,000 host entries, and a [`HostStatus`] with its strings and
//! `Option` padding costs about three times what the same information does as one-byte codes
//! ([`CompactRisk`]). The full status is rebuilt only for the moment a reconcile computes from
//! it, and rebuilds exactly (the round trip is tested below).

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::compact::CompactRisk;
use super::hosts::{from_risk, not_found};
use crate::crd::status::{HostRiskWatchStatus, HostStatus};
use crate::hss::model::{
    AgentStatus, DetectResult, HostRisk, HssEdition, InstallResultCode, OpenEnum, ProtectStatus,
};

/// One host entry of a kept status.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KeptHost {
    id: Box<str>,
    /// The Node of a node-backed watch's host.
    node: Option<Box<str>>,
    /// `None`: HSS did not return the id (`found: false`).
    risk: Option<CompactRisk>,
    last_change: Option<Timestamp>,
}

/// A [`HostRiskWatchStatus`] as the controller keeps it between reconciles.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptStatus {
    /// Everything but the host list (conditions, summary, times, request ids).
    head: HostRiskWatchStatus,
    hosts: Box<[KeptHost]>,
}

impl KeptStatus {
    pub fn new(status: &HostRiskWatchStatus) -> Self {
        let head = HostRiskWatchStatus {
            hosts: Vec::new(),
            ..status.clone()
        };
        let hosts = status
            .hosts
            .iter()
            .map(|host| KeptHost {
                id: host.host_id.as_str().into(),
                node: host.node_name.as_deref().map(Into::into),
                risk: host.found.then(|| CompactRisk::new(&risk_of(host))),
                last_change: host.last_change_time.as_ref().map(|time| time.0),
            })
            .collect();
        Self { head, hosts }
    }

    /// The full status again.
    pub fn to_status(&self) -> HostRiskWatchStatus {
        let hosts = self
            .hosts
            .iter()
            .map(|host| {
                let mut entry = match &host.risk {
                    Some(risk) => from_risk(&host.id, &risk.risk(&host.id)),
                    None => not_found(&host.id),
                };
                entry.node_name = host.node.as_deref().map(str::to_string);
                entry.last_change_time = host.last_change.map(Time);
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
        // Every field is set somewhere, so a field the compact form forgot would fail above.
        assert!(original.hosts.iter().any(|h| h.node_name.is_some()));
        assert!(original.hosts.iter().any(|h| h.node_name.is_none()));
        assert_eq!(kept.observed_generation(), Some(3));
        let empty = HostRiskWatchStatus::default();
        assert_eq!(KeptStatus::new(&empty).to_status(), empty);
    }

    #[test]
    fn a_kept_host_is_much_smaller_than_a_status_entry() {
        assert!(
            std::mem::size_of::<KeptHost>() * 2 < std::mem::size_of::<HostStatus>(),
            "{} vs {}",
            std::mem::size_of::<KeptHost>(),
            std::mem::size_of::<HostStatus>()
        );
    }
}
