//! One watch as its group schedules it: its ids, interval, when its next refresh is due and
//! from when answers count for it.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::watchers::WatchIndex;
use crate::status::HostId;

#[derive(Debug, Clone)]
pub(crate) struct WatchState {
    /// The watch in the host table.
    pub index: WatchIndex,
    pub revision: String,
    /// Without repeats; the registration's own list when it holds the table's ids.
    pub ids: Arc<[HostId]>,
    pub interval: Duration,
    /// When the next refresh is due (last complete refresh + interval; registration time for a
    /// new or changed watch).
    pub due: Instant,
    /// New or changed and not refreshed since: planned before everything else.
    pub urgent: bool,
    /// Answers from this instant on count for the next refresh. Set by the first call planned
    /// within half an interval of the watch's due time, so an id shared with a watch due a
    /// little earlier is asked once per sweep, not once per watch.
    pub accept_from: Option<Instant>,
    /// A call took this watch's ids ahead of its due time (fill-ahead): its refresh may
    /// complete before it is due.
    pub pulled: bool,
    pub last_complete: Option<Instant>,
    pub effective: Option<Duration>,
    pub smoothed: Option<Duration>,
}

impl WatchState {
    fn tolerance(&self, share: f64) -> Duration {
        if self.urgent {
            // A new or changed watch (or a refresh request) wants answers from after the change.
            Duration::ZERO
        } else {
            self.interval.mul_f64(share)
        }
    }

    /// Answers fetched at or after this instant count for the refresh in progress.
    pub fn since(&self, share: f64) -> Instant {
        let early = self
            .due
            .checked_sub(self.tolerance(share))
            .unwrap_or(self.due);
        match self.accept_from {
            // A new or changed watch wants answers from after the change, whatever came before.
            Some(start) if !self.urgent => start.min(early),
            _ => early,
        }
    }

    /// Whether a refresh may complete now (due, within tolerance of due, or pulled ahead).
    pub fn eligible(&self, now: Instant, share: f64) -> bool {
        let early = self
            .due
            .checked_sub(self.tolerance(share))
            .unwrap_or(self.due);
        now >= early || self.pulled
    }
}
