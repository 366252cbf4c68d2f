//! Rendering of a query result: a table for people, JSON (camelCase, stable) for scripts.

use serde::Serialize;

use crate::hss::model::{AgentStatus, DetectResult, HostRisk, HostsRiskResult, ProtectStatus};

/// One host as printed; field names match what the `HostRiskWatch` status uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostRow {
    pub host_id: String,
    pub found: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub install_result_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protect_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detect_result: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vulnerability: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intrusion: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub requested: usize,
    pub found: usize,
    pub not_found: usize,
    /// Hosts whose `detectResult` is `risk`.
    pub at_risk: usize,
    pub agents_online: usize,
    pub protection_on: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryReport {
    pub hosts: Vec<HostRow>,
    pub summary: Summary,
    pub request_ids: Vec<String>,
}

impl QueryReport {
    /// Rows in the order the ids were asked for (`ids` already without duplicates).
    pub fn new(ids: &[String], result: &HostsRiskResult) -> Self {
        let mut summary = Summary {
            requested: ids.len(),
            ..Summary::default()
        };
        let hosts = ids
            .iter()
            .map(|id| match result.hosts.get(id) {
                Some(host) => {
                    summary.found += 1;
                    summary.at_risk += usize::from(host.detect_result == Some(DetectResult::Risk));
                    summary.agents_online +=
                        usize::from(host.agent_status == Some(AgentStatus::Online));
                    summary.protection_on +=
                        usize::from(host.protect_status == Some(ProtectStatus::Opened));
                    row(id, host)
                }
                None => {
                    summary.not_found += 1;
                    HostRow {
                        host_id: id.clone(),
                        found: false,
                        ..row(id, &HostRisk::default())
                    }
                }
            })
            .collect();
        Self {
            hosts,
            summary,
            request_ids: result.request_ids.clone(),
        }
    }

    pub fn to_json(&self) -> String {
        // Plain data with string keys: serialization cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn to_table(&self) -> String {
        const HEADER: [&str; 11] = [
            "HOST ID",
            "FOUND",
            "AGENT",
            "INSTALL RESULT",
            "EDITION",
            "PROTECTION",
            "DETECT",
            "ASSET",
            "VULN",
            "BASELINE",
            "INTRUSION",
        ];
        let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        let num = |v: Option<u64>| v.map_or_else(|| "-".into(), |n| n.to_string());
        let rows: Vec<[String; 11]> = self
            .hosts
            .iter()
            .map(|h| {
                [
                    h.host_id.clone(),
                    if h.found { "yes" } else { "NOT FOUND" }.to_string(),
                    dash(&h.agent_status),
                    dash(&h.install_result_code),
                    dash(&h.version),
                    dash(&h.protect_status),
                    dash(&h.detect_result),
                    num(h.asset),
                    num(h.vulnerability),
                    num(h.baseline),
                    num(h.intrusion),
                ]
            })
            .collect();
        let mut widths = HEADER.map(|h| h.chars().count());
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let mut line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            out.push_str(padded.join("  ").trim_end());
            out.push('\n');
        };
        line(&HEADER.map(str::to_string));
        for row in &rows {
            line(row);
        }
        let s = &self.summary;
        out.push_str(&format!(
            "{} requested, {} found, {} not found, {} at risk, {} agents online, {} protected; request ids: {}\n",
            s.requested,
            s.found,
            s.not_found,
            s.at_risk,
            s.agents_online,
            s.protection_on,
            if self.request_ids.is_empty() {
                "-".to_string()
            } else {
                self.request_ids.join(", ")
            }
        ));
        out
    }
}

fn row(id: &str, host: &HostRisk) -> HostRow {
    HostRow {
        host_id: id.to_string(),
        found: true,
        agent_status: host.agent_status.as_ref().map(|v| v.to_string()),
        install_result_code: host.install_result_code.as_ref().map(|v| v.to_string()),
        version: host.version.as_ref().map(|v| v.to_string()),
        protect_status: host.protect_status.as_ref().map(|v| v.to_string()),
        detect_result: host.detect_result.as_ref().map(|v| v.to_string()),
        asset: host.asset,
        vulnerability: host.vulnerability,
        baseline: host.baseline,
        intrusion: host.intrusion,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hss::model::HssEdition;

    fn sample() -> (Vec<String>, HostsRiskResult) {
        let mut result = HostsRiskResult::default();
        result.hosts.insert(
            "h1".into(),
            HostRisk {
                host_id: Some("h1".into()),
                agent_status: Some(AgentStatus::Online),
                version: Some(HssEdition::Other("hss.version.new".into())),
                protect_status: Some(ProtectStatus::Opened),
                detect_result: Some(DetectResult::Risk),
                asset: Some(3),
                vulnerability: Some(0),
                ..HostRisk::default()
            },
        );
        result.not_found.insert("h2".into());
        result.request_ids.push("req-1".into());
        (vec!["h2".into(), "h1".into()], result)
    }

    #[test]
    fn json_uses_stable_camel_case_names() {
        let (ids, result) = sample();
        let json: serde_json::Value =
            serde_json::from_str(&QueryReport::new(&ids, &result).to_json()).expect("json");
        assert_eq!(json["hosts"][0]["hostId"], "h2");
        assert_eq!(json["hosts"][0]["found"], false);
        assert_eq!(json["hosts"][1]["agentStatus"], "online");
        assert_eq!(json["hosts"][1]["version"], "hss.version.new");
        assert_eq!(json["hosts"][1]["detectResult"], "risk");
        assert_eq!(json["hosts"][1]["vulnerability"], 0);
        assert_eq!(json["summary"]["notFound"], 1);
        assert_eq!(json["summary"]["atRisk"], 1);
        assert_eq!(json["requestIds"][0], "req-1");
    }

    #[test]
    fn table_lists_every_host_and_a_summary() {
        let (ids, result) = sample();
        let table = QueryReport::new(&ids, &result).to_table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4, "{table}");
        assert!(lines[0].starts_with("HOST ID"));
        assert!(lines[1].starts_with("h2") && lines[1].contains("NOT FOUND"));
        assert!(lines[2].contains("online") && lines[2].contains("hss.version.new"));
        assert!(lines[3].starts_with("2 requested, 1 found, 1 not found"));
        assert!(lines[3].contains("req-1"));
    }
}
