//! Kubernetes Events for transitions between two observations.
//!
//! Events say that something changed, so a host's first observation (no previous entry, or a
//! previous entry without data) emits nothing except `HostNotFound`: the status already shows a
//! risky host on first sight, and announcing every risky host when a resource is created (up to
//! 1000 Events) would drown the one Event that matters. A missing host is announced at once
//! because it usually means a typo in `spec.hostIds` or the wrong enterprise project.

use std::collections::HashMap;

use super::record::{Count, HostData, HostRecord, Text};

/// `events.k8s.io` Event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Warning => "Warning",
        }
    }
}

/// One Event to publish on the `HostRiskWatch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitionEvent {
    /// The host concerned, `None` for resource-wide events (poll failed / recovered).
    pub host_id: Option<String>,
    /// CamelCase reason, one of the constants of [`reason`].
    pub reason: &'static str,
    /// Human-readable note.
    pub note: String,
    pub type_: EventType,
}

/// Event reasons.
pub mod reason {
    pub const BECAME_AT_RISK: &str = "BecameAtRisk";
    pub const BECAME_CLEAN: &str = "BecameClean";
    pub const AGENT_OFFLINE: &str = "AgentOffline";
    pub const AGENT_ONLINE: &str = "AgentOnline";
    pub const PROTECTION_CLOSED: &str = "ProtectionClosed";
    pub const PROTECTION_OPENED: &str = "ProtectionOpened";
    pub const HOST_NOT_FOUND: &str = "HostNotFound";
    pub const POLL_FAILED: &str = "PollFailed";
    pub const POLL_RECOVERED: &str = "PollRecovered";
}

fn host_event(
    host: &HostRecord,
    reason: &'static str,
    type_: EventType,
    note: String,
) -> TransitionEvent {
    TransitionEvent {
        host_id: Some(host.id.to_string()),
        reason,
        note,
        type_,
    }
}

/// `(old, new)` of `field` when both observations carry a value and they differ.
fn changed<'a>(old: &'a HostData, new: &'a HostData, field: Text) -> Option<(&'a str, &'a str)> {
    match (old.text(field), new.text(field)) {
        (Some(o), Some(n)) if o != n => Some((o, n)),
        _ => None,
    }
}

/// Events for the changes from `previous` to `current` host entries.
///
/// - `BecameAtRisk` (Warning): detect result became `risk`; `BecameClean` (Normal): it became
///   `clean` from anything else.
/// - `AgentOffline` (Warning): agent became `offline`; `AgentOnline` (Normal): it became `online`.
/// - `ProtectionClosed` (Warning) / `ProtectionOpened` (Normal).
/// - `HostNotFound` (Warning): a host HSS no longer (or, on first sight, never) returned.
///
/// A value change counts only when both observations carry a value.
pub fn host_events(previous: &[HostRecord], current: &[HostRecord]) -> Vec<TransitionEvent> {
    let before: HashMap<&str, &HostRecord> = previous.iter().map(|h| (&*h.id, h)).collect();
    let mut events = Vec::new();
    for host in current {
        let old = before.get(&*host.id).copied();
        if !host.data.is_found() {
            if old.is_none_or(|o| o.data.is_found()) {
                events.push(host_event(
                    host,
                    reason::HOST_NOT_FOUND,
                    EventType::Warning,
                    format!(
                        "HSS does not know host {} (unknown id, deleted, or in another enterprise project)",
                        host.id
                    ),
                ));
            }
            continue;
        }
        let Some(old) = old.filter(|o| o.data.is_found()) else {
            continue;
        };
        let (id, data) = (&host.id, &host.data);
        if let Some((from, to)) = changed(&old.data, data, Text::Detection) {
            let count = |field| data.count(field).unwrap_or(0);
            let counts = format!(
                "vulnerabilities {}, baseline risks {}, intrusions {}",
                count(Count::Vulnerability),
                count(Count::Baseline),
                count(Count::Intrusion)
            );
            if to == "risk" {
                events.push(host_event(
                    host,
                    reason::BECAME_AT_RISK,
                    EventType::Warning,
                    format!("host {id} detect result changed from {from} to risk ({counts})"),
                ));
            } else if to == "clean" {
                events.push(host_event(
                    host,
                    reason::BECAME_CLEAN,
                    EventType::Normal,
                    format!("host {id} detect result changed from {from} to clean ({counts})"),
                ));
            }
        }
        if let Some((from, to)) = changed(&old.data, data, Text::AgentStatus) {
            let (reason, type_) = match to {
                "offline" => (reason::AGENT_OFFLINE, EventType::Warning),
                "online" => (reason::AGENT_ONLINE, EventType::Normal),
                _ => ("", EventType::Normal),
            };
            if !reason.is_empty() {
                events.push(host_event(
                    host,
                    reason,
                    type_,
                    format!("host {id} HSS agent went from {from} to {to}"),
                ));
            }
        }
        if let Some((from, to)) = changed(&old.data, data, Text::Protection) {
            let (reason, type_) = match to {
                "closed" => (reason::PROTECTION_CLOSED, EventType::Warning),
                "opened" => (reason::PROTECTION_OPENED, EventType::Normal),
                _ => ("", EventType::Normal),
            };
            if !reason.is_empty() {
                events.push(host_event(
                    host,
                    reason,
                    type_,
                    format!("host {id} protection went from {from} to {to}"),
                ));
            }
        }
    }
    events
}

