//! The shared, batched, quota-aware poller: every watch's HSS calls go through it.
//!
//! HSS allows 5 calls a minute per credential, and a call takes up to 100 host ids. So the
//! operator does not call HSS per watch: every `HostRiskWatch` that shares (endpoint, project,
//! enterprise project, credentials) — a [`GroupKey`] — is served by one group task that
//! deduplicates the host ids of all its watches and queries them in chunks of at most
//! [`PollerOptions::max_ids_per_call`]. A full sweep of a group costs
//! `ceil(unique ids / 100)` calls, the physical minimum.
//!
//! Design:
//! - **Registration.** The controller's watch table (the one owner of a watch's life) calls
//!   [`Poller::upsert`] with a [`WatchRegistration`] (scope, credentials, ids, interval, an
//!   opaque revision) and [`Poller::remove`] when the watch goes or stops being polled. An equal
//!   registration is a no-op; a new watch, a new revision or other ids make the watch *urgent*:
//!   it goes first in the next call the quota allows (not after a full cycle), and only answers
//!   from calls started after the change count. Groups are keyed by the credentials' secret
//!   material as well as their identity: other keys (rotation, or a wrong secret for the same
//!   access key) move the watch to another group, so a bad Secret never fails a good one's
//!   calls. A group without watches ends, and its counters fold into [`PollerStats::retired`].
//! - **Scheduling.** Each watch is due at its last complete refresh + interval. When a watch
//!   is due, its group takes a permit from the planning limiter, then builds the call at that
//!   moment: ids still needed by due watches (urgent first, then most overdue first, then by
//!   key for a stable packing), deduplicated, up to the chunk size; with
//!   [`PollerOptions::fill_ahead`] the room left is filled with the ids of the watches due
//!   soonest (at most half their interval ahead), which may then complete early. A new or
//!   changed watch whose call would not be full waits [`PollerOptions::gather`] first, so a
//!   wave of registrations (operator start) shares calls instead of spending a permit each.
//! - **Which answers count.** A watch's refresh needs, for each of its ids, an answer from a
//!   call started at or after the earlier of: its due time minus
//!   [`PollerOptions::early_tolerance`] × interval, and the first call planned while it was
//!   within half its interval of being due. So a sweep asks each id once even when it spans
//!   many calls and watches sharing an id are due seconds apart; every id is still asked at
//!   least once per (smallest) interval of its watches. A new or changed watch takes only
//!   answers from calls started after the change.
//! - **Quota.** The planning limiter is a sliding window of `calls_per_window` per
//!   credential identity, shared by every group of the poller, so two groups with one
//!   identity (two projects, one user) share one quota, first come first served. The client's
//!   own limiter still enforces (retries and other callers included); planning with the same
//!   numbers means the poller never waits inside the client and never meets a 429 it caused.
//!   When the quota cannot meet every interval, earliest-due-first spreads the calls fairly:
//!   no watch starves, and each [`WatchUpdate`] reports the `effective_interval` it gets and
//!   its `lag`, so status can say so ([`WatchUpdate::is_lagging`]).
//! - **Results.** The group keeps the latest answer per host id (or not-found) with the start
//!   of the call and its request id. A watch's refresh completes when every one of its ids has
//!   an answer that counts for it; then a `WatchUpdate` with only its ids is published. A
//!   failed call (after the client's retries) publishes a failure to every watch the call was
//!   made for, backs the group off (exponential, full jitter, capped at the smallest interval)
//!   and keeps the cache; polling never stops.
//! - **Delivery.** [`PollerHandle::subscribe`] yields the key of each watch with a new update
//!   (deduplicated until read, never dropped), for `Controller::reconcile_on`; the reconcile
//!   then reads [`PollerHandle::pending`] instead of calling HSS, and marks it
//!   [`PollerHandle::applied`] once its status is written.
//!
//! Calls of a group are sequential (a call takes milliseconds to a second, permits are seconds
//! apart at the real quota).

mod group;
#[cfg(test)]
mod group_tests;
mod hosts;
mod outcome;
mod plan;
mod schedule;
#[cfg(test)]
mod schedule_tests;
mod sharded;
#[cfg(test)]
mod shared_ids_tests;
mod subscribe;
mod supervise;
mod task;
pub mod types;
mod watch_state;
mod watchers;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use futures::stream::BoxStream;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use types::{
    CallTotals, GroupKey, GroupStats, PollerOptions, PollerStats, WatchKey, WatchRegistration,
    WatchUpdate,
};

use crate::hss::ratelimit::RateLimiter;
use crate::hss::HssClient;
use crate::status::PollAnswer;
use group::GroupState;
pub(crate) use subscribe::KeyQueue;

struct GroupSlot {
    state: GroupState,
    notify: Arc<Notify>,
    /// Tells this group's task from the task of an earlier group of the same key that is still
    /// finishing a call.
    epoch: u64,
}

