//! The restart: a fresh operator process starting with every watch (and probe) already there, as
//! after a restart, an upgrade or a leader failover. It runs as a child process (this executable
//! with `bench --restart-against <world>`), so its RSS is that of a new operator and not the
//! heap the first controller left behind. It reports its first sweep (calls against the minimum,
//! time, status writes, reconciles), the list requests of its start, the time until every watch
//! was refreshed and shown, its CPU between that and the next sweep, its peak RSS and, with
//! `--soak`, RSS while it keeps running.
//!
//! A second, smaller restart ([`RestartScope::Namespace`]: the operator watching the first of
//! the benchmark's namespaces only, one controller like the full one) gives a second scale:
//! the difference of the two peaks over the difference of their hosts is the marginal memory
//! per watched host (`bytes_per_host`), free of the fixed cost (code, runtime, buffers).

use std::time::{Duration, Instant};

use super::heap;
use super::isolate::{child_args, run_child};
use super::operator::Running;
use super::process::{cpu_time, memory, reset_peak_rss, RssSampler};
use super::remote::WorldInfo;
use super::report::{IdleCpu, RestartReport, SoakReport};
use super::{BenchError, BenchOptions};

/// Which watches the restarted operator watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestartScope {
    /// Every namespace (the operator as deployed): measured in full, idle time and soak too.
    All,
    /// One namespace: the smaller scale of `bytes_per_host`; its first sweep and peak only.
    Namespace(String),
}

/// Parent side: runs the restart in a child process against `world`.
pub async fn restart_in_child(
    options: &BenchOptions,
    world: &WorldInfo,
    scope: &RestartScope,
) -> Result<RestartReport, BenchError> {
    let world = serde_json::to_string(world).map_err(|e| BenchError::World(e.to_string()))?;
    let mut args = child_args(options);
    args.push(format!("--restart-against={world}"));
    if let RestartScope::Namespace(namespace) = scope {
        args.push(format!("--restart-namespace={namespace}"));
    }
    let stdout = run_child(args, "the restarted operator").await?;
    let line = stdout
        .lines()
        .last()
        .ok_or_else(|| BenchError::World("the restarted operator printed nothing".into()))?;
    serde_json::from_str(line)
        .map_err(|e| BenchError::World(format!("unexpected restart report {line:?}: {e}")))
}

/// Child side: starts the operator against `world` (JSON of [`WorldInfo`]) watching the
/// namespace `namespace` (all when `None`), waits for its first sweep over every watch and for
/// every refresh to be shown, measures its CPU until the next sweep and soaks if asked (all
/// namespaces only), and prints the [`RestartReport`] as one JSON line.
pub async fn run_restart(
    options: &BenchOptions,
    world: &str,
    namespace: Option<&str>,
) -> Result<(), BenchError> {
    let world: WorldInfo =
        serde_json::from_str(world).map_err(|e| BenchError::Options(e.to_string()))?;
    let workload = options.workload()?;
    let watches = match namespace {
        // The probes live in the first namespace, next to its share of the watches.
        Some(_) => workload.watches.min(options.watches_per_namespace) + options.probes,
        None => workload.watches + options.probes,
    };
    reset_peak_rss();
    heap::reset_peak();
    let sampler = RssSampler::start(Duration::from_millis(200));
    let started = Instant::now();
    let namespaces = namespace.map(str::to_string).into_iter().collect();
    let running = Running::start(options, &world.api, &world.target, namespaces).await?;
    let deadline = started + options.timeout;
    let mut first_call: Option<Instant> = None;
    let mut swept_at: Option<(u64, Duration)> = None;
    let all_shown = loop {
        let (calls, swept) = running.poller_progress(watches, 1);
        if calls > 0 {
            first_call.get_or_insert_with(Instant::now);
        }
        if swept && swept_at.is_none() {
            swept_at = Some((calls, started.elapsed()));
        }
        if swept_at.is_some() && running.unapplied_updates() == 0 {
            break started.elapsed();
        }
        if Instant::now() > deadline {
            running.stop().await?;
            return Err(BenchError::Controller(
                "the restarted controller did not show its first sweep in time".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (poller_calls, first_sweep) = swept_at.unwrap_or((0, all_shown));
    let min_calls = running.min_calls_now();
    let status_writes = running.status_writes();
    let report_writes = options.policy_reports.map(|_| running.report_writes());
    let reconciles = running.ctx.metrics.reconciles_total();
    let list_requests = running.list_requests();
    let (idle_cpu, soak) = match namespace {
        Some(_) => (None, None),
        None => {
            let first_call = first_call.unwrap_or(started);
            let idle = idle_cpu(first_call, options.interval, cpu_time).await;
            let soak = match options.soak {
                Some(duration) => Some(soak(&running, duration, options.interval).await),
                None => None,
            };
            (idle, soak)
        }
    };
    running.stop().await?;
    let report = RestartReport {
        first_sweep_calls: poller_calls,
        min_calls,
        first_sweep,
        all_shown,
        list_requests,
        idle_cpu,
        watches: watches as u64,
        status_writes,
        report_writes,
        reconciles,
        peak_rss: sampler.peak(),
        heap_peak: heap::heap().map(|(_, peak)| peak),
        soak,
    };
    let line = serde_json::to_string(&report).map_err(|e| BenchError::World(e.to_string()))?;
    println!("{line}");
    Ok(())
}

/// CPU time over the quiet stretch between the first sweep and the second (whose first call is
/// due one interval after the first one's), leaving a twentieth of the interval on each side;
/// `None` when that stretch is shorter than a fifth of the interval (a sweep longer than the
/// interval leaves the operator no idle time to measure). `cpu` reads the process's CPU time.
pub async fn idle_cpu(
    first_call: Instant,
    interval: Duration,
    cpu: impl Fn() -> Option<Duration>,
) -> Option<IdleCpu> {
    let from = Instant::now() + interval / 20;
    let until = first_call + interval.mul_f64(0.95);
    if until.saturating_duration_since(from) < interval / 5 {
        return None;
    }
    tokio::time::sleep_until(from.into()).await;
    let before = cpu()?;
    let began = Instant::now();
    tokio::time::sleep_until(until.into()).await;
    Some(IdleCpu {
        cpu: cpu()?.saturating_sub(before),
        wall: began.elapsed(),
    })
}

/// Keeps the controller running for `duration`, sampling RSS once per interval.
async fn soak(running: &Running, duration: Duration, interval: Duration) -> SoakReport {
    let start_rss = memory().map(|m| m.rss);
    let reconciles_before = running.ctx.metrics.reconciles_total();
    let writes_before = running.status_writes();
    let ends = Instant::now() + duration;
    let mut samples = Vec::new();
    while Instant::now() < ends {
        tokio::time::sleep(interval.min(ends.saturating_duration_since(Instant::now()))).await;
        if let Some(m) = memory() {
            samples.push(m.rss);
        }
    }
    SoakReport {
        duration,
        rss_after_first_sweep: start_rss,
        rss_max: samples.iter().copied().max(),
        rss_end: samples.last().copied(),
        reconciles: running.ctx.metrics.reconciles_total() - reconciles_before,
        status_writes: running.status_writes() - writes_before,
    }
}
