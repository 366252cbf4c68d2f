//! `hostrisk-dev bench`: the real controller against the HSS simulator and the stand-in
//! API server at a chosen scale, against the naive one-call-per-watch baseline computed from
//! the workload; one figure per line on stdout (`name: value unit`), logs on stderr. See
//! `crate::bench`.

use std::time::Duration;

use super::exit;
use crate::bench::remote::serve_world;
use crate::bench::restart::run_restart;
use crate::bench::{run_bench, BenchOptions, WorldPlacement};
use hostrisk_operator::cli::policy_reports::PolicyReportsFlag;
use hostrisk_operator::crd::duration::parse_duration_flag;
use hostrisk_operator::telemetry::{init_logging, LogArgs};

/// Exit code when the benchmark could not run.
const BENCH_FAILED: u8 = 1;

/// Measure HSS calls per sweep, idle status writes, create→status latency, RSS and CPU of the
/// real controller against the HSS simulator and the Kubernetes API stand-in.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Number of HostRiskWatch resources.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub watches: u64,
    /// Host ids listed by each watch.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub hosts_per_watch: u64,
    /// Share of each watch's hosts that one other watch lists too.
    #[arg(long, default_value_t = 0.2)]
    pub shared_fraction: f64,
    /// HSS calls per minute for the one credential (operator and simulator alike); default:
    /// twice the naive poller's calls per sweep, so no call waits for quota.
    #[arg(long, env = "HOSTRISK_HSS_CALLS_PER_MINUTE", value_parser = clap::value_parser!(u32).range(1..))]
    pub hss_calls_per_minute: Option<u32>,
    /// spec.interval of every watch (the operator's interval floor is lowered to it).
    #[arg(long, default_value = "1m", value_parser = duration_arg)]
    pub interval: Duration,
    /// Watches per namespace (one credential Secret per namespace, one credential overall).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub watches_per_namespace: u64,
    /// The controller's reconcile concurrency (`run --concurrency`).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,
    /// Longest wait for every watch's first status with data.
    #[arg(long, default_value = "10m", value_parser = duration_arg)]
    pub timeout: Duration,
    /// Where the HSS simulator and the API stand-in run: a child process keeps this process's
    /// RSS and CPU figures the controller's own.
    #[arg(long, value_enum, default_value_t = WorldPlacement::Subprocess)]
    pub world: WorldPlacement,
    /// Watches created one at a time after the measured sweep, timing create → status in a
    /// running system at full scale.
    #[arg(long, default_value_t = 10)]
    pub probes: u64,
    /// Run against a real kube-apiserver instead of the stand-in: the watches, Secrets and
    /// namespaces are created in fresh namespaces (`hostrisk-bench-<pid>-NNN`) and deleted at
    /// the end; the CRD is applied server-side. The API server enforces the CRD's 1m interval
    /// floor.
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<std::path::PathBuf>,
    /// Start a real kube-apiserver + etcd from KUBEBUILDER_ASSETS (envtest's convention, see
    /// `setup-envtest`) and run against it, like --kubeconfig.
    #[arg(long, conflicts_with = "kubeconfig")]
    pub envtest: bool,
    /// Write policy reports (`run --policy-reports`): openreports, wgpolicyk8s or off; the
    /// world gets the report CRDs (a real API server only when it has none).
    #[arg(long, value_enum, default_value_t = PolicyReportsFlag::Off)]
    pub policy_reports: PolicyReportsFlag,
    /// After the restart's first sweep, keep the controller running this long and report RSS
    /// growth (a leak check).
    #[arg(long, value_parser = duration_arg)]
    pub soak: Option<Duration>,
    /// Internal: be the world process of a benchmark (see `bench::remote`).
    #[arg(long, hide = true)]
    pub serve_world: bool,
    /// Internal: be the restarted operator of a benchmark, against the world this JSON
    /// describes (see `bench::restart`).
    #[arg(long, hide = true, value_name = "JSON")]
    pub restart_against: Option<String>,
    /// Internal: the restarted operator watches this namespace only (see `bench::restart`).
    #[arg(long, hide = true, requires = "restart_against")]
    pub restart_namespace: Option<String>,
    /// Internal: the namespace prefix chosen by the parent process.
    #[arg(long, hide = true)]
    pub namespace_prefix: Option<String>,
    #[command(flatten)]
    pub log: LogArgs,
}

