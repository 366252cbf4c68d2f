//! The live output: one task that owns stdout and prints, in arrival order, the table rows (from
//! a watch on `HostRiskWatch`es), the Events (from a watch on `events.k8s.io` Events) and the
//! script's notices. Both watches run over HTTP through a real `kube::Client`, so what is shown
//! is what the API server stores, exactly as `kubectl get -w` would see it.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::time::{Duration, Instant};

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::events::v1::Event;
use kube::api::{ApiResource, DynamicObject};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, ResourceExt};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::events::{cause, ObservedEvent};
use super::table::{ObservedRow, Style, Table};
use super::wrap::wrap;
use hostrisk_operator::crd::status::StatusValue;
use hostrisk_operator::crd::HostStatus;

/// Where continuation lines start: under the text that follows the time stamp column.
pub const CONTINUATION_INDENT: usize = 9;

/// What the script tells the viewer.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// A step starts: what changes, and how the operator is told.
    Step { title: String, how: String },
    /// The step's effect showed up in the watch's status after this long (`None`: it did not);
    /// `hosts` are the changed hosts' entries of `status.hosts` as read back, with the fields the
    /// step changed.
    Seen {
        watch: String,
        after: Option<Duration>,
        hosts: Vec<(HostStatus, Vec<&'static str>)>,
    },
    /// An idle refresh: whether HSS was polled, and how many status writes followed.
    Idle { polled: bool, status_writes: u64 },
    /// The Nodes a step changed, as read back (one line each), and what they did not show
    /// before the next step.
    Nodes {
        lines: Vec<String>,
        missing: Vec<String>,
    },
}

/// Everything the viewer printed, for the report.
#[derive(Debug, Clone, Default)]
pub struct ViewLog {
    /// Every row printed, in order.
    pub rows: Vec<ObservedRow>,
    /// Every Event printed, in order.
    pub events: Vec<ObservedEvent>,
}

/// The printer. Write errors (a closed pipe) end the view with the error.
pub struct View {
    out: Box<dyn Write + Send>,
    table: Table,
    style: Style,
    started: Instant,
    last: HashMap<(String, String), ObservedRow>,
    /// Last Ready condition detail printed per watch, to print it only when it changes.
    detail: HashMap<(String, String), String>,
    seen_events: HashSet<String>,
    /// Causes explained already: each once, also when two reasons share one (the budget's Events
    /// on the Node and on the watch).
    explained: HashSet<&'static str>,
    /// Columns a line may take.
    width: usize,
    log: ViewLog,
}

impl View {
    pub fn new(
        out: Box<dyn Write + Send>,
        table: Table,
        style: Style,
        started: Instant,
        width: usize,
    ) -> Self {
        Self {
            out,
            table,
            style,
            started,
            last: HashMap::new(),
            detail: HashMap::new(),
            seen_events: HashSet::new(),
            explained: HashSet::new(),
            width,
            log: ViewLog::default(),
        }
    }

    /// Prints a line, broken to the width with continuation lines under the text.
    pub fn line(&mut self, text: &str) -> std::io::Result<()> {
        self.indented(text, CONTINUATION_INDENT)
    }

    /// Prints a line, broken to the width with continuation lines `indent` columns in.
    pub fn indented(&mut self, text: &str, indent: usize) -> std::io::Result<()> {
        for line in wrap(text, self.width, indent) {
            writeln!(self.out, "{line}")?;
        }
        self.out.flush()
    }

    /// Prints the table header, indented like the rows under it (they start with the time).
    pub fn header(&mut self) -> std::io::Result<()> {
        let header = format!("{:>6} {}", "", self.table.header());
        self.line(&header)
    }

    /// Prints rows, Events and notices until `stop` is cancelled; returns what it printed and the
    /// output (for the closing summary). `synced` fires once both watches listed what exists, so
    /// the caller can start the controller and have every change of the watches on screen.
    pub async fn run(
        mut self,
        client: kube::Client,
        resource: ApiResource,
        mut notices: mpsc::UnboundedReceiver<Notice>,
        synced: oneshot::Sender<()>,
        stop: CancellationToken,
    ) -> (std::io::Result<()>, ViewLog, Box<dyn Write + Send>) {
        let watches = Api::<DynamicObject>::all_with(client.clone(), &resource);
        let mut rows = Box::pin(watcher(watches, watcher::Config::default()).default_backoff());
        let mut events = Box::pin(
            watcher(Api::<Event>::all(client), watcher::Config::default()).default_backoff(),
        );
        let mut synced = Some(synced);
        let (mut rows_listed, mut events_listed) = (false, false);
        let result = loop {
            let printed = tokio::select! {
                biased;
                () = stop.cancelled() => break Ok(()),
                Some(notice) = notices.recv() => self.notice(notice),
                Some(item) = rows.next() => match applied(item, &mut rows_listed) {
                    Some(object) => self.row(&object),
                    None => Ok(()),
                },
                Some(item) = events.next() => match applied(item, &mut events_listed) {
                    Some(event) => self.event(&event),
                    None => Ok(()),
                },
            };
            if let Err(error) = printed {
                // Tell the demo its output is gone, so it ends instead of running unseen.
                stop.cancel();
                break Err(error);
            }
            if rows_listed && events_listed {
                if let Some(synced) = synced.take() {
                    // The receiver stops waiting after a timeout; nothing to do then.
                    let _ = synced.send(());
                }
            }
        };
        (result, self.log, self.out)
    }

