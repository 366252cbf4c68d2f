//! The Rust-side handle: start, observation, fault hooks, shutdown (clients.rs: clients and
//! identities; documents.rs: objects written from Rust).

mod clients;
mod documents;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;

use super::faults::{Faults, RequestKey};
use super::store::{ObjKey, State};
use super::Shared;

/// How many changes the stand-in keeps for watch resumption, `Exact` lists and continue
/// tokens by default (each change holds the old and new object, so this bounds memory).
pub const DEFAULT_HISTORY_LIMIT: usize = 1_000;

/// Errors of the Rust-side handle.
#[derive(Debug, thiserror::Error)]
pub enum StandinError {
    /// The listener could not be bound.
    #[error("binding the stand-in apiserver to {addr}: {source}")]
    Bind {
        /// Requested address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// The generated kubeconfig was rejected by kube.
    #[error("building a kube config for the stand-in apiserver: {0}")]
    Kubeconfig(String),
    /// A request through the kube client failed.
    #[error("kube client request to the stand-in apiserver: {0}")]
    Client(#[from] kube::Error),
    /// A YAML document could not be parsed.
    #[error("parsing YAML document: {0}")]
    Yaml(#[from] serde_yaml::Error),
    /// A YAML document is not a Kubernetes object.
    #[error("YAML document is not a Kubernetes object: {0}")]
    NotAnObject(#[source] serde_json::Error),
    /// A YAML document names a kind the stand-in does not serve (yet: create its CRD first).
    #[error("the stand-in apiserver serves no {api_version} {kind}")]
    UnknownKind {
        /// apiVersion of the document.
        api_version: String,
        /// kind of the document.
        kind: String,
    },
    /// The stand-in refused a write (its Status message).
    #[error("the stand-in apiserver refused the write: {0}")]
    Refused(String),
    /// The store lock was poisoned by a panic.
    #[error("stand-in store lock poisoned")]
    Poisoned,
}

/// A running stand-in API server. Dropping it stops the server.
pub struct StandinApiServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl StandinApiServer {
    /// Binds `addr` (port 0 picks a free port) and starts serving.
    pub async fn start(addr: SocketAddr) -> Result<Self, StandinError> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| StandinError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| StandinError::Bind { addr, source })?;
        let (changes, _) = broadcast::channel(4096);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(DEFAULT_HISTORY_LIMIT, changes)),
            faults: Faults::default(),
            bookmark_interval: Mutex::new(Duration::from_secs(5)),
            tokens: Default::default(),
            auth: Default::default(),
            gc: Mutex::new(None),
        });
        let router = axum::Router::new()
            .fallback(super::http::handle)
            .with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, router).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = served.await {
                tracing::warn!(%error, "stand-in apiserver stopped with an error");
            }
        });
        tracing::info!(%addr, "stand-in apiserver listening");
        Ok(Self {
            addr,
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request counted so far, by (verb, resource plural, subresource).
    pub fn request_counts(&self) -> BTreeMap<RequestKey, u64> {
        self.shared.faults.counts()
    }

    /// Requests answered 403 (by RBAC under [`Self::enable_rbac`], or [`Self::forbid`]), by
    /// the verb the authorizer refused (an apply that would create is refused as `create`).
    pub fn refused_requests(&self) -> BTreeMap<RequestKey, u64> {
        self.shared.faults.refused()
    }

    /// Requests with this verb (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`),
    /// resource plural and subresource ("" for the main resource).
    pub fn request_count(&self, verb: &str, resource: &str, subresource: &str) -> u64 {
        let key = RequestKey {
            verb: verb.into(),
            resource: resource.into(),
            subresource: subresource.into(),
        };
        self.request_counts().get(&key).copied().unwrap_or(0)
    }

    /// Write requests (update + patch) to `<resource>/status`.
    pub fn status_writes(&self, resource: &str) -> u64 {
        self.request_count("update", resource, "status")
            + self.request_count("patch", resource, "status")
    }

    /// Write requests (create, update, patch, delete) to `resource`, any subresource.
    pub fn writes(&self, resource: &str) -> u64 {
        self.request_counts()
            .iter()
            .filter(|(k, _)| {
                k.resource == resource
                    && matches!(k.verb.as_str(), "create" | "update" | "patch" | "delete")
            })
            .map(|(_, n)| n)
            .sum()
    }

    /// Writes that were stored (got a new resourceVersion and a watch event) for one
    /// resource; no-op updates are answered but not stored, so they do not count here.
    pub fn stored_writes(&self, group: &str, plural: &str) -> u64 {
        self.shared
            .state
            .lock()
            .ok()
            .and_then(|s| {
                s.commits
                    .get(&(group.to_string(), plural.to_string()))
                    .copied()
            })
            .unwrap_or(0)
    }

    /// The stored object (as written, at its storage version), read without HTTP.
    /// `group` is "" for core; `namespace` is "" for cluster-scoped objects.
    pub fn object(&self, group: &str, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        let key = ObjKey {
            group: group.into(),
            plural: plural.into(),
            namespace: namespace.into(),
            name: name.into(),
        };
        self.shared.state.lock().ok()?.objects.get(&key).cloned()
    }

    /// `metadata.managedFields` of a stored object (empty when absent or unowned).
    pub fn managed_fields(
        &self,
        group: &str,
        plural: &str,
        namespace: &str,
        name: &str,
    ) -> Vec<Value> {
        self.object(group, plural, namespace, name)
            .and_then(|o| {
                o.pointer("/metadata/managedFields")
                    .and_then(Value::as_array)
                    .cloned()
            })
            .unwrap_or_default()
    }

    /// Every stored object of one resource, in key order.
    pub fn objects(&self, group: &str, plural: &str) -> Vec<Value> {
        self.shared
            .state
            .lock()
            .map(|s| {
                s.resource_objects(group, plural)
                    .into_iter()
                    .map(|(_, v)| v)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.shared.state.lock().map(|s| s.rv).unwrap_or(0)
    }

    /// Drops all change history, like an etcd compaction: watches and `Exact` lists at any
    /// older resourceVersion answer 410 Expired afterwards.
    pub fn compact_history(&self) {
        if let Ok(mut s) = self.shared.state.lock() {
            s.compact();
        }
    }

    /// Sets how many changes are kept; older ones are compacted now and from then on.
    pub fn set_history_limit(&self, changes: usize) {
        if let Ok(mut s) = self.shared.state.lock() {
            s.history_limit = changes.max(1);
            s.trim_history();
        }
    }

    /// Sets the period of BOOKMARK events on watches that allow them (default 5s).
    pub fn set_bookmark_interval(&self, every: Duration) {
        if let Ok(mut d) = self.shared.bookmark_interval.lock() {
            *d = every.max(Duration::from_millis(10));
        }
    }

    /// Fault: ends every open watch stream now (clients see the response end, as when an
    /// apiserver restarts or a watch times out).
    pub fn drop_watches(&self) {
        self.shared.faults.drop_watches();
    }

    /// Fault: the next `n` watches that resume from a resourceVersion get an ERROR event
    /// with a 410 Expired Status, as if that version had been compacted.
    pub fn expire_next_watches(&self, n: u32) {
        self.shared.faults.expire_next_watches(n);
    }

    /// Fault: the next `n` writes to `resource` (plural, any subresource) answer 409 Conflict.
    pub fn conflict_next_writes(&self, resource: &str, n: u32) {
        self.shared.faults.conflict_next_writes(resource, n);
    }

    /// Starts a garbage collector like kube-controller-manager's (see gc.rs): dependents whose
    /// owners (by `ownerReferences` uid) are all gone are deleted, `Orphan` and `Foreground`
    /// deletions complete. Without it the stand-in, like a real API server without
    /// kube-controller-manager, leaves dependents behind.
    pub fn enable_garbage_collector(&self) {
        if let Ok(mut gc) = self.shared.gc.lock() {
            if gc.is_none() {
                *gc = Some(super::gc::spawn(self.shared.clone()));
            }
        }
    }

    /// Fault: requests with one of `verbs` on `resource` answer 403 Forbidden for everyone, as
    /// under RBAC without a rule for them; open watches go on. `resource` is a plural (the main
    /// resource only) or `plural/subresource` (`nodes/status`, `hostriskwatches/status`,
    /// `serviceaccounts/token`). An empty list allows them again.
    pub fn forbid(&self, resource: &str, verbs: &[&str]) {
        self.shared.faults.forbid(resource, verbs);
    }

    /// Fault: the next `n` requests to `resource` (a plural: any verb and subresource; or
    /// `plural/subresource`) answer 429 with `Retry-After: retry_after_seconds` and the plain
    /// text body of API Priority and Fairness. kube's client retries them after that delay.
    pub fn throttle_next(&self, resource: &str, n: u32, retry_after_seconds: u32) {
        self.shared
            .faults
            .throttle_next(resource, n, retry_after_seconds);
    }

    /// Fault: every request answers 503 ServiceUnavailable for `duration`; open watches end now.
    pub fn unavailable_for(&self, duration: Duration) {
        self.shared.faults.unavailable_for(duration);
    }

    /// Stops serving: ends open watches, stops accepting connections, waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(task) = self.stop_serving() {
            let _ = task.await;
        }
    }

    /// Stops the collector, ends open watches, tells the server to stop; returns its task.
    fn stop_serving(&mut self) -> Option<JoinHandle<()>> {
        if let Some(gc) = self.shared.gc.lock().ok().and_then(|mut g| g.take()) {
            gc.abort();
        }
        self.shared.faults.drop_watches();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.take()
    }
}

impl Drop for StandinApiServer {
    fn drop(&mut self) {
        if let Some(task) = self.stop_serving() {
            task.abort();
        }
    }
}
