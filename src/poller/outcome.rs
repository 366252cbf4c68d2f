//! Folding a call's answer (or failure) into a group: per-host cache, completed refreshes,
//! failure updates, backoff and sweep counting. Pure, like [`super::group`].

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use tokio::time::Instant;

use super::group::GroupState;
use super::types::{WatchKey, WatchUpdate};
use crate::hss::retry::{Backoff, MAX_RETRY_AFTER};
use crate::hss::HostsRiskResult;
use crate::status::{HostRecord, PollAnswer, PollFailure};

/// Weight of the newest effective interval in the smoothed one.
const SMOOTHING: f64 = 0.3;

impl GroupState {
    /// Counts a call about to start with `ids`.
    pub fn begin_call(&mut self, ids: usize) {
        self.stats.calls += 1;
        self.stats.ids_requested += ids as u64;
    }

    /// Watches wanting any of `ids`.
    fn watchers_of(&self, ids: &[String]) -> BTreeSet<WatchKey> {
        self.hosts.watchers_of(ids)
    }

    /// Stores the answer of a call started at `started` for `ids` and returns the updates of
    /// every watch whose refresh it completed.
    pub fn apply_success(
        &mut self,
        ids: &[String],
        answer: HostsRiskResult,
        started: Instant,
        started_wall: jiff::Timestamp,
        now: Instant,
    ) -> Vec<WatchUpdate> {
        self.failures = 0;
        self.not_before = None;
        self.hosts.record(ids, &answer, started, started_wall);
        let share = self.options.early_tolerance;
        let ready: Vec<WatchKey> = self
            .watchers_of(ids)
            .into_iter()
            .filter(|key| {
                self.watches.get(key).is_some_and(|w| {
                    w.eligible(now, share) && {
                        let since = w.since(share);
                        w.ids.iter().all(|id| self.fresh(id, since))
                    }
                })
            })
            .collect();
        ready
            .iter()
            .filter_map(|key| self.complete(key, now))
            .collect()
    }

    /// Completes the refresh of `key` and schedules its next one. The update carries no host
    /// data yet: [`GroupState::fill`] reads it from the cache when the update is taken, so a
    /// sweep completing a thousand watches at once does not hold a thousand copies of their
    /// hosts while the controller works through them.
    pub fn complete(&mut self, key: &WatchKey, now: Instant) -> Option<WatchUpdate> {
        let update = self.retime(key, now, |watch| {
            let lag = now.saturating_duration_since(watch.due);
            if let Some(last) = watch.last_complete {
                let effective = now.saturating_duration_since(last);
                watch.effective = Some(effective);
                watch.smoothed = Some(match watch.smoothed {
                    Some(s) => s.mul_f64(1.0 - SMOOTHING) + effective.mul_f64(SMOOTHING),
                    None => effective,
                });
            }
            watch.last_complete = Some(now);
            watch.due = now + watch.interval;
            watch.urgent = false;
            watch.accept_from = None;
            watch.pulled = false;
            WatchUpdate {
                key: key.clone(),
                revision: watch.revision.clone(),
                outcome: Ok(PollAnswer::default()),
                at: now,
                oldest_data: None,
                target_interval: watch.interval,
                effective_interval: watch.effective,
                smoothed_interval: watch.smoothed,
                lag,
            }
        })?;
        self.stats.refreshes += 1;
        self.count_sweep(key, now);
        Some(update)
    }

    fn count_sweep(&mut self, key: &WatchKey, now: Instant) {
        self.swept.insert(key.clone());
        if self.swept.len() >= self.watches.len() {
            self.stats.sweeps += 1;
            self.stats.last_sweep_calls = Some(self.stats.calls - self.sweep_start_calls);
            self.sweep_start_calls = self.stats.calls;
            self.swept.clear();
            if let Some(started) = self.sweep_started.replace(now) {
                self.last_sweep = Some(now.saturating_duration_since(started));
            }
        }
    }

