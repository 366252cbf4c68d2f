//! Every HSS state of a host, as the results it gives.

use super::*;
use crate::hss::model::{AgentStatus, DetectResult, ProtectStatus};
use Severity::{Critical, High, Low, Medium};
use Status::{Error, Fail, Pass, Skip, Warn};

fn host() -> HostStatus {
    HostStatus {
        host_id: "h-1".into(),
        found: true,
        agent_status: Some("online".into()),
        install_result_code: Some("install_succeed".into()),
        version: Some("hss.version.enterprise".into()),
        protect_status: Some("opened".into()),
        detect_result: Some("clean".into()),
        asset: Some(10),
        vulnerability: Some(0),
        baseline: Some(0),
        intrusion: Some(0),
        ..HostStatus::default()
    }
}

fn verdict(check: Check, host: &HostStatus) -> (Status, Option<Severity>) {
    let v = evaluate(check, host);
    assert!(!v.message.is_empty(), "{check:?} on {host:?}: a message");
    (v.status, v.severity)
}

#[test]
fn the_policy_names_are_the_documented_ones() {
    let names: Vec<_> = Check::ALL.iter().map(|c| c.policy()).collect();
    assert_eq!(
        names,
        [
            "hss-host-known",
            "hss-agent-online",
            "hss-protection-open",
            "hss-host-clean"
        ],
        "policy names are an interface: renaming one breaks users' filters and alerts"
    );
}

#[test]
fn a_healthy_host_passes_every_check_without_severity() {
    for check in Check::ALL {
        assert_eq!(verdict(check, &host()), (Pass, None), "{check:?}");
    }
}

#[test]
fn a_host_hss_does_not_know_is_an_error_and_nothing_else_is_checked() {
    let gone = HostStatus {
        host_id: "h-1".into(),
        found: false,
        ..HostStatus::default()
    };
    assert_eq!(verdict(Check::HostKnown, &gone), (Error, Some(Medium)));
    for check in [Check::AgentOnline, Check::ProtectionOpen, Check::HostClean] {
        assert_eq!(verdict(check, &gone), (Skip, None), "{check:?}");
    }
}

#[test]
fn every_agent_status() {
    let expected = |value: &str| match value {
        "online" => (Pass, None),
        "offline" | "not_installed" | "install_failed" => (Fail, Some(High)),
        "installing" => (Warn, Some(Low)),
        other => panic!("agent status {other:?} has no expected result: add it here"),
    };
    for value in AgentStatus::KNOWN {
        let h = HostStatus {
            agent_status: Some((*value).into()),
            ..host()
        };
        assert_eq!(verdict(Check::AgentOnline, &h), expected(value), "{value}");
    }
    let odd = HostStatus {
        agent_status: Some("hibernating".into()),
        ..host()
    };
    assert_eq!(verdict(Check::AgentOnline, &odd), (Warn, Some(Low)));
    assert!(evaluate(Check::AgentOnline, &odd)
        .message
        .contains("hibernating"));
    let none = HostStatus {
        agent_status: None,
        ..host()
    };
    assert_eq!(verdict(Check::AgentOnline, &none), (Skip, None));
}

#[test]
fn a_failing_agent_says_the_install_result() {
    let h = HostStatus {
        agent_status: Some("install_failed".into()),
        install_result_code: Some("network_access_timeout".into()),
        ..host()
    };
    let v = evaluate(Check::AgentOnline, &h);
    assert!(
        v.message.contains("install result: network_access_timeout"),
        "{}",
        v.message
    );
    let offline = HostStatus {
        agent_status: Some("offline".into()),
        ..host()
    };
    assert!(evaluate(Check::AgentOnline, &offline)
        .message
        .contains("offline (install result: install_succeed)"));
}

#[test]
fn every_protection_status() {
    let expected = |value: &str| match value {
        "opened" => (Pass, None),
        "closed" => (Fail, Some(High)),
        other => panic!("protection status {other:?} has no expected result: add it here"),
    };
    for value in ProtectStatus::KNOWN {
        let h = HostStatus {
            protect_status: Some((*value).into()),
            ..host()
        };
        assert_eq!(
            verdict(Check::ProtectionOpen, &h),
            expected(value),
            "{value}"
        );
    }
    let odd = HostStatus {
        protect_status: Some("paused".into()),
        ..host()
    };
    assert_eq!(verdict(Check::ProtectionOpen, &odd), (Warn, Some(Low)));
    let none = HostStatus {
        protect_status: None,
        ..host()
    };
    assert_eq!(verdict(Check::ProtectionOpen, &none), (Skip, None));
}

#[test]
fn every_detect_result() {
    let expected = |value: &str| match value {
        "clean" => (Pass, None),
        // With nothing counted, a host at risk is medium.
        "risk" => (Fail, Some(Medium)),
        "scanning" => (Skip, None),
        "undetected" => (Warn, Some(Medium)),
        other => panic!("detect result {other:?} has no expected result: add it here"),
    };
    for value in DetectResult::KNOWN {
        let h = HostStatus {
            detect_result: Some((*value).into()),
            ..host()
        };
        assert_eq!(verdict(Check::HostClean, &h), expected(value), "{value}");
    }
    let odd = HostStatus {
        detect_result: Some("quarantined".into()),
        ..host()
    };
    assert_eq!(verdict(Check::HostClean, &odd), (Warn, Some(Low)));
    let none = HostStatus {
        detect_result: None,
        ..host()
    };
    assert_eq!(verdict(Check::HostClean, &none), (Skip, None));
}

#[test]
fn risk_is_as_severe_as_the_worst_finding() {
    let at_risk = |intrusion, vulnerability, baseline| HostStatus {
        detect_result: Some("risk".into()),
        intrusion,
        vulnerability,
        baseline,
        ..host()
    };
    let rows = [
        (at_risk(Some(1), Some(5), Some(3)), Critical),
        (at_risk(Some(0), Some(5), Some(3)), High),
        (at_risk(None, Some(2), None), High),
        (at_risk(Some(0), Some(0), Some(3)), Medium),
        (at_risk(None, None, None), Medium),
        // A negative count (never sent by HSS) is nothing found.
        (at_risk(Some(-1), Some(0), Some(1)), Medium),
    ];
    for (h, severity) in rows {
        assert_eq!(
            verdict(Check::HostClean, &h),
            (Fail, Some(severity)),
            "{h:?}"
        );
    }
    let message = evaluate(Check::HostClean, &at_risk(Some(2), Some(5), Some(0))).message;
    assert!(
        message.contains("2 intrusion(s)") && message.contains("5 vulnerability(ies)"),
        "{message}"
    );
    assert!(
        !message.contains("baseline"),
        "zero counts are not listed: {message}"
    );
}

#[test]
fn statuses_needing_attention_are_the_listed_ones() {
    let listed: Vec<_> = Status::ALL
        .into_iter()
        .filter(|s| s.needs_attention())
        .collect();
    assert_eq!(listed, [Fail, Error, Warn]);
}
