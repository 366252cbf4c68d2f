//! The JSON log format: one object a line, `timestamp`, `level`, the event's fields (`message`
//! first when it has one), `target`, and `spans` (outermost first, each `{name, fields...}`).
//!
//! Keys are unique by construction. tracing-subscriber's own flattened JSON writes every field as
//! it comes, so an event with a field named like another (`message`, `level`, `target`) became a
//! line with a repeated key, and pipelines keep only one of them. Here a key already taken gets a
//! numbered twin (`message_2`) instead: nothing is lost, nothing repeats. The code base names no
//! field `message`; the twin is a safety net for dependencies' events.

use std::fmt;

use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The event formatter of `--log-format json`.
#[derive(Debug, Clone, Copy, Default)]
pub struct UniqueKeysJson;

/// A JSON object under construction that never repeats a key, in insertion order.
#[derive(Debug, Default)]
pub struct UniqueObject {
    entries: Vec<(String, Value)>,
}

impl UniqueObject {
    /// Adds `key`, or `key_2`, `key_3`, ... when it is taken.
    pub fn insert(&mut self, key: &str, value: Value) {
        let mut candidate = key.to_string();
        let mut n = 1;
        while self.entries.iter().any(|(k, _)| *k == candidate) {
            n += 1;
            candidate = format!("{key}_{n}");
        }
        self.entries.push((candidate, value));
    }

    /// The object as compact JSON, keys in insertion order.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{");
        for (i, (key, value)) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            // A string and a Value always serialize.
            out.push_str(&serde_json::to_string(key).unwrap_or_default());
            out.push(':');
            out.push_str(&serde_json::to_string(value).unwrap_or_default());
        }
        out.push('}');
        out
    }

    fn into_value(self) -> Value {
        Value::Object(self.entries.into_iter().collect())
    }
}

/// Collects an event's fields into a [`UniqueObject`].
struct FieldVisitor<'a>(&'a mut UniqueObject);

impl Visit for FieldVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name(), Value::from(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name(), Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.insert(field.name(), Value::from(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name(), Value::from(format!("{value:?}")));
    }
}

impl<S, N> FormatEvent<S, N> for UniqueKeysJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut line = UniqueObject::default();
        line.insert("timestamp", Value::from(jiff::Timestamp::now().to_string()));
        line.insert("level", Value::from(meta.level().as_str()));
        // The message first, then the other fields in the order they were written.
        let mut fields = UniqueObject::default();
        event.record(&mut FieldVisitor(&mut fields));
        let (messages, others): (Vec<_>, Vec<_>) = fields
            .entries
            .into_iter()
            .partition(|(key, _)| key == "message");
        for (key, value) in messages.into_iter().chain(others) {
            line.insert(&key, value);
        }
        line.insert("target", Value::from(meta.target()));
        if let Some(scope) = ctx.event_scope() {
            let spans: Vec<Value> = scope
                .from_root()
                .map(|span| {
                    let mut object = UniqueObject::default();
                    object.insert("name", Value::from(span.name()));
                    // Span fields are stored as a JSON object by `JsonFields` (a map: unique).
                    let extensions = span.extensions();
                    let stored = extensions
                        .get::<FormattedFields<N>>()
                        .and_then(|f| serde_json::from_str::<Value>(f).ok());
                    if let Some(Value::Object(map)) = stored {
                        for (key, value) in map {
                            object.insert(&key, value);
                        }
                    }
                    object.into_value()
                })
                .collect();
            if !spans.is_empty() {
                line.insert("spans", Value::Array(spans));
            }
        }
        writeln!(writer, "{}", line.to_json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::format::JsonFields;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn capture(emit: impl FnOnce()) -> String {
        let captured = Captured::default();
        let sink = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .fmt_fields(JsonFields::new())
            .event_format(UniqueKeysJson)
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        let bytes = captured.0.lock().expect("lock").clone();
        String::from_utf8(bytes).expect("utf-8")
    }

    #[test]
    fn a_field_named_like_a_taken_key_gets_a_numbered_twin() {
        let detail = "no Kubernetes configuration";
        let text = capture(|| {
            tracing::error!(message = %detail, level = 3, "cannot start");
        });
        let line: Value = serde_json::from_str(text.trim()).expect("one JSON line");
        assert_eq!(text.matches("\"message\":").count(), 1, "{text}");
        assert_eq!(text.matches("\"level\":").count(), 1, "{text}");
        assert_eq!(line["level"], "ERROR");
        assert_eq!(line["level_2"], 3);
        let messages = [&line["message"], &line["message_2"]];
        assert!(messages.contains(&&Value::from("cannot start")), "{text}");
        assert!(messages.contains(&&Value::from(detail)), "{text}");
    }

    #[test]
    fn lines_carry_time_level_message_fields_target_and_spans() {
        let text = capture(|| {
            let span = tracing::info_span!("reconcile", name = "web-tier", attempt = 2);
            let _entered = span.enter();
            tracing::warn!(hosts = 3, error = "boom", "poll failed");
        });
        assert!(text.starts_with("{\"timestamp\":"), "{text}");
        let line: Value = serde_json::from_str(text.trim()).expect("one JSON line");
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["message"], "poll failed");
        assert_eq!(line["hosts"], 3);
        assert_eq!(line["error"], "boom");
        assert_eq!(line["target"], module_path!());
        assert_eq!(line["spans"][0]["name"], "reconcile");
        assert_eq!(line["spans"][0]["name_2"], "web-tier");
        assert_eq!(line["spans"][0]["attempt"], 2);
    }
}
