//! Kubernetes Events (`events.k8s.io/v1`) as the demo prints them, read back from the API server
//! like `kubectl get events -w` would.

use k8s_openapi::api::events::v1::Event;

use super::table::Style;

/// One Event the demo saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedEvent {
    /// `Normal` or `Warning`.
    pub type_: String,
    pub reason: String,
    /// The object the Event is about: `namespace/name`, or `kind/name` (lower case, as kubectl
    /// prints it) for a cluster-scoped one such as a Node.
    pub object: String,
    /// Name of the object the Event is about.
    pub regarding: String,
    pub note: String,
    /// `reportingController`, to tell the operator's Events from anyone else's.
    pub reporter: String,
}

impl ObservedEvent {
    pub fn from_event(event: &Event) -> Self {
        let regarding = event.regarding.as_ref();
        let name = regarding.and_then(|r| r.name.clone()).unwrap_or_default();
        let object = match regarding.and_then(|r| r.namespace.as_deref()) {
            Some(namespace) => format!("{namespace}/{name}"),
            None => format!(
                "{}/{name}",
                regarding
                    .and_then(|r| r.kind.as_deref())
                    .unwrap_or("object")
                    .to_lowercase()
            ),
        };
        Self {
            type_: event.type_.clone().unwrap_or_default(),
            reason: event.reason.clone().unwrap_or_default(),
            object,
            regarding: name,
            note: event.note.clone().unwrap_or_default(),
            reporter: event.reporting_controller.clone().unwrap_or_default(),
        }
    }

    /// `  event  Warning  BecameAtRisk      security/web-tier: host demo-db-01 became at risk`,
    /// `  event  Warning  TaintAdded        node/cce-node-1: added taint ...`
    pub fn line(&self, style: Style) -> String {
        let kind = format!("{:<7}", self.type_);
        let kind = match self.type_.as_str() {
            "Warning" => style.yellow(&kind),
            _ => style.green(&kind),
        };
        format!(
            "  {} {} {:<17} {}: {}",
            style.dim("event"),
            kind,
            self.reason,
            self.object,
            self.note
        )
    }
}

