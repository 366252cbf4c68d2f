//! What each HSS state of a host means as policy results: one result per host and check. The
//! policy names are part of the operator's interface (Policy Reporter filters, alerts and
//! dashboards select them): they never change, and a test holds them against the docs.
//!
//! | policy | pass | fail | warn | error | skip |
//! | --- | --- | --- | --- | --- | --- |
//! | `hss-host-known` | HSS returned the host | | | not returned (severity medium) | |
//! | `hss-agent-online` | `online` | `offline`, `not_installed`, `install_failed` (high) | `installing`, unknown values (low) | | no agent status, host unknown |
//! | `hss-protection-open` | `opened` | `closed` (high) | unknown values (low) | | no protection status, host unknown |
//! | `hss-host-clean` | `clean` | `risk`: intrusions critical, else vulnerabilities high, else baseline risks / nothing counted medium | `undetected` (medium), unknown values (low) | | `scanning`, no detect result, host unknown |

use serde::Serialize;

use crate::crd::status::HostStatus;
use crate::hss::model::{AgentStatus, DetectResult, ProtectStatus};

/// The checks made on every host, in the order their results are listed for one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Check {
    /// HSS knows the host (returned it for the watch's project and enterprise project).
    HostKnown,
    /// The HSS agent is online.
    AgentOnline,
    /// HSS protection is open.
    ProtectionOpen,
    /// HSS found no risk on the host.
    HostClean,
}

impl Check {
    pub const ALL: [Check; 4] = [
        Self::HostKnown,
        Self::AgentOnline,
        Self::ProtectionOpen,
        Self::HostClean,
    ];

    /// The result's `policy`: stable, documented names.
    pub fn policy(self) -> &'static str {
        match self {
            Self::HostKnown => "hss-host-known",
            Self::AgentOnline => "hss-agent-online",
            Self::ProtectionOpen => "hss-protection-open",
            Self::HostClean => "hss-host-clean",
        }
    }

    /// The result's `rule`: the field of the watch's `status.hosts` the check reads.
    pub fn rule(self) -> &'static str {
        match self {
            Self::HostKnown => "found",
            Self::AgentOnline => "agentStatus",
            Self::ProtectionOpen => "protectStatus",
            Self::HostClean => "detectResult",
        }
    }

    /// The result's `category`.
    pub fn category(self) -> &'static str {
        match self {
            Self::HostKnown => "HSS inventory",
            Self::AgentOnline => "HSS agent",
            Self::ProtectionOpen => "HSS protection",
            Self::HostClean => "HSS detection",
        }
    }
}

/// A result's `result`, in listing order: what needs attention first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Fail,
    Error,
    Warn,
    Skip,
    Pass,
}

impl Status {
    pub const ALL: [Status; 5] = [Self::Fail, Self::Error, Self::Warn, Self::Skip, Self::Pass];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fail => "fail",
            Self::Error => "error",
            Self::Warn => "warn",
            Self::Skip => "skip",
            Self::Pass => "pass",
        }
    }

    /// Listed by default (without `--policy-reports-include-passing`).
    pub fn needs_attention(self) -> bool {
        matches!(self, Self::Fail | Self::Error | Self::Warn)
    }
}

/// A result's `severity`, most severe first. Passing and skipped results carry none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Info,
}

/// What one check says of one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub status: Status,
    pub severity: Option<Severity>,
    pub message: String,
}

impl Verdict {
    fn pass(message: impl Into<String>) -> Self {
        Self {
            status: Status::Pass,
            severity: None,
            message: message.into(),
        }
    }

    fn skip(message: impl Into<String>) -> Self {
        Self {
            status: Status::Skip,
            severity: None,
            message: message.into(),
        }
    }

    fn with(status: Status, severity: Severity, message: impl Into<String>) -> Self {
        Self {
            status,
            severity: Some(severity),
            message: message.into(),
        }
    }
}

