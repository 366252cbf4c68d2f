//! Planning and bookkeeping rules of one group, without I/O.

use std::time::Duration;

use tokio::time::Instant;

use super::group::{GroupState, Wake};
use super::types::{PollerOptions, WatchKey, WatchRegistration};
use crate::hss::{Credentials, HostRisk, HostsRiskResult, Scope};
use crate::status::PollFailure;

const S: Duration = Duration::from_secs(1);

fn options(max: usize, fill_ahead: bool) -> PollerOptions {
    PollerOptions {
        max_ids_per_call: max,
        fill_ahead,
        backoff_base: Duration::from_secs(4),
        backoff_floor: Duration::from_millis(100),
        ..PollerOptions::default()
    }
}

pub(super) fn reg(name: &str, ids: &[&str], interval: Duration) -> WatchRegistration {
    WatchRegistration {
        key: WatchKey::new("ns", name),
        scope: Scope::for_endpoint(
            url::Url::parse("https://hss.example").expect("url"),
            "p",
            None,
        )
        .expect("scope"),
        credentials: Credentials::ak_sk("AK", "SK"),
        host_ids: ids.iter().map(|s| (*s).into()).collect(),
        interval,
        revision: "1".into(),
    }
}

/// `r` at another revision: how the controller says a watch changed (and wants a poll now).
fn revised(mut r: WatchRegistration, revision: &str) -> WatchRegistration {
    r.revision = revision.into();
    r
}

fn group(max: usize, fill_ahead: bool, regs: &[WatchRegistration], now: Instant) -> GroupState {
    let options = options(max, fill_ahead);
    let mut group = GroupState::new(regs[0].group_key(), &regs[0], options);
    for r in regs {
        group.upsert(r.clone(), now);
    }
    group
}

/// Answers every id as found, except ids starting with `gone`.
pub(super) fn answer(ids: &[String]) -> HostsRiskResult {
    let mut result = HostsRiskResult {
        request_ids: vec!["req".into()],
        ..HostsRiskResult::default()
    };
    for id in ids.iter().filter(|id| !id.starts_with("gone")) {
        result.hosts.insert(
            id.clone(),
            HostRisk {
                host_id: Some(id.clone()),
                ..HostRisk::default()
            },
        );
    }
    result
}

fn call(group: &mut GroupState, at: Instant) -> (Vec<String>, Vec<WatchKey>) {
    let ids = group.plan_chunk(at);
    group.begin_call(ids.len());
    let done = group
        .apply_success(&ids, answer(&ids), at, jiff::Timestamp::now(), at)
        .into_iter()
        .map(|u| u.key)
        .collect();
    (ids, done)
}

fn key(name: &str) -> WatchKey {
    WatchKey::new("ns", name)
}

#[test]
fn ids_are_deduplicated_across_watches_and_packed_up_to_the_chunk_size() {
    let t0 = Instant::now();
    let mut g = group(
        3,
        false,
        &[
            reg("a", &["h1", "h2", "h1"], 10 * S),
            reg("b", &["h2", "h3", "h4"], 10 * S),
        ],
        t0,
    );
    let (first, done) = call(&mut g, t0);
    assert_eq!(first, vec!["h1", "h2", "h3"]);
    assert_eq!(done, vec![key("a")]);
    let (second, done) = call(&mut g, t0);
    assert_eq!(second, vec!["h4"], "h2 and h3 are not asked twice");
    assert_eq!(done, vec![key("b")]);
    assert!(g.plan_chunk(t0).is_empty());
    assert_eq!(g.stats.min_calls_per_sweep, 2);
    assert_eq!(g.stats.last_sweep_calls, Some(2));
    assert_eq!(g.wake(t0), Wake::At(t0 + 10 * S));
}

