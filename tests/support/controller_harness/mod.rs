//! The one controller test harness: the stand-in Kubernetes API server and the HSS simulator on
//! loopback, the real `kube::Client` and `HssClient`, and the real controller running in-process.
//!
//! Used by the controller suite (`tests/controller.rs`), the fault matrix (`tests/faults.rs`) and
//! the suites built on the same set-up (soak, secret hygiene, tenancy, defense in depth). The two
//! suites grew apart on a few defaults (retry timing, client timeouts, Events' instance, what
//! "ready" means); each keeps its own through [`Options::controller`] and [`Options::faults`]
//! rather than through a `Default` that would silently pick one suite's numbers for the other.
//!
//! Included with `#[path = "support/controller_harness/mod.rs"] mod harness;` so that the rows
//! and helpers of each suite keep naming it `harness`.
#![allow(dead_code)]

mod checks;
mod objects;

pub use checks::*;

use std::sync::Arc;
use std::time::Duration;

use hostrisk_operator::controller::BackoffPolicy;
use hostrisk_operator::controller::{
    default_instance, run_controllers, Context, ControllerSettings, RunError,
    WorkloadIdentityPolicy,
};
use hostrisk_operator::crd::validation::ValidationPolicy;
use hostrisk_operator::hss::{ClientConfig, HssClient};
use hostrisk_operator::metrics::{Metrics, MetricsOptions};
use hostrisk_operator::nodes::policy::NodeConditionPolicy;
use hostrisk_operator::reports::ReportSettings;
use hostrisk_sim::hss::{AccessKeyCredential, Faults, HssSimulator, SimConfig};
use hostrisk_sim::kube::StandinApiServer;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const NS: &str = "default";
pub const CRD_YAML: &str = include_str!("../../../crds/hostriskwatch.yaml");

/// Retry timing of the controller in the fault suite: first retry within 400 ms, never sooner
/// than 200 ms after a failure. The fault rows derive their "no hammering" bound from the floor
/// (see [`max_polls_in`]), so a floor well above a loopback poll keeps that bound meaningful.
pub const BACKOFF: BackoffPolicy = BackoffPolicy {
    base: Duration::from_millis(400),
    floor: Duration::from_millis(200),
};

/// Retry timing of the controller in the controller suite: faster than [`BACKOFF`] so its
/// failure tests (which count no calls) finish in seconds.
pub const CONTROLLER_BACKOFF: BackoffPolicy = BackoffPolicy {
    base: Duration::from_millis(300),
    floor: Duration::from_millis(100),
};

/// The HSS client's retries made fast (two attempts per poll, 20-50 ms apart, 2 s budget) and its
/// quota out of the way (10,000 calls a minute), with the production connect and request
/// timeouts: the controller suite injects no network faults, so nothing there should time out
/// on a loaded machine.
pub fn fast_retry_client() -> ClientConfig {
    ClientConfig {
        calls_per_minute: 10_000,
        rate_window: Duration::from_secs(60),
        max_attempts: 2,
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(50),
        max_retry_elapsed: Duration::from_secs(2),
        ..ClientConfig::default()
    }
}

/// [`fast_retry_client`] with short timeouts (connect 500 ms, request 800 ms): the fault rows
/// point watches at black holes and slow simulators and must see the timeout within one row.
pub fn fast_client() -> ClientConfig {
    ClientConfig {
        connect_timeout: Duration::from_millis(500),
        request_timeout: Duration::from_millis(800),
        ..fast_retry_client()
    }
}

/// How the controller under test is configured. Start from [`Options::controller`] or
/// [`Options::faults`] and override fields with `..`.
pub struct Options {
    /// Namespaces watched; empty = all (cluster-wide).
    pub namespaces: Vec<String>,
    /// Allow the simulator's loopback URL as an endpoint.
    pub allow_simulator: bool,
    /// More `--allowed-endpoints` prefixes.
    pub extra_allowed: Vec<String>,
    pub backoff: BackoffPolicy,
    /// `--concurrency`.
    pub concurrency: u16,
    /// The real `HssClient`'s configuration (timeouts, retries, quota).
    pub client: ClientConfig,
    /// Simulator faults (including its per-identity quota) from the start.
    pub sim_faults: Faults,
    /// Access keys the simulator accepts besides its demo keys.
    pub sim_access_keys: Vec<AccessKeyCredential>,
    /// `reportingInstance` of the controller's Events.
    pub instance: String,
    /// Start the operator with `--iam-endpoint` set to the simulator (its IAM token API), so
    /// username/password Secrets work with `spec.endpoint`.
    pub iam_via_simulator: bool,
    /// `--node-watches`: serve node-backed watches from the stand-in's Nodes.
    pub node_watches: bool,
    /// `--metrics-per-host`.
    pub metrics_per_host: bool,
    /// `--workload-identity-audiences` / `--workload-identity-providers`.
    pub workload_identity: WorkloadIdentityPolicy,
    /// `--node-conditions`, `--node-conditions-namespaces`, `--node-taint*`.
    pub node_conditions: NodeConditionPolicy,
    /// `--policy-reports*`.
    pub policy_reports: ReportSettings,
    /// Run the operator as a ServiceAccount with exactly these RBAC objects (and the account),
    /// under the stand-in's RBAC; `None`: as the admin, RBAC off.
    pub rbac: Option<OperatorRbac>,
}

