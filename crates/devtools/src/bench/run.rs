//! The benchmark's run, start to finish: a fresh world, the real controller in this process, the
//! watches created, one idle sweep measured, probes, then a restart measured.
//!
//! Timeline (t0 = first create, I = interval, S = t_ready − t0):
//! - `[t0, t_ready]`: creation wave; `t_ready` is when the observer saw HSS data in the status
//!   of every watch.
//! - `[t_ready + 0.1 I, t0 + 1.6 I]`: the measured idle sweep. A per-watch poller repolls each
//!   watch once, `I` after its first poll, i.e. inside `[t0 + I, t_ready + I]`: so the window
//!   holds exactly one sweep when `S ≤ 0.5 I` (reported as `sweep_window_valid`). The batched
//!   poller refreshes every watch once around `t0 + I` too. Nothing changes in HSS meanwhile, so
//!   every status write, reconcile and request but a watch in this window is idle cost. The
//!   window opens a tenth of an interval after the last watch showed data, so the tail of the
//!   creation wave (the Events of the last first status, its reconcile ending) is not counted.
//! - probes: watches created one at a time into the running system.
//! - restart: the controller stops and a fresh operator process starts (as after a restart, an
//!   upgrade or a leader failover) with every watch already there ([`super::restart`]).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::binary::measure_binary;
use super::binary_report::BinaryOutcome;
use super::drive::{CreationResult, Driver, ProbeResult};
use super::heap;
use super::observe::percentile;
use super::operator::Running;
use super::process::{cpu_time, memory, reset_peak_rss, RssSampler};
use super::remote::{ApiAddress, RemoteWorld, WorldInfo};
use super::report::{QuotaWait, ReportWrites, RunReport};
use super::requests::{since, RequestKind};
use super::restart::{restart_in_child, RestartScope};
use super::scale::{ScaleReport, SmallScale};
use super::world::{namespace_of, start_world_for, BenchWorld, HssTarget, WorldCounters};
use super::{BenchError, BenchOptions, WorldPlacement};
use hostrisk_operator::crd::duration::format_duration;

/// The window of the measured sweep ends at `t0 + SWEEP_END × interval`.
const SWEEP_END: f64 = 1.6;
/// The window holds exactly one sweep if the creation wave took at most this × interval.
const MAX_WAVE: f64 = 0.5;
/// The window opens this × interval after every watch showed data.
const WINDOW_OPENS: f64 = 0.1;
/// The HSS quota's sliding window.
const QUOTA_WINDOW: Duration = Duration::from_secs(60);