#[test]
fn the_most_overdue_watch_goes_first_and_a_changed_one_before_all() {
    let t0 = Instant::now();
    let mut g = group(
        2,
        false,
        &[
            reg("a", &["a1", "a2"], 10 * S),
            reg("b", &["b1", "b2"], 5 * S),
        ],
        t0,
    );
    call(&mut g, t0);
    call(&mut g, t0 + S);
    // a due at 10 s, b at 6 s: at 20 s b is the more overdue.
    let (ids, _) = call(&mut g, t0 + 20 * S);
    assert_eq!(ids, vec!["b1", "b2"]);
    // A new revision jumps the queue.
    assert!(g.upsert(revised(reg("c", &["c1"], 10 * S), "2"), t0 + 21 * S));
    let (ids, done) = call(&mut g, t0 + 21 * S);
    assert_eq!(ids, vec!["c1", "a1"]);
    assert_eq!(done, vec![key("c")]);
    // Registering the same thing again changes nothing.
    assert!(!g.upsert(reg("a", &["a1", "a2"], 10 * S), t0 + 21 * S));
}

#[test]
fn fill_ahead_completes_watches_due_soon_in_the_same_call() {
    let t0 = Instant::now();
    let mut g = group(
        10,
        true,
        &[
            reg("a", &["a1"], 10 * S),
            reg("b", &["b1", "b2"], 10 * S),
            reg("far", &["f1"], 100 * S),
        ],
        t0,
    );
    call(&mut g, t0);
    // Refreshes at different times: a at 0, b at 3 s, far at 3 s.
    g.upsert(revised(reg("b", &["b1", "b2"], 10 * S), "2"), t0 + 3 * S);
    g.upsert(revised(reg("far", &["f1"], 100 * S), "2"), t0 + 3 * S);
    call(&mut g, t0 + 3 * S);
    // At 10 s only a is due; b (due 13 s) fits in the call, far (due 103 s) is too far ahead.
    let (ids, done) = call(&mut g, t0 + 10 * S);
    assert_eq!(ids, vec!["a1", "b1", "b2"]);
    assert_eq!(done, vec![key("a"), key("b")]);
    let without = {
        let mut g2 = group(
            10,
            false,
            &[reg("a", &["a1"], 10 * S), reg("b", &["b1"], 10 * S)],
            t0,
        );
        call(&mut g2, t0);
        g2.upsert(revised(reg("b", &["b1"], 10 * S), "2"), t0 + 3 * S);
        call(&mut g2, t0 + 3 * S);
        call(&mut g2, t0 + 10 * S).0
    };
    assert_eq!(without, vec!["a1"]);
}

#[test]
fn a_shared_id_answered_just_before_another_watch_is_due_is_not_asked_again() {
    let t0 = Instant::now();
    let mut g = group(
        10,
        false,
        &[
            reg("a", &["s", "a1"], 10 * S),
            reg("b", &["s", "b1"], 10 * S),
        ],
        t0,
    );
    call(&mut g, t0);
    // b refreshed 200 ms after a (within 10 % of its interval).
    g.upsert(revised(reg("b", &["s", "b1"], 10 * S), "2"), t0 + S / 5);
    call(&mut g, t0 + S / 5);
    let (ids, done) = call(&mut g, t0 + 10 * S);
    assert_eq!(ids, vec!["s", "a1"]);
    assert_eq!(done, vec![key("a")]);
    let (ids, done) = call(&mut g, t0 + 10 * S + S / 5);
    assert_eq!(
        ids,
        vec!["b1"],
        "s came from a's call 200 ms before b was due"
    );
    assert_eq!(done, vec![key("b")]);
}

