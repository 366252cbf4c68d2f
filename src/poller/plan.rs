//! Planning of a group's next call: which due watches complete without one, when to wake,
//! whether to wait for more registrations, and which ids the call asks for. Reads the
//! group's [`super::schedule::Schedule`] from the front, so a call's plan costs about the
//! watches it serves, not the group's size.

use std::collections::HashSet;

use tokio::time::Instant;

use super::group::{GroupState, SharedKey, Wake, WatchState};
use super::types::WatchKey;
use crate::status::HostId;

impl GroupState {
    /// Whether `id` has an answer that counts for a refresh that counts answers from `since`.
    pub fn fresh(&self, id: &str, since: Instant) -> bool {
        self.hosts.fresh(id, since)
    }

    /// Ids of `watch` still without an answer for its refresh in progress.
    pub(crate) fn needed<'a>(
        &'a self,
        watch: &'a WatchState,
    ) -> impl Iterator<Item = &'a HostId> + 'a {
        let since = watch.since(self.options.early_tolerance);
        watch.ids.iter().filter(move |id| !self.fresh(id, since))
    }

    /// Keys of due watches whose every id is already fresh (or that have no ids): they complete
    /// without a call. Urgent ones first, then by due time, then by key. Each due watch is
    /// looked at once per refresh: after that, the answer bringing its last id completes it.
    pub fn complete_without_call(&mut self, now: Instant) -> Vec<WatchKey> {
        let mut ready: Vec<(bool, Instant, SharedKey)> = self
            .schedule
            .take_unchecked(now)
            .into_iter()
            .filter_map(|key| {
                let watch = self.watches.get(&key)?;
                self.needed(watch)
                    .next()
                    .is_none()
                    .then_some((!watch.urgent, watch.due, key))
            })
            .collect();
        ready.sort();
        ready
            .into_iter()
            .map(|(_, _, key)| WatchKey::clone(&key))
            .collect()
    }

    /// What to do next at `now`.
    pub fn wake(&self, now: Instant) -> Wake {
        let Some(earliest) = self.schedule.earliest() else {
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
        if !self.schedule.urgent_due(now) {
            return false;
        }
        let max = self.options.max_ids_per_call.max(1);
        let mut needed: HashSet<&HostId> = HashSet::new();
        for key in self.schedule.due(now) {
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
        for key in self.schedule.due(now) {
            let Some(watch) = self.watches.get(key) else {
                continue;
            };
            self.take_needed(watch, max, &mut chunk, &mut taken);
            if chunk.len() >= max {
                break;
            }
        }
        if chunk.is_empty() {
            return chunk;
        }
        self.open_refreshes(now);
        if !self.options.fill_ahead || chunk.len() >= max {
            return chunk;
        }
        let mut pulled: Vec<SharedKey> = Vec::new();
        for key in self.schedule.upcoming(now) {
            if chunk.len() >= max {
                break;
            }
            let Some(watch) = self.watches.get(key) else {
                continue;
            };
            if watch.due > now + watch.interval / 2 {
                continue;
            }
            // Its answers count from this call on (its refresh was opened above), so only
            // what it has not had since is wanted.
            pulled.push(key.clone());
            self.take_needed(watch, max, &mut chunk, &mut taken);
        }
        for key in pulled {
            if let Some(watch) = self.watches.get_mut(&key) {
                watch.accept_from.get_or_insert(now);
                watch.pulled = true;
            }
        }
        chunk
    }

    /// Adds `watch`'s needed ids not taken yet to `chunk`, up to `max`.
    fn take_needed(
        &self,
        watch: &WatchState,
        max: usize,
        chunk: &mut Vec<String>,
        taken: &mut HashSet<HostId>,
    ) {
        for id in self.needed(watch) {
            if chunk.len() >= max {
                break;
            }
            if taken.insert(id.clone()) {
                chunk.push(id.to_string());
            }
        }
    }

    /// Answers from a call planned at `now` count for every watch due within half its
    /// interval: an id shared with a watch due a little earlier is asked once per sweep.
    fn open_refreshes(&mut self, now: Instant) {
        for key in self.schedule.take_opened(now) {
            if let Some(watch) = self.watches.get_mut(&key) {
                if watch.due > now && watch.due <= now + watch.interval / 2 {
                    watch.accept_from.get_or_insert(now);
                }
            }
        }
    }
}