/// The verdict of `check` on `host` (an entry of the watch's `status.hosts`).
pub fn evaluate(check: Check, host: &HostStatus) -> Verdict {
    if !host.found {
        return match check {
            Check::HostKnown => Verdict::with(
                Status::Error,
                Severity::Medium,
                "HSS returned no data for this host: the id is wrong, the host is in another \
                 project or enterprise project than the watch's, or it was deleted",
            ),
            _ => Verdict::skip("not checked: HSS does not know the host"),
        };
    }
    match check {
        Check::HostKnown => Verdict::pass("HSS knows the host"),
        Check::AgentOnline => agent(host),
        Check::ProtectionOpen => protection(host),
        Check::HostClean => detection(host),
    }
}

fn agent(host: &HostStatus) -> Verdict {
    let install = |text: &str| match host.install_result_code.as_deref() {
        Some(code) => format!("{text} (install result: {code})"),
        None => text.to_string(),
    };
    let Some(status) = host.agent_status.as_deref() else {
        return Verdict::skip("HSS reported no agent status");
    };
    match AgentStatus::from_wire(status) {
        AgentStatus::Online => Verdict::pass("the HSS agent is online"),
        AgentStatus::Offline => Verdict::with(
            Status::Fail,
            Severity::High,
            install("the HSS agent is offline"),
        ),
        AgentStatus::NotInstalled => Verdict::with(
            Status::Fail,
            Severity::High,
            install("no HSS agent is installed"),
        ),
        AgentStatus::InstallFailed => Verdict::with(
            Status::Fail,
            Severity::High,
            install("installing the HSS agent failed"),
        ),
        AgentStatus::Installing => Verdict::with(
            Status::Warn,
            Severity::Low,
            install("the HSS agent is being installed"),
        ),
        AgentStatus::Other(value) => Verdict::with(
            Status::Warn,
            Severity::Low,
            install(&format!(
                "HSS reports agent status {value:?}, which this operator does not know"
            )),
        ),
    }
}

fn protection(host: &HostStatus) -> Verdict {
    let Some(status) = host.protect_status.as_deref() else {
        return Verdict::skip("HSS reported no protection status");
    };
    match ProtectStatus::from_wire(status) {
        ProtectStatus::Opened => Verdict::pass("HSS protection is open"),
        ProtectStatus::Closed => {
            Verdict::with(Status::Fail, Severity::High, "HSS protection is closed")
        }
        ProtectStatus::Other(value) => Verdict::with(
            Status::Warn,
            Severity::Low,
            format!("HSS reports protection status {value:?}, which this operator does not know"),
        ),
    }
}

fn detection(host: &HostStatus) -> Verdict {
    let Some(result) = host.detect_result.as_deref() else {
        return Verdict::skip("HSS reported no detect result");
    };
    match DetectResult::from_wire(result) {
        DetectResult::Clean => Verdict::pass("HSS found no risk"),
        DetectResult::Risk => risk(host),
        DetectResult::Scanning => Verdict::skip("HSS is scanning the host"),
        DetectResult::Undetected => Verdict::with(
            Status::Warn,
            Severity::Medium,
            "HSS has not scanned the host (undetected): nothing is known of its risks",
        ),
        DetectResult::Other(value) => Verdict::with(
            Status::Warn,
            Severity::Low,
            format!("HSS reports detect result {value:?}, which this operator does not know"),
        ),
    }
}

/// A host at risk: as severe as the worst of what HSS counted.
fn risk(host: &HostStatus) -> Verdict {
    let count = |value: Option<i64>| value.unwrap_or(0).max(0);
    let (intrusions, vulnerabilities, baseline) = (
        count(host.intrusion),
        count(host.vulnerability),
        count(host.baseline),
    );
    let severity = if intrusions > 0 {
        Severity::Critical
    } else if vulnerabilities > 0 {
        Severity::High
    } else {
        Severity::Medium
    };
    let found: Vec<String> = [
        (intrusions, "intrusion(s)"),
        (vulnerabilities, "vulnerability(ies)"),
        (baseline, "baseline risk(s)"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    let message = if found.is_empty() {
        "HSS reports the host at risk".to_string()
    } else {
        format!("HSS reports the host at risk: {}", found.join(", "))
    };
    Verdict::with(Status::Fail, severity, message)
}

#[cfg(test)]
#[path = "checks_tests.rs"]
mod tests;
