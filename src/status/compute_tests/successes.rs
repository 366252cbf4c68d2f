//! Pending, success, idle polls and host transitions.

use super::*;

#[test]
fn pending_writes_a_first_status_once() {
    let s = spec(&["a"]);
    let first = run(&s, 1, None, PollOutcome::Pending, 0);
    assert!(first.needs_write);
    for type_ in [READY, CREDENTIALS_VALID, API_REACHABLE] {
        let c = condition(&first.status, type_);
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("Unknown", "Pending")
        );
        assert_eq!(c.observed_generation, Some(1));
    }
    assert_eq!(first.status.observed_generation, Some(1));
    assert_eq!(first.status.effective_interval.as_deref(), Some("10m"));
    assert!(first.status.last_sync_time.is_none());
    assert!(first.events.is_empty());

    let again = run(&s, 1, Some(&first.status), PollOutcome::Pending, 1);
    assert!(!again.needs_write);
    assert_eq!(again.status, first.status);
}

#[test]
fn pending_after_spec_change_says_polling_and_keeps_data() {
    let s = spec(&["a"]);
    let synced = run(&s, 1, None, success(&[("a", healthy())], &[], "r1"), 0);
    let changed = run(&s, 2, Some(&synced.status), PollOutcome::Pending, 1);
    assert!(changed.needs_write);
    let ready = condition(&changed.status, READY);
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("Unknown", "Polling")
    );
    assert_eq!(changed.status.observed_generation, Some(2));
    assert_eq!(changed.status.hosts, synced.status.hosts);
    assert_eq!(
        condition(&changed.status, CREDENTIALS_VALID),
        condition(&synced.status, CREDENTIALS_VALID)
    );
}

#[test]
fn success_builds_hosts_summary_and_ready() {
    let s = spec(&["b", "a", "gone"]);
    let pending = run(&s, 3, None, PollOutcome::Pending, 0);
    let up = run(
        &s,
        3,
        Some(&pending.status),
        success(
            &[
                ("a", healthy()),
                (
                    "b",
                    risk(
                        AgentStatus::Offline,
                        ProtectStatus::Closed,
                        DetectResult::Risk,
                    ),
                ),
            ],
            &["gone"],
            "req-1",
        ),
        1,
    );
    assert!(up.needs_write);
    let st = &up.status;
    let ids: Vec<_> = st
        .hosts
        .iter()
        .map(|h| (h.host_id.as_str(), h.found))
        .collect();
    assert_eq!(ids, vec![("b", true), ("a", true), ("gone", false)]);
    let summary = st.summary.as_ref().expect("summary");
    assert_eq!(
        (
            summary.hosts_requested,
            summary.hosts_found,
            summary.hosts_not_found
        ),
        (3, 2, 1)
    );
    assert_eq!(
        (
            summary.detect_risk,
            summary.agent_offline,
            summary.protection_closed
        ),
        (1, 1, 1)
    );
    let ready = condition(st, READY);
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("True", "Synced")
    );
    assert_eq!(
        ready.message,
        "HSS answered for 3 hosts: 2 found, 1 not found"
    );
    assert_eq!(ready.last_transition_time, Time(at(1)));
    assert_eq!(ready.observed_generation, Some(3));
    assert_eq!(condition(st, CREDENTIALS_VALID).reason, "Accepted");
    assert_eq!(st.last_sync_time, Some(Time(at(1))));
    assert_eq!(st.last_request_ids, vec!["req-1"]);
    // First observation: only the missing host is announced.
    assert_eq!(reasons(&up), vec!["HostNotFound"]);
}

#[test]
fn idle_poll_writes_nothing_until_the_heartbeat() {
    let s = spec(&["a"]);
    let first = run(&s, 1, None, success(&[("a", healthy())], &[], "r1"), 0);
    let idle = run(
        &s,
        1,
        Some(&first.status),
        success(&[("a", healthy())], &[], "r2"),
        10,
    );
    assert!(!idle.needs_write);
    assert_eq!(
        idle.status, first.status,
        "unchanged status keeps lastSyncTime and request ids"
    );
    assert!(idle.events.is_empty());

    let still_idle = run(
        &s,
        1,
        Some(&first.status),
        success(&[("a", healthy())], &[], "r3"),
        29,
    );
    assert!(!still_idle.needs_write);

    let beat = run(
        &s,
        1,
        Some(&first.status),
        success(&[("a", healthy())], &[], "r4"),
        30,
    );
    assert!(beat.needs_write);
    assert_eq!(beat.status.last_sync_time, Some(Time(at(30))));
    assert_eq!(beat.status.last_request_ids, vec!["r4"]);
    assert!(!differs_ignoring_timestamps(&first.status, &beat.status));
    // The heartbeat moves no other timestamp.
    assert_eq!(beat.status.hosts[0].last_change_time, Some(Time(at(0))));
    assert_eq!(
        condition(&beat.status, READY).last_transition_time,
        Time(at(0))
    );
}

#[test]
fn sub_second_now_is_truncated() {
    let s = spec(&["a"]);
    let now = at(0)
        .checked_add(jiff::SignedDuration::from_millis(900))
        .expect("in range");
    let update = compute_status(StatusInput {
        spec: &s,
        generation: Some(1),
        previous: None,
        outcome: PollOutcome::Pending,
        now,
        heartbeat: Duration::from_secs(1800),
        effective_interval: Duration::from_secs(600),
    });
    assert_eq!(
        condition(&update.status, READY).last_transition_time,
        Time(at(0))
    );
}

#[test]
fn changed_host_updates_its_time_and_emits_events() {
    let s = spec(&["a", "b"]);
    let first = run(
        &s,
        1,
        None,
        success(&[("a", healthy()), ("b", healthy())], &[], "r1"),
        0,
    );
    let worse = risk(
        AgentStatus::Offline,
        ProtectStatus::Closed,
        DetectResult::Risk,
    );
    let next = run(
        &s,
        1,
        Some(&first.status),
        success(&[("a", healthy()), ("b", worse)], &[], "r2"),
        5,
    );
    assert!(next.needs_write);
    assert_eq!(next.status.hosts[0].last_change_time, Some(Time(at(0))));
    assert_eq!(next.status.hosts[1].last_change_time, Some(Time(at(5))));
    assert_eq!(next.status.last_sync_time, Some(Time(at(5))));
    assert_eq!(
        reasons(&next),
        vec!["BecameAtRisk", "AgentOffline", "ProtectionClosed"]
    );
    assert!(next
        .events
        .iter()
        .all(|e| e.host_id.as_deref() == Some("b")));
    assert!(next.events.iter().all(|e| e.type_ == EventType::Warning));

    let back = run(
        &s,
        1,
        Some(&next.status),
        success(&[("a", healthy()), ("b", healthy())], &[], "r3"),
        6,
    );
    assert_eq!(
        reasons(&back),
        vec!["BecameClean", "AgentOnline", "ProtectionOpened"]
    );
    // A host that disappears is announced once.
    let gone = run(
        &s,
        1,
        Some(&back.status),
        success(&[("a", healthy())], &["b"], "r4"),
        7,
    );
    assert_eq!(reasons(&gone), vec!["HostNotFound"]);
    let still_gone = run(
        &s,
        1,
        Some(&gone.status),
        success(&[("a", healthy())], &["b"], "r5"),
        8,
    );
    assert!(still_gone.events.is_empty());
    assert!(!still_gone.needs_write);
}
