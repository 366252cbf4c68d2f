//! `query --fail-on`: turn host states into a failing exit code, so scripts and CI jobs can gate
//! on HSS findings without parsing the output.

use super::output::QueryReport;

/// A host state `--fail-on` can fail on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum FailOn {
    /// HSS's detect result is `risk` (vulnerabilities, baseline risks or intrusions found).
    Risk,
    /// HSS protection is `closed` on the host.
    Unprotected,
    /// The HSS agent is `offline`.
    Offline,
    /// HSS does not know the host id.
    NotFound,
}

impl FailOn {
    fn describe(self) -> &'static str {
        match self {
            Self::Risk => "at risk",
            Self::Unprotected => "unprotected",
            Self::Offline => "with the agent offline",
            Self::NotFound => "not found",
        }
    }
}

/// One line per condition that matched, e.g. `2 hosts at risk: h1, h2`; empty when none did.
pub fn findings(report: &QueryReport, conditions: &[FailOn]) -> Vec<String> {
    let mut conditions = conditions.to_vec();
    conditions.sort();
    conditions.dedup();
    conditions
        .into_iter()
        .filter_map(|condition| {
            let hosts: Vec<&str> = report
                .hosts
                .iter()
                .filter(|h| match condition {
                    FailOn::Risk => h.detect_result.as_deref() == Some("risk"),
                    FailOn::Unprotected => h.protect_status.as_deref() == Some("closed"),
                    FailOn::Offline => h.agent_status.as_deref() == Some("offline"),
                    FailOn::NotFound => !h.found,
                })
                .map(|h| h.host_id.as_str())
                .collect();
            (!hosts.is_empty()).then(|| {
                let noun = if hosts.len() == 1 { "host" } else { "hosts" };
                format!(
                    "{} {noun} {}: {}",
                    hosts.len(),
                    condition.describe(),
                    hosts.join(", ")
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::output::HostRow;

    fn row(id: &str, found: bool, agent: &str, protection: &str, detect: &str) -> HostRow {
        let value = |v: &str| (!v.is_empty()).then(|| v.to_string());
        HostRow {
            host_id: id.into(),
            found,
            agent_status: value(agent),
            install_result_code: None,
            version: None,
            protect_status: value(protection),
            detect_result: value(detect),
            asset: None,
            vulnerability: None,
            baseline: None,
            intrusion: None,
        }
    }

    #[test]
    fn each_condition_lists_its_hosts() {
        let report = QueryReport {
            hosts: vec![
                row("clean", true, "online", "opened", "clean"),
                row("risky", true, "online", "opened", "risk"),
                row("bare", true, "offline", "closed", "undetected"),
                row("gone", false, "", "", ""),
            ],
            summary: Default::default(),
            request_ids: vec![],
        };
        let all = [
            FailOn::NotFound,
            FailOn::Risk,
            FailOn::Unprotected,
            FailOn::Offline,
            FailOn::Risk,
        ];
        assert_eq!(
            findings(&report, &all),
            vec![
                "1 host at risk: risky",
                "1 host unprotected: bare",
                "1 host with the agent offline: bare",
                "1 host not found: gone",
            ]
        );
        assert!(findings(&report, &[]).is_empty());
        let healthy = QueryReport {
            hosts: vec![row("clean", true, "online", "opened", "clean")],
            ..report
        };
        assert!(findings(&healthy, &all).is_empty());
    }
}
