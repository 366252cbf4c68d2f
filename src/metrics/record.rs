//! What the metrics keep per watch: one compact record in one map keyed by the watch, from
//! which the per-watch families are written at scrape time (see `collector.rs`).
//!
//! A watch exports about forty series; as separate gauges in label-keyed maps they cost some
//! 3.6 KB per watch. Here they are numbers in fixed slots: a condition's status is a code, the
//! Ready reason an index into a table of the reasons seen, the counts by category a fixed array
//! with a bit per category saying whether it has a series. Only a category outside the HSS
//! enums (never produced by `watch_snapshot`) takes an allocation of its own.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::labels::{
    reason_label, WatchLabels, AGENT_STATUSES, DETECT_RESULTS, OTHER_REASON, PROTECT_STATUSES,
};
use super::watch::{HostSeries, WatchSnapshot};
use crate::status::ConditionType;

/// The statuses a condition takes, in the order their series are written.
pub(crate) const CONDITION_STATUSES: [&str; 3] = ["True", "False", "Unknown"];

/// Which groups of series a watch has: each is set by its own call.
pub(crate) const HAS_INTERVAL: u8 = 1;
pub(crate) const HAS_LAST_SUCCESS: u8 = 2;
pub(crate) const HAS_SCHEDULE: u8 = 4;
pub(crate) const HAS_SNAPSHOT: u8 = 8;

const CONDITION_TYPES: usize = ConditionType::ALL.len();
/// A condition type without a series.
pub(crate) const CONDITION_ABSENT: u8 = 0;
/// A condition whose status is none of [`CONDITION_STATUSES`]: its three series read 0.
const CONDITION_OTHER: u8 = 4;

/// The three category families of a watch: `(label name, known values)`.
pub(crate) const CATEGORIES: [(&str, &[&str]); 3] = [
    ("agent_status", AGENT_STATUSES),
    ("protect_status", PROTECT_STATUSES),
    ("detect_result", DETECT_RESULTS),
];
/// Offset of each category family's slots in [`Figures::counts`].
pub(crate) const CATEGORY_OFFSETS: [usize; 3] = [0, 4, 6];
const CATEGORY_SLOTS: usize = 10;

/// The numbers of one watch. `Copy`, so a scrape can take a batch of them and let go of the
/// lock before writing.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Figures {
    pub interval: f64,
    pub last_success: f64,
    pub effective_interval: f64,
    pub interval_lag: f64,
    /// Vulnerability, baseline, intrusion (the order of `RISK_KINDS`).
    pub risks: [u64; 3],
    pub assets: u64,
    /// Hosts by category, at [`CATEGORY_OFFSETS`]; host counts of one watch fit in 32 bits.
    pub counts: [u32; CATEGORY_SLOTS],
    pub hosts_requested: u32,
    pub hosts_found: u32,
    pub hosts_not_found: u32,
    /// Bit `i` set: `counts[i]` has a series.
    pub counted: u16,
    /// `HAS_*` bits.
    pub has: u8,
    /// Per type of `ConditionType::ALL`: absent, 1 + index in [`CONDITION_STATUSES`], or other.
    pub conditions: [u8; CONDITION_TYPES],
    /// 1 + index of the Ready reason in the store's table; 0 when there is none.
    pub reason: u16,
}

impl Figures {
    /// Whether the series of category slot `slot` exists.
    pub fn counted(&self, slot: usize) -> bool {
        self.counted & (1 << slot) != 0
    }

    /// The value of condition type `type_index`'s series of status `status_index`.
    pub fn condition(&self, type_index: usize, status_index: usize) -> Option<i64> {
        match self.conditions.get(type_index).copied()? {
            CONDITION_ABSENT => None,
            code => Some(i64::from(usize::from(code) == status_index + 1)),
        }
    }
}

/// Counts of categories outside the HSS enums, per category family, sorted by value.
pub(crate) type OtherCategories = [Vec<(Box<str>, u32)>; 3];

/// One watch: its figures, and what few watches have.
#[derive(Debug, Default)]
pub(crate) struct WatchRecord {
    pub figures: Figures,
    pub other_categories: Option<Box<OtherCategories>>,
    /// The label sets of its per-host series (only with per-host series on).
    pub hosts: Option<Box<HostSeries>>,
}

