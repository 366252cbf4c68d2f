//! The Node conditions the operator sets from a host's HSS state, in node-problem-detector's
//! style: one type per problem, `True` while the problem is present, `Unknown` while it cannot
//! be told (no answer yet, HSS does not know the host, a value it does not explain), a CamelCase
//! reason and a message naming the watch the data comes from, the HSS values and the counts.
//!
//! Pure: the desired conditions from (watch, host record); what to write from (desired, what
//! the Node carries, now, heartbeat). `lastTransitionTime` moves only when a status changes;
//! nothing is written when nothing but the heartbeat would change and no new data arrived since
//! the last heartbeat, or the heartbeat is not due yet.

use std::hash::{Hash, Hasher};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::crd::WatchKey;
use crate::status::conditions::ConditionStatus;
use crate::status::record::{Count, Text};
use crate::status::HostRecord;

/// The condition types the operator sets on Nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeConditionType {
    /// The host's HSS agent does not report (offline, not installed, failed to install).
    AgentOffline,
    /// HSS protection is closed on the host.
    Unprotected,
    /// HSS found vulnerabilities, baseline issues or intrusions on the host.
    AtRisk,
}

impl NodeConditionType {
    /// Every type, in the order they are written.
    pub const ALL: [Self; 3] = [Self::AgentOffline, Self::Unprotected, Self::AtRisk];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AgentOffline => "HostSecurityAgentOffline",
            Self::Unprotected => "HostSecurityUnprotected",
            Self::AtRisk => "HostSecurityAtRisk",
        }
    }

    /// The type a condition of a Node names, if it is one of the operator's.
    pub fn of_str(type_: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == type_)
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Every reason word of the Node conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeReason {
    AgentOnline,
    AgentOffline,
    AgentNotInstalled,
    AgentInstallFailed,
    AgentInstalling,
    AgentStatusUnknown,
    ProtectionOpened,
    ProtectionClosed,
    ProtectionStatusUnknown,
    NoRisksFound,
    RisksFound,
    Scanning,
    NotScanned,
    DetectResultUnknown,
    /// HSS does not know the host (not in the watch's project / enterprise project).
    HostNotFound,
    /// HSS has not answered for the host yet.
    NoData,
}

impl NodeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AgentOnline => "AgentOnline",
            Self::AgentOffline => "AgentOffline",
            Self::AgentNotInstalled => "AgentNotInstalled",
            Self::AgentInstallFailed => "AgentInstallFailed",
            Self::AgentInstalling => "AgentInstalling",
            Self::AgentStatusUnknown => "AgentStatusUnknown",
            Self::ProtectionOpened => "ProtectionOpened",
            Self::ProtectionClosed => "ProtectionClosed",
            Self::ProtectionStatusUnknown => "ProtectionStatusUnknown",
            Self::NoRisksFound => "NoRisksFound",
            Self::RisksFound => "RisksFound",
            Self::Scanning => "Scanning",
            Self::NotScanned => "NotScanned",
            Self::DetectResultUnknown => "DetectResultUnknown",
            Self::HostNotFound => "HostNotFound",
            Self::NoData => "NoData",
        }
    }
}

/// What HSS said of one host, as the conditions read it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostValues<'a> {
    pub host_id: &'a str,
    /// HSS returned the host.
    pub found: bool,
    pub agent_status: Option<&'a str>,
    pub install_result_code: Option<&'a str>,
    pub version: Option<&'a str>,
    pub protect_status: Option<&'a str>,
    pub detect_result: Option<&'a str>,
    pub vulnerability: Option<u64>,
    pub baseline: Option<u64>,
    pub intrusion: Option<u64>,
    pub asset: Option<u64>,
}

