//! The restart: a fresh operator process starting with every watch (and probe) already there, as
//! after a restart, an upgrade or a leader failover. It runs as a child process (this executable
//! with `bench --restart-against <world>`), so its RSS is that of a new operator and not the
//! heap the first controller left behind. It reports its first sweep (calls against the minimum,
//! time, status writes, reconciles), its peak RSS and, with `--soak`, RSS while it keeps running.

use std::time::{Duration, Instant};

use super::heap;
use super::isolate::{child_args, run_child};
use super::operator::Running;
use super::process::{memory, reset_peak_rss, RssSampler};
use super::remote::WorldInfo;
use super::report::{RestartReport, SoakReport};
use super::{BenchError, BenchOptions};

/// Parent side: runs the restart in a child process against `world`; `watches` is how many
/// watches (probes included) the world holds.
pub async fn restart_in_child(
    options: &BenchOptions,
    world: &WorldInfo,
) -> Result<RestartReport, BenchError> {
    let world = serde_json::to_string(world).map_err(|e| BenchError::World(e.to_string()))?;
    let mut args = child_args(options);
    args.push(format!("--restart-against={world}"));
    let stdout = run_child(args, "the restarted operator").await?;
    let line = stdout
        .lines()
        .last()
        .ok_or_else(|| BenchError::World("the restarted operator printed nothing".into()))?;
    serde_json::from_str(line)
        .map_err(|e| BenchError::World(format!("unexpected restart report {line:?}: {e}")))
}

/// Child side: starts the operator against `world` (JSON of [`WorldInfo`]), waits for its first
/// sweep over every watch, soaks if asked, and prints the [`RestartReport`] as one JSON line.
pub async fn run_restart(options: &BenchOptions, world: &str) -> Result<(), BenchError> {
    let world: WorldInfo =
        serde_json::from_str(world).map_err(|e| BenchError::Options(e.to_string()))?;
    let workload = options.workload()?;
    let watches = workload.watches + options.probes;
    reset_peak_rss();
    heap::reset_peak();
    let sampler = RssSampler::start(Duration::from_millis(200));
    let started = Instant::now();
    let running = Running::start(options, &world.api, &world.target).await?;
    let deadline = started + options.timeout;
    let poller_calls = loop {
        let (calls, swept) = running.poller_progress(watches, 1);
        if swept {
            break calls;
        }
        if Instant::now() > deadline {
            running.stop().await?;
            return Err(BenchError::Controller(
                "the restarted controller did not finish its first sweep in time".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let first_sweep = started.elapsed();
    let min_calls = running.min_calls_now();
    let status_writes = running.status_writes();
    let report_writes = options.policy_reports.map(|_| running.report_writes());
    let reconciles = running.ctx.metrics.reconciles_total();
    let soak = match options.soak {
        Some(duration) => Some(soak(&running, duration, options.interval).await),
        None => None,
    };
    running.stop().await?;
    let report = RestartReport {
        first_sweep_calls: poller_calls,
        min_calls,
        first_sweep,
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
