//! One benchmark mode, start to finish: a fresh world, the real controller in this process,
//! the watches created, the first sweep awaited, then one idle sweep measured.
//!
//! Timeline (t0 = first create, I = interval, S = t_ready − t0):
//! - `[t0, t_ready]`: creation wave; `t_ready` is when the observer saw HSS data in the status
//!   of every watch. Per-watch polling makes each watch's first call here.
//! - `[t_ready, t0 + 1.6 I]`: the measured sweep. A per-watch poller repolls each watch once,
//!   `I ± 10 %` after its first poll, i.e. inside `[t0 + 0.9 I, t_ready + 1.1 I]`, and its next
//!   repoll comes after `t0 + 1.8 I`: so the window holds exactly one sweep when
//!   `S ≤ 0.5 I` (reported as `sweep_window_valid`). A batched poller refreshes every watch
//!   once around `t0 + I` too. Nothing changes in HSS meanwhile, so every status write in this
//!   window is an idle write.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::drive::{CreationResult, Driver, ProbeResult};
use super::observe::percentile;
use super::process::{cpu_time, memory, reset_peak_rss, RssSampler};
use super::remote::RemoteWorld;
use super::report::{ModeReport, QuotaWait};
use super::world::{start_world, BenchWorld, HssTarget, WorldCounters};
use super::{BenchError, BenchOptions, Mode, WorldPlacement};
use hostrisk_operator::controller::{run_controllers, Context, ControllerSettings, PollingMode};
use hostrisk_operator::crd::duration::format_duration;
use hostrisk_operator::crd::validation::ValidationPolicy;
use hostrisk_operator::hss::{ClientConfig, HssClient};

/// Longest wait for the controller to report ready (CRD found, watches listed).
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for the controller to stop after the measurement.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// The window of the measured sweep ends at `t0 + SWEEP_END × interval`.
const SWEEP_END: f64 = 1.6;
/// The window holds exactly one sweep if the creation wave took at most this × interval.
const MAX_WAVE: f64 = 0.5;

/// Runs `mode` once and measures it.
pub async fn run_mode(options: &BenchOptions, mode: Mode) -> Result<ModeReport, BenchError> {
    let started = Instant::now();
    let peak_reset = reset_peak_rss();
    let rss_start = memory().map(|m| m.rss);
    let sampler = RssSampler::start(Duration::from_millis(200));
    let workload = options.workload()?;
    let calls_per_minute = options.calls_per_minute();
    let mut world = World::start(options).await?;
    let client = world.client().await?;
    let target = world.target();
    let rss_setup = memory().map(|m| m.rss);

    let hss = HssClient::new(ClientConfig {
        calls_per_minute,
        ..ClientConfig::default()
    })
    .map_err(|e| BenchError::Controller(e.to_string()))?;
    let settings = controller_settings(options, &target.endpoint, mode);
    let ctx = Arc::new(Context::new(client.clone(), hss.clone(), settings));
    let shutdown = CancellationToken::new();
    let cpu_start = cpu_time();
    let controller = tokio::spawn(run_controllers(ctx.clone(), Vec::new(), shutdown.clone()));
    wait_ready(&ctx, &controller).await?;

    let t0 = Instant::now();
    let creation = world.create(options.timeout).await?;
    let t_ready = Instant::now();
    let at_ready = world.counters().await?;

    let wave = t_ready - t0;
    let all_data = creation.with_data >= workload.watches as u64;
    let window_valid = all_data && wave.as_secs_f64() <= MAX_WAVE * options.interval.as_secs_f64();
    let window_end = if window_valid {
        t0 + options.interval.mul_f64(SWEEP_END)
    } else {
        t_ready + options.interval
    };
    tokio::time::sleep_until(window_end.into()).await;
    let at_end = world.counters().await?;
    let probes = world.probe(options.probes, options.timeout).await?;
    let rss_end = memory().map(|m| m.rss);

    shutdown.cancel();
    let stopped = tokio::time::timeout(STOP_TIMEOUT, controller).await;
    let cpu_end = cpu_time();
    let peak_rss = sampler.peak();
    let world_peak_rss = world.memory().map(|m| m.peak_rss);
    match stopped {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(error))) => return Err(BenchError::Controller(error.to_string())),
        Ok(Err(join)) => return Err(BenchError::Controller(join.to_string())),
        Err(_) => return Err(BenchError::Controller("did not stop in time".into())),
    }

    let latencies = durations(&creation.latencies);
    let probe_latencies = durations(&probes.latencies);
    let reconciles = ctx.metrics.reconciles_total();
    let report = ModeReport {
        mode,
        hss_calls_per_sweep: at_end.hss_requests - at_ready.hss_requests,
        min_calls_per_sweep: workload.min_calls_per_sweep() as u64,
        startup_calls: at_ready.hss_requests,
        throttled: at_end.throttled,
        idle_status_writes: at_end.status_writes - at_ready.status_writes,
        startup_status_writes: at_ready.status_writes,
        watches_with_data: creation.with_data,
        latency_p50: percentile(&latencies, 50.0),
        latency_p99: percentile(&latencies, 99.0),
        latency_max: latencies.last().copied(),
        probes: probe_latencies.len() as u64,
        probes_missing: probes.missing,
        probe_p50: percentile(&probe_latencies, 50.0),
        probe_p99: percentile(&probe_latencies, 99.0),
        quota_wait: ctx
            .metrics
            .encode()
            .map(|text| QuotaWait::from_exposition(&text))
            .unwrap_or_default(),
        client_limiter_wait: hss.stats().rate_limit_wait,
        creation_wave: wave,
        sweep_window: window_end.saturating_duration_since(t_ready),
        sweep_window_valid: window_valid,
        rss_start,
        rss_setup,
        peak_rss,
        rss_end,
        peak_reset,
        world: options.world,
        world_peak_rss,
        cpu: match (cpu_start, cpu_end) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a)),
            _ => None,
        },
        reconciles,
        wall_time: started.elapsed(),
    };
    world.shutdown().await;
    Ok(report)
}