impl<'a> HostValues<'a> {
    /// The values of a host record (the one place the record's accessors are read).
    pub fn of(record: &'a HostRecord) -> Self {
        let data = &record.data;
        Self {
            host_id: &*record.id,
            found: data.is_found(),
            agent_status: data.text(Text::AgentStatus),
            install_result_code: data.text(Text::InstallResult),
            version: data.text(Text::Edition),
            protect_status: data.text(Text::Protection),
            detect_result: data.text(Text::Detection),
            vulnerability: data.count(Count::Vulnerability),
            baseline: data.count(Count::Baseline),
            intrusion: data.count(Count::Intrusion),
            asset: data.count(Count::Asset),
        }
    }
}

/// A condition as computed, before its times are decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredNodeCondition {
    pub type_: NodeConditionType,
    pub status: ConditionStatus,
    pub reason: NodeReason,
    pub message: String,
}

/// The three conditions for a Node covered by `watch`, whose host HSS answered for with
/// `host` (`None`: no answer yet for `host_id`).
pub fn desired_conditions(
    watch: &WatchKey,
    host_id: &str,
    host: Option<HostValues<'_>>,
) -> [DesiredNodeCondition; 3] {
    use ConditionStatus::{False, True, Unknown};
    use NodeConditionType::{AgentOffline, AtRisk, Unprotected};
    let Some(host) = host.filter(|h| h.found) else {
        let (reason, sentence) = match host {
            None => (
                NodeReason::NoData,
                format!("HSS has not answered for host {host_id} yet"),
            ),
            Some(_) => (
                NodeReason::HostNotFound,
                format!("HSS does not know host {host_id} (check the watch's project and enterprise project)"),
            ),
        };
        let message = format!("{sentence} (HostRiskWatch {watch})");
        return NodeConditionType::ALL.map(|type_| DesiredNodeCondition {
            type_,
            status: Unknown,
            reason,
            message: message.clone(),
        });
    };
    let agent = match host.agent_status {
        Some("online") => (False, NodeReason::AgentOnline, "the HSS agent is online"),
        Some("offline") => (True, NodeReason::AgentOffline, "the HSS agent is offline"),
        Some("not_installed") => (
            True,
            NodeReason::AgentNotInstalled,
            "no HSS agent is installed",
        ),
        Some("install_failed") => (
            True,
            NodeReason::AgentInstallFailed,
            "the HSS agent failed to install",
        ),
        Some("installing") => (
            Unknown,
            NodeReason::AgentInstalling,
            "the HSS agent is being installed",
        ),
        _ => (
            Unknown,
            NodeReason::AgentStatusUnknown,
            "HSS reports no agent status this operator knows",
        ),
    };
    let protection = match host.protect_status {
        Some("closed") => (
            True,
            NodeReason::ProtectionClosed,
            "HSS protection is closed",
        ),
        Some("opened") => (
            False,
            NodeReason::ProtectionOpened,
            "HSS protection is open",
        ),
        _ => (
            Unknown,
            NodeReason::ProtectionStatusUnknown,
            "HSS reports no protection status this operator knows",
        ),
    };
    let risks = risk_sentence(&host);
    let detection = match host.detect_result {
        Some("risk") => (True, NodeReason::RisksFound, risks.as_str()),
        Some("clean") => (False, NodeReason::NoRisksFound, "HSS found no risks"),
        Some("scanning") => (Unknown, NodeReason::Scanning, "HSS is scanning the host"),
        Some("undetected") => (
            Unknown,
            NodeReason::NotScanned,
            "HSS has not scanned the host",
        ),
        _ => (
            Unknown,
            NodeReason::DetectResultUnknown,
            "HSS reports no detect result this operator knows",
        ),
    };
    let values = values_text(watch, &host);
    let condition = |type_, (status, reason, sentence): (ConditionStatus, NodeReason, &str)| {
        DesiredNodeCondition {
            type_,
            status,
            reason,
            message: format!("{sentence} ({values})"),
        }
    };
    [
        condition(AgentOffline, agent),
        condition(Unprotected, protection),
        condition(AtRisk, detection),
    ]
}