/// Runs the operator once and measures it, then the production binary ([`super::binary`]).
pub async fn run(options: &BenchOptions) -> Result<(RunReport, BinaryOutcome), BenchError> {
    let started = Instant::now();
    let peak_reset = reset_peak_rss();
    heap::reset_peak();
    let rss_start = memory().map(|m| m.rss);
    let sampler = RssSampler::start(Duration::from_millis(200));
    let workload = options.workload()?;
    let mut world = World::start(options).await?;
    let api = world.address();
    let target = world.target();
    let rss_setup = memory().map(|m| m.rss);

    let cpu_start = cpu_time();
    let first = Running::start(options, &api, &target, Vec::new()).await?;

    let t0 = Instant::now();
    let creation = world.create(options.timeout).await?;
    let t_ready = Instant::now();
    let rss_after_creation = memory().map(|m| m.rss);
    let heap_after_creation = heap::heap().map(|(live, _)| live);
    let peak_rss_creation = sampler.peak();
    let startup_writes = first.status_writes();
    tokio::time::sleep(options.interval.mul_f64(WINDOW_OPENS)).await;
    let at_ready = world.counters().await?;
    let writes_at_ready = first.status_writes();
    let reports_at_ready = first.report_writes();
    let requests_at_ready = first.requests.snapshot();
    let reconciles_at_ready = first.ctx.metrics.reconciles_total();

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
    let idle_requests = since(&requests_at_ready, &first.requests.snapshot());
    let idle_writes = first.status_writes() - writes_at_ready;
    let idle_report_writes = first.report_writes() - reports_at_ready;
    let idle_reconciles = first.ctx.metrics.reconciles_total() - reconciles_at_ready;
    let probes = world.probe(options.probes, options.timeout).await?;
    let memory_end = memory();
    let rss_end = memory_end.map(|m| m.rss);
    let heap_end = heap::heap();
    let heap_blocks_end = heap::blocks();
    // Encoded after the peak is read: the exposition of 1,000 watches is megabytes of text
    // that a deployed operator builds only when scraped, not part of what it holds.
    let first_metrics = first.ctx.metrics.clone();
    let client_limiter_wait = first.hss.stats().rate_limit_wait;
    let reconciles = first.ctx.metrics.reconciles_total();
    first.stop().await?;

    if options.calls_per_minute.is_some() {
        // A quota set on purpose is meant to limit: the calls of the first controller still
        // count in the service's sliding minute, and a restarted operator cannot know of them.
        // Measure the restart's own first sweep from a drained window.
        tokio::time::sleep(QUOTA_WINDOW).await;
    }
    let world_info = WorldInfo {
        api: api.clone(),
        target: target.clone(),
    };
    let restart = restart_in_child(options, &world_info, &RestartScope::All).await?;
    let cpu_end = cpu_time();
    let peak_rss = sampler.peak();
    let namespaces = workload
        .watches
        .div_ceil(options.watches_per_namespace.max(1));
    let small = if namespaces > 1 {
        let first = namespace_of(&target.namespace_prefix, 0, options.watches_per_namespace);
        let small = restart_in_child(options, &world_info, &RestartScope::Namespace(first)).await?;
        Some(SmallScale {
            watches: small.watches,
            peak_rss: small.peak_rss,
        })
    } else {
        None
    };
    let scale = ScaleReport {
        hosts_per_watch: workload.hosts_per_watch as u64,
        operator_peak_rss: peak_rss.max(restart.peak_rss),
        full_peak_rss: restart.peak_rss,
        full_watches: restart.watches,
        small,
    };
    let world_peak_rss = world.memory().map(|m| m.peak_rss);
    let quota_wait = first_metrics
        .encode()
        .map(|text| QuotaWait::from_exposition(&text))
        .unwrap_or_default();

    let latencies = durations(&creation.latencies);
    let probe_latencies = durations(&probes.latencies);
    let report = RunReport {
        hss_calls_per_sweep: at_end.hss_requests - at_ready.hss_requests,
        min_calls_per_sweep: workload.min_calls_per_sweep() as u64,
        startup_calls: at_ready.hss_requests,
        throttled: at_end.throttled,
        idle_status_writes: idle_writes,
        idle_requests: request_counts(&idle_requests),
        idle_reconciles,
        startup_status_writes: startup_writes,
        report_writes: options.policy_reports.map(|_| ReportWrites {
            startup: reports_at_ready,
            idle_sweep: idle_report_writes,
        }),
        watches_with_data: creation.with_data,
        latency_p50: percentile(&latencies, 50.0),
        latency_p99: percentile(&latencies, 99.0),
        latency_max: latencies.last().copied(),
        probes: probe_latencies.len() as u64,
        probes_missing: probes.missing,
        probe_p50: percentile(&probe_latencies, 50.0),
        probe_p99: percentile(&probe_latencies, 99.0),
        quota_wait,
        client_limiter_wait,
        creation_wave: wave,
        sweep_window: window_end
            .saturating_duration_since(t_ready + options.interval.mul_f64(WINDOW_OPENS)),
        sweep_window_valid: window_valid,
        restart,
        scale,
        rss_start,
        rss_setup,
        rss_after_creation,
        peak_rss_creation,
        peak_rss,
        rss_end,
        rss_file_end: memory_end.and_then(|m| m.rss_file),
        heap_blocks_end,
        heap_after_creation,
        heap_end: heap_end.map(|(live, _)| live),
        heap_peak: heap_end.map(|(_, peak)| peak),
        peak_reset,
        world: options.world,
        world_peak_rss,
        cpu: match (cpu_start, cpu_end) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a)),
            _ => None,
        },
        reconciles,
        wall_time: started.elapsed(),
        api_server: match api {
            ApiAddress::Standin(_) => "stand-in",
            ApiAddress::Kubeconfig(_) => "kube-apiserver",
        },
    };
    if options.calls_per_minute.is_some() {
        tokio::time::sleep(QUOTA_WINDOW).await;
    }
    let binary = measure_binary(options, &world_info, report.restart.watches).await?;
    world.shutdown().await;
    Ok((report, binary))
}

fn request_counts(requests: &BTreeMap<RequestKind, u64>) -> BTreeMap<String, u64> {
    requests.iter().map(|(k, n)| (k.label(), *n)).collect()
}

fn durations(seconds: &[f64]) -> Vec<Duration> {
    let mut all: Vec<Duration> = seconds
        .iter()
        .map(|s| Duration::from_secs_f64(s.max(0.0)))
        .collect();
    all.sort();
    all
}

/// The simulator and the API server with the driver, here or in a child process.
enum World {
    Local(Box<(BenchWorld, Driver)>),
    Remote(Box<RemoteWorld>),
}

impl World {
    async fn start(options: &BenchOptions) -> Result<Self, BenchError> {
        Ok(match options.world {
            WorldPlacement::InProcess => {
                let workload = options.workload()?;
                let world = start_world_for(options).await?;
                let driver = Driver::start(
                    world.client().await?,
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

    fn address(&self) -> ApiAddress {
        match self {
            World::Local(local) => local.0.address(),
            World::Remote(world) => world.info.api.clone(),
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
