//! `hostrisk-dev demo`: the whole operator on one machine, in one process, for a short
//! while. The HSS simulator and the stand-in Kubernetes API server start on loopback, the CRD
//! and the resources of `examples/` (rewritten for the simulator, see [`manifests`]) are applied,
//! the real controller runs against them, and a `kubectl get hrw -A -w` style table plus the
//! operator's Events are printed while a script changes hosts ([`script`]).
//!
//! Everything printed about the watches is read back from the API server over HTTP through a
//! real `kube::Client` (a watch on the resources, a watch on Events); the simulator is touched
//! only to change hosts, as the cloud would change them.

pub mod banner;
pub mod columns;
pub mod events;
pub mod manifests;
pub mod nodes;
pub mod script;
pub mod setup;
pub mod steps;
pub mod table;
pub mod view;
pub mod wrap;

mod controller;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use kube::api::ApiResource;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use self::banner::Access;
use self::columns::{default_columns, PrinterColumn};
use self::events::ObservedEvent;
use self::manifests::names;
use self::script::{play, ready_status, wait_for, Expect, StepOutcome};
use self::setup::{read_crd, start_world};
use self::steps::demo_steps;
use self::table::{ObservedRow, Style, Table};
use self::view::{View, ViewLog};
use hostrisk_operator::controller::health;
use hostrisk_operator::crd::{HostRiskWatch, VERSION};

/// Longest wait for the viewer's first list before the controller starts anyway.
const VIEW_SYNC_TIMEOUT: Duration = Duration::from_secs(5);

/// Columns of the time stamp in front of each table row.
const TIME_COLUMN: usize = 7;

