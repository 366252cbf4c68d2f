//! Per-watch series: the plain snapshot callers fill in, and the opt-in per-host families with
//! the bookkeeping that lets a new snapshot replace a watch's hosts exactly (stale hosts
//! disappear) and lets a deleted watch take all its per-host series with it.

use std::collections::{BTreeMap, HashSet};
use std::hash::Hash;

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

use super::labels::{HostLabels, HostRiskLabels, HostStatusLabels, WatchLabels};

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

/// The label sets of a watch's per-host series, so the next snapshot can drop stale ones.
#[derive(Debug, Default)]
pub(crate) struct HostSeries {
    host_risks: Vec<HostRiskLabels>,
    host_assets: Vec<HostLabels>,
    host_status: Vec<HostStatusLabels>,
}

/// The per-host families (`--metrics-per-host`): opt-in, one series per host and kind, so they
/// stay label-keyed families.
#[derive(Debug, Default)]
pub(crate) struct HostFamilies {
    pub host_risks: Family<HostRiskLabels, Gauge>,
    pub host_assets: Family<HostLabels, Gauge>,
    pub host_status: Family<HostStatusLabels, Gauge>,
}

pub(crate) fn gauge_value(v: u64) -> i64 {
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

impl HostFamilies {
    pub(crate) fn set_hosts(
        &self,
        series: &mut HostSeries,
        watch: &WatchLabels,
        hosts: &[HostSnapshot],
    ) {
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

    /// Removes every per-host series listed in `series`.
    pub(crate) fn forget(&self, mut series: HostSeries) {
        replace(&self.host_risks, &mut series.host_risks, Vec::new());
        replace(&self.host_assets, &mut series.host_assets, Vec::new());
        replace(&self.host_status, &mut series.host_status, Vec::new());
    }
}