#[derive(Default)]
struct State {
    groups: HashMap<GroupKey, GroupSlot>,
    watch_group: HashMap<WatchKey, GroupKey>,
    /// Each watch's newest update until the controller applied it.
    latest: HashMap<WatchKey, WatchUpdate>,
    /// The counters of the groups that ended.
    retired: CallTotals,
    next_epoch: u64,
    subscribers: Vec<Arc<KeyQueue>>,
}

impl State {
    /// The group of `key` that the task of `epoch` serves, if it still runs.
    fn group(&mut self, key: &GroupKey, epoch: u64) -> Option<&mut GroupState> {
        self.groups
            .get_mut(key)
            .filter(|slot| slot.epoch == epoch)
            .map(|slot| &mut slot.state)
    }

    /// Takes `watch` out of group `key`; a group left without watches ends at once (its task
    /// stops when it next looks), its counters kept in the totals.
    fn leave(&mut self, key: &GroupKey, watch: &WatchKey) {
        let Some(slot) = self.groups.get_mut(key) else {
            return;
        };
        slot.state.remove(watch);
        slot.notify.notify_one();
        if slot.state.watches.is_empty() {
            self.retire(key);
        }
    }

    fn retire(&mut self, key: &GroupKey) {
        if let Some(slot) = self.groups.remove(key) {
            tracing::debug!(group = %key, "no watch left in group; it ends");
            self.retired.add(&slot.state.stats);
        }
    }

    /// `update` with its host data, read from its group's cache.
    fn filled(&self, mut update: WatchUpdate) -> WatchUpdate {
        if let Some(group) = self
            .watch_group
            .get(&update.key)
            .and_then(|g| self.groups.get(g))
        {
            group.state.fill(&mut update);
        }
        update
    }

    fn publish(&mut self, updates: Vec<WatchUpdate>) {
        for update in updates {
            let key = update.key.clone();
            if !self.watch_group.contains_key(&key) {
                continue;
            }
            self.latest.insert(key.clone(), update);
            for queue in &self.subscribers {
                queue.push(&key);
            }
        }
    }
}

pub(crate) struct Shared {
    client: HssClient,
    options: PollerOptions,
    planner: RateLimiter,
    /// Bounds the calls in flight over all groups ([`PollerOptions::max_calls_in_flight`]).
    in_flight: Option<tokio::sync::Semaphore>,
    /// While true no group plans a call: the owner is still registering the watches it
    /// already knows (operator start, new leader), so the first sweep packs all of them.
    held: tokio::sync::watch::Sender<bool>,
    cancel: CancellationToken,
    runtime: tokio::runtime::Handle,
    state: Mutex<State>,
    deaths: Arc<supervise::Deaths>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Updates under this lock are plain map operations; a panic cannot leave one half done.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The owner's side: registrations. Dropping it stops every group task.
pub struct Poller {
    shared: Arc<Shared>,
}

/// The readers' side: updates, subscriptions, statistics. Cheap to clone.
#[derive(Clone)]
pub struct PollerHandle {
    shared: Arc<Shared>,
}

impl Poller {
    /// Builds the poller on the current tokio runtime (call from within it).
    /// `max_ids_per_call` is clamped to the client's chunk size.
    pub fn new(client: HssClient, options: PollerOptions) -> (Poller, PollerHandle) {
        let mut options = options;
        options.max_ids_per_call = options
            .max_ids_per_call
            .clamp(1, client.config().chunk_size.max(1));
        let shared = Arc::new(Shared {
            planner: RateLimiter::new(options.calls_per_window, options.window),
            in_flight: (options.max_calls_in_flight > 0)
                .then(|| tokio::sync::Semaphore::new(options.max_calls_in_flight)),
            held: tokio::sync::watch::channel(false).0,
            client,
            options,
            cancel: CancellationToken::new(),
            runtime: tokio::runtime::Handle::current(),
            state: Mutex::new(State::default()),
            deaths: Arc::default(),
        });
        (
            Poller {
                shared: Arc::clone(&shared),
            },
            PollerHandle { shared },
        )
    }

    /// Registers or updates a watch (see the module docs for what counts as a change).
    pub fn upsert(&self, registration: WatchRegistration) {
        let now = Instant::now();
        let group_key = registration.group_key();
        let watch_key = registration.key.clone();
        let mut state = self.shared.lock();
        if let Some(old) = state.watch_group.get(&watch_key).cloned() {
            if old != group_key {
                state.leave(&old, &watch_key);
            }
        }
        state
            .watch_group
            .insert(watch_key.clone(), group_key.clone());
        let epoch = state.next_epoch;
        let state = &mut *state;
        let slot = match state.groups.entry(group_key.clone()) {
            std::collections::hash_map::Entry::Occupied(slot) => slot.into_mut(),
            std::collections::hash_map::Entry::Vacant(vacant) => {
                state.next_epoch += 1;
                let notify = Arc::new(Notify::new());
                let task = task::run_group(
                    Arc::clone(&self.shared),
                    group_key.clone(),
                    epoch,
                    Arc::clone(&notify),
                );
                let task = self.shared.runtime.spawn(task);
                self.shared.runtime.spawn(supervise::supervise(
                    task,
                    group_key.to_string(),
                    self.shared.cancel.clone(),
                    Arc::clone(&self.shared.deaths),
                ));
                tracing::debug!(group = %group_key, "poller group started");
                vacant.insert(GroupSlot {
                    state: GroupState::new(
                        group_key.clone(),
                        &registration,
                        self.shared.options.clone(),
                    ),
                    notify,
                    epoch,
                })
            }
        };
        if slot.state.upsert(registration, now) {
            slot.notify.notify_one();
            // An update made before the change answers for what the watch was.
            state.latest.remove(&watch_key);
        }
    }

