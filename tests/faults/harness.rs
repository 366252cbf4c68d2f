//! Fault-test harness: the stand-in Kubernetes API server and the HSS simulator on loopback, the
//! real `kube::Client` and `HssClient`, and the real controller running in-process. A copy of
//! `tests/controller/harness.rs` extended with knobs for fault tests (client timeouts and quota,
//! simulator faults at start, extra allowed endpoints) and helpers that read the fault counters.
#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hostrisk_operator::controller::schedule::BackoffPolicy;
use hostrisk_operator::controller::{run_controllers, Context, ControllerSettings, RunError};
use hostrisk_operator::crd::validation::ValidationPolicy;
use hostrisk_operator::crd::{HostRiskWatch, HostRiskWatchStatus};
use hostrisk_operator::hss::{ClientConfig, HssClient};
use hostrisk_operator::sim::hss::{
    Faults, HssSimulator, SimConfig, DEMO_ACCESS_KEY, DEMO_PROJECT_ID, DEMO_SECRET_KEY,
};
use hostrisk_operator::sim::kube::StandinApiServer;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::Api;
use serde_json::json;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const NS: &str = "default";
pub const CRD_YAML: &str = include_str!("../../crds/hostriskwatch.yaml");

/// Retry timing of the controller in these tests: first retry within 400 ms, never sooner than
/// 200 ms after a failure.
pub const BACKOFF: BackoffPolicy = BackoffPolicy {
    base: Duration::from_millis(400),
    floor: Duration::from_millis(200),
};

/// The HSS client used by default: fast retries, two attempts per poll, short timeouts.
pub fn fast_client() -> ClientConfig {
    ClientConfig {
        connect_timeout: Duration::from_millis(500),
        request_timeout: Duration::from_millis(800),
        calls_per_minute: 10_000,
        max_attempts: 2,
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(50),
        max_retry_elapsed: Duration::from_secs(2),
        ..ClientConfig::default()
    }
}

/// How the controller under test is configured.
pub struct Options {
    pub namespaces: Vec<String>,
    /// Allow the simulator's loopback URL as an endpoint.
    pub allow_simulator: bool,
    /// More `--allowed-endpoints` prefixes.
    pub extra_allowed: Vec<String>,
    pub backoff: BackoffPolicy,
    pub concurrency: u16,
    pub client: ClientConfig,
    /// Simulator faults from the start.
    pub sim_faults: Faults,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            namespaces: Vec::new(),
            allow_simulator: true,
            extra_allowed: Vec::new(),
            backoff: BACKOFF,
            concurrency: 4,
            client: fast_client(),
            sim_faults: Faults::none(),
        }
    }
}

pub struct Harness {
    pub kube: StandinApiServer,
    pub sim: HssSimulator,
    pub client: kube::Client,
    pub ctx: Arc<Context>,
    pub options_backoff: BackoffPolicy,
    shutdown: CancellationToken,
    task: Option<JoinHandle<Result<(), RunError>>>,
}

