//! The per-watch series of a HostRiskWatch's status: what a reconcile sets from the status it
//! computed, and what an operator that starts (or becomes leader) seeds from the statuses
//! already stored, before its first poll.
//!
//! Seeding is why a rollout does not flap: the stored status carries the last good summary,
//! the conditions, `lastSyncTime` and `effectiveInterval`, so every per-watch series is there
//! from the new process's first scrape on, with the values the previous process exported. A
//! watch the new process never polls successfully keeps the old `lastSyncTime`, so
//! `HostRiskWatchDataStale` sees it age.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use super::labels::{WatchLabels, AGENT_STATUSES, DETECT_RESULTS, PROTECT_STATUSES};
use super::watch::{HostSnapshot, RiskTotals, WatchSnapshot};
use super::Metrics;
use crate::crd::duration::parse_duration;
use crate::crd::validation::{validate_spec, ValidationPolicy};
use crate::crd::{HostRiskSummary, HostRiskWatch, HostRiskWatchStatus, WatchKey};
use crate::status::conditions::{find, ConditionType};
use crate::status::record::{records_of, Count, Text};
use crate::status::HostRecord;

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}

/// The metric snapshot of a status summary (and its found hosts, for per-host series).
pub fn watch_snapshot(summary: &HostRiskSummary, hosts: &[HostRecord]) -> WatchSnapshot {
    let by = |labels: &[&str], values: &[i64]| {
        labels
            .iter()
            .zip(values)
            .map(|(label, value)| ((*label).to_string(), count(*value)))
            .collect()
    };
    WatchSnapshot {
        hosts_by_agent_status: by(
            AGENT_STATUSES,
            &[
                summary.agent_online,
                summary.agent_offline,
                summary.agent_not_installed,
                summary.agent_other,
            ],
        ),
        hosts_by_protect_status: by(
            PROTECT_STATUSES,
            &[summary.protection_opened, summary.protection_closed],
        ),
        hosts_by_detect_result: by(
            DETECT_RESULTS,
            &[
                summary.detect_risk,
                summary.detect_clean,
                summary.detect_scanning,
                summary.detect_undetected,
            ],
        ),
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

/// `(type, status)` of the conditions of the operator's types (others are ignored).
fn known_conditions(conditions: &[Condition]) -> Vec<(&'static str, &str)> {
    ConditionType::ALL
        .into_iter()
        .filter_map(|type_| find(conditions, type_).map(|c| (type_.as_str(), c.status.as_str())))
        .collect()
}

fn ready_reason(conditions: &[Condition]) -> Option<&str> {
    find(conditions, ConditionType::Ready).map(|c| c.reason.as_str())
}

impl Metrics {
    /// The series a status sets whatever the outcome of the poll: its conditions, the reason of
    /// `Ready`, and the interval the watch asks for. (The summary's series are set only from a
    /// complete poll, with [`Metrics::set_watch_gauges`].) Only the status' conditions are read:
    /// its host list may be empty.
    pub fn set_watch_status(
        &self,
        namespace: &str,
        name: &str,
        status: &HostRiskWatchStatus,
        interval: Duration,
    ) {
        let watch = WatchLabels::new(namespace, name);
        let mut store = self.inner.watches.store();
        store.set_conditions(&watch, &known_conditions(&status.conditions));
        if let Some(reason) = ready_reason(&status.conditions) {
            store.set_ready_reason(&watch, reason);
        }
        store.set_interval(&watch, interval.as_secs_f64());
    }

    /// Seeds every series of `watch` from its stored status, unless this process exports the
    /// watch already (its own figures are newer than any stored status). Returns whether it
    /// seeded. The controller calls it when its watch table takes a watch up (before the
    /// watch's first poll by this process); [`Metrics::forget_watch`] drops what it set like
    /// any other series.
    pub fn seed_watch(&self, watch: &HostRiskWatch, policy: &ValidationPolicy) -> bool {
        let hosts = watch
            .status
            .as_ref()
            .map(|status| records_of(&status.hosts))
            .unwrap_or_default();
        self.seed_watch_with_hosts(watch, &hosts, policy)
    }

    /// [`Metrics::seed_watch`] of a watch whose `status.hosts` is held apart, as `hosts` (the
    /// controller's reflector keeps objects without it).
    pub fn seed_watch_with_hosts(
        &self,
        watch: &HostRiskWatch,
        hosts: &[HostRecord],
        policy: &ValidationPolicy,
    ) -> bool {
        let (Some(key), Some(status)) = (WatchKey::of(watch), watch.status.as_ref()) else {
            return false;
        };
        let labels = WatchLabels::new(&key.namespace, &key.name);
        let collector = &self.inner.watches;
        let mut store = collector.store();
        if store.contains(&labels) {
            return false;
        }
        let interval = validate_spec(&watch.spec, policy)
            .map(|valid| valid.interval)
            .unwrap_or(policy.default_interval.max(policy.min_interval));
        store.set_conditions(&labels, &known_conditions(&status.conditions));
        if let Some(reason) = ready_reason(&status.conditions) {
            store.set_ready_reason(&labels, reason);
        }
        store.set_interval(&labels, interval.as_secs_f64());
        if let Some(summary) = &status.summary {
            let snapshot = watch_snapshot(summary, hosts);
            collector.set_snapshot(&mut store, &labels, &snapshot);
        }
        // The schedule is measured by polls: only a watch that had one gets it (as in the
        // process that polled it).
        let Some(synced) = &status.last_sync_time else {
            return true;
        };
        let unix = synced.0.as_millisecond() as f64 / 1000.0;
        store.set_last_success(&labels, unix);
        let effective = status
            .effective_interval
            .as_deref()
            .and_then(|text| parse_duration("status.effectiveInterval", text).ok())
            .unwrap_or(interval);
        store.set_schedule(
            &labels,
            effective.as_secs_f64(),
            effective.saturating_sub(interval).as_secs_f64(),
        );
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::HostStatus;

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
            asset_total: 7,
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
        let snapshot = watch_snapshot(&summary, &records_of(&hosts));
        assert_eq!(snapshot.hosts_by_agent_status["online"], 1);
        assert_eq!(snapshot.hosts_by_agent_status["offline"], 1);
        assert_eq!(snapshot.hosts_by_protect_status["opened"], 2);
        assert_eq!(snapshot.hosts_by_detect_result["risk"], 1);
        assert_eq!(snapshot.risks.vulnerability, 5);
        assert_eq!(snapshot.risks.asset, 7);
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