#[test]
fn a_failure_reaches_only_the_watches_of_the_call_and_backs_off_within_the_interval() {
    let t0 = Instant::now();
    let mut g = group(
        10,
        true,
        &[reg("a", &["a1"], 2 * S), reg("b", &["gone-1"], 60 * S)],
        t0,
    );
    call(&mut g, t0);
    let cached = g.cached(&key("b")).expect("b");
    assert_eq!(cached.hosts.len(), 1);
    assert!(
        !cached.hosts[0].data.is_found(),
        "not found is an answer too"
    );
    let ids = g.plan_chunk(t0 + 2 * S);
    assert_eq!(ids, vec!["a1"]);
    let failure = PollFailure {
        reason: "ApiUnavailable",
        message: "503".into(),
        request_id: Some("r-9".into()),
        auth_failure: false,
        retry_after: None,
    };
    for n in 1..=6 {
        let updates = g.apply_failure(&ids, &failure, t0 + 2 * S);
        assert_eq!(updates.len(), 1);
        assert_eq!(updates[0].key, key("a"));
        assert_eq!(updates[0].outcome.as_ref().err(), Some(&failure));
        let delay = g.not_before.expect("backing off") - (t0 + 2 * S);
        assert!(
            delay >= Duration::from_millis(100) && delay <= 2 * S,
            "failure {n}: {delay:?}"
        );
    }
    assert_eq!(g.wake(t0 + 2 * S), Wake::At(g.not_before.expect("nb")));
    assert_eq!(g.cached(&key("a")).expect("a").hosts.len(), 1, "data kept");
    // Success resets the backoff.
    let at = g.not_before.expect("nb");
    let (_, done) = call(&mut g, at);
    assert_eq!(done, vec![key("a")]);
    assert_eq!(g.not_before, None);
    assert_eq!(g.failures, 0);
}

#[test]
fn a_retry_after_longer_than_the_backoff_holds_the_next_call() {
    let t0 = Instant::now();
    let mut g = group(10, false, &[reg("a", &["a1"], 2 * S)], t0);
    let ids = g.plan_chunk(t0);
    let throttled = PollFailure {
        reason: "Throttled",
        message: "429".into(),
        request_id: None,
        auth_failure: false,
        retry_after: Some(30 * S),
    };
    g.apply_failure(&ids, &throttled, t0);
    // The own backoff is capped at the 2 s interval; the service asked for 30 s.
    assert_eq!(g.not_before, Some(t0 + 30 * S));
    assert_eq!(g.wake(t0 + 3 * S), Wake::At(t0 + 30 * S));
}

#[test]
fn effective_interval_and_lag_are_measured_between_complete_refreshes() {
    let t0 = Instant::now();
    let mut g = group(10, false, &[reg("a", &["a1"], 2 * S)], t0);
    call(&mut g, t0);
    let ids = g.plan_chunk(t0 + 5 * S);
    g.begin_call(ids.len());
    let updates = g.apply_success(
        &ids,
        answer(&ids),
        t0 + 5 * S,
        jiff::Timestamp::now(),
        t0 + 5 * S,
    );
    assert_eq!(updates[0].effective_interval, Some(5 * S));
    assert_eq!(updates[0].lag, 3 * S);
    assert!(updates[0].is_lagging());
}

#[test]
fn removal_forgets_ids_nobody_else_wants() {
    let t0 = Instant::now();
    let mut g = group(
        10,
        false,
        &[
            reg("a", &["s", "a1"], 10 * S),
            reg("b", &["s", "b1"], 10 * S),
        ],
        t0,
    );
    call(&mut g, t0);
    assert!(g.remove(&key("b")));
    assert_eq!(g.stats.unique_ids, 2);
    assert!(g.hosts.latest("s").is_some());
    assert!(g.hosts.latest("b1").is_none());
    assert!(g.remove(&key("a")));
    assert!(g.hosts.is_empty());
    assert_eq!(g.wake(t0), Wake::Exit);
}

#[test]
fn ids_shared_with_a_watch_due_within_half_its_interval_are_asked_once_per_sweep() {
    let t0 = Instant::now();
    let mut g = group(
        10,
        false,
        &[
            reg("a", &["s", "a1"], 10 * S),
            reg("b", &["s", "b1"], 10 * S),
        ],
        t0,
    );
    call(&mut g, t0);
    // b refreshed 3 s after a: far beyond the 10 % tolerance, within half its interval.
    g.upsert(revised(reg("b", &["s", "b1"], 10 * S), "2"), t0 + 3 * S);
    call(&mut g, t0 + 3 * S);
    let (ids, _) = call(&mut g, t0 + 10 * S);
    assert_eq!(ids, vec!["s", "a1"]);
    let (ids, done) = call(&mut g, t0 + 13 * S);
    assert_eq!(
        ids,
        vec!["b1"],
        "s from a's call at 10 s counts for b due at 13 s"
    );
    assert_eq!(done, vec![key("b")]);
    // A watch due further ahead than half its interval does not accept early answers.
    let mut g = group(
        10,
        false,
        &[reg("c", &["s"], 4 * S), reg("d", &["s", "d1"], 4 * S)],
        t0,
    );
    call(&mut g, t0);
    g.upsert(revised(reg("d", &["s", "d1"], 4 * S), "2"), t0 + 3 * S);
    call(&mut g, t0 + 3 * S);
    call(&mut g, t0 + 4 * S); // c at 4 s; d is due at 7 s, 3 s > half of 4 s ahead
    let (ids, _) = call(&mut g, t0 + 7 * S);
    assert_eq!(ids, vec!["s", "d1"]);
}