/// `PollFailed` (Warning), resource-wide.
pub fn poll_failed(message: &str) -> TransitionEvent {
    TransitionEvent {
        host_id: None,
        reason: reason::POLL_FAILED,
        note: message.to_string(),
        type_: EventType::Warning,
    }
}

/// `PollRecovered` (Normal), resource-wide.
pub fn poll_recovered(failure_reason: &str) -> TransitionEvent {
    TransitionEvent {
        host_id: None,
        reason: reason::POLL_RECOVERED,
        note: format!("HSS answered again after {failure_reason}"),
        type_: EventType::Normal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::status::HostStatus;

    use crate::status::record::records_of as records;

    fn host_events(previous: &[HostStatus], current: &[HostStatus]) -> Vec<TransitionEvent> {
        super::host_events(&records(previous), &records(current))
    }

    fn host(id: &str, agent: &str, protect: &str, detect: &str) -> HostStatus {
        HostStatus {
            host_id: id.into(),
            found: true,
            agent_status: Some(agent.to_string().into()),
            protect_status: Some(protect.to_string().into()),
            detect_result: Some(detect.to_string().into()),
            vulnerability: Some(2),
            ..HostStatus::default()
        }
    }

    fn missing(id: &str) -> HostStatus {
        HostStatus {
            host_id: id.into(),
            found: false,
            ..HostStatus::default()
        }
    }

    fn reasons(events: &[TransitionEvent]) -> Vec<(&str, &str)> {
        events
            .iter()
            .map(|e| (e.host_id.as_deref().unwrap_or("-"), e.reason))
            .collect()
    }

    #[test]
    fn first_observation_only_reports_missing_hosts() {
        let current = vec![host("a", "offline", "closed", "risk"), missing("b")];
        let events = host_events(&[], &current);
        assert_eq!(reasons(&events), vec![("b", "HostNotFound")]);
        assert_eq!(events[0].type_, EventType::Warning);
    }

    #[test]
    fn each_transition_in_both_directions() {
        let before = vec![
            host("a", "online", "opened", "clean"),
            host("b", "offline", "closed", "risk"),
        ];
        let after = vec![
            host("a", "offline", "closed", "risk"),
            host("b", "online", "opened", "clean"),
        ];
        let events = host_events(&before, &after);
        assert_eq!(
            reasons(&events),
            vec![
                ("a", "BecameAtRisk"),
                ("a", "AgentOffline"),
                ("a", "ProtectionClosed"),
                ("b", "BecameClean"),
                ("b", "AgentOnline"),
                ("b", "ProtectionOpened"),
            ]
        );
        assert_eq!(events[0].type_, EventType::Warning);
        assert_eq!(events[3].type_, EventType::Normal);
        assert!(events[0].note.contains("from clean to risk"));
        assert!(events[0].note.contains("vulnerabilities 2"));
    }

    #[test]
    fn no_events_without_change_or_for_other_values() {
        let before = vec![host("a", "online", "opened", "clean")];
        assert!(host_events(&before, &before).is_empty());
        let after = vec![host("a", "installing", "opened", "scanning")];
        assert!(host_events(&before, &after).is_empty());
    }

    #[test]
    fn not_found_announced_once_and_reappearing_host_is_quiet() {
        let before = vec![host("a", "online", "opened", "clean")];
        let gone = vec![missing("a")];
        assert_eq!(
            reasons(&host_events(&before, &gone)),
            vec![("a", "HostNotFound")]
        );
        assert!(host_events(&gone, &gone).is_empty());
        let back = vec![host("a", "offline", "opened", "risk")];
        assert!(host_events(&gone, &back).is_empty());
    }
}