impl Harness {
    pub async fn start(options: Options) -> Self {
        let kube = StandinApiServer::start("127.0.0.1:0".parse().unwrap())
            .await
            .expect("stand-in API server starts");
        kube.apply_yaml_documents(CRD_YAML)
            .await
            .expect("the generated CRD applies");
        let sim = HssSimulator::start(SimConfig {
            faults: options.sim_faults.clone(),
            ..SimConfig::default()
        })
        .await
        .expect("simulator starts");
        let client = kube.client().await.expect("kube client");
        let hss = HssClient::new(options.client.clone()).expect("HSS client");
        let mut allowed = if options.allow_simulator {
            vec![sim.base_url().to_string()]
        } else {
            Vec::new()
        };
        allowed.extend(options.extra_allowed.iter().cloned());
        // Over the defaults, so whatever the controller grows (e.g. a polling mode) keeps its
        // default here; the Events' reporting instance is the default one too.
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
            ..ControllerSettings::default()
        };
        let ctx = Arc::new(Context::new(client.clone(), hss, settings));
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run_controllers(
            ctx.clone(),
            options.namespaces.clone(),
            shutdown.clone(),
        ));
        Self {
            kube,
            sim,
            client,
            ctx,
            options_backoff: options.backoff,
            shutdown,
            task: Some(task),
        }
    }

    pub fn watches(&self, namespace: &str) -> Api<HostRiskWatch> {
        Api::namespaced(self.client.clone(), namespace)
    }

    pub fn secrets(&self, namespace: &str) -> Api<Secret> {
        Api::namespaced(self.client.clone(), namespace)
    }

    pub fn endpoint(&self) -> String {
        self.sim.base_url().to_string()
    }

    /// The controller task is still running (it did not end or panic).
    pub fn is_running(&self) -> bool {
        self.task.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Creates a Secret with the given keys (string values).
    pub async fn create_secret(&self, namespace: &str, name: &str, keys: &[(&str, &str)]) {
        let string_data: serde_json::Map<String, serde_json::Value> = keys
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": namespace},
            "stringData": string_data,
        }))
        .unwrap();
        self.secrets(namespace)
            .create(&PostParams::default(), &secret)
            .await
            .unwrap();
    }

    /// Replaces the Secret's data with `keys` (an empty slice empties it).
    pub async fn replace_secret(&self, namespace: &str, name: &str, keys: &[(&str, &str)]) {
        let secrets = self.secrets(namespace);
        let mut secret = secrets.get(name).await.unwrap();
        secret.data = Some(
            keys.iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        k8s_openapi::ByteString(v.as_bytes().to_vec()),
                    )
                })
                .collect(),
        );
        secret.string_data = None;
        secrets
            .replace(name, &PostParams::default(), &secret)
            .await
            .unwrap();
    }

    pub async fn delete_secret(&self, namespace: &str, name: &str) {
        self.secrets(namespace)
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
    }

    pub async fn create_demo_secret(&self, namespace: &str, name: &str) {
        self.create_secret(
            namespace,
            name,
            &[
                ("accessKey", DEMO_ACCESS_KEY),
                ("secretKey", DEMO_SECRET_KEY),
            ],
        )
        .await;
    }

    /// Creates a HostRiskWatch on the simulator's endpoint.
    pub async fn create_watch(
        &self,
        namespace: &str,
        name: &str,
        hosts: &[&str],
        secret: &str,
        interval: &str,
    ) -> HostRiskWatch {
        let endpoint = self.endpoint();
        self.create_watch_json(
            namespace,
            json!({
                "apiVersion": "hostrisk.io/v1alpha1",
                "kind": "HostRiskWatch",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {
                    "projectId": DEMO_PROJECT_ID,
                    "endpoint": endpoint,
                    "hostIds": hosts,
                    "credentialsSecretRef": {"name": secret},
                    "interval": interval,
                }
            }),
        )
        .await
    }

    /// Stores any HostRiskWatch document as is. The stand-in prunes by the CRD's structural
    /// schema but validates no values (no pattern, maxLength, maxItems or CEL rule), like an API
    /// server holding a resource stored before those rules existed.
    pub async fn create_watch_json(
        &self,
        namespace: &str,
        document: serde_json::Value,
    ) -> HostRiskWatch {
        let watch: HostRiskWatch = serde_json::from_value(document).unwrap();
        self.watches(namespace)
            .create(&PostParams::default(), &watch)
            .await
            .unwrap()
    }

    pub async fn patch_watch(&self, namespace: &str, name: &str, patch: serde_json::Value) {
        self.watches(namespace)
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
    }

    pub async fn request_refresh(&self, namespace: &str, name: &str, value: &str) {
        self.patch_watch(
            namespace,
            name,
            json!({"metadata": {"annotations": {"hostrisk.io/refresh-requested-at": value}}}),
        )
        .await;
    }

    pub async fn delete_watch(&self, namespace: &str, name: &str) {
        self.watches(namespace)
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
    }

    /// Waits (up to `limit`) until the watch's status satisfies `check`; returns the watch.
    pub async fn wait_within(
        &self,
        limit: Duration,
        namespace: &str,
        name: &str,
        what: &str,
        check: impl Fn(&HostRiskWatch, &HostRiskWatchStatus) -> bool,
    ) -> HostRiskWatch {
        let deadline = Instant::now() + limit;
        loop {
            // The API server may be playing unavailable: keep asking until the deadline.
            if let Ok(watch) = self.watches(namespace).get(name).await {
                if let Some(status) = &watch.status {
                    if check(&watch, status) {
                        return watch;
                    }
                }
                assert!(
                    Instant::now() < deadline,
                    "timed out after {limit:?} waiting for {what}; last status: {:#?}",
                    watch.status
                );
            } else {
                assert!(
                    Instant::now() < deadline,
                    "timed out after {limit:?} waiting for {what}; API unreachable"
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits up to 20 s.
    pub async fn wait_for(
        &self,
        namespace: &str,
        name: &str,
        what: &str,
        check: impl Fn(&HostRiskWatch, &HostRiskWatchStatus) -> bool,
    ) -> HostRiskWatch {
        self.wait_within(Duration::from_secs(20), namespace, name, what, check)
            .await
    }

    /// The stored status, read straight from the stand-in's store.
    pub async fn status(&self, namespace: &str, name: &str) -> HostRiskWatchStatus {
        self.watches(namespace)
            .get(name)
            .await
            .unwrap()
            .status
            .expect("status")
    }

    /// Events in `namespace` regarding the watch `name`.
    pub async fn events_for(&self, namespace: &str, name: &str) -> Vec<Event> {
        let events: Api<Event> = Api::namespaced(self.client.clone(), namespace);
        events
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| {
                e.regarding.as_ref().is_some_and(|r| {
                    r.name.as_deref() == Some(name) && r.kind.as_deref() == Some("HostRiskWatch")
                })
            })
            .collect()
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

    /// Stops the controller and checks it ended cleanly.
    pub async fn stop(mut self) {
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
        self.sim.shutdown().await;
        self.kube.shutdown().await;
    }
}

pub fn condition<'a>(status: &'a HostRiskWatchStatus, type_: &str) -> Option<&'a Condition> {
    status.conditions.iter().find(|c| c.type_ == type_)
}

pub fn condition_is(status: &HostRiskWatchStatus, type_: &str, value: &str, reason: &str) -> bool {
    condition(status, type_).is_some_and(|c| c.status == value && c.reason == reason)
}

/// Any condition has `reason`.
pub fn has_reason(status: &HostRiskWatchStatus, reason: &str) -> bool {
    status.conditions.iter().any(|c| c.reason == reason)
}

/// The condition carrying `reason`, if any.
pub fn with_reason<'a>(status: &'a HostRiskWatchStatus, reason: &str) -> Option<&'a Condition> {
    status.conditions.iter().find(|c| c.reason == reason)
}

/// Ready=True for the current generation. Any reason: `Synced`, or a design-specific one such as
/// the batched poller's `QuotaLimited` (data current, refreshed less often than asked).
pub fn is_ready(watch: &HostRiskWatch, status: &HostRiskWatchStatus) -> bool {
    condition(status, "Ready").is_some_and(|c| c.status == "True")
        && status.observed_generation == watch.metadata.generation
}

/// Simulator `ListHostsRisk` requests so far.
pub fn hss_calls(sim: &HssSimulator) -> u64 {
    sim.counters().hss_requests
}

/// The most polls a backing-off controller may start in `window` for one call site: one per
/// backoff floor, plus the one in flight when the window opened.
pub fn max_polls_in(window: Duration, backoff: BackoffPolicy) -> u64 {
    (window.as_secs_f64() / backoff.floor.as_secs_f64()).ceil() as u64 + 1
}

/// Polls `probe` every 25 ms until it returns true or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !probe().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