/// How the demo runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoOptions {
    /// Total run time; the script spreads its steps over it.
    pub duration: Duration,
    /// ANSI colours in the output.
    pub color: bool,
    /// Columns a line may take: the table takes the widest layout that fits, other lines are
    /// broken to it.
    pub width: usize,
    /// Where the kubeconfig of the API stand-in is written (it is removed at the end).
    pub files_dir: PathBuf,
    /// The file the caller sends the operator's logs to, to name in the banner.
    pub log_file: Option<PathBuf>,
}

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("starting the HSS simulator: {0}")]
    Simulator(#[from] hostrisk_sim::hss::SimError),
    #[error("stand-in API server: {0}")]
    Standin(#[from] hostrisk_sim::kube::StandinError),
    #[error("Kubernetes API request: {0}")]
    Kube(#[from] kube::Error),
    #[error("demo resources: {0}")]
    Manifest(#[from] manifests::ManifestError),
    #[error("demo fleet: {0}")]
    Fleet(String),
    #[error("starting the controller: {0}")]
    Controller(String),
    #[error("the output task failed: {0}")]
    Viewer(String),
    #[error("the controller stopped: {0}")]
    ControllerStopped(String),
    #[error("writing the output: {0}")]
    Output(#[from] std::io::Error),
}

/// What the demo showed, for the closing summary and for tests.
#[derive(Debug, Clone)]
pub struct DemoReport {
    /// The printer columns of the table, as the CRD declares them.
    pub columns: Vec<PrinterColumn>,
    /// Every table row printed, in order.
    pub rows: Vec<ObservedRow>,
    /// Every Event printed, in order.
    pub events: Vec<ObservedEvent>,
    /// The script's steps that were played.
    pub steps: Vec<StepOutcome>,
    /// Wall time of the whole demo.
    pub elapsed: Duration,
    /// `ListHostsRisk` calls the simulator answered successfully.
    pub hss_calls: u64,
    /// Status writes the stand-in API server received.
    pub status_writes: u64,
    /// ServiceAccount tokens the simulated IAM exchanged for IAM tokens (the keyless watch).
    pub id_token_exchanges: u64,
    /// The Nodes carrying the operator's conditions at the end, one line each (their problems
    /// and taints), read back over HTTP.
    pub nodes: Vec<String>,
}

impl DemoReport {
    /// The `Ready` column of every row printed for `name`, in order.
    pub fn ready_history(&self, name: &str) -> Vec<Option<&str>> {
        self.rows
            .iter()
            .filter(|r| r.name == name)
            .map(|r| r.value(&self.columns, "Ready"))
            .collect()
    }
}

/// Runs the demo for `options.duration`, printing to `out`.
pub async fn run_demo(
    options: DemoOptions,
    out: Box<dyn Write + Send>,
) -> Result<DemoReport, DemoError> {
    let started = Instant::now();
    let deadline = started + options.duration;
    let style = Style {
        color: options.color,
    };

    let world = start_world().await?;
    let client = world.kube.client().await?;
    let crd = read_crd(&client).await?;
    let columns = default_columns(&crd, VERSION);
    let expected_names: Vec<(String, String)> = [
        names::WEB,
        names::DATA,
        names::BATCH,
        names::KEYLESS,
        names::WORKERS,
    ]
    .iter()
    .map(|n| (names::NAMESPACE.to_string(), n.to_string()))
    .collect();
    let table = Table::fitting(
        columns.clone(),
        &expected_names,
        style,
        options.width,
        TIME_COLUMN,
    );
    // The table's own columns (the compact layout leaves some out): rows are read by them.
    let columns = table.columns().to_vec();
    let health_listener = health::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let kubeconfig = options.files_dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        serde_yaml::to_string(&world.kube.kubeconfig()).map_err(manifests::ManifestError::from)?,
    )?;
    let access = Access {
        health: health_listener.local_addr()?,
        kubeconfig: kubeconfig.clone(),
        log_file: options.log_file.clone(),
    };

    let mut view = View::new(out, table, style, started, options.width);
    for (line, indent) in banner::banner_lines(&world, &access, style) {
        view.indented(&line, indent)?;
    }
    view.header()?;

    let (notices, notice_rx) = mpsc::unbounded_channel();
    let (synced, view_synced) = oneshot::channel();
    let stop_view = CancellationToken::new();
    let resource = ApiResource::erase::<HostRiskWatch>(&());
    let viewer = tokio::spawn(view.run(
        client.clone(),
        resource,
        notice_rx,
        synced,
        stop_view.clone(),
    ));
    // Start the controller once the viewer listed what exists, so its first writes show up as
    // changes; a viewer that takes longer only misses that first impression.
    let _ = tokio::time::timeout(VIEW_SYNC_TIMEOUT, view_synced).await;
    let shutdown = CancellationToken::new();
    let controller = controller::start(&world, client.clone(), health_listener, shutdown.clone())?;

    let scripted = script_phase(&world, &client, options.duration, started, &notices);
    // A viewer that stopped (its output closed) ends the demo early.
    let outcomes = tokio::select! {
        outcomes = scripted => outcomes,
        () = stop_view.cancelled() => Ok(Vec::new()),
    };
    if outcomes.is_ok() {
        tokio::select! {
            () = tokio::time::sleep_until(deadline.into()) => {}
            () = stop_view.cancelled() => {}
        }
    }

    // Always stop the controller and the viewer, then report the first failure.
    shutdown.cancel();
    let controller_result = controller.stop().await;
    stop_view.cancel();
    let (printed, log, mut out) = viewer
        .await
        .map_err(|join| DemoError::Viewer(join.to_string()))?;
    printed?;
    let outcomes = outcomes?;
    controller_result?;

    let ViewLog { rows, events } = log;
    let report = DemoReport {
        columns,
        rows,
        events,
        steps: outcomes,
        elapsed: started.elapsed(),
        hss_calls: world.hss.counters().hss_successes,
        status_writes: world.kube.status_writes("hostriskwatches"),
        id_token_exchanges: world.hss.counters().id_token_exchanges,
        nodes: nodes::lines(client.clone()).await?,
    };
    let watches = kube::Api::<HostRiskWatch>::namespaced(client.clone(), names::NAMESPACE);
    write_summary(&mut out, &report, &watches, style, options.width).await?;
    world.hss.shutdown().await;
    world.kube.shutdown().await;
    // It points at a server that is gone now.
    let _ = std::fs::remove_file(&kubeconfig);
    Ok(report)
}

/// Waits for HSS's first answers, then plays the script over what is left of the duration.
async fn script_phase(
    world: &setup::DemoWorld,
    client: &kube::Client,
    duration: Duration,
    started: Instant,
    notices: &mpsc::UnboundedSender<view::Notice>,
) -> Result<Vec<StepOutcome>, DemoError> {
    let deadline = started + duration;
    // The script starts once HSS answered the first polls (the status has a summary), so its
    // changes are transitions; Ready itself is left for the table to show.
    let watches = kube::Api::<HostRiskWatch>::namespaced(client.clone(), names::NAMESPACE);
    let settle_until = (started + duration / 3).min(deadline);
    for name in [names::WEB, names::DATA] {
        wait_for(&watches, name, &[Expect::Polled], settle_until).await?;
    }
    let steps = demo_steps(&world.hss, &world.hosts)?;
    let tail = (duration / 10).max(Duration::from_secs(2));
    let available = deadline
        .saturating_duration_since(Instant::now())
        .saturating_sub(tail);
    // One gap per step plus half a gap before the first.
    let gap = available.mul_f64(1.0 / (steps.len() as f64 + 0.5));
    play(
        &world.hss,
        &world.kube,
        client,
        steps,
        gap,
        deadline,
        notices,
    )
    .await
}

/// The watches' policy reports as `kubectl get reports` shows them (PASS FAIL WARN ERROR SKIP),
/// with each report's most urgent result.
async fn write_reports(
    emit: &mut impl FnMut(&str, usize) -> std::io::Result<()>,
    watches: &kube::Api<HostRiskWatch>,
    style: Style,
) -> Result<(), DemoError> {
    let namespace = watches.namespace().unwrap_or(names::NAMESPACE).to_string();
    let resource = hostrisk_operator::reports::ReportFormat::OpenReports.api_resource();
    let reports: kube::Api<kube::api::DynamicObject> =
        kube::Api::namespaced_with(watches.clone().into_client(), &namespace, &resource);
    emit(
        &style
            .dim("  policy reports (kubectl get reports): PASS FAIL WARN ERROR SKIP, first result"),
        2,
    )?;
    for report in reports.list(&Default::default()).await? {
        let count = |k: &str| report.data["summary"][k].as_u64().unwrap_or(0);
        let first = &report.data["results"][0];
        let first = match first["policy"].as_str() {
            Some(policy) => format!(
                "{policy} {} {} ({})",
                first["result"].as_str().unwrap_or_default(),
                first["properties"]["hostId"].as_str().unwrap_or_default(),
                first["severity"].as_str().unwrap_or("-"),
            ),
            None => "nothing to report".to_string(),
        };
        emit(
            &format!(
                "  {:<24} {:>4} {:>4} {:>4} {:>5} {:>4}  {first}",
                kube::ResourceExt::name_any(&report),
                count("pass"),
                count("fail"),
                count("warn"),
                count("error"),
                count("skip"),
            ),
            15,
        )?;
    }
    Ok(())
}

async fn write_summary(
    out: &mut Box<dyn Write + Send>,
    report: &DemoReport,
    watches: &kube::Api<HostRiskWatch>,
    style: Style,
    width: usize,
) -> Result<(), DemoError> {
    let mut emit = |text: &str, indent: usize| -> std::io::Result<()> {
        for line in wrap::wrap(text, width, indent) {
            writeln!(out, "{line}")?;
        }
        Ok(())
    };
    let seen = report
        .steps
        .iter()
        .filter(|s| s.seen_after.is_some())
        .count();
    emit("", 0)?;
    emit(
        &style.bold(&format!(
            "demo finished after {:.1}s: {seen}/{} steps confirmed by reading back, {} Events, \
             {} HSS calls, {} status writes",
            report.elapsed.as_secs_f64(),
            report.steps.len(),
            report.events.len(),
            report.hss_calls,
            report.status_writes,
        )),
        2,
    )?;
    // Read back once more over HTTP: what a `kubectl get hrw -o yaml` would show now.
    for watch in watches.list(&Default::default()).await? {
        let status = watch.status.clone().unwrap_or_default();
        let name = kube::ResourceExt::name_any(&watch);
        let summary = status.summary.clone().unwrap_or_default();
        emit(
            &format!(
                "  {name:<12} Ready={:<7} hosts requested {}, found {}, not found {}; at risk {}, \
                 unprotected {}, agent offline {}",
                ready_status(&status).unwrap_or("<none>"),
                summary.hosts_requested,
                summary.hosts_found,
                summary.hosts_not_found,
                summary.detect_risk,
                summary.protection_closed,
                summary.agent_offline,
            ),
            15,
        )?;
        if let Some(nodes) = &status.nodes {
            let unresolved: Vec<String> = status
                .unresolved_nodes
                .iter()
                .map(|n| format!("{} ({})", n.node_name, n.reason))
                .collect();
            emit(
                &style.dim(&format!(
                    "  {:<12} {}; {} Nodes selected, {} watched, not watched: {}",
                    "",
                    status.source.as_deref().unwrap_or("nodes"),
                    nodes.selected,
                    nodes.watched,
                    if unresolved.is_empty() {
                        "none".to_string()
                    } else {
                        unresolved.join(", ")
                    }
                )),
                15,
            )?;
        }
    }
    // What `kubectl describe node` shows of the node-backed watch's work.
    for line in &report.nodes {
        emit(&style.dim(&format!("  {line}")), 15)?;
    }
    write_reports(&mut emit, watches, style).await?;
    emit(
        &style.dim(&format!(
            "  {} read HSS without a Secret: IAM exchanged {} ServiceAccount token(s) of {}/{} \
             for IAM tokens; neither token is written anywhere.",
            names::KEYLESS,
            report.id_token_exchanges,
            names::NAMESPACE,
            manifests::keyless_identity()?.service_account,
        )),
        15,
    )?;
    emit(
        &style.dim(
            "Next: `hostrisk-operator crd | kubectl apply -f -`, then examples/ on a real cluster.",
        ),
        2,
    )?;
    out.flush()?;
    Ok(())
}
