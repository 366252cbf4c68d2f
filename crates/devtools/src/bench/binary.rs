//! The production binary against the benchmark's world: `hostrisk-operator run`, as users run
//! it, started after the in-process restarts with every watch there and measured from outside
//! its process. The controller of the other figures runs inside `hostrisk-dev`, whose code
//! pages (simulator, stand-in, harness), counting allocator and bookkeeping are in its RSS;
//! these figures are the operator's alone, as a kubelet or `kubectl top` would see them.
//!
//! - memory: `VmRSS` (with `RssFile`, the code paged in, and `RssAnon`) of `/proc/<pid>/status`
//!   sampled every 200 ms, and `VmHWM` at the end;
//! - CPU: `utime + stime` of `/proc/<pid>/stat`;
//! - progress: the operator's own `/metrics`, scraped while it sweeps (as a Prometheus server
//!   would, only more often: spaced by fifty times a scrape's duration; the scrapes count in its
//!   RSS and CPU, never in the idle window): a sweep ends when every poller group exports its sweep duration, a
//!   watch is ready when its last-success time is from this process's polls.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::process::{Child, Command};

use super::binary_report::{BinaryOutcome, BinaryReport};
use super::process::{cpu_time_of, memory_of, PeakSampler};
use super::remote::{ApiAddress, WorldInfo};
use super::restart::idle_cpu;
use super::scrape::{scrape, OperatorMetrics};
use super::{BenchError, BenchOptions};
use hostrisk_operator::crd::duration::format_duration;

/// The shipped operator's executable, next to `hostrisk-dev` in the same target directory.
const BINARY: &str = "hostrisk-operator";
const SAMPLE_EVERY: Duration = Duration::from_millis(200);
/// Scrapes are spaced by [`SCRAPE_GAP_FACTOR`] times the last one's duration (at most 2 % of
/// a core spent answering them: a 1,000-watch exposition takes tens of milliseconds to encode),
/// within these bounds.
const SCRAPE_GAP_FACTOR: u32 = 50;
const SCRAPE_GAP_MIN: Duration = Duration::from_millis(250);
const SCRAPE_GAP_MAX: Duration = Duration::from_secs(5);

/// Runs `hostrisk-operator run` against `world` until its first sweep over `watches` watches
/// and the next one ended; [`BinaryOutcome::Missing`] (with a line on stderr saying how to
/// build it) when there is no such binary next to this executable.
pub async fn measure_binary(
    options: &BenchOptions,
    world: &WorldInfo,
    watches: u64,
) -> Result<BinaryOutcome, BenchError> {
    let path = std::env::current_exe()?.with_file_name(BINARY);
    if !path.is_file() {
        eprintln!("{}", missing_message(&path));
        return Ok(BinaryOutcome::Missing);
    }
    let scratch = Scratch::create()?;
    let kubeconfig = match &world.api {
        ApiAddress::Standin(url) => {
            let file = scratch.0.join("kubeconfig");
            std::fs::write(&file, kubeconfig_text(url)?)?;
            file
        }
        ApiAddress::Kubeconfig(file) => file.clone(),
    };
    let health = free_local_addr()?;
    let mut command = Command::new(&path);
    command
        .args(operator_args(
            options,
            &kubeconfig,
            &world.target.endpoint,
            health,
        ))
        .stdin(Stdio::null())
        // Its stdout holds nothing the report needs: keep the report's stdout figures only.
        .stdout(Stdio::from(std::io::stderr()))
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    // Flags only: none of the operator's settings may come from this shell's environment.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("HOSTRISK_") {
            command.env_remove(name);
        }
    }
    let mut child = command.spawn()?;
    let pid = child
        .id()
        .ok_or_else(|| BenchError::Controller(format!("{BINARY} exited at once")))?;
    let started = Instant::now();
    let sampler = PeakSampler::start(pid, SAMPLE_EVERY);
    let progress = follow(&mut child, pid, health, options, watches, started).await;
    let memory_end = memory_of(pid);
    let cpu_total = cpu_time_of(pid);
    let (peak_rss, rss_file, peak_rss_anon) = sampler.peaks();
    let _ = child.start_kill();
    let _ = child.wait().await;
    drop(scratch);
    let progress = progress?;
    Ok(BinaryOutcome::Measured(Box::new(BinaryReport {
        watches,
        first_sweep_calls: progress.first_sweep_calls,
        min_calls: progress.min_calls,
        first_sweep: progress.first_sweep,
        all_ready: progress.all_ready,
        startup_status_writes: progress.startup_status_writes,
        idle_sweep_calls: progress.idle_sweep.as_ref().map(|s| s.calls),
        idle_sweep_status_writes: progress.idle_sweep.as_ref().map(|s| s.status_writes),
        idle_sweep_done: progress.idle_sweep.as_ref().map(|s| s.done),
        idle_cpu: progress.idle_cpu,
        cpu_to_ready: progress.cpu_to_ready,
        cpu_total,
        peak_rss: peak_rss.max(memory_end.map(|m| m.rss.max(m.peak_rss))),
        rss_file,
        peak_rss_anon,
        rss_end: memory_end.map(|m| m.rss),
        scrapes: progress.scrapes,
        exposition_bytes: progress.exposition_bytes,
    })))
}

