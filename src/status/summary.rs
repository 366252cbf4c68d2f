//! Counts over a watch's hosts.

use super::record::{Count, HostRecord, Text};
use crate::crd::status::HostRiskSummary;

fn add(total: &mut i64, value: Option<u64>) {
    let value = value.map_or(0, |v| i64::try_from(v).unwrap_or(i64::MAX));
    *total = total.saturating_add(value);
}

/// The summary of `hosts`. Agent, protection and detect counts and totals cover found hosts;
/// agent values other than online / offline / not_installed (including unknown ones and none)
/// count as `agentOther`.
pub fn summarize(hosts: &[HostRecord]) -> HostRiskSummary {
    let mut s = HostRiskSummary {
        hosts_requested: i64::try_from(hosts.len()).unwrap_or(i64::MAX),
        ..HostRiskSummary::default()
    };
    for host in hosts {
        let data = &host.data;
        if !data.is_found() {
            s.hosts_not_found += 1;
            continue;
        }
        s.hosts_found += 1;
        match data.text(Text::AgentStatus) {
            Some("online") => s.agent_online += 1,
            Some("offline") => s.agent_offline += 1,
            Some("not_installed") => s.agent_not_installed += 1,
            _ => s.agent_other += 1,
        }
        match data.text(Text::Protection) {
            Some("opened") => s.protection_opened += 1,
            Some("closed") => s.protection_closed += 1,
            _ => {}
        }
        match data.text(Text::Detection) {
            Some("risk") => s.detect_risk += 1,
            Some("clean") => s.detect_clean += 1,
            Some("scanning") => s.detect_scanning += 1,
            Some("undetected") => s.detect_undetected += 1,
            _ => {}
        }
        add(&mut s.asset_total, data.count(Count::Asset));
        add(&mut s.vulnerability_total, data.count(Count::Vulnerability));
        add(&mut s.baseline_total, data.count(Count::Baseline));
        add(&mut s.intrusion_total, data.count(Count::Intrusion));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::status::HostStatus;

    use crate::status::record::records_of as records;

    fn summarize(hosts: &[HostStatus]) -> HostRiskSummary {
        super::summarize(&records(hosts))
    }

    fn host(agent: Option<&str>, protect: &str, detect: &str, vulns: i64) -> HostStatus {
        HostStatus {
            host_id: format!("{agent:?}{protect}{detect}{vulns}"),
            found: true,
            agent_status: agent.map(|a| a.to_string().into()),
            protect_status: Some(protect.to_string().into()),
            detect_result: Some(detect.to_string().into()),
            asset: Some(1),
            vulnerability: Some(vulns),
            baseline: Some(2),
            intrusion: None,
            ..HostStatus::default()
        }
    }

    #[test]
    fn counts_every_category_and_unknown_values() {
        let hosts = vec![
            host(Some("online"), "opened", "risk", 4),
            host(Some("offline"), "closed", "clean", 1),
            host(Some("not_installed"), "closed", "undetected", 0),
            host(Some("installing"), "opened", "scanning", 0),
            host(Some("hibernating"), "mystery", "quarantined", 0),
            host(None, "opened", "clean", 0),
            HostStatus {
                host_id: "gone".into(),
                found: false,
                vulnerability: Some(100),
                ..HostStatus::default()
            },
        ];
        let s = summarize(&hosts);
        assert_eq!(
            s,
            HostRiskSummary {
                hosts_requested: 7,
                hosts_found: 6,
                hosts_not_found: 1,
                agent_online: 1,
                agent_offline: 1,
                agent_not_installed: 1,
                agent_other: 3,
                protection_opened: 3,
                protection_closed: 2,
                detect_risk: 1,
                detect_clean: 2,
                detect_scanning: 1,
                detect_undetected: 1,
                asset_total: 6,
                vulnerability_total: 5,
                baseline_total: 12,
                intrusion_total: 0,
            }
        );
    }

    #[test]
    fn totals_saturate() {
        let mut a = host(Some("online"), "opened", "risk", i64::MAX);
        a.host_id = "a".into();
        let mut b = a.clone();
        b.host_id = "b".into();
        assert_eq!(summarize(&[a, b]).vulnerability_total, i64::MAX);
    }

    #[test]
    fn empty_list() {
        assert_eq!(summarize(&[]), HostRiskSummary::default());
    }
}
