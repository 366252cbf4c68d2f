//! The state of one group (watches sharing endpoint, project, enterprise project and credential
//! identity): registrations, the per-host cache and the planning of the next call. Pure: the
//! caller passes the time, so every rule here is tested without I/O.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::types::{GroupKey, GroupStats, PollerOptions, WatchKey, WatchRegistration};
use crate::hss::{Credentials, Scope};
use crate::metrics::GroupFigures;
use crate::status::HostId;

use super::hosts::{dedup_ids, same_allocations, HostTable};
use super::schedule::Schedule;
pub(crate) use super::watch_state::WatchState;
pub(crate) use super::watchers::SharedKey;

/// What the group task should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// No watch left: the task ends.
    Exit,
    /// Some watch is due and the backoff (if any) is over.
    Ready,
    /// Sleep until then (or until a registration changes).
    At(Instant),
}

#[derive(Debug)]
pub(crate) struct GroupState {
    pub key: GroupKey,
    pub scope: Scope,
    /// The credentials of the latest registration (rotation within one identity).
    pub credentials: Credentials,
    pub options: PollerOptions,
    pub watches: BTreeMap<SharedKey, WatchState>,
    /// The watches in planning order (kept in step with their timing in `watches`).
    pub schedule: Schedule,
    /// Every id some watch lists: its watchers and latest answer. An id leaves with its last
    /// watcher.
    pub hosts: HostTable,
    /// Consecutive failed calls, and no call before `not_before` while backing off.
    pub failures: u32,
    pub not_before: Option<Instant>,
    /// When a watch was last added or changed (a wave of registrations is still arriving
    /// while this keeps moving).
    pub last_registration: Option<Instant>,
    pub stats: GroupStats,
    pub sweep_start_calls: u64,
    pub swept: HashSet<WatchKey>,
    /// When the sweep in progress began (the previous one ended, or the first registration).
    pub sweep_started: Option<Instant>,
    /// How long the last full sweep took.
    pub last_sweep: Option<Duration>,
}

impl GroupState {
    pub fn new(key: GroupKey, reg: &WatchRegistration, options: PollerOptions) -> Self {
        Self {
            key,
            scope: reg.scope.clone(),
            credentials: reg.credentials.clone(),
            options,
            watches: BTreeMap::new(),
            schedule: Schedule::default(),
            hosts: HostTable::default(),
            failures: 0,
            not_before: None,
            last_registration: None,
            stats: GroupStats::default(),
            sweep_start_calls: 0,
            swept: HashSet::new(),
            sweep_started: None,
            last_sweep: None,
        }
    }

    /// Adds or updates a watch; returns true when it must be polled promptly (new, new
    /// revision or other ids), so the caller wakes the group. Ids that only went away (a Node
    /// left a node-backed watch) are no change to poll for: the answers for the rest stay good,
    /// and the watch keeps its schedule.
    pub fn upsert(&mut self, reg: WatchRegistration, now: Instant) -> bool {
        if self.credentials != reg.credentials {
            // Rotated credentials (the same identity, e.g. a fixed secret key): failures of the
            // old ones say nothing about them, so the next call is not held back.
            self.failures = 0;
            self.not_before = None;
        }
        self.credentials = reg.credentials;
        self.scope = reg.scope;
        self.sweep_started.get_or_insert(now);
        let ids = dedup_ids(&reg.host_ids);
        let interval = reg.interval.max(Duration::from_millis(1));
        if let Some(watch) = self.watches.get_mut(&reg.key) {
            let same_ids = watch.ids.len() == ids.len()
                && watch.ids.iter().zip(&*ids).all(|(a, b)| **a == **b);
            if watch.revision == reg.revision && same_ids {
                // The registration's list may be the one the spec holds: one list for both.
                if !Arc::ptr_eq(&watch.ids, &ids) && same_allocations(&watch.ids, &ids) {
                    watch.ids = ids;
                }
                if watch.interval != interval {
                    self.retime(&reg.key, now, |watch| {
                        watch.interval = interval;
                        if let Some(last) = watch.last_complete {
                            watch.due = last + interval;
                        }
                    });
                    return true;
                }
                return false;
            }
        }
        if self.only_dropped(&reg.key, &reg.revision, &ids, interval) {
            return false;
        }
        // A changed watch keeps its refresh history, so its effective interval stays measured.
        let history = self
            .watches
            .get(&reg.key)
            .map(|w| (w.last_complete, w.effective, w.smoothed))
            .unwrap_or_default();
        self.remove(&reg.key);
        let key: SharedKey = Arc::new(reg.key);
        let index = self.hosts.add_watch(key.clone());
        let listed: Vec<HostId> = ids.iter().map(|id| self.hosts.watch(id, index)).collect();
        let ids = if same_allocations(&listed, &ids) {
            ids
        } else {
            listed.into()
        };
        self.last_registration = Some(now);
        let watch = WatchState {
            index,
            revision: reg.revision,
            ids,
            interval,
            due: now,
            urgent: true,
            accept_from: None,
            pulled: false,
            last_complete: history.0,
            effective: history.1,
            smoothed: history.2,
        };
        self.schedule.insert(&key, &watch, now);
        self.watches.insert(key, watch);
        self.refresh_gauges();
        true
    }

