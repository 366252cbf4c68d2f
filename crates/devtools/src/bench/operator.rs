//! The operator under test: the real controller in this process, configured as `run` would be,
//! with a Kubernetes client whose requests are counted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::remote::ApiAddress;
use super::requests::RequestCounter;
use super::world::HssTarget;
use super::{BenchError, BenchOptions};
use hostrisk_operator::controller::{run_controllers, Context, ControllerSettings, RunError};
use hostrisk_operator::crd::validation::ValidationPolicy;
use hostrisk_operator::hss::{ClientConfig, HssClient};
use hostrisk_operator::reports::ReportSettings;

/// Longest wait for the controller to stop after the measurement.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// One running controller and what it was given.
pub struct Running {
    pub ctx: Arc<Context>,
    pub hss: HssClient,
    pub requests: RequestCounter,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), RunError>>,
}

impl Running {
    /// Starts the controller as `run` would (watching `namespaces`, or all when empty), with a
    /// client whose requests are counted, and waits until it is ready (at most the run's
    /// `--timeout`: at 10,000 watches the first list is a good part of a minute).
    pub async fn start(
        options: &BenchOptions,
        api: &ApiAddress,
        target: &HssTarget,
        namespaces: Vec<String>,
    ) -> Result<Self, BenchError> {
        let requests = RequestCounter::default();
        let client = requests.client(api.config().await?)?;
        let hss = HssClient::new(ClientConfig {
            calls_per_minute: options.calls_per_minute(),
            ..ClientConfig::default()
        })
        .map_err(|e| BenchError::Controller(e.to_string()))?;
        let settings = controller_settings(options, &target.endpoint);
        let ctx = Arc::new(Context::new(client, hss.clone(), settings));
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run_controllers(ctx.clone(), namespaces, shutdown.clone()));
        let running = Self {
            ctx,
            hss,
            requests,
            shutdown,
            task,
        };
        running.wait_ready(options.timeout).await?;
        Ok(running)
    }

    async fn wait_ready(&self, timeout: Duration) -> Result<(), BenchError> {
        let deadline = Instant::now() + timeout;
        while !self.ctx.health.is_ready() {
            if self.task.is_finished() {
                return Err(BenchError::Controller("stopped before it was ready".into()));
            }
            if Instant::now() > deadline {
                return Err(BenchError::Controller(format!(
                    "not ready after {}s",
                    timeout.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// HSS calls the poller made, and whether every group has swept at least `sweeps` times
    /// with `watches` watches registered.
    pub fn poller_progress(&self, watches: usize, sweeps: u64) -> (u64, bool) {
        let Some(poller) = self.ctx.watches.poller() else {
            return (0, false);
        };
        let handle = poller.handle();
        let stats = handle.stats();
        let registered = stats.watches();
        let swept = registered >= watches
            && !stats.groups.is_empty()
            && stats
                .groups
                .values()
                .filter(|g| g.watches > 0)
                .all(|g| g.sweeps >= sweeps);
        (stats.total_calls(), swept)
    }

    /// Poll results the controller has not applied yet (a refresh done by the poller is shown
    /// once its reconcile applied it).
    pub fn unapplied_updates(&self) -> usize {
        self.ctx
            .watches
            .poller()
            .map_or(0, |p| p.handle().stats().unapplied)
    }

    /// List requests the operator sent so far (the first lists, and any re-list).
    pub fn list_requests(&self) -> u64 {
        self.requests
            .snapshot()
            .iter()
            .filter(|(k, _)| k.verb == "list")
            .map(|(_, n)| n)
            .sum()
    }

    pub fn min_calls_now(&self) -> u64 {
        self.ctx.watches.poller().map_or(0, |p| {
            p.handle()
                .stats()
                .groups
                .values()
                .map(|g| g.min_calls_per_sweep)
                .sum()
        })
    }

    pub fn status_writes(&self) -> u64 {
        self.requests
            .snapshot()
            .iter()
            .filter(|(k, _)| {
                k.verb == "patch"
                    && k.resource == "hostriskwatches"
                    && k.subresource.as_deref() == Some("status")
            })
            .map(|(_, n)| n)
            .sum()
    }

    /// Policy-report writes (apply, delete) of either kind.
    pub fn report_writes(&self) -> u64 {
        self.requests
            .snapshot()
            .iter()
            .filter(|(k, _)| {
                matches!(k.verb, "create" | "update" | "patch" | "delete")
                    && matches!(k.resource.as_str(), "reports" | "policyreports")
            })
            .map(|(_, n)| n)
            .sum()
    }

    pub async fn stop(self) -> Result<(), BenchError> {
        self.shutdown.cancel();
        match tokio::time::timeout(STOP_TIMEOUT, self.task).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(error))) => Err(BenchError::Controller(error.to_string())),
            Ok(Err(join)) => Err(BenchError::Controller(join.to_string())),
            Err(_) => Err(BenchError::Controller("did not stop in time".into())),
        }
    }
}

/// The controller as `run` would configure it, except that the interval floor is lowered to
/// the benchmark's interval (like `--min-interval`) and the simulator's plain-HTTP endpoint is
/// allowed (like `--allowed-endpoints`).
fn controller_settings(options: &BenchOptions, endpoint: &str) -> ControllerSettings {
    let defaults = ValidationPolicy::default();
    ControllerSettings {
        policy: ValidationPolicy {
            min_interval: defaults.min_interval.min(options.interval),
            default_interval: options.interval,
            allowed_endpoint_prefixes: vec![endpoint.to_string()],
        },
        concurrency: options.concurrency,
        instance: "bench".to_string(),
        policy_reports: ReportSettings {
            format: options.policy_reports,
            ..ReportSettings::default()
        },
        ..ControllerSettings::default()
    }
}
