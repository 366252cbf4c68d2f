//! Series read at scrape time from the parts that own the figures: the HSS client's rate limiter
//! (quota use per credential identity) and the running poller (queue depth and sweep duration
//! per group). Nothing is copied into the registry between scrapes, so nothing can drift or
//! outlive what it describes: a group or an identity that is gone is simply not listed.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Unit;

use super::exposition::encode_family;
use super::families::SecondsGauge;
use super::Metrics;
use crate::hss::ratelimit::RateLimiter;

/// One poller group as it is at the moment of a scrape.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupFigures {
    /// The group as logs name it: endpoint, project, enterprise project, credential identity
    /// (never a secret).
    pub group: String,
    pub watches: usize,
    /// Distinct host ids over the group's watches.
    pub hosts: usize,
    /// Watches due for a refresh that has not completed yet.
    pub queued: usize,
    /// How long the last full sweep (every watch refreshed once) took; `None` before the first.
    pub last_sweep: Option<Duration>,
}

/// The running poller, seen from the metrics.
pub trait PollerView: Send + Sync {
    fn groups(&self) -> Vec<GroupFigures>;
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CredentialLabels {
    credential: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GroupLabels {
    group: String,
}

/// The sources, each replaced when its owner changes (a new poller per leadership).
#[derive(Default)]
pub(crate) struct LiveSources {
    quota: Mutex<Option<RateLimiter>>,
    poller: Mutex<Option<Arc<dyn PollerView>>>,
}

impl std::fmt::Debug for LiveSources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSources").finish_non_exhaustive()
    }
}

impl LiveSources {
    fn encode_quota(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(limiter) = self
            .quota
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        else {
            return Ok(());
        };
        let (limit, window) = limiter.limit();
        let used = Family::<CredentialLabels, Gauge>::default();
        let limits = Family::<CredentialLabels, Gauge>::default();
        for (identity, calls) in limiter.usage() {
            let labels = CredentialLabels {
                credential: identity.to_string(),
            };
            used.get_or_create(&labels)
                .set(i64::try_from(calls).unwrap_or(i64::MAX));
            limits
                .get_or_create(&labels)
                .set(i64::try_from(limit).unwrap_or(i64::MAX));
        }
        encode_family(
            encoder,
            "hss_quota_calls",
            "HSS calls of a credential identity in the current quota window (sliding; equal to \
             the limit while calls queue for the quota)",
            None,
            &used,
        )?;
        encode_family(
            encoder,
            "hss_quota_limit",
            "HSS calls a credential identity may make per quota window (--hss-calls-per-minute)",
            None,
            &limits,
        )?;
        let window_gauge = SecondsGauge::default();
        window_gauge.set(window.as_secs_f64());
        let metric = encoder.encode_descriptor(
            "hss_quota_window",
            "Length of the sliding HSS quota window",
            Some(&Unit::Seconds),
            window_gauge.metric_type(),
        )?;
        window_gauge.encode(metric)
    }

    fn encode_poller(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(poller) = self
            .poller
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        else {
            return Ok(());
        };
        let queued = Family::<GroupLabels, Gauge>::default();
        let watches = Family::<GroupLabels, Gauge>::default();
        let hosts = Family::<GroupLabels, Gauge>::default();
        let sweep = Family::<GroupLabels, SecondsGauge>::default();
        // Groups differing only in secret material (a rotation in progress) share a name:
        // counts add up, the slower sweep wins.
        for figures in poller.groups() {
            let labels = GroupLabels {
                group: figures.group,
            };
            let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
            queued.get_or_create(&labels).inc_by(count(figures.queued));
            watches
                .get_or_create(&labels)
                .inc_by(count(figures.watches));
            hosts.get_or_create(&labels).inc_by(count(figures.hosts));
            if let Some(took) = figures.last_sweep {
                let gauge = sweep.get_or_create(&labels);
                gauge.set(gauge.get().max(took.as_secs_f64()));
            }
        }
        encode_family(
            encoder,
            "poller_queue_depth",
            "Watches of a poller group due for a refresh that has not completed yet",
            None,
            &queued,
        )?;
        encode_family(
            encoder,
            "poller_watches",
            "Watches served by a poller group (watches sharing endpoint, project and credentials)",
            None,
            &watches,
        )?;
        encode_family(
            encoder,
            "poller_hosts",
            "Distinct host ids a poller group asks HSS for",
            None,
            &hosts,
        )?;
        encode_family(
            encoder,
            "poller_sweep_duration",
            "How long the last full sweep of a poller group took (every watch refreshed once)",
            Some(&Unit::Seconds),
            &sweep,
        )
    }
}

impl Collector for LiveSources {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        self.encode_quota(&mut encoder)?;
        self.encode_poller(&mut encoder)
    }
}

impl Metrics {
    /// Exports the quota use of `limiter` (the HSS client's, which every call goes through)
    /// per credential identity, read at each scrape.
    pub fn observe_quota(&self, limiter: RateLimiter) {
        *self
            .inner
            .live
            .quota
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(limiter);
    }

    /// Exports the groups of `poller` (or none), read at each scrape.
    pub fn observe_poller(&self, poller: Option<Arc<dyn PollerView>>) {
        *self
            .inner
            .live
            .poller
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = poller;
    }
}
