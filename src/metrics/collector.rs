//! Writes the per-watch families from the watch records at scrape time, then the Node families
//! and the opt-in per-host families (in the order they were once registered).
//!
//! A scrape never holds the store's lock while it writes: it copies a batch of records (their
//! figures are `Copy`), lets go, writes the batch, and takes the next batch after the last
//! watch written. A slow scraper therefore never holds up the per-watch updates, and a scrape's
//! memory is one batch whatever the number of watches. (The label-keyed families are written
//! under their own read lock, as prometheus-client does; the stream gives up on a scraper that
//! stops reading, see `stream.rs`.) A watch forgotten between two batches is simply not written
//! by the rest of the scrape.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

use super::exposition::encode_family;
use super::labels::{WatchLabels, WatchSeriesLabels};
use super::nodes::NodeFamilies;
use super::record::{
    Figures, OtherCategories, WatchStore, CATEGORIES, CATEGORY_OFFSETS, CONDITION_STATUSES,
    HAS_INTERVAL, HAS_LAST_SUCCESS, HAS_SCHEDULE, HAS_SNAPSHOT,
};
use super::watch::{gauge_value, HostFamilies, WatchSnapshot, RISK_KINDS};
use super::watch_families::{WatchFamily, WatchSeries, WATCH_FAMILIES};
use crate::status::ConditionType;

/// Watches copied per lock: a few kilobytes.
const BATCH: usize = 128;

/// What a scrape copies of one watch.
struct Copied {
    watch: WatchLabels,
    figures: Figures,
    others: Option<Box<OtherCategories>>,
    reason: Option<Arc<str>>,
}

impl WatchSeries {
    fn present(self, figures: &Figures, others: Option<&OtherCategories>) -> bool {
        match self {
            WatchSeries::Condition => figures.conditions.iter().any(|c| *c != 0),
            WatchSeries::ReadyReason => figures.reason != 0,
            WatchSeries::Interval => figures.has & HAS_INTERVAL != 0,
            WatchSeries::LastSuccess => figures.has & HAS_LAST_SUCCESS != 0,
            WatchSeries::EffectiveInterval | WatchSeries::IntervalLag => {
                figures.has & HAS_SCHEDULE != 0
            }
            WatchSeries::Category(family) => {
                let known = CATEGORIES[family].1.len();
                (0..known).any(|i| figures.counted(CATEGORY_OFFSETS[family] + i))
                    || others.is_some_and(|o| !o[family].is_empty())
            }
            WatchSeries::Risks
            | WatchSeries::Assets
            | WatchSeries::HostsRequested
            | WatchSeries::HostsFound
            | WatchSeries::HostsNotFound => figures.has & HAS_SNAPSHOT != 0,
        }
    }

    fn encode(self, item: &Copied, metric: &mut MetricEncoder) -> Result<(), std::fmt::Error> {
        let watch = &item.watch;
        let f = &item.figures;
        let mut gauge = |more: &[(&str, &str)], value: i64| {
            metric
                .encode_family(&WatchSeriesLabels { watch, more })?
                .encode_gauge(&value)
        };
        match self {
            WatchSeries::Condition => {
                for (t, type_) in ConditionType::ALL.iter().enumerate() {
                    for (s, status) in CONDITION_STATUSES.iter().enumerate() {
                        if let Some(value) = f.condition(t, s) {
                            gauge(&[("type", type_.as_str()), ("status", status)], value)?;
                        }
                    }
                }
                Ok(())
            }
            WatchSeries::ReadyReason => match &item.reason {
                Some(reason) => gauge(&[("reason", reason)], 1),
                None => Ok(()),
            },
            WatchSeries::Category(family) => {
                let (label, known) = CATEGORIES[family];
                for (i, value) in known.iter().enumerate() {
                    let slot = CATEGORY_OFFSETS[family] + i;
                    if f.counted(slot) {
                        gauge(&[(label, value)], i64::from(f.counts[slot]))?;
                    }
                }
                for (value, count) in item.others.iter().flat_map(|o| &o[family]) {
                    gauge(&[(label, value)], i64::from(*count))?;
                }
                Ok(())
            }
            WatchSeries::Risks => {
                for (kind, count) in RISK_KINDS.iter().zip(f.risks) {
                    gauge(&[("kind", kind)], gauge_value(count))?;
                }
                Ok(())
            }
            WatchSeries::Assets => gauge(&[], gauge_value(f.assets)),
            WatchSeries::HostsRequested => gauge(&[], i64::from(f.hosts_requested)),
            WatchSeries::HostsFound => gauge(&[], i64::from(f.hosts_found)),
            WatchSeries::HostsNotFound => gauge(&[], i64::from(f.hosts_not_found)),
            WatchSeries::Interval => seconds(metric, watch, f.interval),
            WatchSeries::LastSuccess => seconds(metric, watch, f.last_success),
            WatchSeries::EffectiveInterval => seconds(metric, watch, f.effective_interval),
            WatchSeries::IntervalLag => seconds(metric, watch, f.interval_lag),
        }
    }
}

