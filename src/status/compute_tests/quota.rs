//! The interval a quota-limited watch gets, as status shows it.

use super::*;

fn run_with(
    spec: &HostRiskWatchSpec,
    previous: Option<&HostRiskWatchStatus>,
    outcome: PollOutcome,
    minute: i64,
    achieved: Option<Duration>,
) -> StatusUpdate {
    compute_status_with_quota(
        StatusInput {
            spec,
            generation: Some(1),
            previous,
            outcome,
            now: at(minute),
            heartbeat: Duration::from_secs(30 * 60),
            effective_interval: Duration::from_secs(600),
        },
        achieved,
    )
}

const TEN_MINUTES: Duration = Duration::from_secs(600);

#[test]
fn a_lagging_but_fresh_watch_stays_ready_with_reason_quota_limited() {
    let s = spec(&["a"]);
    let data = || success(&[("a", healthy())], &[], "r1");
    let synced = run_with(&s, None, data(), 0, None);
    assert_eq!(condition(&synced.status, READY).reason, "Synced");
    assert_eq!(synced.status.effective_interval.as_deref(), Some("10m"));

    let limited = run_with(
        &s,
        Some(&synced.status),
        data(),
        15,
        Some(Duration::from_secs(900)),
    );
    assert!(limited.needs_write, "the reason and interval changed");
    let ready = condition(&limited.status, READY);
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("True", "QuotaLimited")
    );
    assert!(
        ready.message.contains("about every 15m, not every 10m"),
        "{}",
        ready.message
    );
    assert_eq!(
        ready.last_transition_time,
        condition(&synced.status, READY).last_transition_time,
        "True stays True: no transition"
    );
    assert_eq!(limited.status.effective_interval.as_deref(), Some("15m"));
    assert!(limited.events.is_empty(), "no Event for a slower interval");
}

#[test]
fn idle_refreshes_at_a_jittering_effective_interval_write_nothing() {
    let s = spec(&["a"]);
    let data = || success(&[("a", healthy())], &[], "r1");
    let first = run_with(&s, None, data(), 0, None);
    let limited = run_with(
        &s,
        Some(&first.status),
        data(),
        15,
        Some(Duration::from_secs(900)),
    );
    for (minute, secs) in [(20, 930), (30, 860), (40, 960)] {
        let idle = run_with(
            &s,
            Some(&limited.status),
            data(),
            minute,
            Some(Duration::from_secs(secs)),
        );
        assert!(!idle.needs_write, "{secs}s is within 10 % of the shown 15m");
        assert_eq!(idle.status, limited.status);
    }
    let moved = run_with(
        &s,
        Some(&limited.status),
        data(),
        40,
        Some(Duration::from_secs(1200)),
    );
    assert!(moved.needs_write);
    assert_eq!(moved.status.effective_interval.as_deref(), Some("20m"));
}

#[test]
fn back_within_target_returns_to_synced_and_failures_keep_their_reason() {
    let s = spec(&["a"]);
    let data = || success(&[("a", healthy())], &[], "r1");
    let first = run_with(&s, None, data(), 0, None);
    let limited = run_with(&s, Some(&first.status), data(), 15, Some(TEN_MINUTES * 2));
    let failed = run_with(
        &s,
        Some(&limited.status),
        throttled("r9"),
        30,
        Some(TEN_MINUTES * 2),
    );
    let ready = condition(&failed.status, READY);
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "Throttled")
    );
    assert_eq!(failed.status.effective_interval.as_deref(), Some("20m"));
    let recovered = run_with(
        &s,
        Some(&limited.status),
        data(),
        45,
        Some(Duration::from_secs(610)),
    );
    assert_eq!(condition(&recovered.status, READY).reason, "Synced");
    assert_eq!(recovered.status.effective_interval.as_deref(), Some("10m"));
}
