//! Per-watch series: the plain snapshot callers fill in, and the bookkeeping that lets a new
//! snapshot replace the previous one exactly (stale categories disappear) and lets a deleted
//! watch take all its series with it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::Hash;
use std::time::Duration;

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

use super::families::WatchFamilies;
use super::labels::{
    closed_value, reason_label, AgentStatusLabels, ConditionLabels, DetectResultLabels, HostLabels,
    HostRiskLabels, HostStatusLabels, ProtectStatusLabels, ReadyReasonLabels, RiskLabels,
    WatchLabels, AGENT_STATUSES, DETECT_RESULTS, PROTECT_STATUSES,
};
use crate::status::ConditionType;

/// The counts HSS reports per host: `asset` (an inventory size, exported on its own) and the
/// three risk kinds (`vulnerability`, `baseline`, `intrusion`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RiskTotals {
    pub asset: u64,
    pub vulnerability: u64,
    pub baseline: u64,
    pub intrusion: u64,
}

/// The `kind` values of the risk families.
pub const RISK_KINDS: [&str; 3] = ["vulnerability", "baseline", "intrusion"];

impl RiskTotals {
    fn by_kind(&self) -> [(&'static str, u64); 3] {
        [
            (RISK_KINDS[0], self.vulnerability),
            (RISK_KINDS[1], self.baseline),
            (RISK_KINDS[2], self.intrusion),
        ]
    }
}

/// One host of a watch that HSS returned, used only when per-host series are enabled.
/// Leave out hosts HSS did not return: they are counted in `hosts_not_found`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostSnapshot {
    pub host_id: String,
    /// The Node of a node-backed watch's host: exported as the `node` label.
    pub node: Option<String>,
    pub agent_status: String,
    pub protect_status: String,
    pub detect_result: String,
    pub risks: RiskTotals,
}

/// What a watch's last poll found, as plain numbers.
///
/// The `*_by_*` maps are keyed by the HSS enum string (`online`, `opened`, `risk`, ...);
/// a category absent from the map has no series (it is not exported as 0), and a category
/// present in the previous snapshot but absent from this one is removed.
/// `hosts` is ignored unless the metrics were created with `per_host: true`.
///
/// It mirrors `status.summary` of a HostRiskWatch without depending on the CRD types: e.g.
/// `hosts_by_agent_status = {"online": summary.agent_online, "offline": ..., ...}`.
/// Setting a watch's series after [`crate::metrics::Metrics::forget_watch`] recreates them:
/// the controller sets them only for a watch its watch table still holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WatchSnapshot {
    pub hosts_by_agent_status: BTreeMap<String, u64>,
    pub hosts_by_protect_status: BTreeMap<String, u64>,
    pub hosts_by_detect_result: BTreeMap<String, u64>,
    pub risks: RiskTotals,
    pub hosts_requested: u64,
    pub hosts_found: u64,
    pub hosts_not_found: u64,
    pub hosts: Vec<HostSnapshot>,
}

/// Label sets currently exported for one watch, so the next snapshot can drop stale ones.
#[derive(Debug, Default)]
pub(crate) struct WatchSeries {
    agent: Vec<AgentStatusLabels>,
    protect: Vec<ProtectStatusLabels>,
    detect: Vec<DetectResultLabels>,
    host_risks: Vec<HostRiskLabels>,
    host_assets: Vec<HostLabels>,
    host_status: Vec<HostStatusLabels>,
    ready_reason: Option<ReadyReasonLabels>,
}

/// Series kept per watch, keyed by (namespace, name).
pub(crate) type WatchIndex = HashMap<WatchLabels, WatchSeries>;

/// The statuses a condition takes.
const CONDITION_STATUSES: [&str; 3] = ["True", "False", "Unknown"];