fn durations(seconds: &[f64]) -> Vec<Duration> {
    let mut all: Vec<Duration> = seconds
        .iter()
        .map(|s| Duration::from_secs_f64(s.max(0.0)))
        .collect();
    all.sort();
    all
}

/// The simulator and the stand-in with the driver, here or in a child process.
enum World {
    Local(Box<(BenchWorld, Driver)>),
    Remote(Box<RemoteWorld>),
}

impl World {
    async fn start(options: &BenchOptions) -> Result<Self, BenchError> {
        Ok(match options.world {
            WorldPlacement::InProcess => {
                let workload = options.workload()?;
                let world = start_world(
                    &workload,
                    options.watches_per_namespace,
                    options.calls_per_minute(),
                )
                .await?;
                let driver = Driver::start(
                    world.kube.client().await?,
                    world.target(),
                    workload,
                    options.watches_per_namespace,
                    format_duration(options.interval),
                    options.timeout,
                )
                .await;
                World::Local(Box::new((world, driver)))
            }
            WorldPlacement::Subprocess => {
                World::Remote(Box::new(RemoteWorld::spawn(options).await?))
            }
        })
    }

    async fn client(&self) -> Result<kube::Client, BenchError> {
        match self {
            World::Local(local) => Ok(local.0.kube.client().await?),
            World::Remote(world) => world.client(),
        }
    }

    fn target(&self) -> HssTarget {
        match self {
            World::Local(local) => local.0.target(),
            World::Remote(world) => world.info.target.clone(),
        }
    }

    async fn counters(&mut self) -> Result<WorldCounters, BenchError> {
        match self {
            World::Local(local) => Ok(local.0.counters()),
            World::Remote(world) => world.counters().await,
        }
    }

    async fn create(&mut self, timeout: Duration) -> Result<CreationResult, BenchError> {
        match self {
            World::Local(local) => local.1.create_all().await,
            World::Remote(world) => world.create(timeout).await,
        }
    }

    async fn probe(&mut self, count: usize, timeout: Duration) -> Result<ProbeResult, BenchError> {
        match self {
            World::Local(local) => local.1.probe(count).await,
            World::Remote(world) => world.probe(timeout).await,
        }
    }

    /// The world process's memory; `None` in-process (it is part of this process's figures).
    fn memory(&self) -> Option<super::process::Memory> {
        match self {
            World::Local(_) => None,
            World::Remote(world) => world.memory(),
        }
    }

    async fn shutdown(self) {
        match self {
            World::Local(local) => {
                let (world, driver) = *local;
                driver.stop().await;
                world.shutdown().await;
            }
            World::Remote(world) => world.shutdown().await,
        }
    }
}

/// The controller as `run` would configure it, except that the interval floor is lowered to
/// the benchmark's interval (like `--min-interval`) and the simulator's plain-HTTP endpoint is
/// allowed (like `--allowed-endpoints`).
fn controller_settings(options: &BenchOptions, endpoint: &str, mode: Mode) -> ControllerSettings {
    let defaults = ValidationPolicy::default();
    ControllerSettings {
        polling: match mode {
            Mode::Batched => PollingMode::Batched,
            Mode::PerWatch => PollingMode::PerWatch,
        },
        policy: ValidationPolicy {
            min_interval: defaults.min_interval.min(options.interval),
            default_interval: options.interval,
            allowed_endpoint_prefixes: vec![endpoint.to_string()],
        },
        concurrency: options.concurrency,
        instance: "bench".to_string(),
        ..ControllerSettings::default()
    }
}

async fn wait_ready(
    ctx: &Context,
    controller: &tokio::task::JoinHandle<Result<(), hostrisk_operator::controller::RunError>>,
) -> Result<(), BenchError> {
    let deadline = Instant::now() + READY_TIMEOUT;
    while !ctx.health.is_ready() {
        if controller.is_finished() {
            return Err(BenchError::Controller("stopped before it was ready".into()));
        }
        if Instant::now() > deadline {
            return Err(BenchError::Controller("not ready after 30s".into()));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}