/// Why the operator emits an Event of `reason`: what happened in HSS (or to the watch) that the
/// Event reports. Printed under the first Event of each reason.
pub fn cause(reason: &str) -> Option<&'static str> {
    use hostrisk_operator::nodes::taints::reason as taint;
    use hostrisk_operator::status::events::reason as r;
    let why = match reason {
        r::HOST_NOT_FOUND => {
            "HSS left this id out of its answer (unknown, deleted, or in another enterprise \
             project); the host stays in status.hosts with found=false"
        }
        r::BECAME_AT_RISK => {
            "HSS's detect result for the host turned to risk: its last scan found \
             vulnerabilities, baseline risks or intrusions (counted in the host's row)"
        }
        r::BECAME_CLEAN => {
            "the host's detect result is clean again: its last scan found nothing (here the \
             vulnerabilities were patched)"
        }
        r::PROTECTION_CLOSED => {
            "HSS protection was switched off: HSS then releases the host's edition \
             (hss.version.null) and stops scanning it, so its detect result turns to undetected \
             and its counts to 0. Not clean, just no longer looked at: no BecameClean Event"
        }
        r::PROTECTION_OPENED => {
            "protection is on again: HSS assigns an edition and scans the host again, so its \
             detect result and counts come back"
        }
        r::AGENT_OFFLINE => {
            "the HSS agent on the host stopped reporting (host down, agent stopped or network \
             cut); the rest of the host's row is what HSS knew last"
        }
        r::AGENT_ONLINE => "the HSS agent on the host reports again",
        r::POLL_FAILED => {
            "the watch could not be polled: HSS refused or failed, or, as for batch-jobs, its \
             credentials Secret is unusable (the note says which); the last good data stays, the \
             conditions say what failed, and polling backs off"
        }
        r::POLL_RECOVERED => {
            "HSS answered again after a failure. Here the Secret was fixed: the operator watches \
             Secrets, so neither a restart nor an annotation was needed"
        }
        taint::TAINT_ADDED => {
            "a problem of --node-taints (here at-risk) held on a Node of the node-backed watch for \
             --node-taint-after (0s in the demo): the operator tainted it (value \
             hostrisk-operator, so it never touches an administrator's taint of the same key)"
        }
        taint::TAINT_REMOVED => {
            "the problem cleared, so the operator removed its taint at once (the budget never \
             holds a removal back)"
        }
        taint::TAINT_HELD_BACK | taint::NODE_TAINTS_HELD_BACK => {
            "the Node has the problem, but --node-taint-max (1 Node in the demo) is used up: it \
             is not tainted, and reported on the Node, on the watch (Event and the \
             NodeConditionsDriven condition) and in hostrisk_node_taints_held_back"
        }
        taint::TAINT_WOULD_BE_ADDED | taint::TAINT_WOULD_BE_REMOVED => {
            "--node-taint-dry-run: the taint change is reported, the Node is left as it is"
        }
        _ => return None,
    };
    Some(why)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ObjectReference;

    #[test]
    fn every_reason_the_operator_emits_has_a_cause() {
        use hostrisk_operator::nodes::taints::reason as taint;
        use hostrisk_operator::status::events::reason as r;
        for reason in [
            r::HOST_NOT_FOUND,
            r::BECAME_AT_RISK,
            r::BECAME_CLEAN,
            r::PROTECTION_CLOSED,
            r::PROTECTION_OPENED,
            r::AGENT_OFFLINE,
            r::AGENT_ONLINE,
            r::POLL_FAILED,
            r::POLL_RECOVERED,
            taint::TAINT_ADDED,
            taint::TAINT_REMOVED,
            taint::TAINT_WOULD_BE_ADDED,
            taint::TAINT_WOULD_BE_REMOVED,
            taint::TAINT_HELD_BACK,
            taint::NODE_TAINTS_HELD_BACK,
        ] {
            assert!(cause(reason).is_some(), "{reason}");
        }
        assert!(cause(r::PROTECTION_CLOSED).is_some_and(|c| c.contains("undetected")));
        assert_eq!(cause("SomethingElse"), None);
    }

    #[test]
    fn reads_the_fields_an_operator_event_carries() {
        let event = Event {
            type_: Some("Warning".into()),
            reason: Some("BecameAtRisk".into()),
            note: Some("host demo-db-01 became at risk".into()),
            reporting_controller: Some("hostrisk-operator".into()),
            regarding: Some(ObjectReference {
                namespace: Some("security".into()),
                name: Some("web-tier".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let seen = ObservedEvent::from_event(&event);
        assert_eq!(seen.reason, "BecameAtRisk");
        assert_eq!(seen.regarding, "web-tier");
        let line = seen.line(Style { color: false });
        assert_eq!(
            line,
            "  event Warning BecameAtRisk      security/web-tier: host demo-db-01 became at risk"
        );
    }

    #[test]
    fn an_event_about_a_node_names_it_as_kubectl_does() {
        let event = Event {
            metadata: kube::api::ObjectMeta {
                namespace: Some("default".into()),
                ..Default::default()
            },
            type_: Some("Warning".into()),
            reason: Some("TaintAdded".into()),
            note: Some("added taint hostrisk.io/at-risk".into()),
            regarding: Some(ObjectReference {
                kind: Some("Node".into()),
                name: Some("cce-node-1".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let seen = ObservedEvent::from_event(&event);
        assert_eq!(seen.object, "node/cce-node-1");
        assert_eq!(seen.regarding, "cce-node-1");
        assert!(seen
            .line(Style { color: false })
            .ends_with(" TaintAdded        node/cce-node-1: added taint hostrisk.io/at-risk"));
    }
}
