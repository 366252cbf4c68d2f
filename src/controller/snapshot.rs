//! The per-watch metric snapshot of a status (`hostrisk_watch_*` gauges).

use crate::crd::{HostRiskSummary, HostStatus};
use crate::metrics::{HostSnapshot, RiskTotals, WatchSnapshot};

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}

/// The metric snapshot of a status summary (and its found hosts, for per-host series).
pub fn watch_snapshot(summary: &HostRiskSummary, hosts: &[HostStatus]) -> WatchSnapshot {
    let by = |pairs: &[(&str, i64)]| {
        pairs
            .iter()
            .map(|(label, value)| ((*label).to_string(), count(*value)))
            .collect()
    };
    let number = |v: Option<i64>| count(v.unwrap_or_default());
    WatchSnapshot {
        hosts_by_agent_status: by(&[
            ("online", summary.agent_online),
            ("offline", summary.agent_offline),
            ("not_installed", summary.agent_not_installed),
            ("other", summary.agent_other),
        ]),
        hosts_by_protect_status: by(&[
            ("opened", summary.protection_opened),
            ("closed", summary.protection_closed),
        ]),
        hosts_by_detect_result: by(&[
            ("risk", summary.detect_risk),
            ("clean", summary.detect_clean),
            ("scanning", summary.detect_scanning),
            ("undetected", summary.detect_undetected),
        ]),
        risks: RiskTotals {
            asset: count(summary.asset_total),
            vulnerability: count(summary.vulnerability_total),
            baseline: count(summary.baseline_total),
            intrusion: count(summary.intrusion_total),
        },
        hosts_requested: count(summary.hosts_requested),
        hosts_found: count(summary.hosts_found),
        hosts_not_found: count(summary.hosts_not_found),
        hosts: hosts
            .iter()
            .filter(|h| h.found)
            .map(|h| HostSnapshot {
                host_id: h.host_id.clone(),
                node: h.node_name.clone(),
                agent_status: h.agent_status.as_deref().unwrap_or_default().to_string(),
                protect_status: h.protect_status.as_deref().unwrap_or_default().to_string(),
                detect_result: h.detect_result.as_deref().unwrap_or_default().to_string(),
                risks: RiskTotals {
                    asset: number(h.asset),
                    vulnerability: number(h.vulnerability),
                    baseline: number(h.baseline),
                    intrusion: number(h.intrusion),
                },
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_mirrors_the_summary_and_lists_found_hosts_only() {
        let summary = HostRiskSummary {
            hosts_requested: 3,
            hosts_found: 2,
            hosts_not_found: 1,
            agent_online: 1,
            agent_offline: 1,
            protection_opened: 2,
            detect_risk: 1,
            detect_clean: 1,
            vulnerability_total: 5,
            ..Default::default()
        };
        let hosts = vec![
            HostStatus {
                host_id: "a".into(),
                found: true,
                agent_status: Some("online".into()),
                vulnerability: Some(5),
                ..Default::default()
            },
            HostStatus {
                host_id: "b".into(),
                found: false,
                ..Default::default()
            },
        ];
        let snapshot = watch_snapshot(&summary, &hosts);
        assert_eq!(snapshot.hosts_by_agent_status["online"], 1);
        assert_eq!(snapshot.hosts_by_agent_status["offline"], 1);
        assert_eq!(snapshot.hosts_by_protect_status["opened"], 2);
        assert_eq!(snapshot.hosts_by_detect_result["risk"], 1);
        assert_eq!(snapshot.risks.vulnerability, 5);
        assert_eq!(
            (
                snapshot.hosts_requested,
                snapshot.hosts_found,
                snapshot.hosts_not_found
            ),
            (3, 2, 1)
        );
        assert_eq!(snapshot.hosts.len(), 1);
        assert_eq!(snapshot.hosts[0].host_id, "a");
        assert_eq!(snapshot.hosts[0].risks.vulnerability, 5);
    }
}