fn missing_message(path: &Path) -> String {
    format!(
        "bench: no {} to measure: build it with `cargo build --release -p hostrisk-operator` \
         (`cargo build -p hostrisk-operator` next to a debug hostrisk-dev); the \
         batched.binary_* figures are skipped",
        path.display()
    )
}

/// What the scrapes showed.
struct Progress {
    first_sweep: Duration,
    first_sweep_calls: u64,
    min_calls: u64,
    all_ready: Duration,
    startup_status_writes: u64,
    cpu_to_ready: Option<Duration>,
    idle_cpu: Option<super::report::IdleCpu>,
    idle_sweep: Option<IdleSweep>,
    scrapes: u64,
    exposition_bytes: Option<u64>,
}

struct IdleSweep {
    calls: u64,
    status_writes: u64,
    done: Duration,
}

/// Follows the operator through its first sweep, the quiet stretch after it and its next
/// sweep.
async fn follow(
    child: &mut Child,
    pid: u32,
    health: SocketAddr,
    options: &BenchOptions,
    watches: u64,
    started: Instant,
) -> Result<Progress, BenchError> {
    let start_unix = unix_now();
    let mut scraper = Scraper {
        health,
        scrapes: 0,
        bytes: None,
        gap: SCRAPE_GAP_MIN,
    };
    let mut swept: Option<(Duration, u64, u64)> = None;
    let deadline = started + options.timeout;
    let ready = loop {
        let metrics = scraper.next(child, deadline).await?;
        if swept.is_none() && metrics.swept(watches) {
            swept = Some((started.elapsed(), metrics.list_calls, metrics.min_calls()));
        }
        if swept.is_some() && metrics.polled_since(start_unix) >= watches {
            break metrics;
        }
    };
    let all_ready = started.elapsed();
    let cpu_to_ready = cpu_time_of(pid);
    let (first_sweep, first_sweep_calls, min_calls) = swept.unwrap_or((all_ready, 0, 0));
    let first_poll = ready.first_poll_since(start_unix).unwrap_or(start_unix);
    let first_call = started + Duration::from_secs_f64((first_poll - start_unix).max(0.0));
    let idle = idle_cpu(first_call, options.interval, || cpu_time_of(pid)).await;

    // The next sweep refreshes every watch about one interval after its first refresh.
    let interval = options.interval;
    tokio::time::sleep_until((first_call + interval).into()).await;
    let again_since = first_poll + interval.as_secs_f64() / 2.0;
    let deadline = first_call + interval + options.timeout;
    let idle_sweep = loop {
        match scraper.next(child, deadline).await {
            Ok(m) if m.polled_since(again_since) >= watches => {
                break Some(IdleSweep {
                    calls: m.list_calls.saturating_sub(ready.list_calls),
                    status_writes: m.status_writes.saturating_sub(ready.status_writes),
                    done: started.elapsed(),
                });
            }
            Ok(_) => {}
            Err(error) => {
                eprintln!("bench: {BINARY}: no second sweep measured: {error}");
                break None;
            }
        }
    };
    Ok(Progress {
        first_sweep,
        first_sweep_calls,
        min_calls,
        all_ready,
        startup_status_writes: ready.status_writes,
        cpu_to_ready,
        idle_cpu: idle,
        idle_sweep,
        scrapes: scraper.scrapes,
        exposition_bytes: scraper.bytes,
    })
}

/// Scrapes the operator's `/metrics`, spaced by the last scrape's duration.
struct Scraper {
    health: SocketAddr,
    scrapes: u64,
    bytes: Option<u64>,
    gap: Duration,
}

impl Scraper {
    /// The next scrape that answers, a gap from now; an error once the process exited or
    /// `deadline` passed.
    async fn next(
        &mut self,
        child: &mut Child,
        deadline: Instant,
    ) -> Result<OperatorMetrics, BenchError> {
        let mut last_error = String::from("no scrape yet");
        loop {
            if let Some(status) = child.try_wait()? {
                return Err(BenchError::Controller(format!(
                    "{BINARY} exited ({status}) before the measurement ended"
                )));
            }
            if Instant::now() > deadline {
                return Err(BenchError::Controller(format!(
                    "{BINARY} did not refresh every watch in time ({last_error})"
                )));
            }
            tokio::time::sleep(self.gap).await;
            let began = Instant::now();
            match scrape(self.health).await {
                Ok(text) => {
                    self.gap =
                        (began.elapsed() * SCRAPE_GAP_FACTOR).clamp(SCRAPE_GAP_MIN, SCRAPE_GAP_MAX);
                    self.scrapes += 1;
                    let metrics = OperatorMetrics::parse(&text);
                    self.bytes = Some(metrics.bytes);
                    return Ok(metrics);
                }
                // Not listening yet, or still starting.
                Err(error) => last_error = error,
            }
        }
    }
}

