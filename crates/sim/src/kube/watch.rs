//! watch: newline-delimited JSON watch events over a chunked HTTP response.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::response::Response;
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};

use super::faults::Faults;
use super::list::{too_large, too_old};
use super::meta::{parse_rv, set_rv};
use super::query::{Query, Shape};
use super::resources::ResourceType;
use super::selectors::Selectors;
use super::status::ApiError;
use super::store::{Change, State};

/// One watcher's view: which objects, in which shape.
#[derive(Clone)]
pub struct WatchScope {
    /// Resource type.
    pub rt: ResourceType,
    /// Requested version.
    pub version: String,
    /// Namespace, None for all namespaces / cluster-scoped.
    pub namespace: Option<String>,
    /// Selectors.
    pub selectors: Selectors,
    /// Rendering.
    pub shape: Shape,
}

impl WatchScope {
    fn line(&self, kind: &str, obj: &Value) -> Bytes {
        /// One event, serialized from the stored object without copying it.
        #[derive(serde::Serialize)]
        struct Event<'a> {
            #[serde(rename = "type")]
            kind: &'a str,
            object: &'a Value,
        }
        let object = self.shape.render_cow(obj, &self.rt, &self.version);
        let mut line = serde_json::to_vec(&Event {
            kind,
            object: &object,
        })
        .unwrap_or_default();
        line.push(b'\n');
        Bytes::from(line)
    }

    /// copies: removing a CRD (or its version being no longer served) tears down the
    /// resource's storage, which ends its open watches.
    fn ends_with(&self, c: &Change) -> bool {
        if !self.rt.custom
            || c.key.group != "apiextensions.k8s.io"
            || c.key.plural != "customresourcedefinitions"
        {
            return false;
        }
        if c.key.name != format!("{}.{}", self.rt.plural, self.rt.group) {
            return false;
        }
        let served = c
            .new
            .as_ref()
            .and_then(|crd| crd.pointer("/spec/versions"))
            .and_then(Value::as_array)
            .is_some_and(|vs| {
                vs.iter().any(|v| {
                    v.get("name").and_then(Value::as_str) == Some(self.version.as_str())
                        && v.get("served").and_then(Value::as_bool) == Some(true)
                })
            });
        !served
    }

    fn in_scope(&self, c: &Change) -> bool {
        c.key.group == self.rt.group
            && c.key.plural == self.rt.plural
            && self
                .namespace
                .as_ref()
                .is_none_or(|ns| &c.key.namespace == ns)
    }

    /// copies: the watch cache's event conversion: an object that starts matching the
    /// selectors is ADDED, one that stops matching is DELETED (previous state, the event's
    /// resourceVersion), deletions carry the last state with the deletion's resourceVersion.
    fn event_for(&self, c: &Change) -> Option<Bytes> {
        if !self.in_scope(c) {
            return None;
        }
        let old_match = c.old.as_ref().is_some_and(|o| self.selectors.matches(o));
        let new_match = c.new.as_ref().is_some_and(|o| self.selectors.matches(o));
        match (&c.new, &c.old, old_match, new_match) {
            (Some(n), _, true, true) => Some(self.line("MODIFIED", n)),
            (Some(n), _, false, true) => Some(self.line("ADDED", n)),
            (_, Some(o), true, false) => {
                let mut o = o.clone();
                set_rv(&mut o, c.rv);
                Some(self.line("DELETED", &o))
            }
            _ => None,
        }
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let (kind, api_version) = match self.shape {
            Shape::Full => (self.rt.kind.clone(), self.rt.api_version(&self.version)),
            Shape::Metadata => (
                "PartialObjectMetadata".to_string(),
                "meta.k8s.io/v1".to_string(),
            ),
        };
        let mut meta = json!({"resourceVersion": rv.to_string(), "creationTimestamp": null});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let ev = json!({"type": "BOOKMARK", "object": {"kind": kind, "apiVersion": api_version, "metadata": meta}});
        Bytes::from(format!("{ev}\n"))
    }
}

fn error_line(e: &ApiError) -> Bytes {
    Bytes::from(format!(
        "{}\n",
        json!({"type": "ERROR", "object": e.to_status()})
    ))
}

/// Everything decided under the store lock before streaming starts.
pub struct WatchStart {
    initial: Vec<Bytes>,
    from_rv: u64,
    changes: Option<broadcast::Receiver<Arc<Change>>>,
    bookmarks: bool,
    timeout: Duration,
}