    /// Holds every group before its next call until [`Poller::release`]: registrations made
    /// meanwhile are planned together (a first sweep over every known watch packs the fewest
    /// calls, instead of whatever registered first going out half empty).
    pub fn hold(&self) {
        self.shared.held.send_replace(true);
    }

    /// Ends a [`Poller::hold`].
    pub fn release(&self) {
        self.shared.held.send_replace(false);
    }

    /// Stops polling for a watch; its ids are no longer asked unless another watch wants them.
    pub fn remove(&self, key: &WatchKey) {
        let mut state = self.shared.lock();
        state.latest.remove(key);
        if let Some(group_key) = state.watch_group.remove(key) {
            state.leave(&group_key, key);
        }
    }

    pub fn handle(&self) -> PollerHandle {
        PollerHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Stops every group task and ends the subscription streams.
    pub fn shutdown(&self) {
        self.shared.cancel.cancel();
        for queue in &self.shared.lock().subscribers {
            queue.close();
        }
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl PollerHandle {
    /// True while the owner holds the groups back ([`Poller::hold`]).
    pub fn is_held(&self) -> bool {
        *self.shared.held.borrow()
    }

    /// Resolves with the name of the first group whose task died (a panic): its watches are
    /// no longer polled, so the owner should stop (see `controller::run`).
    pub fn group_task_died(&self) -> impl std::future::Future<Output = String> + Send + 'static {
        self.shared.deaths.first()
    }

    /// Keys of watches with a new update, each at most once until read. Ends when the poller
    /// stops. Map it to `ObjectRef`s for `Controller::reconcile_on`.
    pub fn subscribe(&self) -> BoxStream<'static, WatchKey> {
        let queue = Arc::new(KeyQueue::default());
        if self.shared.cancel.is_cancelled() {
            queue.close();
        }
        self.shared.lock().subscribers.push(Arc::clone(&queue));
        queue.stream()
    }

    /// The newest update of a watch not applied yet, with its host data as the group's cache
    /// holds it now. It stays until [`PollerHandle::applied`] (or a newer one replaces it), so
    /// an update whose status could not be written is there again for the retry.
    pub fn pending(&self, key: &WatchKey) -> Option<WatchUpdate> {
        let state = self.shared.lock();
        let update = state.latest.get(key)?.clone();
        Some(state.filled(update))
    }

    /// The update made at `at` was applied: drops it unless a newer one came meanwhile.
    pub fn applied(&self, key: &WatchKey, at: Instant) {
        let mut state = self.shared.lock();
        if state.latest.get(key).is_some_and(|u| u.at == at) {
            state.latest.remove(key);
        }
    }

    /// The last good answers for a watch's ids, whatever happened since.
    pub fn cached(&self, key: &WatchKey) -> Option<PollAnswer> {
        let state = self.shared.lock();
        let group = state.watch_group.get(key)?;
        state.groups.get(group)?.state.cached(key)
    }

    /// Every registered watch.
    pub fn registered(&self) -> Vec<WatchKey> {
        let mut keys: Vec<WatchKey> = self.shared.lock().watch_group.keys().cloned().collect();
        keys.sort();
        keys
    }

    /// The group a watch is served by.
    pub fn group_of(&self, key: &WatchKey) -> Option<GroupKey> {
        self.shared.lock().watch_group.get(key).cloned()
    }

    pub fn stats(&self) -> PollerStats {
        let quota_used = self
            .shared
            .planner
            .usage()
            .into_iter()
            .map(|(identity, used)| (identity.to_string(), used))
            .collect();
        let state = self.shared.lock();
        PollerStats {
            groups: state
                .groups
                .iter()
                .map(|(key, slot)| (key.clone(), slot.state.stats.clone()))
                .collect(),
            retired: state.retired,
            quota_used,
            unapplied: state.latest.len(),
        }
    }
}

/// What the metrics read of the poller at each scrape.
impl crate::metrics::PollerView for PollerHandle {
    fn groups(&self) -> Vec<crate::metrics::GroupFigures> {
        let now = Instant::now();
        let state = self.shared.lock();
        state
            .groups
            .values()
            .map(|g| g.state.figures(now))
            .collect()
    }
}
