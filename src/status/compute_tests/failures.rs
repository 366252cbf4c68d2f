//! Failures, credentials problems, refused specs, and the comparison helper.

use super::*;

#[test]
fn failure_keeps_data_and_reports_request_id() {
    let s = spec(&["a"]);
    let ok = run(&s, 1, None, success(&[("a", healthy())], &[], "r1"), 0);
    let failed = run(&s, 1, Some(&ok.status), throttled("req-429"), 10);
    assert!(failed.needs_write);
    let st = &failed.status;
    assert_eq!(st.hosts, ok.status.hosts);
    assert_eq!(st.summary, ok.status.summary);
    assert_eq!(st.last_sync_time, ok.status.last_sync_time);
    assert_eq!(st.last_request_ids, vec!["r1"]);
    let ready = condition(st, READY);
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "Throttled")
    );
    assert!(
        ready.message.contains("request id req-429"),
        "{}",
        ready.message
    );
    assert!(ready.message.contains("from lastSyncTime"));
    assert_eq!(ready.last_transition_time, Time(at(10)));
    let api = condition(st, API_REACHABLE);
    assert_eq!(
        (api.status.as_str(), api.reason.as_str()),
        ("False", "Throttled")
    );
    // Credentials were not re-checked: the previous verdict stays, untouched.
    assert_eq!(
        condition(st, CREDENTIALS_VALID),
        condition(&ok.status, CREDENTIALS_VALID)
    );
    assert_eq!(reasons(&failed), vec!["PollFailed"]);
    assert!(failed.events[0].note.contains("req-429"));

    // The same failure again: no new event; the new request id alone is a change worth writing.
    let again = run(&s, 1, Some(&failed.status), throttled("req-430"), 11);
    assert!(again.events.is_empty());
    assert!(again.needs_write);
    assert_eq!(
        condition(&again.status, READY).last_transition_time,
        Time(at(10))
    );
    let same = run(&s, 1, Some(&again.status), throttled("req-430"), 12);
    assert!(!same.needs_write);

    let recovered = run(
        &s,
        1,
        Some(&again.status),
        success(&[("a", healthy())], &[], "r9"),
        13,
    );
    assert_eq!(reasons(&recovered), vec!["PollRecovered"]);
    assert!(recovered.needs_write);
    let ready = condition(&recovered.status, READY);
    assert_eq!(
        (ready.status.as_str(), ready.last_transition_time.clone()),
        ("True", Time(at(13)))
    );
}

#[test]
fn auth_failure_marks_credentials_invalid_but_api_reachable() {
    let s = spec(&["a"]);
    let outcome = PollOutcome::Failed(PollFailure {
        reason: "InvalidCredentials",
        message: "HSS answered 401 APIGW.0301".into(),
        request_id: Some("req-401".into()),
        auth_failure: true,
        retry_after: None,
    });
    let update = run(&s, 1, None, outcome, 0);
    let cred = condition(&update.status, CREDENTIALS_VALID);
    assert_eq!(
        (cred.status.as_str(), cred.reason.as_str()),
        ("False", "InvalidCredentials")
    );
    assert!(cred.message.contains("req-401"));
    assert_eq!(condition(&update.status, API_REACHABLE).status, "True");
    assert!(condition(&update.status, READY)
        .message
        .contains("no host data yet"));
    assert!(update.status.hosts.is_empty() && update.status.summary.is_none());
}

#[test]
fn credentials_problem_then_fixed_secret() {
    let s = spec(&["a"]);
    let pending = run(&s, 1, None, PollOutcome::Pending, 0);
    let missing = run(
        &s,
        1,
        Some(&pending.status),
        PollOutcome::CredentialsProblem {
            reason: Reason::SecretNotFound,
            message: "Secret default/s not found".into(),
        },
        1,
    );
    let ready = condition(&missing.status, READY);
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "SecretNotFound")
    );
    assert_eq!(
        condition(&missing.status, CREDENTIALS_VALID).reason,
        "SecretNotFound"
    );
    // ApiReachable was never checked: the Pending condition stays as it was.
    assert_eq!(
        condition(&missing.status, API_REACHABLE),
        condition(&pending.status, API_REACHABLE)
    );
    assert_eq!(reasons(&missing), vec!["PollFailed"]);
    let fixed = run(
        &s,
        1,
        Some(&missing.status),
        success(&[("a", healthy())], &[], "r"),
        2,
    );
    assert_eq!(condition(&fixed.status, READY).status, "True");
    assert_eq!(reasons(&fixed), vec!["PollRecovered"]);
}

#[test]
fn suspended_invalid_and_refused_endpoint_keep_data_without_events() {
    let s = spec(&["a"]);
    let ok = run(&s, 1, None, success(&[("a", healthy())], &[], "r1"), 0);
    for (outcome, reason_) in [
        (PollOutcome::Suspended, "Suspended"),
        (
            PollOutcome::InvalidSpec("spec.interval: too short".into()),
            "InvalidSpec",
        ),
        (
            PollOutcome::EndpointNotAllowed("spec.endpoint: not allowed".into()),
            "EndpointNotAllowed",
        ),
    ] {
        let update = run(&s, 2, Some(&ok.status), outcome, 1);
        assert!(update.needs_write);
        assert!(update.events.is_empty(), "{reason_}");
        let ready = condition(&update.status, READY);
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", reason_)
        );
        assert_eq!(update.status.observed_generation, Some(2));
        assert_eq!(update.status.hosts, ok.status.hosts);
        assert_eq!(
            condition(&update.status, CREDENTIALS_VALID),
            condition(&ok.status, CREDENTIALS_VALID)
        );
        // Leaving these states is not a poll recovery.
        let resumed = run(
            &s,
            2,
            Some(&update.status),
            success(&[("a", healthy())], &[], "r2"),
            2,
        );
        assert!(resumed.events.is_empty(), "{reason_}");
    }
    let invalid = run(&s, 1, None, PollOutcome::InvalidSpec("bad".into()), 0);
    assert_eq!(
        condition(&invalid.status, API_REACHABLE).reason,
        "NotChecked"
    );
}

#[test]
fn differs_ignores_only_timestamps() {
    let s = spec(&["a"]);
    let a = run(&s, 1, None, success(&[("a", healthy())], &[], "r1"), 0).status;
    let mut b = a.clone();
    b.last_sync_time = Some(Time(at(99)));
    b.last_request_ids = vec!["other".into()];
    b.conditions[0].last_transition_time = Time(at(99));
    b.hosts[0].last_change_time = None;
    assert!(!differs_ignoring_timestamps(&a, &b));
    b.hosts[0].vulnerability = Some(7);
    assert!(differs_ignoring_timestamps(&a, &b));
    let mut c = a.clone();
    c.conditions[0].message = "different".into();
    assert!(differs_ignoring_timestamps(&a, &c));
    let mut d = a.clone();
    d.effective_interval = Some("5m".into());
    assert!(differs_ignoring_timestamps(&a, &d));
}

#[test]
fn request_ids_are_bounded() {
    let s = spec(&["a"]);
    let outcome = PollOutcome::Success(answer_of(HostsRiskResult {
        hosts: [("a".to_string(), healthy())].into_iter().collect(),
        not_found: Default::default(),
        request_ids: (0..100)
            .map(|i| format!("{i}{}", "x".repeat(200)))
            .collect(),
    }));
    let update = run(&s, 1, None, outcome, 0);
    assert_eq!(update.status.last_request_ids.len(), 64);
    assert!(update
        .status
        .last_request_ids
        .iter()
        .all(|id| id.len() == 128));
}
