//! The Events output: the transitions `compute_status` decided on, as `events.k8s.io/v1`
//! Events regarding the `HostRiskWatch`.

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType as KubeEventType, Recorder, Reporter};
use kube::Resource;

use super::{Output, WatchView};
use crate::controller::error::Result;
use crate::controller::watches::WatchScoped;
use crate::crd::WatchKey;
use crate::metrics::Metrics;
use crate::status::{EventType, TransitionEvent};

pub struct EventPublisher {
    client: kube::Client,
    reporter: Reporter,
    metrics: Metrics,
}

impl EventPublisher {
    pub fn new(client: kube::Client, reporter: Reporter, metrics: Metrics) -> Self {
        Self {
            client,
            reporter,
            metrics,
        }
    }
}

impl WatchScoped for EventPublisher {
    // Events are objects of the API server; nothing is kept here.
    fn forget(&self, _key: &WatchKey) {}
}

impl Output for EventPublisher {
    fn name(&self) -> &'static str {
        "events"
    }

    fn publish<'a>(&'a self, view: &'a WatchView<'a>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if !view.events.is_empty() {
                let regarding = view.watch.object_ref(&());
                publish_events(
                    &self.client,
                    &self.reporter,
                    &regarding,
                    view.events,
                    &self.metrics,
                )
                .await;
            }
            Ok(())
        })
    }
}

/// The `action` of every Event: what the operator was doing when it noticed the transition.
pub const ACTION: &str = "Poll";

/// The Event as kube-runtime's recorder takes it.
pub fn to_kube_event(event: &TransitionEvent) -> Event {
    to_kube_event_as(event, ACTION)
}

/// [`to_kube_event`] with another `action` (what the operator was doing: `Taint`, ...).
pub fn to_kube_event_as(event: &TransitionEvent, action: &str) -> Event {
    Event {
        type_: match event.type_ {
            EventType::Normal => KubeEventType::Normal,
            EventType::Warning => KubeEventType::Warning,
        },
        reason: event.reason.to_string(),
        note: Some(truncate_note(&event.note)),
        action: action.to_string(),
        secondary: None,
    }
}

/// Publishes `events` about `regarding`. A failed publish is logged and counted, never fatal:
/// the status already carries the same facts.
///
/// A fresh `Recorder` per Event on purpose: the recorder folds Events with the same reason on the
/// same object into one series for six minutes and keeps the first note, so "host B became at
/// risk" would show as a second count of "host A became at risk". Transitions are rare, so one
/// Event object each is cheap.
pub async fn publish_events(
    client: &kube::Client,
    reporter: &Reporter,
    regarding: &ObjectReference,
    events: &[TransitionEvent],
    metrics: &Metrics,
) {
    publish_events_as(client, reporter, regarding, ACTION, events, metrics).await;
}

/// [`publish_events`] with another `action`.
pub async fn publish_events_as(
    client: &kube::Client,
    reporter: &Reporter,
    regarding: &ObjectReference,
    action: &str,
    events: &[TransitionEvent],
    metrics: &Metrics,
) {
    for event in events {
        let recorder = Recorder::new(client.clone(), reporter.clone());
        match recorder
            .publish(&to_kube_event_as(event, action), regarding)
            .await
        {
            Ok(()) => {
                metrics.record_event(true);
                tracing::info!(
                    namespace = regarding.namespace.as_deref().unwrap_or_default(),
                    name = regarding.name.as_deref().unwrap_or_default(),
                    reason = event.reason,
                    host = event.host_id.as_deref().unwrap_or_default(),
                    "event published"
                );
            }
            Err(error) => {
                metrics.record_event(false);
                tracing::warn!(
                    namespace = regarding.namespace.as_deref().unwrap_or_default(),
                    name = regarding.name.as_deref().unwrap_or_default(),
                    reason = event.reason,
                    %error,
                    "could not publish event"
                );
            }
        }
    }
}

/// events.k8s.io limits `note` to 1 kB.
fn truncate_note(note: &str) -> String {
    const MAX: usize = 1024;
    if note.len() <= MAX {
        return note.to_string();
    }
    let mut end = MAX - 3;
    while !note.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &note[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_type_reason_and_note() {
        let event = TransitionEvent {
            host_id: Some("h-1".into()),
            reason: "BecameAtRisk",
            note: "host h-1 became at risk".into(),
            type_: EventType::Warning,
        };
        let kube_event = to_kube_event(&event);
        assert_eq!(kube_event.type_, KubeEventType::Warning);
        assert_eq!(kube_event.reason, "BecameAtRisk");
        assert_eq!(kube_event.note.as_deref(), Some("host h-1 became at risk"));
        assert_eq!(kube_event.action, ACTION);
    }

    #[test]
    fn long_notes_are_cut_at_a_char_boundary() {
        let note = "é".repeat(800);
        let cut = truncate_note(&note);
        assert!(cut.len() <= 1024 && cut.ends_with("..."));
    }
}