/// Prepares a watch under the store lock.
///
/// copies:
/// - no `resourceVersion` or `resourceVersion=0`: synthetic ADDED events for every current
///   matching object, then changes.
/// - `resourceVersion=N`: every change after N; if N is compacted, one ERROR event with a
///   410 Expired Status ("too old resource version") and the stream ends; N newer than the
///   current revision: 504 Too large resource version.
/// - `sendInitialEvents=true` (WatchList): requires `resourceVersionMatch=NotOlderThan` and
///   `allowWatchBookmarks=true` (422 otherwise); ADDED for current objects, then a BOOKMARK
///   annotated `k8s.io/initial-events-end: "true"`.
/// - `allowWatchBookmarks=true`: BOOKMARK events carrying the latest revision the stream
///   has passed, every `bookmark_interval` (the real server sends them about once a minute).
/// - `timeoutSeconds`: the response ends after that long (default 1800s).
pub fn start(
    state: &State,
    scope: &WatchScope,
    q: &Query,
    faults: &Faults,
) -> Result<WatchStart, ApiError> {
    let bookmarks = q.flag("allowWatchBookmarks");
    let timeout = Duration::from_secs(
        q.get("timeoutSeconds")
            .and_then(|t| t.parse().ok())
            .unwrap_or(1800),
    );
    let send_initial = q.flag("sendInitialEvents");
    let rv = q.get("resourceVersion");
    let mut initial = Vec::new();
    let current = |initial: &mut Vec<Bytes>| {
        for (k, o) in state.resource_objects(&scope.rt.group, &scope.rt.plural) {
            if scope.namespace.as_ref().is_none_or(|ns| &k.namespace == ns)
                && scope.selectors.matches(&o)
            {
                initial.push(scope.line("ADDED", &o));
            }
        }
    };
    if send_initial {
        if q.get("resourceVersionMatch") != Some("NotOlderThan") {
            return Err(ApiError::new(422, "Invalid", "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"));
        }
        if !bookmarks {
            return Err(ApiError::new(422, "Invalid", "allowWatchBookmarks: Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true"));
        }
        current(&mut initial);
        initial.push(scope.bookmark(state.rv, true));
    } else {
        match rv {
            None | Some("0") => current(&mut initial),
            Some(s) => {
                let want = parse_rv(s).ok_or_else(|| {
                    ApiError::bad_request(format!("invalid resource version: {s}"))
                })?;
                if want > state.rv {
                    return Err(too_large(want, state.rv));
                }
                if faults.take_expiry() || want < state.compacted_rv {
                    let line = error_line(&too_old(want, state.compacted_rv.max(want + 1)));
                    return Ok(WatchStart {
                        initial: vec![line],
                        from_rv: want,
                        changes: None,
                        bookmarks,
                        timeout,
                    });
                }
                for c in state.history.iter().filter(|c| c.rv > want) {
                    initial.extend(scope.event_for(c));
                }
            }
        }
    }
    Ok(WatchStart {
        initial,
        from_rv: state.rv,
        changes: Some(state.subscribe()),
        bookmarks,
        timeout,
    })
}

/// Streams a prepared watch.
pub fn stream(
    scope: WatchScope,
    start: WatchStart,
    faults: &Faults,
    bookmark_interval: Duration,
) -> Response {
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    // `subscribe` marks the current epoch as seen: only later drops end this stream.
    let mut epoch = faults.drop_epoch.subscribe();
    tokio::spawn(async move {
        for line in start.initial {
            if tx.send(line).await.is_err() {
                return;
            }
        }
        let Some(mut changes) = start.changes else {
            return;
        };
        let mut last_rv = start.from_rv;
        let deadline = tokio::time::sleep(start.timeout);
        tokio::pin!(deadline);
        let mut tick = tokio::time::interval_at(
            tokio::time::Instant::now() + bookmark_interval,
            bookmark_interval,
        );
        loop {
            let line = tokio::select! {
                _ = &mut deadline => return,
                _ = epoch.changed() => return,
                _ = tx.closed() => return,
                _ = tick.tick(), if start.bookmarks => scope.bookmark(last_rv, false),
                r = changes.recv() => match r {
                    Ok(c) => {
                        last_rv = c.rv;
                        if scope.ends_with(&c) {
                            return;
                        }
                        match scope.event_for(&c) {
                            Some(l) => l,
                            None => continue,
                        }
                    }
                    // copies: a watcher too slow to keep up is ended with 410 Expired.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let _ = tx.send(error_line(&too_old(last_rv, last_rv + 1))).await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            };
            if tx.send(line).await.is_err() {
                return;
            }
        }
    });
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}