fn duration_arg(value: &str) -> Result<Duration, String> {
    let duration = parse_duration_flag(value)?;
    if duration.is_zero() {
        return Err("must be more than 0s".into());
    }
    Ok(duration)
}

impl BenchArgs {
    pub fn options(&self) -> BenchOptions {
        BenchOptions {
            watches: usize::try_from(self.watches).unwrap_or(usize::MAX),
            hosts_per_watch: usize::try_from(self.hosts_per_watch).unwrap_or(usize::MAX),
            shared_fraction: self.shared_fraction,
            calls_per_minute: self.hss_calls_per_minute,
            interval: self.interval,
            watches_per_namespace: usize::try_from(self.watches_per_namespace)
                .unwrap_or(usize::MAX),
            concurrency: self.concurrency,
            timeout: self.timeout,
            world: self.world,
            probes: usize::try_from(self.probes).unwrap_or(usize::MAX),
            log_level: self.log.log_level.clone(),
            kubeconfig: self.kubeconfig.clone(),
            namespace_prefix: self.namespace_prefix.clone().unwrap_or_else(|| {
                match (&self.kubeconfig, self.envtest) {
                    // Namespaces of a real API server may be taken, or still terminating from
                    // an earlier run: fresh names each time.
                    (Some(_), _) | (None, true) => format!("hostrisk-bench-{}", std::process::id()),
                    (None, false) => "bench".to_string(),
                }
            }),
            soak: self.soak,
            envtest: self.envtest,
            policy_reports: self.policy_reports.format(),
        }
    }
}

/// Runs the benchmark on stdout; returns the process exit code.
pub async fn run(args: BenchArgs) -> u8 {
    if let Err(error) = init_logging(&args.log) {
        eprintln!("error: {error}");
        return exit::USAGE;
    }
    let options = args.options();
    if let Err(error) = options.workload() {
        eprintln!("error: {error}");
        return exit::USAGE;
    }
    if let Some(world) = &args.restart_against {
        return match run_restart(&options, world, args.restart_namespace.as_deref()).await {
            Ok(()) => exit::OK,
            Err(error) => {
                eprintln!("error: {error}");
                BENCH_FAILED
            }
        };
    }
    if args.serve_world {
        return match serve_world(&options).await {
            Ok(()) => exit::OK,
            Err(error) => {
                eprintln!("error: {error}");
                BENCH_FAILED
            }
        };
    }
    let mut out = std::io::stdout();
    match run_bench(&options, &mut out).await {
        Ok(()) => exit::OK,
        Err(error) => {
            eprintln!("error: {error}");
            BENCH_FAILED
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Harness {
        #[command(flatten)]
        args: BenchArgs,
    }

    #[test]
    fn defaults_run_100_by_10() {
        let options = Harness::try_parse_from(["bench"]).unwrap().args.options();
        assert_eq!((options.watches, options.hosts_per_watch), (100, 10));
        assert_eq!(options.interval, Duration::from_secs(60));
        // Twice the naive sweep of 100 calls.
        assert_eq!(options.calls_per_minute(), 200);
    }

    #[test]
    fn flags_parse() {
        let options = Harness::try_parse_from([
            "bench",
            "--watches=1000",
            "--hosts-per-watch=100",
            "--interval=10s",
            "--hss-calls-per-minute=5000",
        ])
        .unwrap()
        .args
        .options();
        assert_eq!((options.watches, options.hosts_per_watch), (1000, 100));
        assert_eq!(options.calls_per_minute(), 5000);
        assert_eq!(options.interval, Duration::from_secs(10));
        // The spelling the bench still starts its child processes with.
        assert!(Harness::try_parse_from(["bench", "--calls-per-minute=7"]).is_err());
        assert!(Harness::try_parse_from(["bench", "--interval=0s"]).is_err());
        assert!(Harness::try_parse_from(["bench", "--watches=0"]).is_err());
    }
}
