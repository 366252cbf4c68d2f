//! The schedule against the rule it replaces (sort every watch at each plan), over a long
//! pseudo-random run of registrations, changes, removals, calls and failures.

use std::time::Duration;

use tokio::time::Instant;

use super::group::{GroupState, SharedKey, Wake};
use super::group_tests::{self, answer};
use super::types::{PollerOptions, WatchKey, WatchRegistration};
use crate::status::PollFailure;

const S: Duration = Duration::from_secs(1);

/// A small linear congruential generator: the same run on every machine.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % sides
    }
}

/// Watch `w<name>` of namespace `ns` listing `ids`.
fn reg(name: u64, ids: &[String], interval: Duration, revision: u64) -> WatchRegistration {
    let mut r = group_tests::reg(&format!("w{name}"), &[], interval);
    r.host_ids = ids.iter().map(|s| s.as_str().into()).collect();
    r.revision = revision.to_string();
    r
}

/// Due watches as the old planner ordered them: urgent first, then due time, then key.
fn sorted_due(g: &GroupState, now: Instant) -> Vec<SharedKey> {
    let mut due: Vec<_> = g.watches.iter().filter(|(_, w)| w.due <= now).collect();
    due.sort_by(|a, b| (!a.1.urgent, a.1.due, a.0).cmp(&(!b.1.urgent, b.1.due, b.0)));
    due.into_iter().map(|(k, _)| k.clone()).collect()
}

fn check(g: &GroupState, now: Instant, step: usize) {
    assert_eq!(g.schedule.len(), g.watches.len(), "step {step}");
    let due: Vec<SharedKey> = g.schedule.due(now).cloned().collect();
    assert_eq!(due, sorted_due(g, now), "due order at step {step}");
    let earliest = g.watches.values().map(|w| w.due).min();
    assert_eq!(g.schedule.earliest(), earliest, "step {step}");
    let mut upcoming: Vec<_> = g
        .watches
        .iter()
        .filter(|(_, w)| w.due > now && w.due <= now + w.interval / 2)
        .collect();
    upcoming.sort_by(|a, b| (a.1.due, a.0).cmp(&(b.1.due, b.0)));
    let want: Vec<SharedKey> = upcoming.into_iter().map(|(k, _)| k.clone()).collect();
    let got: Vec<SharedKey> = g
        .schedule
        .upcoming(now)
        .filter(|k| {
            g.watches
                .get(*k)
                .is_some_and(|w| w.due <= now + w.interval / 2)
        })
        .cloned()
        .collect();
    assert_eq!(got, want, "fill-ahead candidates at step {step}");
}

/// What the group task does when it wakes at `now`: completes what needs no call, then makes
/// one call if one is due (failing one in ten).
fn task_step(g: &mut GroupState, now: Instant, dice: &mut Dice, step: usize) {
    let ready = g.complete_without_call(now);
    for key in &ready {
        g.complete(key, now);
    }
    if g.wake(now) == Wake::Ready {
        let ids = g.plan_chunk(now);
        if !ids.is_empty() {
            g.begin_call(ids.len());
            if dice.roll(10) == 0 {
                let failure = PollFailure {
                    reason: "Throttled",
                    message: "busy".into(),
                    request_id: None,
                    auth_failure: false,
                    retry_after: None,
                };
                g.apply_failure(&ids, &failure, now);
            } else {
                g.apply_success(&ids, answer(&ids), now, jiff::Timestamp::now(), now);
            }
        }
    }
    // Nothing due is left waiting although every id it needs is already fresh: such a watch
    // is completed by the answer that brought its last id, or on its first look once due.
    for (key, watch) in &g.watches {
        if watch.due <= now {
            assert!(
                g.needed(watch).next().is_some(),
                "{key:?} is due with every id fresh at step {step}"
            );
        }
    }
}

#[test]
fn the_schedule_orders_like_a_full_sort_through_a_long_random_run() {
    let options = PollerOptions {
        max_ids_per_call: 7,
        fill_ahead: true,
        backoff_base: S,
        backoff_floor: Duration::from_millis(100),
        ..PollerOptions::default()
    };
    let mut dice = Dice(7);
    let t0 = Instant::now();
    let mut now = t0;
    let ids = |dice: &mut Dice| -> Vec<String> {
        let start = dice.roll(120);
        (0..1 + dice.roll(8))
            .map(|i| format!("h{}", (start + i) % 120))
            .collect()
    };
    let first = reg(0, &ids(&mut dice), 10 * S, 0);
    let mut g = GroupState::new(first.group_key(), &first, options);
    let mut registered: Vec<Option<WatchRegistration>> = vec![None; 40];
    for step in 0..3_000 {
        now += Duration::from_millis(dice.roll(2_500));
        let name = dice.roll(40);
        let slot = usize::try_from(name).expect("small");
        match dice.roll(20) {
            0..=3 => {
                let interval = [5 * S, 10 * S, 20 * S][dice.roll(3) as usize];
                let r = reg(name, &ids(&mut dice), interval, dice.roll(3));
                g.upsert(r.clone(), now);
                registered[slot] = Some(r);
            }
            4..=6 => {
                // The same watch at another interval, or with ids gone (a Node left).
                if let Some(mut r) = registered[slot].clone() {
                    if dice.roll(2) == 0 {
                        r.interval = [5 * S, 10 * S, 20 * S][dice.roll(3) as usize];
                    } else if r.host_ids.len() > 1 {
                        // The last ids are the ones a due watch still waits for.
                        let kept = r.host_ids.len() - 1;
                        r.host_ids = r.host_ids[..kept].to_vec().into();
                    }
                    g.upsert(r.clone(), now);
                    registered[slot] = Some(r);
                }
            }
            7 => {
                g.remove(&WatchKey::new("ns", format!("w{name}")));
                registered[slot] = None;
            }
            _ => task_step(&mut g, now, &mut dice, step),
        }
        check(&g, now, step);
    }
    assert!(g.stats.refreshes > 500, "the run refreshed: {:?}", g.stats);
}

#[test]
fn a_due_watch_is_looked_at_once_per_refresh() {
    let options = PollerOptions {
        max_ids_per_call: 2,
        ..PollerOptions::default()
    };
    let t0 = Instant::now();
    let ids = |names: &[&str]| names.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
    let a = reg(1, &ids(&["a1", "a2", "a3"]), 10 * S, 1);
    let mut g = GroupState::new(a.group_key(), &a, options);
    g.upsert(a, t0);
    g.upsert(reg(2, &ids(&["b1"]), 10 * S, 1), t0);
    assert!(g.complete_without_call(t0).is_empty(), "both need answers");
    assert!(
        g.schedule.take_unchecked(t0).is_empty(),
        "looked at once: the next plans do not look again"
    );
    let planned = g.plan_chunk(t0);
    assert_eq!(planned, ids(&["a1", "a2"]));
    g.apply_success(&planned, answer(&planned), t0, jiff::Timestamp::now(), t0);
    let planned = g.plan_chunk(t0);
    let done = g.apply_success(&planned, answer(&planned), t0, jiff::Timestamp::now(), t0);
    assert_eq!(
        done.iter().map(|u| u.key.clone()).collect::<Vec<_>>(),
        vec![WatchKey::new("ns", "w1"), WatchKey::new("ns", "w2")],
        "the answer bringing the last ids completes both"
    );
    assert_eq!(g.wake(t0 + S), Wake::At(t0 + 10 * S));
    assert_eq!(
        g.schedule.take_unchecked(t0 + 10 * S).len(),
        2,
        "rescheduled refreshes are looked at again once due"
    );
}
