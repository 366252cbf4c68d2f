use super::*;
use crate::crd::spec::CredentialsSecretRef;
use crate::hss::model::{AgentStatus, DetectResult, HostRisk, ProtectStatus};
use crate::status::events::EventType;

const MINUTE: i64 = 60;

fn spec(ids: &[&str]) -> HostRiskWatchSpec {
    HostRiskWatchSpec {
        project_id: "p".into(),
        region: Some("ap-southeast-1".into()),
        endpoint: None,
        enterprise_project_id: None,
        host_ids: ids.iter().map(|s| s.to_string()).collect(),
        credentials_secret_ref: CredentialsSecretRef { name: "s".into() },
        interval: None,
        suspend: false,
    }
}

fn at(minutes: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + minutes * MINUTE).expect("valid")
}

fn risk(agent: AgentStatus, protect: ProtectStatus, detect: DetectResult) -> HostRisk {
    HostRisk {
        agent_status: Some(agent),
        protect_status: Some(protect),
        detect_result: Some(detect),
        vulnerability: Some(1),
        ..HostRisk::default()
    }
}

fn healthy() -> HostRisk {
    risk(
        AgentStatus::Online,
        ProtectStatus::Opened,
        DetectResult::Clean,
    )
}

fn success(hosts: &[(&str, HostRisk)], missing: &[&str], request_id: &str) -> PollOutcome {
    PollOutcome::Success(HostsRiskResult {
        hosts: hosts
            .iter()
            .map(|(id, r)| (id.to_string(), r.clone()))
            .collect(),
        not_found: missing.iter().map(|s| s.to_string()).collect(),
        request_ids: vec![request_id.to_string()],
    })
}

fn throttled(request_id: &str) -> PollOutcome {
    PollOutcome::Failed(PollFailure {
        reason: "Throttled",
        message: "HSS answered 429 APIGW.0308".into(),
        request_id: Some(request_id.into()),
        auth_failure: false,
    })
}

fn run(
    spec: &HostRiskWatchSpec,
    generation: i64,
    previous: Option<&HostRiskWatchStatus>,
    outcome: PollOutcome,
    minute: i64,
) -> StatusUpdate {
    compute_status(StatusInput {
        spec,
        generation: Some(generation),
        previous,
        outcome,
        now: at(minute),
        heartbeat: Duration::from_secs(30 * 60),
        effective_interval: Duration::from_secs(600),
    })
}

fn condition<'a>(status: &'a HostRiskWatchStatus, type_: &str) -> &'a Condition {
    find(&status.conditions, type_).expect("condition present")
}

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

fn reasons(update: &StatusUpdate) -> Vec<&'static str> {
    update.events.iter().map(|e| e.reason).collect()
}

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
            reason: "SecretNotFound",
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
    let outcome = PollOutcome::Success(HostsRiskResult {
        hosts: [("a".to_string(), healthy())].into_iter().collect(),
        not_found: Default::default(),
        request_ids: (0..100)
            .map(|i| format!("{i}{}", "x".repeat(200)))
            .collect(),
    });
    let update = run(&s, 1, None, outcome, 0);
    assert_eq!(update.status.last_request_ids.len(), 64);
    assert!(update
        .status
        .last_request_ids
        .iter()
        .all(|id| id.len() == 128));
}