fn seconds(
    metric: &mut MetricEncoder,
    watch: &WatchLabels,
    value: f64,
) -> Result<(), std::fmt::Error> {
    metric
        .encode_family(&WatchSeriesLabels { watch, more: &[] })?
        .encode_gauge(&value)
}

/// The collector registered for the per-watch, Node and per-host families.
#[derive(Debug)]
pub(crate) struct WatchCollector {
    store: Mutex<WatchStore>,
    nodes: NodeFamilies,
    /// Present only with per-host series on.
    pub hosts: Option<HostFamilies>,
}

impl WatchCollector {
    pub fn new(nodes: NodeFamilies, per_host: bool) -> Self {
        WatchCollector {
            store: Mutex::new(WatchStore::default()),
            nodes,
            hosts: per_host.then(HostFamilies::default),
        }
    }

    /// The store; after a panic elsewhere it is still usable (each update is whole).
    pub fn store(&self) -> MutexGuard<'_, WatchStore> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces a watch's snapshot figures (and its per-host series, when they are on).
    pub fn set_snapshot(
        &self,
        store: &mut WatchStore,
        watch: &WatchLabels,
        snapshot: &WatchSnapshot,
    ) {
        store.set_snapshot(watch, snapshot);
        if let Some(families) = &self.hosts {
            let (key, record) = store.keyed(watch);
            let series = record.hosts.get_or_insert_with(Box::default);
            families.set_hosts(series, &key, &snapshot.hosts);
        }
    }

    /// Up to [`BATCH`] watches after `after` that have series in `series`.
    fn batch(&self, series: WatchSeries, after: Option<&WatchLabels>) -> Vec<Copied> {
        use std::ops::Bound::{Excluded, Unbounded};
        let store = self.store();
        let start = after.map_or(Unbounded, Excluded);
        store
            .watches
            .range((start, Unbounded))
            .filter(|(_, r)| series.present(&r.figures, r.other_categories.as_deref()))
            .take(BATCH)
            .map(|(watch, record)| Copied {
                watch: watch.clone(),
                figures: record.figures,
                others: match series {
                    WatchSeries::Category(_) => record.other_categories.clone(),
                    _ => None,
                },
                reason: store.reason(record.figures.reason),
            })
            .collect()
    }

    fn encode_watch_family(
        &self,
        encoder: &mut DescriptorEncoder,
        family: &WatchFamily,
    ) -> Result<(), std::fmt::Error> {
        let mut batch = self.batch(family.series, None);
        // Like the registry: a family without series is not written at all.
        if batch.is_empty() {
            return Ok(());
        }
        let unit = family.seconds.then_some(&Unit::Seconds);
        let mut metric =
            encoder.encode_descriptor(family.name, family.help, unit, MetricType::Gauge)?;
        loop {
            for item in &batch {
                family.series.encode(item, &mut metric)?;
            }
            let Some(last) = batch.last().map(|item| item.watch.clone()) else {
                return Ok(());
            };
            if batch.len() < BATCH {
                return Ok(());
            }
            batch = self.batch(family.series, Some(&last));
        }
    }

    fn encode_hosts(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(hosts) = &self.hosts else {
            return Ok(());
        };
        encode_family(
            encoder,
            "host_risks",
            "Risk counts of one host, by kind (vulnerability|baseline|intrusion; per-host \
             series, opt-in).",
            None,
            &hosts.host_risks,
        )?;
        encode_family(
            encoder,
            "host_assets",
            "Assets of one host (per-host series, opt-in).",
            None,
            &hosts.host_assets,
        )?;
        encode_family(
            encoder,
            "host_status",
            "HSS status of one host as labels (value always 1; per-host series, opt-in).",
            None,
            &hosts.host_status,
        )
    }
}

impl Collector for WatchCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for family in &WATCH_FAMILIES {
            self.encode_watch_family(&mut encoder, family)?;
        }
        self.nodes.encode(&mut encoder)?;
        self.encode_hosts(&mut encoder)
    }
}
