//! The Rust-side handle: start, client, observation, fault hooks, shutdown.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::ApiResource;
use serde_json::{json, Value};
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;

use super::faults::{Faults, RequestKey};
use super::store::{ObjKey, State};
use super::write::Target;
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

    /// A kubeconfig with one cluster (this server, plain HTTP), one user with the admin
    /// bearer token (user `standin-admin` in `system:masters`: allowed everything, also under
    /// RBAC), one context (namespace `default`), selected as current.
    pub fn kubeconfig(&self) -> Kubeconfig {
        self.kubeconfig_for_token(self.shared.auth.admin_token())
    }

    /// A kubeconfig like [`Self::kubeconfig`] authenticating with `token` instead.
    pub fn kubeconfig_for_token(&self, token: &str) -> Kubeconfig {
        let doc = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "standin", "cluster": {"server": self.url()}}],
            "users": [{"name": "standin", "user": {"token": token}}],
            "contexts": [{"name": "standin", "context": {"cluster": "standin", "user": "standin", "namespace": "default"}}],
            "current-context": "standin",
        });
        serde_json::from_value(doc).unwrap_or_default()
    }

    /// A real `kube::Client` for this server (the admin), built with
    /// `Config::from_custom_kubeconfig`.
    pub async fn client(&self) -> Result<kube::Client, StandinError> {
        kube::Client::try_from(self.config().await?).map_err(StandinError::Client)
    }

    /// The client configuration of this server (the admin), as `Config::from_custom_kubeconfig`
    /// makes it.
    pub async fn config(&self) -> Result<kube::Config, StandinError> {
        Self::config_of(self.kubeconfig()).await
    }

    async fn config_of(kubeconfig: Kubeconfig) -> Result<kube::Config, StandinError> {
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(|e| StandinError::Kubeconfig(e.to_string()))
    }

    /// A client authenticating with `token` (a ServiceAccount token of this server's
    /// TokenRequest, or one registered with [`Self::token_for_user`]).
    pub async fn client_for_token(&self, token: &str) -> Result<kube::Client, StandinError> {
        let config = Self::config_of(self.kubeconfig_for_token(token)).await?;
        kube::Client::try_from(config).map_err(StandinError::Client)
    }

    /// The client configuration for `token` (for code that builds its own client).
    pub async fn config_for_token(&self, token: &str) -> Result<kube::Config, StandinError> {
        Self::config_of(self.kubeconfig_for_token(token)).await
    }

    /// A token for `user` in `groups` (and `system:authenticated`), like a static token file.
    pub fn token_for_user(&self, user: &str, groups: &[&str]) -> String {
        let token = format!("standin-user-{:032x}", rand::random::<u128>());
        self.shared.auth.add_token(&token, user, groups);
        token
    }

    /// A ServiceAccount token (TokenRequest through the admin client, the API server's own
    /// audience, 1 hour) for `namespace/name`, which must exist.
    pub async fn service_account_token(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<String, StandinError> {
        use k8s_openapi::api::authentication::v1::TokenRequest;
        use k8s_openapi::api::core::v1::ServiceAccount;
        let accounts: Api<ServiceAccount> = Api::namespaced(self.client().await?, namespace);
        let answer = accounts
            .create_token_request(
                name,
                &kube::api::PostParams::default(),
                &TokenRequest::default(),
            )
            .await?;
        Ok(answer.status.map(|s| s.token).unwrap_or_default())
    }

    /// A client acting as ServiceAccount `namespace/name` (see
    /// [`Self::service_account_token`]): under [`Self::enable_rbac`], it may do what the
    /// stored Roles, ClusterRoles and bindings let it.
    pub async fn service_account_client(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<kube::Client, StandinError> {
        let token = self.service_account_token(namespace, name).await?;
        self.client_for_token(&token).await
    }

    /// Authorizes every request (but the admin's and discovery) with the RBAC objects stored
    /// in the stand-in from now on, as kube-apiserver's RBAC authorizer does: create the
    /// Roles / ClusterRoles and bindings a test runs with (e.g. a rendered chart through
    /// [`Self::apply_yaml_documents`]), then act through [`Self::service_account_client`].
    pub fn enable_rbac(&self) {
        self.shared.auth.enable_rbac();
    }

    /// Every request counted so far, by (verb, resource plural, subresource).
    pub fn request_counts(&self) -> BTreeMap<RequestKey, u64> {
        self.shared.faults.counts()
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

    /// Creates or updates each YAML document (separated by `---`) over HTTP with the real
    /// kube client, by server-side apply with field manager `standin-apply` and force.
    /// CRDs must come before their custom resources. Returns the objects as stored.
    pub async fn apply_yaml_documents(
        &self,
        yaml: &str,
    ) -> Result<Vec<DynamicObject>, StandinError> {
        let client = self.client().await?;
        let mut out = Vec::new();
        for doc in serde_yaml::Deserializer::from_str(yaml) {
            let value: Value = serde::Deserialize::deserialize(doc)?;
            if value.is_null() {
                continue;
            }
            let obj: DynamicObject =
                serde_json::from_value(value.clone()).map_err(StandinError::NotAnObject)?;
            let api_version = value
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let kind = value
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let (ar, namespaced) = self.api_resource(&api_version, &kind)?;
            let name = obj.metadata.name.clone().unwrap_or_default();
            let api: Api<DynamicObject> = if namespaced {
                let ns = obj
                    .metadata
                    .namespace
                    .clone()
                    .unwrap_or_else(|| "default".into());
                Api::namespaced_with(client.clone(), &ns, &ar)
            } else {
                Api::all_with(client.clone(), &ar)
            };
            let applied = api
                .patch(
                    &name,
                    &PatchParams::apply("standin-apply").force(),
                    &Patch::Apply(&value),
                )
                .await?;
            out.push(applied);
        }
        Ok(out)
    }

    /// Stores `object` (with `apiVersion`, `kind`, `metadata.name` and, when namespaced,
    /// `metadata.namespace`) the way an API server holds an object written before its CRD's
    /// current rules: created as usual (pruned, defaulted, metadata checked, a watch event) but
    /// its values not validated. Later writes go through full validation, where the real
    /// server's ratcheting lets such unchanged invalid values stay. For tests of code that must
    /// not trust the schema alone.
    pub fn create_unvalidated(&self, object: Value) -> Result<Value, StandinError> {
        let text = |p: &str| {
            object
                .pointer(p)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let api_version = text("/apiVersion");
        let (ar, namespaced) = self.api_resource(&api_version, &text("/kind"))?;
        let mut state = self
            .shared
            .state
            .lock()
            .map_err(|_| StandinError::Poisoned)?;
        let rt = state
            .find_type(&ar.group, &ar.version, &ar.plural)
            .ok_or_else(|| StandinError::UnknownKind {
                api_version: api_version.clone(),
                kind: ar.kind.clone(),
            })?;
        let namespace = if namespaced {
            text("/metadata/namespace")
        } else {
            String::new()
        };
        let target = Target {
            rt: &rt,
            namespace: &namespace,
            strict_fields: false,
            version: &ar.version,
            unvalidated: true,
            manager: Some("hostrisk-sim"),
        };
        super::write::create(&mut state, &target, object)
            .map(|stored| rt.convert(&stored, &ar.version))
            .map_err(|e| StandinError::Refused(e.message))
    }

    fn api_resource(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<(ApiResource, bool), StandinError> {
        let unknown = || StandinError::UnknownKind {
            api_version: api_version.into(),
            kind: kind.into(),
        };
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let state = self
            .shared
            .state
            .lock()
            .map_err(|_| StandinError::Poisoned)?;
        let types = state.resource_types();
        let rt = types
            .iter()
            .find(|t| t.group == group && t.kind == kind && t.versions.iter().any(|v| v == version))
            .ok_or_else(unknown)?;
        let ar = ApiResource {
            group: group.into(),
            version: version.into(),
            api_version: api_version.into(),
            kind: kind.into(),
            plural: rt.plural.clone(),
        };
        Ok((ar, rt.namespaced))
    }

    /// Stops serving: ends open watches, stops accepting connections, waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(gc) = self.shared.gc.lock().ok().and_then(|mut g| g.take()) {
            gc.abort();
        }
        self.shared.faults.drop_watches();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for StandinApiServer {
    fn drop(&mut self) {
        if let Some(gc) = self.shared.gc.lock().ok().and_then(|mut g| g.take()) {
            gc.abort();
        }
        self.shared.faults.drop_watches();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
