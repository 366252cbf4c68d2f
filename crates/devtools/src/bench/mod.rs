//! `hostrisk-dev bench`: the real controller, in this process, against the HSS simulator
//! and the stand-in Kubernetes API server (real kube client over loopback HTTP) or a real
//! kube-apiserver (`--kubeconfig`), at a chosen scale; prints one figure per line ([`report`]).
//! The naive baseline it is compared with, one call per watch (per 100 of its hosts) and
//! interval, is computed from the workload ([`Workload::per_watch_calls_per_sweep`]): the
//! operator has no such mode.
//!
//! - [`workload`]: N watches × M hosts with a fixed share of hosts listed by two watches.
//! - [`world`]: simulator, stand-in, CRD, namespaces, Secrets, and the watches' creation.
//! - [`isolate`]: child processes of this executable (the restarted operator).
//! - [`remote`]: the same world in a child process (the default), so this process's RSS and
//!   CPU are the operator's.
//! - [`drive`]: creating and observing the watches (next to the world), probe watches.
//! - [`observe`]: a watcher timing create → first status with data.
//! - [`run`]: the run: creation wave, one idle sweep measured, probes, a restart measured.
//! - [`requests`]: the operator's API requests, counted on its own client.
//! - [`operator`]: the controller under test; [`restart`]: a fresh operator process starting
//!   with every watch there.
//! - [`scale`]: `bytes_per_host` from a second, one-namespace restart.
//! - [`binary`]: the shipped `hostrisk-operator` binary against the same world, measured from
//!   outside its process ([`scrape`]: its `/metrics`; [`binary_report`]: its figures).
//! - [`process`]: RSS (and its file-backed part: code) and CPU time from procfs.
//! - [`heap`]: live heap bytes and blocks, counted by the allocator `hostrisk-dev` installs, so
//!   the report tells the operator's data from what the allocator keeps around it.
//!
//! Latency, and how quota wait is kept out of it: create → first status with data is timed
//! per watch by an observer over HTTP (create sent → watch event whose status has a summary and
//! `lastSyncTime`). Quota wait is excluded by construction: the quota (the operator's client
//! limiter and the simulator alike) defaults to twice the naive poller's calls per sweep, so
//! the sliding one-minute window always has a free slot and no call waits for a permit. The
//! operator's own quota-wait histogram is printed to show it (`batched.quota_wait_total`,
//! `batched.quota_waits`, and `batched.quota_waits_over_100ms`, which must be 0): with a free
//! slot a "wait" is only the timer's wake-up, about a millisecond. What the latency does include is queueing inside the operator: the creation
//! wave (all N watches created at once) waits for `--concurrency` reconciles at a time, so its
//! p99 grows with N. The probe figures (`batched.probe_create_to_status_*`, watches created one
//! at a time into the running system at full scale) show the latency without that queue.
//!
pub mod binary;
pub mod binary_report;
pub mod drive;
pub mod heap;
pub mod isolate;
pub mod observe;
pub mod operator;
pub mod process;
pub mod remote;
pub mod report;
pub mod requests;
pub mod restart;
pub mod run;
pub mod scale;
pub mod scrape;
pub mod workload;
pub mod world;

use std::io::Write;
use std::time::Duration;

use self::report::baseline_lines;
use self::workload::Workload;

/// Where the simulator and the stand-in API server run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WorldPlacement {
    /// In a child process, with the creator and the observer: this process's RSS and CPU
    /// figures are the controller's alone (plus the tokio runtime and the benchmark's loop).
    Subprocess,
    /// In this process: RSS and CPU include the simulator and the stand-in.
    InProcess,
}

/// What to run.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchOptions {
    pub watches: usize,
    pub hosts_per_watch: usize,
    /// Share of each watch's hosts also listed by one other watch ([`workload`]).
    pub shared_fraction: f64,
    /// HSS calls per minute for the one credential; `None` = twice the naive sweep.
    pub calls_per_minute: Option<u32>,
    /// `spec.interval` of every watch.
    pub interval: Duration,
    /// Watches per namespace (one Secret each, same credential).
    pub watches_per_namespace: usize,
    /// The controller's `--concurrency`.
    pub concurrency: u16,
    /// Longest wait for every watch's first data.
    pub timeout: Duration,
    pub world: WorldPlacement,
    /// Watches created one at a time after the measured sweep ([`drive`]).
    pub probes: usize,
    /// Log filter of child processes (tracing EnvFilter syntax).
    pub log_level: String,
    /// A real API server instead of the stand-in.
    pub kubeconfig: Option<std::path::PathBuf>,
    /// Prefix of the benchmark's namespaces (fresh ones per run on a real API server).
    pub namespace_prefix: String,
    /// Keep the restarted controller running this long, sampling RSS.
    pub soak: Option<Duration>,
    /// Start a real control plane from `KUBEBUILDER_ASSETS` and use it as `kubeconfig`.
    pub envtest: bool,
    /// Policy reports written by the operator (`--policy-reports`); their CRDs are installed
    /// in the world when it has none.
    pub policy_reports: Option<hostrisk_operator::reports::ReportFormat>,
}