fn risk_sentence(host: &HostValues<'_>) -> String {
    let n = |v: Option<u64>| v.unwrap_or(0);
    format!(
        "HSS found risks: {} vulnerabilities, {} baseline issues, {} intrusions",
        n(host.vulnerability),
        n(host.baseline),
        n(host.intrusion)
    )
}

/// `HostRiskWatch ns/name, host ID: agent_status=..., ...; vulnerability=3, ...`.
fn values_text(watch: &WatchKey, host: &HostValues<'_>) -> String {
    let text = |v: Option<&str>| v.unwrap_or("none").to_string();
    let count = |v: Option<u64>| v.map_or_else(|| "none".to_string(), |v| v.to_string());
    format!(
        "HostRiskWatch {watch}, host {}: agent_status={}, install_result_code={}, version={}, \
         protect_status={}, detect_result={}; vulnerability={}, baseline={}, intrusion={}, asset={}",
        host.host_id,
        text(host.agent_status),
        text(host.install_result_code),
        text(host.version),
        text(host.protect_status),
        text(host.detect_result),
        count(host.vulnerability),
        count(host.baseline),
        count(host.intrusion),
        count(host.asset),
    )
}

/// A condition as written to the Node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeCondition {
    pub type_: NodeConditionType,
    pub status: ConditionStatus,
    pub reason: &'static str,
    pub message: String,
    pub last_transition: Timestamp,
    pub last_heartbeat: Timestamp,
}

impl NodeCondition {
    /// The condition as a `NodeCondition` of the Kubernetes API (JSON).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "type": self.type_.as_str(),
            "status": self.status.as_str(),
            "reason": self.reason,
            "message": self.message,
            "lastTransitionTime": self.last_transition.to_string(),
            "lastHeartbeatTime": self.last_heartbeat.to_string(),
        })
    }
}

/// The operator's conditions as a Node carries them, in a few bytes: which are there, their
/// statuses and times, and a fingerprint of their types, statuses, reasons and messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ObservedConditions {
    /// Bit `type.index()` set: the Node carries that type.
    present: u8,
    status: [u8; 3],
    /// Unix seconds.
    transition: [i64; 3],
    /// The oldest heartbeat of the three, Unix seconds.
    heartbeat: i64,
    fingerprint: u64,
}

/// One condition of the operator's types as read from a Node.
#[derive(Debug, Clone, Copy)]
pub struct SeenCondition<'a> {
    pub type_: NodeConditionType,
    pub status: &'a str,
    pub reason: &'a str,
    pub message: &'a str,
    pub last_transition: Option<Timestamp>,
    pub last_heartbeat: Option<Timestamp>,
}

fn status_code(status: &str) -> u8 {
    match status {
        "True" => 1,
        "False" => 2,
        _ => 3,
    }
}

fn status_of(code: u8) -> ConditionStatus {
    match code {
        1 => ConditionStatus::True,
        2 => ConditionStatus::False,
        _ => ConditionStatus::Unknown,
    }
}