/// The identity the operator runs as under RBAC (e.g. what the chart renders).
pub struct OperatorRbac {
    /// RBAC objects, the ServiceAccount among them.
    pub objects: Vec<serde_json::Value>,
    pub namespace: String,
    pub service_account: String,
}

impl Options {
    /// The controller suite's baseline: [`CONTROLLER_BACKOFF`], [`fast_retry_client`], and a
    /// fixed Events instance (`test-instance`) its Event tests assert on.
    pub fn controller() -> Self {
        Self {
            namespaces: Vec::new(),
            allow_simulator: true,
            extra_allowed: Vec::new(),
            backoff: CONTROLLER_BACKOFF,
            concurrency: 4,
            client: fast_retry_client(),
            sim_faults: Faults::none(),
            sim_access_keys: Vec::new(),
            instance: "test-instance".into(),
            iam_via_simulator: false,
            node_watches: false,
            metrics_per_host: false,
            workload_identity: WorkloadIdentityPolicy::default(),
            node_conditions: NodeConditionPolicy::default(),
            policy_reports: ReportSettings::default(),
            rbac: None,
        }
    }

    /// The fault suite's baseline (also soak, secret hygiene, tenancy, defense in depth):
    /// [`BACKOFF`], [`fast_client`] with its short timeouts, and the Events instance the operator
    /// picks by itself, as in production.
    pub fn faults() -> Self {
        Self {
            backoff: BACKOFF,
            client: fast_client(),
            instance: default_instance(),
            ..Self::controller()
        }
    }

    /// Sets the HSS client's quota: `calls` per credential identity per `window`.
    pub fn hss_quota(mut self, calls: u32, window: Duration) -> Self {
        self.client.calls_per_minute = calls;
        self.client.rate_window = window;
        self
    }

    /// Sets the simulator's quota per identity per minute (0 = none).
    pub fn sim_quota_per_minute(mut self, calls: u32) -> Self {
        self.sim_faults.quota_per_minute = calls;
        self
    }
}

pub struct Harness {
    pub kube: StandinApiServer,
    pub sim: HssSimulator,
    pub client: kube::Client,
    pub ctx: Arc<Context>,
    /// The controller's retry timing, for bounds on calls made while backing off.
    pub options_backoff: BackoffPolicy,
    shutdown: CancellationToken,
    task: Option<JoinHandle<Result<(), RunError>>>,
    /// What a restarted controller is started with.
    restart: Restart,
    /// The controller's client (the admin's, or the ServiceAccount's under RBAC).
    operator_client: kube::Client,
}

/// How the controller is started, to start it again as a fresh process would.
struct Restart {
    client_config: ClientConfig,
    settings: ControllerSettings,
    metrics: MetricsOptions,
    namespaces: Vec<String>,
}

impl Restart {
    /// A controller with a context of its own, running.
    fn launch(
        &self,
        client: &kube::Client,
    ) -> (
        Arc<Context>,
        CancellationToken,
        JoinHandle<Result<(), RunError>>,
    ) {
        let hss = HssClient::new(self.client_config.clone()).expect("HSS client");
        let ctx = Arc::new(Context::with_metrics(
            client.clone(),
            hss,
            self.settings.clone(),
            Metrics::new(self.metrics),
        ));
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run_controllers(
            ctx.clone(),
            self.namespaces.clone(),
            shutdown.clone(),
        ));
        (ctx, shutdown, task)
    }
}

/// Applies `rbac`'s objects (creating the namespaces they name), turns RBAC on and returns a
/// client of its ServiceAccount.
async fn operator_identity(
    kube: &StandinApiServer,
    admin: &kube::Client,
    rbac: &OperatorRbac,
) -> kube::Client {
    use k8s_openapi::api::core::v1::Namespace;
    let namespaces: kube::Api<Namespace> = kube::Api::all(admin.clone());
    let mut wanted: Vec<&str> = rbac
        .objects
        .iter()
        .filter_map(|o| o["metadata"]["namespace"].as_str())
        .collect();
    wanted.push(&rbac.namespace);
    wanted.sort_unstable();
    wanted.dedup();
    for name in wanted {
        let body = serde_json::from_value(serde_json::json!({"metadata": {"name": name}}))
            .expect("namespace");
        // `default` and friends may exist already.
        let _ = namespaces.create(&Default::default(), &body).await;
    }
    let yaml: Vec<String> = rbac
        .objects
        .iter()
        .map(|o| serde_yaml::to_string(o).expect("yaml"))
        .collect();
    kube.apply_yaml_documents(&yaml.join("---\n"))
        .await
        .expect("the RBAC objects apply");
    kube.enable_rbac();
    kube.service_account_client(&rbac.namespace, &rbac.service_account)
        .await
        .expect("the operator's ServiceAccount client")
}