fn gauge_value(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Sets every `(labels, value)` in `next` and removes the label sets of `previous` that
/// `next` no longer has. Setting before removing means a concurrent scrape never sees a
/// category vanish that is still present.
fn replace<S: Clone + Hash + Eq>(
    family: &Family<S, Gauge>,
    previous: &mut Vec<S>,
    next: Vec<(S, i64)>,
) {
    for (labels, value) in &next {
        family.get_or_create(labels).set(*value);
    }
    let current: Vec<S> = next.into_iter().map(|(labels, _)| labels).collect();
    let kept: HashSet<&S> = current.iter().collect();
    for stale in previous.iter().filter(|l| !kept.contains(l)) {
        family.remove(stale);
    }
    *previous = current;
}

/// The watch's labels as first indexed, so that every series of the watch shares their
/// strings, and its entry (created when missing).
fn indexed<'a>(
    index: &'a mut WatchIndex,
    watch: &WatchLabels,
) -> (WatchLabels, &'a mut WatchSeries) {
    let key = index
        .get_key_value(watch)
        .map_or_else(|| watch.clone(), |(key, _)| key.clone());
    let series = index.entry(key.clone()).or_default();
    (key, series)
}

impl WatchFamilies {
    pub(crate) fn set_snapshot(
        &self,
        index: &mut WatchIndex,
        watch: &WatchLabels,
        snapshot: &WatchSnapshot,
        per_host: bool,
    ) {
        let (watch, series) = indexed(index, watch);

        let agent = snapshot
            .hosts_by_agent_status
            .iter()
            .map(|(status, count)| {
                let labels = AgentStatusLabels {
                    watch: watch.clone(),
                    agent_status: closed_value(status, AGENT_STATUSES),
                };
                (labels, gauge_value(*count))
            });
        replace(
            &self.hosts_by_agent_status,
            &mut series.agent,
            agent.collect(),
        );

        let protect = snapshot
            .hosts_by_protect_status
            .iter()
            .map(|(status, count)| {
                let labels = ProtectStatusLabels {
                    watch: watch.clone(),
                    protect_status: closed_value(status, PROTECT_STATUSES),
                };
                (labels, gauge_value(*count))
            });
        replace(
            &self.hosts_by_protect_status,
            &mut series.protect,
            protect.collect(),
        );

        let detect = snapshot
            .hosts_by_detect_result
            .iter()
            .map(|(result, count)| {
                let labels = DetectResultLabels {
                    watch: watch.clone(),
                    detect_result: closed_value(result, DETECT_RESULTS),
                };
                (labels, gauge_value(*count))
            });
        replace(
            &self.hosts_by_detect_result,
            &mut series.detect,
            detect.collect(),
        );

        for (kind, count) in snapshot.risks.by_kind() {
            let labels = RiskLabels {
                watch: watch.clone(),
                kind,
            };
            self.risks.get_or_create(&labels).set(gauge_value(count));
        }
        self.assets
            .get_or_create(&watch)
            .set(gauge_value(snapshot.risks.asset));
        self.hosts_requested
            .get_or_create(&watch)
            .set(gauge_value(snapshot.hosts_requested));
        self.hosts_found
            .get_or_create(&watch)
            .set(gauge_value(snapshot.hosts_found));
        self.hosts_not_found
            .get_or_create(&watch)
            .set(gauge_value(snapshot.hosts_not_found));

        if per_host {
            self.set_hosts(series, &watch, &snapshot.hosts);
        }
    }

    fn set_hosts(&self, series: &mut WatchSeries, watch: &WatchLabels, hosts: &[HostSnapshot]) {
        let mut risks = Vec::with_capacity(hosts.len() * RISK_KINDS.len());
        let mut assets = Vec::with_capacity(hosts.len());
        let mut statuses = Vec::with_capacity(hosts.len());
        for host in hosts {
            let labels = HostLabels {
                watch: watch.clone(),
                host_id: host.host_id.clone(),
                node: host.node.clone(),
            };
            for (kind, count) in host.risks.by_kind() {
                let risk = HostRiskLabels {
                    host: labels.clone(),
                    kind,
                };
                risks.push((risk, gauge_value(count)));
            }
            let status = HostStatusLabels {
                host: labels.clone(),
                agent_status: host.agent_status.clone(),
                protect_status: host.protect_status.clone(),
                detect_result: host.detect_result.clone(),
            };
            statuses.push((status, 1));
            assets.push((labels, gauge_value(host.risks.asset)));
        }
        replace(&self.host_risks, &mut series.host_risks, risks);
        replace(&self.host_assets, &mut series.host_assets, assets);
        replace(&self.host_status, &mut series.host_status, statuses);
    }