/// The flags of `run` that give the operator the benchmark's settings (as the in-process
/// controller has them: [`super::operator`]).
fn operator_args(
    options: &BenchOptions,
    kubeconfig: &Path,
    endpoint: &str,
    health: SocketAddr,
) -> Vec<String> {
    let interval = format_duration(options.interval);
    let mut args = vec![
        "run".to_string(),
        format!("--kubeconfig={}", kubeconfig.display()),
        format!("--allowed-endpoints={endpoint}"),
        format!("--min-interval={interval}"),
        format!("--default-interval={interval}"),
        format!("--hss-calls-per-minute={}", options.calls_per_minute()),
        format!("--concurrency={}", options.concurrency),
        format!("--health-addr={health}"),
        format!("--log-level={}", options.log_level),
    ];
    if let Some(format) = options.policy_reports {
        args.push(format!("--policy-reports={}", format.as_str()));
    }
    args
}

/// A kubeconfig with one cluster at `server` and no credentials (the stand-in needs none).
fn kubeconfig_text(server: &str) -> Result<String, BenchError> {
    // A JSON string is a YAML double-quoted scalar.
    let server = serde_json::to_string(server).map_err(|e| BenchError::World(e.to_string()))?;
    Ok(format!(
        "apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - name: bench\n  cluster:\n    server: {server}\n\
         users:\n\
         - name: bench\n  user: {{}}\n\
         contexts:\n\
         - name: bench\n  context:\n    cluster: bench\n    user: bench\n\
         current-context: bench\n"
    ))
}

/// A loopback address no one listens on now (the operator binds it a moment later).
fn free_local_addr() -> Result<SocketAddr, BenchError> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?)
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A directory of this run's files, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn create() -> Result<Self, BenchError> {
        let dir =
            std::env::temp_dir().join(format!("hostrisk-bench-binary-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kubeconfig_points_at_the_stand_in() {
        let text = kubeconfig_text("http://127.0.0.1:41234").expect("text");
        let config = kube::config::Kubeconfig::from_yaml(&text).expect("a kubeconfig");
        assert_eq!(config.current_context.as_deref(), Some("bench"));
        let server = config
            .clusters
            .first()
            .and_then(|c| c.cluster.as_ref())
            .and_then(|c| c.server.as_deref());
        assert_eq!(server, Some("http://127.0.0.1:41234"));
        let context = config.contexts.first().and_then(|c| c.context.as_ref());
        assert_eq!(context.map(|c| c.cluster.as_str()), Some("bench"));
    }

    #[test]
    fn the_operator_gets_the_benchmark_settings() {
        let options = BenchOptions {
            watches: 7,
            hosts_per_watch: 3,
            shared_fraction: 0.25,
            calls_per_minute: Some(600),
            interval: Duration::from_secs(4),
            watches_per_namespace: 2,
            concurrency: 8,
            timeout: Duration::from_secs(120),
            world: super::super::WorldPlacement::Subprocess,
            probes: 4,
            log_level: "warn".into(),
            kubeconfig: None,
            namespace_prefix: "bench".into(),
            soak: None,
            envtest: false,
            policy_reports: Some(hostrisk_operator::reports::ReportFormat::OpenReports),
        };
        let health: SocketAddr = "127.0.0.1:18999".parse().expect("addr");
        let args = operator_args(&options, Path::new("/tmp/kc"), "http://127.0.0.1:9", health);
        assert_eq!(args.first().map(String::as_str), Some("run"));
        for expected in [
            "--kubeconfig=/tmp/kc",
            "--allowed-endpoints=http://127.0.0.1:9",
            "--min-interval=4s",
            "--hss-calls-per-minute=600",
            "--concurrency=8",
            "--health-addr=127.0.0.1:18999",
            "--log-level=warn",
            "--policy-reports=openreports",
        ] {
            assert!(args.iter().any(|a| a == expected), "{expected} in {args:?}");
        }
    }

    #[test]
    fn the_missing_binary_message_says_how_to_build_it() {
        let message = missing_message(Path::new("/x/target/release/hostrisk-operator"));
        assert!(message.contains("cargo build --release -p hostrisk-operator"));
        assert!(message.contains("/x/target/release/hostrisk-operator"));
    }
}
