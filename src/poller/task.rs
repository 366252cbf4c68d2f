//! The task of one group: wait until a watch is due, take a quota permit, plan the call with
//! what is due at that moment, call HSS once, fold the answer in, publish, repeat. It ends
//! when the group has no watch left or the poller stops.

use std::sync::Arc;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::group::Wake;
use super::types::{GroupKey, WatchUpdate};
use super::Shared;
use crate::status::PollFailure;

pub(crate) async fn run_group(shared: Arc<Shared>, key: GroupKey, epoch: u64, notify: Arc<Notify>) {
    let cancel = shared.cancel.clone();
    loop {
        let now = Instant::now();
        let wake = {
            let mut state = shared.lock();
            let Some(group) = state.group(&key, epoch) else {
                return;
            };
            let ready = group.complete_without_call(now);
            let updates: Vec<_> = ready
                .iter()
                .filter_map(|k| group.complete(k, now))
                .collect();
            let wake = group.wake(now);
            if wake == Wake::Exit {
                state.retire(&key);
            }
            record_schedule(&shared, &updates);
            state.publish(updates);
            wake
        };
        match wake {
            Wake::Exit => {
                tracing::debug!(group = %key, "no watch left in group; poller task ends");
                return;
            }
            Wake::At(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = notify.notified() => {}
                    _ = cancel.cancelled() => return,
                }
                continue;
            }
            Wake::Ready => {}
        }
        // Held while the owner registers the watches it knows: plan once they are all in. A
        // hold is a gathering of its own: no need to wait for more company after it.
        let mut held = shared.held.subscribe();
        let was_held = *held.borrow_and_update();
        tokio::select! {
            _ = held.wait_for(|held| !*held) => {}
            _ = cancel.cancelled() => return,
        }
        let gather = shared.options.gather;
        let gathering = !was_held
            && !gather.is_zero()
            && shared
                .lock()
                .group(&key, epoch)
                .is_some_and(|g| g.wants_gathering(now));
        // While registrations keep arriving (a creation wave) and the call would not be full,
        // keep waiting for them, up to GATHER_ROUNDS pauses: the wave's calls go out full and
        // only its tail is partial. A lone new watch waits one pause.
        let mut rounds = 0;
        while gathering && rounds < GATHER_ROUNDS {
            let paused_at = Instant::now();
            tokio::select! {
                _ = tokio::time::sleep(gather) => {}
                _ = cancel.cancelled() => return,
            }
            rounds += 1;
            let still = shared
                .lock()
                .group(&key, epoch)
                .is_some_and(|g| g.keep_gathering(Instant::now(), paused_at));
            if !still {
                break;
            }
        }
        let Some(identity) = shared
            .lock()
            .group(&key, epoch)
            .map(|g| g.credentials.identity())
        else {
            return;
        };
        // The plan is made once the permit is ours, so a watch registered meanwhile rides on
        // this very call.
        let waited = tokio::select! {
            waited = shared.planner.acquire(&identity) => waited,
            _ = cancel.cancelled() => return,
        };
        if let Some(metrics) = &shared.options.metrics {
            metrics.record_quota_wait(waited);
        }
        let _slot = match &shared.in_flight {
            Some(bound) => tokio::select! {
                // Only a closed semaphore fails, and the poller never closes it.
                permit = bound.acquire() => permit.ok(),
                _ = cancel.cancelled() => return,
            },
            None => None,
        };
        let started = Instant::now();
        let planned = {
            let mut state = shared.lock();
            let Some(group) = state.group(&key, epoch) else {
                return;
            };
            let ids = group.plan_chunk(started);
            if !ids.is_empty() {
                group.begin_call(ids.len());
            }
            (ids, group.scope.clone(), group.credentials.clone())
        };
        let (ids, scope, credentials) = planned;
        if ids.is_empty() {
            continue;
        }
        let started_wall = jiff::Timestamp::now();
        let answer = tokio::select! {
            answer = shared.client.list_hosts_risk_chunk(&scope, &credentials, &ids) => answer,
            _ = cancel.cancelled() => return,
        };
        let now = Instant::now();
        let mut state = shared.lock();
        let Some(group) = state.group(&key, epoch) else {
            return;
        };
        let updates = match answer {
            Ok(answer) => {
                tracing::debug!(
                    group = %key,
                    ids = ids.len(),
                    request_id = answer.request_ids.last().map(String::as_str).unwrap_or_default(),
                    elapsed_ms = now.duration_since(started).as_millis() as u64,
                    "batched HSS call answered"
                );
                group.apply_success(&ids, answer, started, started_wall, now)
            }
            Err(error) => group.apply_failure(&ids, &PollFailure::from(&error), now),
        };
        record_schedule(&shared, &updates);
        state.publish(updates);
    }
}

/// Longest a creation wave may hold a group's partial call back, in gathering pauses.
const GATHER_ROUNDS: u32 = 5;

/// Effective interval and its excess over target, for each completed refresh.
fn record_schedule(shared: &Shared, updates: &[WatchUpdate]) {
    let Some(metrics) = &shared.options.metrics else {
        return;
    };
    for update in updates.iter().filter(|u| u.outcome.is_ok()) {
        // Before a second refresh measures it, the interval a watch gets is the one it asked for.
        let effective = update.smoothed_interval.unwrap_or(update.target_interval);
        metrics.set_watch_schedule(
            &update.key.namespace,
            &update.key.name,
            effective,
            update.interval_excess(),
        );
    }
}