    /// The interval a watch asks for.
    pub(crate) fn set_interval(
        &self,
        index: &mut WatchIndex,
        watch: &WatchLabels,
        interval: Duration,
    ) {
        let (watch, _) = indexed(index, watch);
        self.interval
            .get_or_create(&watch)
            .set(interval.as_secs_f64());
    }

    /// The reason of a watch's Ready condition: one series, replacing the previous reason's.
    pub(crate) fn set_ready_reason(
        &self,
        index: &mut WatchIndex,
        watch: &WatchLabels,
        reason: &str,
    ) {
        let (watch, series) = indexed(index, watch);
        let labels = ReadyReasonLabels {
            watch: watch.clone(),
            reason: reason_label(reason).to_owned(),
        };
        self.ready_reason.get_or_create(&labels).set(1);
        if let Some(previous) = series.ready_reason.replace(labels.clone()) {
            if previous != labels {
                self.ready_reason.remove(&previous);
            }
        }
    }

    pub(crate) fn set_schedule(
        &self,
        index: &mut WatchIndex,
        watch: &WatchLabels,
        effective: Duration,
        lag: Duration,
    ) {
        // Listed in the index too, so `forget` and `Metrics::watches` know of the series.
        let (watch, _) = indexed(index, watch);
        self.effective_interval
            .get_or_create(&watch)
            .set(effective.as_secs_f64());
        self.interval_lag
            .get_or_create(&watch)
            .set(lag.as_secs_f64());
    }

    /// Sets the condition series of a watch: for each `(type, status)`, 1 on that status and 0
    /// on the two others.
    pub(crate) fn set_conditions(
        &self,
        index: &mut WatchIndex,
        watch: &WatchLabels,
        conditions: &[(&'static str, &str)],
    ) {
        let (watch, _) = indexed(index, watch);
        for (type_, current) in conditions {
            for status in CONDITION_STATUSES {
                let labels = ConditionLabels {
                    watch: watch.clone(),
                    r#type: type_,
                    status,
                };
                self.condition
                    .get_or_create(&labels)
                    .set(i64::from(status == *current));
            }
        }
    }

    pub(crate) fn set_last_success(&self, index: &mut WatchIndex, watch: &WatchLabels, unix: f64) {
        let (watch, _) = indexed(index, watch);
        self.last_success.get_or_create(&watch).set(unix);
    }

    pub(crate) fn forget(&self, index: &mut WatchIndex, watch: &WatchLabels) {
        for type_ in ConditionType::ALL {
            for status in CONDITION_STATUSES {
                self.condition.remove(&ConditionLabels {
                    watch: watch.clone(),
                    r#type: type_.as_str(),
                    status,
                });
            }
        }
        self.last_success.remove(watch);
        self.effective_interval.remove(watch);
        self.interval_lag.remove(watch);
        self.interval.remove(watch);
        self.assets.remove(watch);
        self.hosts_requested.remove(watch);
        self.hosts_found.remove(watch);
        self.hosts_not_found.remove(watch);
        for (kind, _) in RiskTotals::default().by_kind() {
            self.risks.remove(&RiskLabels {
                watch: watch.clone(),
                kind,
            });
        }
        if let Some(mut series) = index.remove(watch) {
            replace(&self.hosts_by_agent_status, &mut series.agent, Vec::new());
            replace(
                &self.hosts_by_protect_status,
                &mut series.protect,
                Vec::new(),
            );
            replace(&self.hosts_by_detect_result, &mut series.detect, Vec::new());
            replace(&self.host_risks, &mut series.host_risks, Vec::new());
            replace(&self.host_assets, &mut series.host_assets, Vec::new());
            replace(&self.host_status, &mut series.host_status, Vec::new());
            if let Some(reason) = series.ready_reason {
                self.ready_reason.remove(&reason);
            }
        }
    }
}
