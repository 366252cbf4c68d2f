//! The metrics output: a watch's per-watch series (`hostrisk_watch_*`, and per host with
//! `--metrics-per-host`) from its status, dropped with the watch.

use futures::future::BoxFuture;

use super::{Output, WatchView};
use crate::controller::error::Result;
use crate::controller::watches::WatchScoped;
use crate::crd::{HostRiskSummary, WatchKey};
use crate::metrics::{HostSnapshot, Metrics, RiskTotals, WatchSnapshot};
use crate::status::conditions::{find, ConditionType};
use crate::status::record::{Count, Text};
use crate::status::HostRecord;

pub struct WatchMetrics {
    metrics: Metrics,
}

impl WatchMetrics {
    pub fn new(metrics: Metrics) -> Self {
        Self { metrics }
    }

    fn set(&self, view: &WatchView<'_>) {
        let key = view.key;
        let head = view.status.head();
        let conditions: Vec<(&'static str, &str)> = ConditionType::ALL
            .into_iter()
            .filter_map(|type_| {
                find(&head.conditions, type_).map(|c| (type_.as_str(), c.status.as_str()))
            })
            .collect();
        self.metrics
            .set_watch_conditions(&key.namespace, &key.name, &conditions);
        if view.complete {
            if let Some(summary) = &head.summary {
                self.metrics.set_watch_gauges(
                    &key.namespace,
                    &key.name,
                    &watch_snapshot(summary, &view.status.hosts),
                );
            }
        }
        if let Some(fetched) = view.fetched {
            self.metrics
                .set_watch_last_success(&key.namespace, &key.name, fetched);
        }
    }
}

impl WatchScoped for WatchMetrics {
    fn forget(&self, key: &WatchKey) {
        self.metrics.forget_watch(&key.namespace, &key.name);
    }
}

impl Output for WatchMetrics {
    fn name(&self) -> &'static str {
        "metrics"
    }

    fn publish<'a>(&'a self, view: &'a WatchView<'a>) -> BoxFuture<'a, Result<()>> {
        view.while_present(|| self.set(view));
        Box::pin(std::future::ready(Ok(())))
    }
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}

/// The metric snapshot of a status summary (and its found hosts, for per-host series).
pub fn watch_snapshot(summary: &HostRiskSummary, hosts: &[HostRecord]) -> WatchSnapshot {
    let by = |pairs: &[(&str, i64)]| {
        pairs
            .iter()
            .map(|(label, value)| ((*label).to_string(), count(*value)))
            .collect()
    };
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
            .filter(|h| h.data.is_found())
            .map(|h| {
                let text = |field| h.data.text(field).unwrap_or_default().to_string();
                let number = |field| h.data.count(field).unwrap_or_default();
                HostSnapshot {
                    host_id: h.id.to_string(),
                    node: h.node.as_deref().map(str::to_string),
                    agent_status: text(Text::AgentStatus),
                    protect_status: text(Text::Protection),
                    detect_result: text(Text::Detection),
                    risks: RiskTotals {
                        asset: number(Count::Asset),
                        vulnerability: number(Count::Vulnerability),
                        baseline: number(Count::Baseline),
                        intrusion: number(Count::Intrusion),
                    },
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::HostStatus;

    use crate::status::record::records_of as records;

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
        let snapshot = watch_snapshot(&summary, &records(&hosts));
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
