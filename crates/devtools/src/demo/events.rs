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
    /// Namespace and name of the object the Event is about.
    pub namespace: String,
    pub regarding: String,
    pub note: String,
    /// `reportingController`, to tell the operator's Events from anyone else's.
    pub reporter: String,
}

impl ObservedEvent {
    pub fn from_event(event: &Event) -> Self {
        let regarding = event.regarding.as_ref();
        Self {
            type_: event.type_.clone().unwrap_or_default(),
            reason: event.reason.clone().unwrap_or_default(),
            namespace: regarding
                .and_then(|r| r.namespace.clone())
                .or_else(|| event.metadata.namespace.clone())
                .unwrap_or_default(),
            regarding: regarding.and_then(|r| r.name.clone()).unwrap_or_default(),
            note: event.note.clone().unwrap_or_default(),
            reporter: event.reporting_controller.clone().unwrap_or_default(),
        }
    }

    /// `  event  Warning  BecameAtRisk      security/web-tier: host demo-db-01 became at risk`
    pub fn line(&self, style: Style) -> String {
        let kind = format!("{:<7}", self.type_);
        let kind = match self.type_.as_str() {
            "Warning" => style.yellow(&kind),
            _ => style.green(&kind),
        };
        format!(
            "  {} {} {:<17} {}/{}: {}",
            style.dim("event"),
            kind,
            self.reason,
            self.namespace,
            self.regarding,
            self.note
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ObjectReference;

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
}