impl BenchOptions {
    pub fn workload(&self) -> Result<Workload, BenchError> {
        Workload::new(self.watches, self.hosts_per_watch, self.shared_fraction)
            .map_err(BenchError::Options)
    }

    /// The quota in force: by default twice the naive baseline's calls per sweep.
    pub fn calls_per_minute(&self) -> u32 {
        self.calls_per_minute.unwrap_or_else(|| {
            let naive = Workload::naive_calls_per_sweep(self.watches, self.hosts_per_watch);
            u32::try_from(naive.saturating_mul(2).max(60)).unwrap_or(u32::MAX)
        })
    }
}

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Options(String),
    #[error("HSS simulator: {0}")]
    Simulator(#[from] hostrisk_sim::hss::SimError),
    #[error("stand-in API server: {0}")]
    Standin(#[from] hostrisk_sim::kube::StandinError),
    #[error("Kubernetes API request: {0}")]
    Kube(#[from] kube::Error),
    #[error("benchmark world process: {0}")]
    World(String),
    #[error("controller: {0}")]
    Controller(String),
    #[error("writing the output: {0}")]
    Output(#[from] std::io::Error),
}

/// The setup lines printed before the run.
pub fn setup_lines(options: &BenchOptions, workload: &Workload) -> Vec<String> {
    vec![
        format!("bench.watches: {} watches", workload.watches),
        format!("bench.hosts_per_watch: {} hosts", workload.hosts_per_watch),
        format!("bench.shared_fraction: {} ratio", options.shared_fraction),
        format!(
            "bench.shared_hosts_per_watch: {} hosts",
            workload.shared_per_watch
        ),
        format!("bench.unique_host_ids: {} ids", workload.unique_hosts()),
        "bench.hss_scopes: 1 scopes".to_string(),
        format!("bench.interval: {:.3} s", options.interval.as_secs_f64()),
        format!(
            "bench.calls_per_minute: {} calls/min",
            options.calls_per_minute()
        ),
        format!("bench.concurrency: {} reconciles", options.concurrency),
        format!(
            "bench.api_server: {} server",
            match (&options.kubeconfig, options.envtest) {
                (Some(_), _) | (None, true) => "kube-apiserver",
                (None, false) => "stand-in",
            }
        ),
        format!(
            "bench.policy_reports: {} format",
            options
                .policy_reports
                .map_or("off", hostrisk_operator::reports::ReportFormat::as_str)
        ),
        format!(
            "bench.world: {} placement",
            match options.world {
                WorldPlacement::Subprocess => "subprocess",
                WorldPlacement::InProcess => "in-process",
            }
        ),
    ]
}

/// Runs the benchmark, printing each figure to `out` as soon as it is known, then the naive
/// baseline computed from the workload and the ratio of the two.
pub async fn run_bench(options: &BenchOptions, out: &mut dyn Write) -> Result<(), BenchError> {
    if options.envtest {
        return run_on_envtest(options, out).await;
    }
    let workload = options.workload()?;
    for line in setup_lines(options, &workload) {
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    let (report, binary) = run::run(options).await?;
    for line in report.lines().into_iter().chain(binary.lines()) {
        writeln!(out, "{line}")?;
    }
    for line in baseline_lines(&workload, report.hss_calls_per_sweep) {
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(())
}

/// `--envtest`: a real kube-apiserver + etcd on loopback for the whole benchmark.
async fn run_on_envtest(options: &BenchOptions, out: &mut dyn Write) -> Result<(), BenchError> {
    let plane = hostrisk_envtest::ControlPlane::start_from_env(
        "hostrisk-dev bench",
        hostrisk_envtest::Options::default(),
    )
    .await
    .map_err(|e| BenchError::Options(format!("starting the control plane: {e}")))?
    .ok_or_else(|| {
        BenchError::Options(
            "--envtest needs KUBEBUILDER_ASSETS (a directory with kube-apiserver and etcd, e.g. \
             from `setup-envtest use 1.30.x -p path`)"
                .into(),
        )
    })?;
    writeln!(
        out,
        "bench.kube_apiserver_version: {} version",
        plane.version()
    )?;
    let on_plane = BenchOptions {
        kubeconfig: Some(plane.kubeconfig_path().to_path_buf()),
        envtest: false,
        ..options.clone()
    };
    let result = Box::pin(run_bench(&on_plane, out)).await;
    plane.stop().await;
    result
}
