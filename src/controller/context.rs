//! The state every reconcile shares: the Kubernetes and HSS clients, the operator's policy, and
//! the in-memory poll table. Tests build it with the stand-in API server's client and an HSS
//! client pointed at the simulator.

use std::sync::Arc;
use std::time::Duration;

use kube::runtime::events::Reporter;
use tokio::sync::Semaphore;

use super::batched::BatchedState;
use super::health::{Counters, Health};
use super::poller_link::PollerSlot;
use super::schedule::{BackoffPolicy, PollScheduler, WatchKey};
use super::status_write::WrittenStatuses;
use crate::crd::validation::ValidationPolicy;
use crate::hss::HssClient;
use crate::metrics::{Metrics, MetricsOptions};

/// Name under which the operator reports Events and manages fields.
pub const CONTROLLER_NAME: &str = "hostrisk-operator";

/// Operator-wide settings of the reconciler.
#[derive(Debug, Clone)]
pub struct ControllerSettings {
    /// Spec validation: interval floor and default, allowed endpoints.
    pub policy: ValidationPolicy,
    /// Longest time `status.lastSyncTime` may lag a successful poll (`--status-heartbeat`).
    pub status_heartbeat: Duration,
    /// Reconciles (and so HSS polls) running at once, over all watched namespaces.
    pub concurrency: u16,
    /// Retry timing after a failed poll.
    pub backoff: BackoffPolicy,
    /// `reportingInstance` of the Events (the pod name, else the host name).
    pub instance: String,
    /// How watches reach HSS: through the shared, batched poller, or one call per watch.
    pub polling: PollingMode,
    /// IAM endpoint for username/password Secrets of watches that set `spec.endpoint` (a
    /// private cloud, where no region names the IAM endpoint). Set by the administrator
    /// (`--iam-endpoint`), never by a watch: a namespace user cannot send a password elsewhere.
    pub iam_endpoint: Option<url::Url>,
}

/// How the controller calls HSS.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PollingMode {
    /// One shared poller per (endpoint, project, enterprise project, credential identity):
    /// host ids of all its watches deduplicated, queried in chunks of up to 100, paced by the
    /// per-credential quota (`crate::poller`).
    #[default]
    Batched,
    /// One HSS call per watch per reconcile: the naive baseline the benchmark compares with.
    PerWatch,
}

impl Default for ControllerSettings {
    fn default() -> Self {
        Self {
            policy: ValidationPolicy::default(),
            status_heartbeat: Duration::from_secs(30 * 60),
            concurrency: 4,
            backoff: BackoffPolicy::default(),
            instance: default_instance(),
            polling: PollingMode::default(),
            iam_endpoint: None,
        }
    }
}

/// The instance name for Events: env `POD_NAME`, else `HOSTNAME`, else `/etc/hostname`.
pub fn default_instance() -> String {
    std::env::var("POD_NAME")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|s| s.trim().to_string())
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| CONTROLLER_NAME.to_string())
}

/// Shared by every reconcile of every watched namespace.
pub struct Context {
    pub client: kube::Client,
    pub hss: HssClient,
    pub settings: ControllerSettings,
    pub scheduler: PollScheduler,
    /// The last status written per resource (fresher than a lagging reflector store).
    pub written: WrittenStatuses,
    pub health: Arc<Health>,
    pub counters: Arc<Counters>,
    /// Bounds HSS polls over all per-namespace controllers (each controller also bounds its own
    /// reconciles with the same number).
    pub poll_permits: Semaphore,
    /// The Prometheus registry served on `/metrics`.
    pub metrics: Metrics,
    /// The shared poller while the controllers run in [`PollingMode::Batched`] (only on the
    /// leader: it is created when the controllers start and shut down when they stop).
    pub poller: PollerSlot,
    /// What each watch registered with the poller and which of its updates were applied.
    pub batched: BatchedState,
}

impl Context {
    /// A context with default metrics options (no per-host series).
    pub fn new(client: kube::Client, hss: HssClient, settings: ControllerSettings) -> Self {
        Self::with_metrics(
            client,
            hss,
            settings,
            Metrics::new(MetricsOptions::default()),
        )
    }

    /// A context reporting to `metrics`. The HSS client reports its requests there too (the
    /// first metrics attached to a client win); in batched mode the poller records the quota
    /// waits, so the client records its own limiter waits only in per-watch mode.
    pub fn with_metrics(
        client: kube::Client,
        hss: HssClient,
        settings: ControllerSettings,
        metrics: Metrics,
    ) -> Self {
        let permits = usize::from(settings.concurrency.max(1));
        hss.attach_observer(
            Arc::new(metrics.clone()),
            settings.polling == PollingMode::PerWatch,
        );
        Self {
            client,
            hss,
            scheduler: PollScheduler::new(settings.backoff),
            written: WrittenStatuses::default(),
            health: Arc::new(Health::default()),
            counters: Arc::new(Counters::default()),
            poll_permits: Semaphore::new(permits),
            metrics,
            poller: PollerSlot::default(),
            batched: BatchedState::default(),
            settings,
        }
    }

    /// Drops everything kept in memory about a deleted resource, its poller registration and
    /// its metric series included.
    pub fn forget(&self, key: &WatchKey) {
        self.scheduler.forget(key);
        self.written.forget(key);
        self.batched.forget(key);
        if let Some(poller) = self.poller.get() {
            poller.remove(&super::poller_link::poller_key(key));
        }
        self.metrics.forget_watch(&key.namespace, &key.name);
    }

    /// The reporter stamped on every Event.
    pub fn reporter(&self) -> Reporter {
        Reporter {
            controller: CONTROLLER_NAME.to_string(),
            instance: Some(self.settings.instance.clone()),
        }
    }
}