#[test]
fn only_a_new_watch_whose_call_would_not_be_full_waits_to_gather() {
    let t0 = Instant::now();
    let mut g = group(3, false, &[reg("a", &["a1", "a2"], 10 * S)], t0);
    assert!(g.wants_gathering(t0));
    g.upsert(reg("b", &["b1", "b2"], 10 * S), t0);
    assert!(!g.wants_gathering(t0), "a full call is ready");
    call(&mut g, t0);
    call(&mut g, t0);
    assert!(
        !g.wants_gathering(t0 + 10 * S),
        "only due by interval, not new"
    );
}

#[test]
fn rotated_credentials_end_the_backoff_but_a_spec_change_does_not() {
    let t0 = Instant::now();
    let mut g = group(10, false, &[reg("a", &["a1"], 3600 * S)], t0);
    let ids = g.plan_chunk(t0);
    g.begin_call(ids.len());
    let refused = PollFailure {
        reason: "InvalidCredentials",
        message: "401".into(),
        request_id: None,
        auth_failure: true,
        retry_after: None,
    };
    g.apply_failure(&ids, &refused, t0);
    assert!(g.not_before.is_some_and(|nb| nb > t0));
    assert!(g.upsert(revised(reg("a", &["a1", "a2"], 3600 * S), "2"), t0));
    assert!(
        g.not_before.is_some(),
        "same credentials: still backing off"
    );
    let mut rotated = revised(reg("a", &["a1", "a2"], 3600 * S), "3");
    rotated.credentials = Credentials::ak_sk("AK", "fixed-SK");
    assert!(g.upsert(rotated, t0));
    assert_eq!((g.failures, g.not_before), (0, None));
    assert_eq!(g.wake(t0), Wake::Ready);
}

/// A node-backed watch whose Node left registers fewer ids under the same revision: nothing to
/// poll for (the rest were answered), so its schedule stands and the dropped id leaves the
/// cache. An added id (a Node joined) is polled at once.
#[test]
fn dropped_ids_cost_no_call_and_added_ids_are_polled_at_once() {
    let t0 = Instant::now();
    let mut g = group(10, true, &[reg("nodes", &["a", "b", "c"], 10 * S)], t0);
    call(&mut g, t0);
    assert_eq!(g.wake(t0 + S), Wake::At(t0 + 10 * S));
    assert!(!g.upsert(reg("nodes", &["a", "c"], 10 * S), t0 + S));
    assert_eq!(g.wake(t0 + S), Wake::At(t0 + 10 * S), "no prompt call");
    assert_eq!(g.stats.unique_ids, 2);
    assert_eq!(
        g.cached(&WatchKey::new("ns", "nodes")).map(|r| r
            .hosts
            .iter()
            .map(|h| h.id.to_string())
            .collect::<Vec<_>>()),
        Some(vec!["a".to_string(), "c".to_string()])
    );
    assert!(g.upsert(reg("nodes", &["a", "c", "d"], 10 * S), t0 + 2 * S));
    assert_eq!(g.wake(t0 + 2 * S), Wake::Ready, "the new id is polled now");
    let (ids, done) = call(&mut g, t0 + 2 * S);
    assert_eq!(ids, vec!["a", "c", "d"]);
    assert_eq!(done, vec![WatchKey::new("ns", "nodes")]);
}