    fn elapsed(&self) -> String {
        let secs = self.started.elapsed().as_secs_f64();
        self.style.dim(&format!("{secs:>5.1}s"))
    }

    fn notice(&mut self, notice: Notice) -> std::io::Result<()> {
        match notice {
            Notice::Step { title, how } => {
                let line = format!(
                    "{} {} {}",
                    self.elapsed(),
                    self.style.cyan(&format!("▶ {title}")),
                    self.style.dim(&format!("({how})"))
                );
                self.line(&line)
            }
            Notice::Seen {
                watch,
                after,
                hosts,
            } => {
                let text = match after {
                    Some(after) => format!(
                        "{:>6}   ✓ read back from {watch}'s status {:.1}s after the change",
                        "",
                        after.as_secs_f64()
                    ),
                    None => format!("{:>6}   ✗ not in {watch}'s status before the next step", ""),
                };
                let line = match after {
                    Some(_) => self.style.dim(&text),
                    None => self.style.red(&text),
                };
                self.line(&line)?;
                if after.is_some() {
                    for (host, changed) in hosts {
                        let text =
                            format!("{:>6}   └ {}", "", host_row(&host, &changed, self.style));
                        self.line(&text)?;
                    }
                }
                Ok(())
            }
            Notice::Idle {
                polled,
                status_writes,
            } => {
                let text = match (polled, status_writes) {
                    (true, 0) => format!(
                        "{:>6}   ✓ HSS polled, nothing changed: no status write, so no new row",
                        ""
                    ),
                    (true, n) => format!("{:>6}   ✗ HSS polled, then {n} status write(s)", ""),
                    (false, _) => format!("{:>6}   ✗ HSS not polled before the next step", ""),
                };
                let line = match (polled, status_writes) {
                    (true, 0) => self.style.dim(&text),
                    _ => self.style.red(&text),
                };
                self.line(&line)
            }
            Notice::Nodes { lines, missing } => {
                for line in lines {
                    let text = self.style.dim(&format!("{:>6}   └ {line}", ""));
                    self.line(&text)?;
                }
                for what in missing {
                    let text = format!("{:>6}   ✗ not seen before the next step: {what}", "");
                    self.line(&self.style.red(&text))?;
                }
                Ok(())
            }
        }
    }

    fn row(&mut self, object: &DynamicObject) -> std::io::Result<()> {
        let value = match serde_json::to_value(object) {
            Ok(value) => value,
            Err(error) => {
                return self.line(&format!("  (cannot show {}: {error})", object.name_any()))
            }
        };
        let row = ObservedRow::from_object(&value, self.table.columns());
        let key = (row.namespace.clone(), row.name.clone());
        let previous = self.last.get(&key);
        if previous == Some(&row) {
            // Only metadata changed (e.g. the refresh annotation): no column moved.
            return Ok(());
        }
        let line = self.table.row(&row, previous, Timestamp::now());
        let line = format!("{} {line}", self.elapsed());
        self.line(&line)?;
        if let Some(detail) = ready_detail(&value) {
            if self.detail.get(&key) != Some(&detail) {
                let text = self.style.dim(&format!("{:>6}   └ {detail}", ""));
                self.line(&text)?;
                self.detail.insert(key.clone(), detail);
            }
        }
        self.log.rows.push(row.clone());
        self.last.insert(key, row);
        Ok(())
    }

    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        let uid = event.uid().unwrap_or_else(|| event.name_any());
        if !self.seen_events.insert(uid) {
            return Ok(());
        }
        let observed = ObservedEvent::from_event(event);
        let line = format!("{} {}", self.elapsed(), observed.line(self.style));
        self.line(&line)?;
        if let Some(why) = cause(&observed.reason) {
            if self.explained.insert(why) {
                let text = self.style.dim(&format!("{:>6}   why: {why}", ""));
                self.line(&text)?;
            }
        }
        self.log.events.push(observed);
        Ok(())
    }
}