    /// Same revision and interval, and `ids` a strict subset of the watch's: drops the others
    /// (and their cached answers when nobody else lists them) and returns true.
    fn only_dropped(
        &mut self,
        key: &WatchKey,
        revision: &str,
        ids: &[HostId],
        interval: Duration,
    ) -> bool {
        let Some(watch) = self.watches.get(key) else {
            return false;
        };
        let kept: HashSet<&str> = ids.iter().map(|id| &**id).collect();
        let subset = watch.revision == revision
            && watch.interval == interval
            && ids.len() < watch.ids.len()
            && kept.iter().all(|id| watch.ids.iter().any(|w| &**w == *id));
        if !subset {
            return false;
        }
        let index = watch.index;
        let dropped: Vec<HostId> = watch
            .ids
            .iter()
            .filter(|id| !kept.contains(&***id))
            .cloned()
            .collect();
        for id in &dropped {
            self.hosts.unwatch(id, index);
        }
        if let Some((shared, watch)) = self.watches.get_key_value(key) {
            let ids = watch
                .ids
                .iter()
                .filter(|id| kept.contains(&***id))
                .cloned()
                .collect();
            // What is left may all be fresh: the watch is looked at again once due.
            let shared = shared.clone();
            if let Some(watch) = self.watches.get_mut(key) {
                watch.ids = ids;
                self.schedule.recheck(&shared, watch);
            }
        }
        self.refresh_gauges();
        true
    }

    /// Drops a watch and the cached hosts nobody else wants; true when it was there.
    pub fn remove(&mut self, key: &WatchKey) -> bool {
        let Some((shared, watch)) = self.watches.remove_entry(key) else {
            return false;
        };
        self.schedule.remove(&shared, &watch);
        for id in watch.ids.iter() {
            self.hosts.unwatch(id, watch.index);
        }
        self.hosts.remove_watch(watch.index);
        self.swept.remove(key);
        self.refresh_gauges();
        true
    }

    /// The group as it is at `now`, for the metrics read at scrape time.
    pub fn figures(&self, now: Instant) -> GroupFigures {
        GroupFigures {
            group: self.key.to_string(),
            watches: self.watches.len(),
            hosts: self.hosts.len(),
            queued: self.schedule.due_count(now),
            last_sweep: self.last_sweep,
        }
    }

    pub fn refresh_gauges(&mut self) {
        self.stats.watches = self.watches.len();
        self.stats.unique_ids = self.hosts.len();
        let per_call = self.options.max_ids_per_call.max(1);
        self.stats.min_calls_per_sweep = self.hosts.len().div_ceil(per_call) as u64;
    }

    /// Changes `key`'s timing (due time, urgency, interval, refresh window) with `change`,
    /// keeping the schedule in step; `now` is when.
    pub fn retime<R>(
        &mut self,
        key: &WatchKey,
        now: Instant,
        change: impl FnOnce(&mut WatchState) -> R,
    ) -> Option<R> {
        let (shared, watch) = self.watches.get_key_value(key)?;
        let shared = shared.clone();
        self.schedule.remove(&shared, watch);
        let watch = self.watches.get_mut(key)?;
        let result = change(watch);
        self.schedule.insert(&shared, watch, now);
        Some(result)
    }
}
