//! The benchmark's world (HSS simulator + stand-in API server) in a child process, so the
//! benchmark process holds what a deployed operator holds: the controller, its clients and
//! caches, and its RSS and CPU figures are the operator's. The
//! stand-in keeps every object as JSON values and fans each change out to every watcher, and
//! the simulator holds the whole fleet: in-process they would dwarf the operator.
//!
//! The child is this binary run as `bench --serve-world` with the same workload flags; it also
//! runs the benchmark's client side ([`Driver`]: creating and observing the watches). It speaks
//! one JSON document per line on stdio: it prints [`WorldInfo`] once ready, then answers each
//! command line on its stdin: `create` with [`CreationResult`], `counters` with
//! [`WorldCounters`], `probe` with [`ProbeResult`]; it stops on `stop` or when its stdin
//! closes (so it never outlives the benchmark).

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::drive::{CreationResult, Driver, ProbeResult};
use super::process::{memory_of, Memory};
use super::world::{kubeconfig_client, start_world_for, HssTarget, WorldApi, WorldCounters};
use super::{BenchError, BenchOptions};
use hostrisk_operator::crd::duration::format_duration;

/// Longest wait for the child to set up (generating a 90,000-host fleet takes a while in a
/// debug build).
const START_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest wait for one answer or for the child to exit.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for the answer to `create` or `probe`, beyond the benchmark's own timeout.
const DRIVE_MARGIN: Duration = Duration::from_secs(60);

/// What the child prints once its servers run and the CRD, namespaces and Secrets exist.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WorldInfo {
    /// The API server: `http://127.0.0.1:<port>` of the stand-in, or the kubeconfig of a real one.
    pub api: ApiAddress,
    pub target: HssTarget,
}

/// How the operator reaches the world's API server.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ApiAddress {
    Standin(String),
    Kubeconfig(std::path::PathBuf),
}

impl ApiAddress {
    /// The client configuration for the operator.
    pub async fn config(&self) -> Result<kube::Config, BenchError> {
        match self {
            ApiAddress::Standin(url) => {
                let url: http::Uri = url
                    .parse()
                    .map_err(|e| BenchError::World(format!("bad stand-in URL: {e}")))?;
                Ok(kube::Config::new(url))
            }
            ApiAddress::Kubeconfig(path) => Ok(kubeconfig_client(path).await?.0),
        }
    }
}

impl super::world::BenchWorld {
    /// Where the operator finds this world's API server.
    pub fn address(&self) -> ApiAddress {
        match &self.api {
            WorldApi::Standin(kube) => ApiAddress::Standin(kube.url()),
            WorldApi::External { kubeconfig, .. } => ApiAddress::Kubeconfig(kubeconfig.clone()),
        }
    }
}

/// Child side: sets the world up, then serves the line protocol until `stop` or end of input.
pub async fn serve_world(options: &BenchOptions) -> Result<(), BenchError> {
    let workload = options.workload()?;
    let world = start_world_for(options).await?;
    let info = WorldInfo {
        api: world.address(),
        target: world.target(),
    };
    print_json(&info)?;
    let driver = Driver::start(
        world.client().await?,
        world.target(),
        workload,
        options.watches_per_namespace,
        format_duration(options.interval),
        options.timeout,
    )
    .await;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        match line.trim() {
            "create" => print_json(&driver.create_all().await?)?,
            "counters" => print_json(&world.counters())?,
            "probe" => print_json(&driver.probe(options.probes).await?)?,
            "stop" => break,
            other => tracing::warn!(command = other, "unknown world command"),
        }
    }
    driver.stop().await;
    world.shutdown().await;
    Ok(())
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<(), BenchError> {
    let line = serde_json::to_string(value).map_err(|e| BenchError::World(e.to_string()))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

/// Parent side: the running child.
pub struct RemoteWorld {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    pub info: WorldInfo,
}

impl RemoteWorld {
    /// Starts this executable as the world server for `options` and waits until it is ready.
    pub async fn spawn(options: &BenchOptions) -> Result<Self, BenchError> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .arg("bench")
            .arg("--serve-world")
            .arg(format!("--watches={}", options.watches))
            .arg(format!("--hosts-per-watch={}", options.hosts_per_watch))
            .arg(format!("--shared-fraction={}", options.shared_fraction))
            .arg(format!(
                "--hss-calls-per-minute={}",
                options.calls_per_minute()
            ))
            .arg(format!(
                "--watches-per-namespace={}",
                options.watches_per_namespace
            ))
            .arg(format!("--interval={}", format_duration(options.interval)))
            .arg(format!("--timeout={}", format_duration(options.timeout)))
            .arg(format!("--probes={}", options.probes))
            .arg(format!("--namespace-prefix={}", options.namespace_prefix))
            .args(
                options
                    .kubeconfig
                    .iter()
                    .map(|path| format!("--kubeconfig={}", path.display())),
            )
            // The world installs the report CRDs the operator writes.
            .args(
                options
                    .policy_reports
                    .iter()
                    .map(|format| format!("--policy-reports={}", format.as_str())),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(BenchError::World("no pipes to the world process".into()));
        };
        let mut lines = BufReader::new(stdout).lines();
        let info = read_json(&mut lines, START_TIMEOUT).await?;
        Ok(Self {
            child,
            stdin,
            lines,
            info,
        })
    }

    pub async fn counters(&mut self) -> Result<WorldCounters, BenchError> {
        self.ask("counters", ANSWER_TIMEOUT).await
    }

    /// Has the child create every watch; answers once each showed data (or its timeout).
    pub async fn create(&mut self, timeout: Duration) -> Result<CreationResult, BenchError> {
        self.ask("create", timeout + DRIVE_MARGIN).await
    }

    pub async fn probe(&mut self, timeout: Duration) -> Result<ProbeResult, BenchError> {
        self.ask("probe", timeout + DRIVE_MARGIN).await
    }

    async fn ask<T: serde::de::DeserializeOwned>(
        &mut self,
        command: &str,
        timeout: Duration,
    ) -> Result<T, BenchError> {
        self.stdin
            .write_all(format!("{command}\n").as_bytes())
            .await?;
        self.stdin.flush().await?;
        read_json(&mut self.lines, timeout).await
    }

    /// RSS of the world process.
    pub fn memory(&self) -> Option<Memory> {
        memory_of(self.child.id()?)
    }

    /// Asks the child to stop and waits for it (killing it if it does not).
    pub async fn shutdown(mut self) {
        let _ = self.stdin.write_all(b"stop\n").await;
        let _ = self.stdin.flush().await;
        drop(self.stdin);
        if tokio::time::timeout(ANSWER_TIMEOUT, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

async fn read_json<T: serde::de::DeserializeOwned>(
    lines: &mut Lines<BufReader<ChildStdout>>,
    timeout: Duration,
) -> Result<T, BenchError> {
    let line = tokio::time::timeout(timeout, lines.next_line())
        .await
        .map_err(|_| BenchError::World("the world process did not answer in time".into()))??
        .ok_or_else(|| BenchError::World("the world process exited".into()))?;
    serde_json::from_str(&line)
        .map_err(|e| BenchError::World(format!("unexpected line {line:?}: {e}")))
}
