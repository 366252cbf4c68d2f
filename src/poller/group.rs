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
pub(crate) use super::watchers::SharedKey;
use super::watchers::WatchIndex;

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
                    watch.interval = interval;
                    if let Some(last) = watch.last_complete {
                        watch.due = last + interval;
                    }
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
        self.watches.insert(
            key,
            WatchState {
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
            },
        );
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
        if let Some(watch) = self.watches.get_mut(key) {
            watch.ids = watch
                .ids
                .iter()
                .filter(|id| kept.contains(&***id))
                .cloned()
                .collect();
        }
        self.refresh_gauges();
        true
    }

    /// Drops a watch and the cached hosts nobody else wants; true when it was there.
    pub fn remove(&mut self, key: &WatchKey) -> bool {
        let Some(watch) = self.watches.remove(key) else {
            return false;
        };
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
            queued: self.watches.values().filter(|w| w.due <= now).count(),
            last_sweep: self.last_sweep,
        }
    }

    pub fn refresh_gauges(&mut self) {
        self.stats.watches = self.watches.len();
        self.stats.unique_ids = self.hosts.len();
        let per_call = self.options.max_ids_per_call.max(1);
        self.stats.min_calls_per_sweep = self.hosts.len().div_ceil(per_call) as u64;
    }

    /// Whether `id` has an answer that counts for a refresh that counts answers from `since`.
    pub fn fresh(&self, id: &str, since: Instant) -> bool {
        self.hosts.fresh(id, since)
    }

    /// Ids of `watch` still without an answer for its refresh in progress.
    fn needed<'a>(&'a self, watch: &'a WatchState) -> impl Iterator<Item = &'a HostId> + 'a {
        let since = watch.since(self.options.early_tolerance);
        watch.ids.iter().filter(move |id| !self.fresh(id, since))
    }

    /// Due watches, most urgent first: new or changed ones, then by due time (most overdue
    /// first), then by key so equal due times keep a stable packing from sweep to sweep.
    fn due_order(&self, now: Instant) -> Vec<&SharedKey> {
        let mut due: Vec<(&SharedKey, &WatchState)> =
            self.watches.iter().filter(|(_, w)| w.due <= now).collect();
        due.sort_by(|a, b| (!a.1.urgent, a.1.due, a.0).cmp(&(!b.1.urgent, b.1.due, b.0)));
        due.into_iter().map(|(k, _)| k).collect()
    }

    /// Keys of due watches whose every id is already fresh (or that have no ids): they complete
    /// without a call.
    pub fn complete_without_call(&self, now: Instant) -> Vec<WatchKey> {
        self.due_order(now)
            .into_iter()
            .filter(|k| {
                self.watches
                    .get(*k)
                    .is_some_and(|w| self.needed(w).next().is_none())
            })
            .map(|k| WatchKey::clone(k))
            .collect()
    }

    /// What to do next at `now`.
    pub fn wake(&self, now: Instant) -> Wake {
        let Some(earliest) = self.watches.values().map(|w| w.due).min() else {
            return Wake::Exit;
        };
        let at = match self.not_before {
            Some(nb) => earliest.max(nb),
            None => earliest,
        };
        if at <= now {
            Wake::Ready
        } else {
            Wake::At(at)
        }
    }

    /// True when a new or changed watch is due and the ids due now would not fill a call:
    /// worth waiting a moment for more registrations.
    pub fn wants_gathering(&self, now: Instant) -> bool {
        let max = self.options.max_ids_per_call.max(1);
        let due = self.due_order(now);
        if !due
            .iter()
            .any(|k| self.watches.get(*k).is_some_and(|w| w.urgent))
        {
            return false;
        }
        let mut needed: HashSet<&HostId> = HashSet::new();
        for key in due {
            if let Some(watch) = self.watches.get(key) {
                needed.extend(self.needed(watch));
                if needed.len() >= max {
                    return false;
                }
            }
        }
        true
    }

    /// After a gathering pause that began at `since`: worth waiting on while the call would
    /// still not be full and registrations kept arriving during the pause (a creation wave).
    pub fn keep_gathering(&self, now: Instant, since: Instant) -> bool {
        self.last_registration.is_some_and(|at| at > since) && self.wants_gathering(now)
    }

    /// The ids of the next call at `now`: the deduplicated ids of due watches, most urgent
    /// first, up to `max_ids_per_call`; then, with `fill_ahead`, ids of the watches due soonest
    /// (within half their interval), which may then complete early. Every watch due within
    /// half its interval starts accepting answers from this call on. Empty when nothing due
    /// needs an answer.
    pub fn plan_chunk(&mut self, now: Instant) -> Vec<String> {
        let max = self.options.max_ids_per_call.max(1);
        let mut chunk: Vec<String> = Vec::new();
        let mut taken: HashSet<HostId> = HashSet::new();
        for key in self.due_order(now) {
            let Some(watch) = self.watches.get(key) else {
                continue;
            };
            for id in self.needed(watch) {
                if chunk.len() >= max {
                    break;
                }
                if taken.insert(id.clone()) {
                    chunk.push(id.to_string());
                }
            }
            if chunk.len() >= max {
                break;
            }
        }
        if chunk.is_empty() {
            return chunk;
        }
        for watch in self.watches.values_mut() {
            if watch.due > now && watch.due <= now + watch.interval / 2 {
                watch.accept_from.get_or_insert(now);
            }
        }
        if !self.options.fill_ahead || chunk.len() >= max {
            return chunk;
        }
        let mut upcoming: Vec<(&SharedKey, &WatchState)> = self
            .watches
            .iter()
            .filter(|(_, w)| w.due > now && w.due <= now + w.interval / 2)
            .collect();
        upcoming.sort_by(|a, b| (a.1.due, a.0).cmp(&(b.1.due, b.0)));
        let mut pulled: Vec<SharedKey> = Vec::new();
        for (key, watch) in upcoming {
            if chunk.len() >= max {
                break;
            }
            // Its answers count from this call on (accept_from was set above), so only what
            // it has not had since is wanted.
            pulled.push(key.clone());
            for id in self.needed(watch) {
                if chunk.len() >= max {
                    break;
                }
                if taken.insert(id.clone()) {
                    chunk.push(id.to_string());
                }
            }
        }
        for key in pulled {
            if let Some(watch) = self.watches.get_mut(&key) {
                watch.accept_from.get_or_insert(now);
                watch.pulled = true;
            }
        }
        chunk
    }
}
