//! A group's timetable: its watches kept in planning order, so planning a call reads the few
//! watches at the front instead of sorting all of them. A sweep of 10,000 watches plans about
//! 9,000 calls: sorting every watch for each call made the sweep quadratic (minutes of CPU
//! under the group's lock), while the answers themselves take seconds.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::time::Instant;

use super::watch_state::WatchState;
use super::watchers::SharedKey;

/// (due, key) of one watch.
type Entry = (Instant, SharedKey);

#[derive(Debug, Default)]
pub(crate) struct Schedule {
    /// New or changed watches, planned before all others.
    urgent: BTreeSet<Entry>,
    /// Every other watch.
    regular: BTreeSet<Entry>,
    /// Watches not looked at since they were (re)scheduled, by due time: once due, a watch
    /// whose every id is already fresh completes without a call. A due watch looked at once
    /// is completed by the answer that brings its last missing id, so it is never looked at
    /// again before its next refresh.
    unchecked: BTreeSet<Entry>,
    /// (due − interval/2, key) of watches whose answers do not count from an earlier call
    /// yet: from that instant on, a planned call opens their refresh (`accept_from`).
    opening: BTreeSet<Entry>,
    /// No watch's interval is longer: how far ahead fill-ahead looks.
    longest_interval: Duration,
}

impl Schedule {
    /// Adds `watch` as it is now (`now`: when it is scheduled).
    pub fn insert(&mut self, key: &SharedKey, watch: &WatchState, now: Instant) {
        self.queue(watch).insert((watch.due, key.clone()));
        self.unchecked.insert((watch.due, key.clone()));
        if watch.accept_from.is_none() {
            self.opening.insert((opens_at(watch, now), key.clone()));
        }
        self.longest_interval = self.longest_interval.max(watch.interval);
    }

    /// Removes `watch`, as it was when inserted (call before changing its timing).
    pub fn remove(&mut self, key: &SharedKey, watch: &WatchState) {
        let entry = (watch.due, key.clone());
        self.queue(watch).remove(&entry);
        self.unchecked.remove(&entry);
        match watch.due.checked_sub(watch.interval / 2) {
            Some(at) => {
                self.opening.remove(&(at, key.clone()));
            }
            // Its place depended on the time of insertion: look it up by key (a watch
            // scheduled less than half an interval after the clock's origin: rare).
            None => self.opening.retain(|(_, k)| k != key),
        }
    }

    /// `watch` must be looked at again (ids went away: what is left may all be fresh).
    pub fn recheck(&mut self, key: &SharedKey, watch: &WatchState) {
        self.unchecked.insert((watch.due, key.clone()));
    }

    fn queue(&mut self, watch: &WatchState) -> &mut BTreeSet<Entry> {
        if watch.urgent {
            &mut self.urgent
        } else {
            &mut self.regular
        }
    }

    /// Keys of watches due at `now`: urgent ones first, then by due time, then by key.
    pub fn due(&self, now: Instant) -> impl Iterator<Item = &SharedKey> + '_ {
        let due = move |(at, _): &&Entry| *at <= now;
        self.urgent
            .iter()
            .take_while(due)
            .chain(self.regular.iter().take_while(due))
            .map(|(_, key)| key)
    }

    /// Takes the watches due at `now` that were not looked at since they were scheduled.
    pub fn take_unchecked(&mut self, now: Instant) -> Vec<SharedKey> {
        take_until(&mut self.unchecked, now)
    }

    /// Takes the watches whose refresh window opened at or before `now`.
    pub fn take_opened(&mut self, now: Instant) -> Vec<SharedKey> {
        take_until(&mut self.opening, now)
    }

    /// Keys of watches not due at `now` but due within `longest_interval / 2`, by due time
    /// then key: the candidates for fill-ahead (the caller checks each one's own interval).
    /// Lazy: planning stops reading once its call is full.
    pub fn upcoming(&self, now: Instant) -> impl Iterator<Item = &SharedKey> + '_ {
        let horizon = now + self.longest_interval / 2;
        fn ahead(
            set: &BTreeSet<Entry>,
            now: Instant,
            horizon: Instant,
        ) -> impl Iterator<Item = &Entry> + '_ {
            set.iter()
                .skip_while(move |(at, _)| *at <= now)
                .take_while(move |(at, _)| *at <= horizon)
        }
        // Urgent watches are due when registered: one ahead of time is a rare leftover of an
        // interval change, so those few are merged into the (long) regular run.
        let mut urgent = ahead(&self.urgent, now, horizon)
            .collect::<Vec<_>>()
            .into_iter()
            .peekable();
        let mut regular = ahead(&self.regular, now, horizon).peekable();
        std::iter::from_fn(move || {
            let next = match (urgent.peek(), regular.peek()) {
                (Some(u), Some(r)) if u <= r => urgent.next(),
                (Some(_), None) => urgent.next(),
                _ => regular.next(),
            };
            next.map(|(_, key)| key)
        })
    }

    /// The earliest due time, if any watch is left.
    pub fn earliest(&self) -> Option<Instant> {
        let urgent = self.urgent.first().map(|(at, _)| *at);
        let regular = self.regular.first().map(|(at, _)| *at);
        match (urgent, regular) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether a new or changed watch is due at `now`.
    pub fn urgent_due(&self, now: Instant) -> bool {
        self.urgent.first().is_some_and(|(at, _)| *at <= now)
    }

    /// Watches due at `now`.
    pub fn due_count(&self, now: Instant) -> usize {
        self.due(now).count()
    }
}

/// Removes and returns the keys of `set`'s entries at or before `now`, earliest first.
fn take_until(set: &mut BTreeSet<Entry>, now: Instant) -> Vec<SharedKey> {
    let mut taken = Vec::new();
    while set.first().is_some_and(|(at, _)| *at <= now) {
        if let Some((_, key)) = set.pop_first() {
            taken.push(key);
        }
    }
    taken
}

/// When `watch`'s refresh window opens: half its interval before it is due (at once when that
/// lies before the clock's origin).
fn opens_at(watch: &WatchState, now: Instant) -> Instant {
    watch
        .due
        .checked_sub(watch.interval / 2)
        .unwrap_or_else(|| now.min(watch.due))
}

#[cfg(test)]
impl Schedule {
    /// Watches in the timetable.
    pub fn len(&self) -> usize {
        self.urgent.len() + self.regular.len()
    }
}