impl Harness {
    pub async fn start(options: Options) -> Self {
        let kube = StandinApiServer::start("127.0.0.1:0".parse().unwrap())
            .await
            .expect("stand-in API server starts");
        kube.apply_yaml_documents(CRD_YAML)
            .await
            .expect("the generated CRD applies");
        let mut sim_config = SimConfig {
            faults: options.sim_faults.clone(),
            ..SimConfig::default()
        };
        sim_config
            .access_keys
            .extend(options.sim_access_keys.iter().cloned());
        let sim = HssSimulator::start(sim_config)
            .await
            .expect("simulator starts");
        let client = kube.client().await.expect("kube client");
        let operator_client = match &options.rbac {
            None => client.clone(),
            Some(rbac) => operator_identity(&kube, &client, rbac).await,
        };
        let mut allowed = if options.allow_simulator {
            vec![sim.base_url().to_string()]
        } else {
            Vec::new()
        };
        allowed.extend(options.extra_allowed.iter().cloned());
        let settings = ControllerSettings {
            // The schema's 1m floor is a CEL rule the stand-in does not run; the code-side floor
            // is lowered so tests can poll every second.
            policy: ValidationPolicy {
                min_interval: Duration::from_secs(1),
                default_interval: Duration::from_secs(600),
                allowed_endpoint_prefixes: allowed,
            },
            status_heartbeat: Duration::from_secs(1800),
            concurrency: options.concurrency,
            backoff: options.backoff,
            instance: options.instance.clone(),
            iam_endpoint: options.iam_via_simulator.then(|| sim.base_url()),
            node_watches: options.node_watches,
            workload_identity: options.workload_identity.clone(),
            node_conditions: options.node_conditions.clone(),
            policy_reports: options.policy_reports,
        };
        let restart = Restart {
            client_config: options.client.clone(),
            settings,
            metrics: MetricsOptions {
                per_host: options.metrics_per_host,
            },
            namespaces: options.namespaces.clone(),
        };
        let (ctx, shutdown, task) = restart.launch(&operator_client);
        Self {
            kube,
            sim,
            operator_client,
            client,
            ctx,
            options_backoff: options.backoff,
            shutdown,
            task: Some(task),
            restart,
        }
    }

    /// Stops the controller and starts a fresh one, with nothing kept in memory, as a restarted
    /// operator process (or a new leader) would.
    pub async fn restart(&mut self) {
        self.restart_with(|_| {}).await;
    }

    /// [`Harness::restart`] with other settings (as a new version of the Deployment would).
    pub async fn restart_with(&mut self, change: impl FnOnce(&mut ControllerSettings)) {
        self.stop_controller().await;
        change(&mut self.restart.settings);
        let (ctx, shutdown, task) = self.restart.launch(&self.operator_client);
        (self.ctx, self.shutdown, self.task) = (ctx, shutdown, Some(task));
    }

    /// Stops the controller as a process ending would, without starting another: the world may
    /// change before [`Harness::resume`].
    pub async fn pause(&mut self) {
        self.stop_controller().await;
    }

    /// Starts a fresh controller after [`Harness::pause`], with its settings changed by
    /// `change` (a flag switched off or on across the restart).
    pub fn resume(&mut self, change: impl FnOnce(&mut ControllerSettings)) {
        change(&mut self.restart.settings);
        let (ctx, shutdown, task) = self.restart.launch(&self.client);
        (self.ctx, self.shutdown, self.task) = (ctx, shutdown, Some(task));
    }

    /// The poller's statistics (it runs while the controllers do).
    pub fn poller_stats(&self) -> hostrisk_operator::poller::PollerStats {
        self.ctx
            .watches
            .poller()
            .expect("the poller runs while the controllers do")
            .handle()
            .stats()
    }

    /// The controller task is still running (it did not end or panic).
    pub fn is_running(&self) -> bool {
        self.task.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops without waiting for reconciles in flight (one may sit in the client's rate limiter
    /// for up to a minute; the controller's own drain grace is 20 s).
    pub async fn abandon(mut self) {
        assert!(
            self.is_running(),
            "the controller kept running until stopped"
        );
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.abort();
        }
        self.sim.shutdown().await;
        self.kube.shutdown().await;
    }

    /// Stops the controller and checks it ran until now and ended cleanly.
    pub async fn stop(mut self) {
        self.stop_controller().await;
        self.sim.shutdown().await;
        self.kube.shutdown().await;
    }

    /// Cancels the controller and checks it ran until now and ends cleanly within 10 s.
    async fn stop_controller(&mut self) {
        assert!(
            self.is_running(),
            "the controller kept running until stopped"
        );
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let ended = tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("controller stops after shutdown");
            ended.expect("no panic").expect("clean stop");
        }
    }
}