fn fingerprint<'a>(
    entries: impl Iterator<Item = (NodeConditionType, &'a str, &'a str, &'a str)>,
) -> u64 {
    let mut slots: [Option<(&str, &str, &str)>; 3] = [None; 3];
    for (type_, status, reason, message) in entries {
        slots[type_.index()] = Some((status, reason, message));
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    slots.hash(&mut hasher);
    hasher.finish()
}

impl ObservedConditions {
    /// What `conditions` (the Node's conditions of the operator's types) say.
    pub fn of<'a>(conditions: impl IntoIterator<Item = SeenCondition<'a>> + Clone) -> Self {
        let mut observed = Self {
            heartbeat: i64::MAX,
            ..Self::default()
        };
        for seen in conditions.clone() {
            let i = seen.type_.index();
            observed.present |= 1 << i;
            observed.status[i] = status_code(seen.status);
            observed.transition[i] = seen.last_transition.map_or(0, |t| t.as_second());
            let heartbeat = seen.last_heartbeat.map_or(0, |t| t.as_second());
            observed.heartbeat = observed.heartbeat.min(heartbeat);
        }
        if observed.present == 0 {
            return Self::default();
        }
        observed.fingerprint = fingerprint(
            conditions
                .into_iter()
                .map(|c| (c.type_, c.status, c.reason, c.message)),
        );
        observed
    }

    /// What the Node carries after `written` was applied.
    pub fn written(written: &[NodeCondition]) -> Self {
        Self::of(written.iter().map(|c| SeenCondition {
            type_: c.type_,
            status: c.status.as_str(),
            reason: c.reason,
            message: &c.message,
            last_transition: Some(c.last_transition),
            last_heartbeat: Some(c.last_heartbeat),
        }))
    }

    /// The Node carries some condition of the operator's types.
    pub fn any(&self) -> bool {
        self.present != 0
    }

    fn all(&self) -> bool {
        self.present == 0b111
    }

    /// The status of `type_` on the Node, if it carries it.
    pub fn status(&self, type_: NodeConditionType) -> Option<ConditionStatus> {
        let i = type_.index();
        (self.present & (1 << i) != 0).then(|| status_of(self.status[i]))
    }

    /// Since when `type_` has been `True` on the Node, if it is.
    pub fn true_since(&self, type_: NodeConditionType) -> Option<Timestamp> {
        match self.status(type_) {
            Some(ConditionStatus::True) => {
                Timestamp::from_second(self.transition[type_.index()]).ok()
            }
            _ => None,
        }
    }

    fn transition(&self, type_: NodeConditionType) -> Option<Timestamp> {
        self.status(type_)
            .and_then(|_| Timestamp::from_second(self.transition[type_.index()]).ok())
    }

    /// The oldest heartbeat of the operator's conditions on the Node.
    pub fn heartbeat(&self) -> Option<Timestamp> {
        self.any()
            .then(|| Timestamp::from_second(self.heartbeat).ok())
            .flatten()
    }
}

/// The conditions to apply to a Node carrying `observed`, or `None` when nothing is to be
/// written: the types, statuses, reasons and messages equal `desired` and either the heartbeat
/// is not due (`heartbeat`: `--status-heartbeat`) or no data arrived since it (`data_at`: when
/// the data shown was fetched).
pub fn plan_conditions(
    desired: &[DesiredNodeCondition; 3],
    observed: &ObservedConditions,
    now: Timestamp,
    data_at: Option<Timestamp>,
    heartbeat: Duration,
) -> Option<[NodeCondition; 3]> {
    let now = Timestamp::from_second(now.as_second()).unwrap_or(now);
    let wanted = fingerprint(desired.iter().map(|d| {
        (
            d.type_,
            d.status.as_str(),
            d.reason.as_str(),
            d.message.as_str(),
        )
    }));
    let changed = !observed.all() || wanted != observed.fingerprint;
    if !changed {
        let last = observed.heartbeat().unwrap_or(Timestamp::UNIX_EPOCH);
        let every = SignedDuration::try_from(heartbeat).unwrap_or(SignedDuration::MAX);
        let due = now.duration_since(last) >= every;
        let news = data_at.is_some_and(|at| at > last);
        if !(due && news) {
            return None;
        }
    }
    Some(desired.clone().map(|d| {
        let last_transition = match observed.status(d.type_) {
            Some(status) if status == d.status => observed.transition(d.type_).unwrap_or(now),
            _ => now,
        };
        NodeCondition {
            type_: d.type_,
            status: d.status,
            reason: d.reason.as_str(),
            message: d.message,
            last_transition,
            last_heartbeat: now,
        }
    }))
}

#[cfg(test)]
#[path = "conditions_tests.rs"]
mod tests;