    /// Records a failed call for `ids`: the group backs off, and every watch the call was made
    /// for (due, or pulled ahead into it) gets a failure update. Cached answers stay.
    pub fn apply_failure(
        &mut self,
        ids: &[String],
        failure: &PollFailure,
        now: Instant,
    ) -> Vec<WatchUpdate> {
        self.stats.failed_calls += 1;
        self.failures = self.failures.saturating_add(1);
        // A throttling service's Retry-After wins over our own (shorter) backoff: calling
        // sooner would be refused again and spend the scope's quota. Refused credentials are
        // not tried again before the group's interval (repeated signature failures can lock a
        // key; a refused token exchange will be refused again), unless they are replaced.
        let delay = if failure.auth_failure {
            self.smallest_interval()
        } else {
            self.backoff_delay()
        }
        .max(failure.retry_after.unwrap_or_default().min(MAX_RETRY_AFTER));
        self.not_before = Some(now.checked_add(delay).unwrap_or(now + MAX_RETRY_AFTER));
        tracing::warn!(
            group = %self.key,
            reason = failure.reason,
            request_id = failure.request_id.as_deref().unwrap_or_default(),
            failures = self.failures,
            backoff_ms = delay.as_millis() as u64,
            "batched HSS call failed; backing off"
        );
        let share = self.options.early_tolerance;
        let watchers = self.watchers_of(ids);
        // The time between refreshes that spans a failed call measures the failure backoff, not
        // the quota: restart the measurement so a recovered watch is not reported QuotaLimited.
        for key in &watchers {
            if let Some(watch) = self.watches.get_mut(key) {
                watch.last_complete = None;
                watch.effective = None;
                watch.smoothed = None;
            }
        }
        watchers
            .into_iter()
            .filter_map(|key| {
                let watch = self.watches.get(&key)?;
                watch.eligible(now, share).then(|| WatchUpdate {
                    key: key.clone(),
                    revision: watch.revision.clone(),
                    outcome: Err(failure.clone()),
                    at: now,
                    oldest_data: None,
                    target_interval: watch.interval,
                    effective_interval: watch.effective,
                    smoothed_interval: watch.smoothed,
                    lag: now.saturating_duration_since(watch.due),
                })
            })
            .collect()
    }

    /// The group's backoff after its `failures`-th consecutive failed call: the project's one
    /// full-jitter backoff, capped at the group's smallest interval (a failing group never
    /// waits longer than a healthy watch would).
    pub fn backoff_delay(&self) -> Duration {
        Backoff {
            base: self.options.backoff_base,
            max: self.smallest_interval(),
            floor: self.options.backoff_floor,
        }
        .delay(self.failures, None)
    }

    /// The smallest interval of the group's watches.
    fn smallest_interval(&self) -> Duration {
        self.watches
            .values()
            .map(|w| w.interval)
            .min()
            .unwrap_or(self.options.backoff_base)
    }

    /// The data of a successful update, from the cache as it is now (as new as, or newer
    /// than, at completion): the watch's hosts and not-found ids, the request ids of the calls
    /// that answered them (in order of first use) and the start of the oldest of those calls.
    pub fn fill(&self, update: &mut WatchUpdate) {
        if let Ok(result) = update.outcome.as_mut() {
            if let Some((data, oldest)) = self.answers_of(&update.key) {
                *result = data;
                update.oldest_data = oldest;
            }
        }
    }

    /// The last good answers of `key`'s ids (ids never answered are left out).
    pub fn cached(&self, key: &WatchKey) -> Option<PollAnswer> {
        let (mut result, _) = self.answers_of(key)?;
        result.request_ids.sort();
        Some(result)
    }

    fn answers_of(&self, key: &WatchKey) -> Option<(PollAnswer, Option<jiff::Timestamp>)> {
        let watch = self.watches.get(key)?;
        let mut result = PollAnswer {
            hosts: Vec::with_capacity(watch.ids.len()),
            request_ids: Vec::new(),
        };
        let mut oldest: Option<jiff::Timestamp> = None;
        let mut seen_requests = HashSet::new();
        for id in watch.ids.iter() {
            let Some((answer, call)) = self.hosts.latest(id) else {
                continue;
            };
            result
                .hosts
                .push(HostRecord::new(id.clone(), answer.clone()));
            if let Some(rid) = &call.request_id {
                if seen_requests.insert(rid.as_ref()) {
                    result.request_ids.push(rid.to_string());
                }
            }
            oldest = Some(oldest.map_or(call.started_wall, |o| o.min(call.started_wall)));
        }
        Some((result, oldest))
    }
}