fn count32(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// Every watch with series, and the Ready reasons seen (a closed set of CamelCase words).
#[derive(Debug, Default)]
pub(crate) struct WatchStore {
    pub watches: BTreeMap<WatchLabels, WatchRecord>,
    reasons: Vec<Arc<str>>,
    reason_ids: HashMap<Box<str>, u16>,
}

impl WatchStore {
    /// The watch's record, created when missing (with labels shared by later lookups).
    pub fn record(&mut self, watch: &WatchLabels) -> &mut WatchRecord {
        self.watches.entry(watch.clone()).or_default()
    }

    /// The watch's record and the labels it is stored under (shared by its per-host series).
    pub fn keyed(&mut self, watch: &WatchLabels) -> (WatchLabels, &mut WatchRecord) {
        let key = self
            .watches
            .get_key_value(watch)
            .map_or_else(|| watch.clone(), |(key, _)| key.clone());
        let record = self.watches.entry(key.clone()).or_default();
        (key, record)
    }

    pub fn contains(&self, watch: &WatchLabels) -> bool {
        self.watches.contains_key(watch)
    }

    pub fn remove(&mut self, watch: &WatchLabels) -> Option<WatchRecord> {
        self.watches.remove(watch)
    }

    /// The reason of index `id` (as stored in [`Figures::reason`]).
    pub fn reason(&self, id: u16) -> Option<Arc<str>> {
        let index = usize::from(id.checked_sub(1)?);
        self.reasons.get(index).cloned()
    }

    fn reason_id(&mut self, reason: &str) -> u16 {
        let reason = reason_label(reason);
        if let Some(id) = self.reason_ids.get(reason) {
            return *id;
        }
        // A table of 65,535 reasons would mean reasons are not the closed set they are meant
        // to be: later ones are counted as the catch-all.
        let Ok(id) = u16::try_from(self.reasons.len() + 1) else {
            return if reason == OTHER_REASON {
                0
            } else {
                self.reason_id(OTHER_REASON)
            };
        };
        self.reasons.push(reason.into());
        self.reason_ids.insert(reason.into(), id);
        id
    }

    pub fn set_conditions(&mut self, watch: &WatchLabels, conditions: &[(&'static str, &str)]) {
        let figures = &mut self.record(watch).figures;
        for (type_, status) in conditions {
            let Some(index) = ConditionType::ALL.iter().position(|t| t.as_str() == *type_) else {
                continue;
            };
            let code = CONDITION_STATUSES
                .iter()
                .position(|s| s == status)
                .map_or(CONDITION_OTHER, |i| i as u8 + 1);
            figures.conditions[index] = code;
        }
    }

    pub fn set_ready_reason(&mut self, watch: &WatchLabels, reason: &str) {
        let id = self.reason_id(reason);
        self.record(watch).figures.reason = id;
    }

    pub fn set_interval(&mut self, watch: &WatchLabels, seconds: f64) {
        let figures = &mut self.record(watch).figures;
        figures.interval = seconds;
        figures.has |= HAS_INTERVAL;
    }

    pub fn set_last_success(&mut self, watch: &WatchLabels, unix: f64) {
        let figures = &mut self.record(watch).figures;
        figures.last_success = unix;
        figures.has |= HAS_LAST_SUCCESS;
    }

    pub fn set_schedule(&mut self, watch: &WatchLabels, effective: f64, lag: f64) {
        let figures = &mut self.record(watch).figures;
        figures.effective_interval = effective;
        figures.interval_lag = lag;
        figures.has |= HAS_SCHEDULE;
    }

    /// Replaces the snapshot figures: categories absent from `snapshot` lose their series.
    pub fn set_snapshot(&mut self, watch: &WatchLabels, snapshot: &WatchSnapshot) {
        let record = self.record(watch);
        let figures = &mut record.figures;
        figures.counts = [0; CATEGORY_SLOTS];
        figures.counted = 0;
        let mut others: OtherCategories = Default::default();
        let by_category = [
            &snapshot.hosts_by_agent_status,
            &snapshot.hosts_by_protect_status,
            &snapshot.hosts_by_detect_result,
        ];
        for (family, counts) in by_category.into_iter().enumerate() {
            let known = CATEGORIES[family].1;
            for (value, count) in counts {
                match known.iter().position(|k| k == value) {
                    Some(i) => {
                        let slot = CATEGORY_OFFSETS[family] + i;
                        figures.counts[slot] = count32(*count);
                        figures.counted |= 1 << slot;
                    }
                    None => others[family].push((value.as_str().into(), count32(*count))),
                }
            }
        }
        record.other_categories = others
            .iter()
            .any(|o| !o.is_empty())
            .then(|| Box::new(others));
        let risks = &snapshot.risks;
        figures.risks = [risks.vulnerability, risks.baseline, risks.intrusion];
        figures.assets = risks.asset;
        figures.hosts_requested = count32(snapshot.hosts_requested);
        figures.hosts_found = count32(snapshot.hosts_found);
        figures.hosts_not_found = count32(snapshot.hosts_not_found);
        figures.has |= HAS_SNAPSHOT;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_stays_small() {
        // The point of the record: a few cache lines per watch, not kilobytes.
        assert!(std::mem::size_of::<WatchRecord>() <= 160);
    }

    #[test]
    fn reasons_are_interned_once() {
        let mut store = WatchStore::default();
        let (a, b) = (WatchLabels::new("n", "a"), WatchLabels::new("n", "b"));
        store.set_ready_reason(&a, "Polled");
        store.set_ready_reason(&b, "Polled");
        store.set_ready_reason(&b, "not a reason");
        assert_eq!(store.reasons.len(), 2);
        let reason = |w: &WatchLabels| store.reason(store.watches[w].figures.reason);
        assert_eq!(reason(&a).as_deref(), Some("Polled"));
        assert_eq!(reason(&b).as_deref(), Some(OTHER_REASON));
    }

    #[test]
    fn condition_codes_read_back_as_series_values() {
        let mut store = WatchStore::default();
        let w = WatchLabels::new("n", "a");
        store.set_conditions(&w, &[("Ready", "False"), ("ApiReachable", "Maybe")]);
        let f = store.watches[&w].figures;
        assert_eq!(
            (0..3).map(|s| f.condition(0, s)).collect::<Vec<_>>(),
            [Some(0), Some(1), Some(0)]
        );
        let api = ConditionType::ALL
            .iter()
            .position(|t| t.as_str() == "ApiReachable")
            .unwrap_or(usize::MAX);
        assert_eq!(f.condition(api, 0), Some(0));
        assert_eq!(f.condition(api, 2), Some(0));
        assert_eq!(f.condition(4, 0), None);
        assert_eq!(f.condition(CONDITION_TYPES, 0), None);
    }
}
