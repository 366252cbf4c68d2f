//! Test harness: the stand-in Kubernetes API server and the HSS simulator on loopback, the real
//! `kube::Client` and `HssClient`, and the real controller running in-process.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hostrisk_operator::controller::schedule::BackoffPolicy;
use hostrisk_operator::controller::{
    run_controllers, Context, ControllerSettings, PollingMode, RunError,
};
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

/// How the controller under test is configured.
pub struct Options {
    pub namespaces: Vec<String>,
    /// Allow the simulator's loopback URL as an endpoint.
    pub allow_simulator: bool,
    pub backoff: BackoffPolicy,
    /// `--concurrency`.
    pub concurrency: u16,
    /// Shared batched poller (the default) or one HSS call per watch.
    pub polling: PollingMode,
    /// The HSS client's quota: calls per credential identity per `hss_rate_window`.
    pub hss_calls_per_window: u32,
    pub hss_rate_window: Duration,
    /// The simulator's per-identity quota per minute (0 = none).
    pub sim_quota_per_minute: u32,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            namespaces: Vec::new(),
            allow_simulator: true,
            // Fast retries so failure tests finish in seconds.
            backoff: BackoffPolicy {
                base: Duration::from_millis(300),
                floor: Duration::from_millis(100),
            },
            concurrency: 4,
            polling: PollingMode::Batched,
            hss_calls_per_window: 10_000,
            hss_rate_window: Duration::from_secs(60),
            sim_quota_per_minute: 0,
        }
    }
}

pub struct Harness {
    pub kube: StandinApiServer,
    pub sim: HssSimulator,
    pub client: kube::Client,
    pub ctx: Arc<Context>,
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
            faults: Faults {
                quota_per_minute: options.sim_quota_per_minute,
                ..Faults::none()
            },
            ..SimConfig::default()
        })
        .await
        .expect("simulator starts");
        let client = kube.client().await.expect("kube client");
        let hss = HssClient::new(ClientConfig {
            calls_per_minute: options.hss_calls_per_window,
            rate_window: options.hss_rate_window,
            max_attempts: 2,
            backoff_base: Duration::from_millis(20),
            backoff_max: Duration::from_millis(50),
            max_retry_elapsed: Duration::from_secs(2),
            ..ClientConfig::default()
        })
        .expect("HSS client");
        let allowed = if options.allow_simulator {
            vec![sim.base_url().to_string()]
        } else {
            Vec::new()
        };
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
            instance: "test-instance".into(),
            polling: options.polling,
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
            shutdown,
            task: Some(task),
        }
    }

    pub fn watches(&self, namespace: &str) -> Api<HostRiskWatch> {
        Api::namespaced(self.client.clone(), namespace)
    }

    pub fn endpoint(&self) -> String {
        self.sim.base_url().to_string()
    }

    /// Creates an AK/SK Secret with the given keys (string values).
    pub async fn create_secret(&self, namespace: &str, name: &str, keys: &[(&str, &str)]) {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let string_data: serde_json::Map<String, serde_json::Value> = keys
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": namespace},
            "stringData": string_data,
        }))
        .unwrap();
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .unwrap();
    }

    /// Replaces the Secret's data with `keys`.
    pub async fn replace_secret(&self, namespace: &str, name: &str, keys: &[(&str, &str)]) {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
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
        secrets
            .replace(name, &PostParams::default(), &secret)
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
        let watch: HostRiskWatch = serde_json::from_value(json!({
            "apiVersion": "hostrisk.io/v1alpha1",
            "kind": "HostRiskWatch",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "projectId": DEMO_PROJECT_ID,
                "endpoint": self.endpoint(),
                "hostIds": hosts,
                "credentialsSecretRef": {"name": secret},
                "interval": interval,
            }
        }))
        .unwrap();
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

    /// Waits (up to 20 s) until the watch's status satisfies `check`; returns the watch.
    pub async fn wait_for(
        &self,
        namespace: &str,
        name: &str,
        what: &str,
        check: impl Fn(&HostRiskWatch, &HostRiskWatchStatus) -> bool,
    ) -> HostRiskWatch {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let watch = self.watches(namespace).get(name).await.unwrap();
            if let Some(status) = &watch.status {
                if check(&watch, status) {
                    return watch;
                }
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; last status: {:#?}",
                watch.status
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
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

    /// Stops the controller and checks it ended cleanly.
    pub async fn stop(mut self) {
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

pub fn is_ready(watch: &HostRiskWatch, status: &HostRiskWatchStatus) -> bool {
    condition_is(status, "Ready", "True", "Synced")
        && status.observed_generation == watch.metadata.generation
}

/// Simulator `ListHostsRisk` requests so far.
pub fn hss_calls(sim: &HssSimulator) -> u64 {
    sim.counters().hss_requests
}