/// A host's entry of `status.hosts` as one line of `field=value`, the fields the step changed in
/// bold: `status.hosts[demo-db-01]: found=true agentStatus=online ... intrusion=0`.
pub fn host_row(host: &HostStatus, changed: &[&str], style: Style) -> String {
    let text = |v: &Option<StatusValue>| v.as_deref().map(str::to_string);
    let count = |v: Option<i64>| v.map(|n| n.to_string());
    // The fields of a host entry in the CRD's order (the id is in the prefix).
    let fields = [
        ("nodeName", host.node_name.clone()),
        ("found", Some(host.found.to_string())),
        ("agentStatus", text(&host.agent_status)),
        ("installResultCode", text(&host.install_result_code)),
        ("version", text(&host.version)),
        ("protectStatus", text(&host.protect_status)),
        ("detectResult", text(&host.detect_result)),
        ("asset", count(host.asset)),
        ("vulnerability", count(host.vulnerability)),
        ("baseline", count(host.baseline)),
        ("intrusion", count(host.intrusion)),
    ];
    let mut row = format!("status.hosts[{}]:", host.host_id);
    for (name, value) in fields {
        let Some(value) = value else { continue };
        let pair = format!("{name}={value}");
        row.push(' ');
        if changed.contains(&name) {
            row.push_str(&style.bold(&pair));
        } else {
            row.push_str(&pair);
        }
    }
    row
}

/// `Ready=False SecretKeyMissing: ...` for a watch whose Ready condition is False, from its
/// stored status (Unknown only means the first poll is on its way).
fn ready_detail(object: &Value) -> Option<String> {
    let conditions = object.pointer("/status/conditions")?.as_array()?;
    let ready = conditions
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))?;
    let field = |name: &str| ready.get(name).and_then(Value::as_str).unwrap_or_default();
    if field("status") != "False" {
        return None;
    }
    Some(format!(
        "Ready={} {}: {}",
        field("status"),
        field("reason"),
        field("message")
    ))
}

/// The object of an added or changed (or initially listed) object; notes the end of the
/// initial list in `listed`. Watch errors are retried by the watcher's backoff and skipped here.
fn applied<K>(item: Result<watcher::Event<K>, watcher::Error>, listed: &mut bool) -> Option<K> {
    match item {
        Ok(watcher::Event::Apply(object) | watcher::Event::InitApply(object)) => Some(object),
        Ok(watcher::Event::InitDone) => {
            *listed = true;
            None
        }
        Ok(watcher::Event::Init | watcher::Event::Delete(_)) => None,
        Err(error) => {
            tracing::warn!(%error, "demo watch failed; retrying");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn host_rows_show_every_field_and_mark_the_changed_ones() {
        let host = HostStatus {
            host_id: "demo-db-01".into(),
            node_name: Some("cce-node-2".into()),
            found: true,
            agent_status: Some("online".into()),
            detect_result: Some("risk".into()),
            vulnerability: Some(4),
            ..Default::default()
        };
        let plain = host_row(&host, &["detectResult"], Style { color: false });
        assert!(plain.starts_with("status.hosts[demo-db-01]: "), "{plain}");
        for pair in [
            "nodeName=cce-node-2",
            "found=true",
            "agentStatus=online",
            "detectResult=risk",
            "vulnerability=4",
        ] {
            assert!(plain.contains(pair), "{pair} in {plain}");
        }
        let coloured = host_row(&host, &["detectResult"], Style { color: true });
        assert!(
            coloured.contains("\x1b[1mdetectResult=risk"),
            "{coloured:?}"
        );
        assert!(!coloured.contains("\x1b[1magentStatus"), "{coloured:?}");
    }

    #[test]
    fn detail_names_the_reason_of_a_watch_that_is_not_ready() {
        let not_ready = json!({"status": {"conditions": [
            {"type": "Ready", "status": "False", "reason": "SecretKeyMissing", "message": "no secretKey"}
        ]}});
        assert_eq!(
            ready_detail(&not_ready).as_deref(),
            Some("Ready=False SecretKeyMissing: no secretKey")
        );
        let ready = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        assert_eq!(ready_detail(&ready), None);
        let pending = json!({"status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}});
        assert_eq!(ready_detail(&pending), None);
        assert_eq!(ready_detail(&json!({})), None);
    }
}
