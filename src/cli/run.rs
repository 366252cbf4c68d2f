//! `hostrisk-operator run`: the controller process. Every flag can also come from an environment
//! variable `HOSTRISK_<FLAG>` (e.g. `HOSTRISK_CONCURRENCY`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::controller::health;
use crate::controller::BackoffPolicy;
use crate::controller::{default_instance, kube_client, WorkloadIdentityPolicy};
use crate::controller::{run_controllers, Context, ControllerSettings};
use crate::crd::duration::parse_duration_flag;
use crate::crd::validation::ValidationPolicy;
use crate::hss::endpoint::is_loopback;
use crate::hss::{ClientConfig, HssClient};
use crate::leader::{
    default_identity, wait_until_leading, wait_until_not_leading, LeaderElectionConfig,
    LeaderElector, LeadershipState,
};
use crate::metrics::{Metrics, MetricsOptions};
use crate::telemetry::{init_logging, LogArgs};

use super::exit;
use super::node_conditions::NodeConditionArgs;
use super::policy_reports::PolicyReportArgs;

/// Longest wait for the tasks after a shutdown request, below Kubernetes' default 30 s grace.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(25);

/// Flags of `run` (see CONTRACTS.md).
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Namespaces to watch (repeatable or comma-separated); none = all namespaces.
    #[arg(long = "namespace", env = "HOSTRISK_NAMESPACE", value_delimiter = ',')]
    pub namespaces: Vec<String>,

    /// Kubeconfig file to use; default: KUBECONFIG, else ~/.kube/config, else the in-cluster
    /// service account.
    #[arg(long, env = "HOSTRISK_KUBECONFIG", value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,

    /// Kubeconfig context to use; default: the kubeconfig's current-context.
    #[arg(long, env = "HOSTRISK_CONTEXT", value_name = "NAME")]
    pub context: Option<String>,

    /// Reconciles (and HSS polls) at once, over all namespaces.
    #[arg(long, env = "HOSTRISK_CONCURRENCY", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,

    /// Poll interval when spec.interval is absent.
    #[arg(long, env = "HOSTRISK_DEFAULT_INTERVAL", default_value = "10m", value_parser = parse_duration_flag)]
    pub default_interval: Duration,

    /// Shortest poll interval accepted (enforced in code as well as by the CRD's CEL rule).
    #[arg(long, env = "HOSTRISK_MIN_INTERVAL", default_value = "1m", value_parser = parse_duration_flag)]
    pub min_interval: Duration,

    /// Longest time status.lastSyncTime may lag the latest successful poll.
    #[arg(long, env = "HOSTRISK_STATUS_HEARTBEAT", default_value = "30m", value_parser = parse_duration_flag)]
    pub status_heartbeat: Duration,

    /// URL prefixes accepted for spec.endpoint besides the official Huawei Cloud endpoints.
    #[arg(long, env = "HOSTRISK_ALLOWED_ENDPOINTS", value_delimiter = ',')]
    pub allowed_endpoints: Vec<String>,

    /// HSS calls per minute per credential identity.
    #[arg(long, env = "HOSTRISK_HSS_CALLS_PER_MINUTE", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub hss_calls_per_minute: u32,

    /// Extra PEM CA bundle for private HSS/IAM endpoints (TLS verification cannot be turned off).
    #[arg(long, env = "HOSTRISK_CA_BUNDLE")]
    pub ca_bundle: Option<PathBuf>,

    /// Address of the /livez, /readyz and /metrics server; `:8080` means every interface.
    #[arg(long, env = "HOSTRISK_HEALTH_ADDR", default_value = "0.0.0.0:8080", value_parser = parse_listen_addr)]
    pub health_addr: SocketAddr,

    /// Elect a leader with a coordination.k8s.io Lease (needed with more than one replica).
    #[arg(long, env = "HOSTRISK_LEADER_ELECT", default_value_t = false)]
    pub leader_elect: bool,

    /// Name of the Lease used for leader election.
    #[arg(long, env = "HOSTRISK_LEASE_NAME", default_value = "hostrisk-operator")]
    pub lease_name: String,

    /// Namespace of the Lease; default: env POD_NAMESPACE, else "default".
    #[arg(long, env = "HOSTRISK_LEASE_NAMESPACE")]
    pub lease_namespace: Option<String>,

    #[command(flatten)]
    pub log: LogArgs,

    /// IAM endpoint for username/password Secrets of watches with spec.endpoint (private
    /// clouds; with spec.region the region's IAM endpoint is used). https, or http on loopback.
    #[arg(long, env = "HOSTRISK_IAM_ENDPOINT")]
    pub iam_endpoint: Option<String>,

    /// Also export per-host series on /metrics (label host_id; one series per host and risk
    /// kind, so off by default).
    #[arg(long, env = "HOSTRISK_METRICS_PER_HOST", default_value_t = false)]
    pub metrics_per_host: bool,

    /// Serve node-backed HostRiskWatches (spec.nodeSelector) by watching the cluster's Nodes;
    /// needs get/list/watch on nodes and all namespaces (ignored with --namespace, where such
    /// watches are refused with reason NodeWatchesDisabled).
    #[arg(long, env = "HOSTRISK_NODE_WATCHES", default_value_t = false)]
    pub node_watches: bool,

    /// Audiences (identity provider client ids) the operator mints ServiceAccount tokens for,
    /// for watches with spec.workloadIdentity (repeatable or comma-separated; with
    /// --workload-identity-providers, empty = keyless credentials off).
    #[arg(
        long,
        env = "HOSTRISK_WORKLOAD_IDENTITY_AUDIENCES",
        value_delimiter = ','
    )]
    pub workload_identity_audiences: Vec<String>,

    /// IAM identity provider ids watches may exchange their ServiceAccount tokens at
    /// (repeatable or comma-separated).
    #[arg(
        long,
        env = "HOSTRISK_WORKLOAD_IDENTITY_PROVIDERS",
        value_delimiter = ','
    )]
    pub workload_identity_providers: Vec<String>,

    /// Node conditions and taints (`--node-conditions`, `--node-taint*`).
    #[command(flatten)]
    pub node_conditions: NodeConditionArgs,

    /// Policy reports (`--policy-reports*`).
    #[command(flatten)]
    pub policy_reports: PolicyReportArgs,
}

/// The namespace the operator runs in: env POD_NAMESPACE (the chart sets it), else the
/// in-cluster ServiceAccount's; `None` outside a cluster.
fn own_namespace() -> Option<String> {
    const IN_CLUSTER: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
    std::env::var("POD_NAMESPACE")
        .ok()
        .or_else(|| std::fs::read_to_string(IN_CLUSTER).ok())
        .map(|ns| ns.trim().to_string())
        .filter(|ns| !ns.is_empty())
}

/// The non-empty, trimmed entries of a list flag.
fn list(values: &[String]) -> Vec<String> {
    values
        .iter()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

/// `HOST:PORT`, or Go's `:PORT` for every interface (`0.0.0.0:PORT`).
fn parse_listen_addr(value: &str) -> Result<SocketAddr, String> {
    let full = match value.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => value.to_string(),
    };
    full.parse().map_err(|e| {
        format!("{e}: write an address and port such as 0.0.0.0:8080, 127.0.0.1:8080 or :8080")
    })
}

impl RunArgs {
    /// The Lease namespace in force.
    pub fn lease_namespace(&self) -> String {
        self.lease_namespace
            .clone()
            .or_else(|| std::env::var("POD_NAMESPACE").ok())
            .filter(|ns| !ns.is_empty())
            .unwrap_or_else(|| "default".to_string())
    }

    /// The reconciler settings these flags describe.
    pub fn controller_settings(&self) -> Result<ControllerSettings, String> {
        if self.min_interval.is_zero() {
            return Err("--min-interval (env HOSTRISK_MIN_INTERVAL) must be more than 0s: set a duration such as 1m".into());
        }
        if self.status_heartbeat.is_zero() {
            return Err("--status-heartbeat (env HOSTRISK_STATUS_HEARTBEAT) must be more than 0s: set a duration such as 30m".into());
        }
        Ok(ControllerSettings {
            policy: ValidationPolicy {
                min_interval: self.min_interval,
                default_interval: self.default_interval.max(self.min_interval),
                allowed_endpoint_prefixes: self
                    .allowed_endpoints
                    .iter()
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty())
                    .collect(),
            },
            status_heartbeat: self.status_heartbeat,
            concurrency: self.concurrency,
            backoff: BackoffPolicy::default(),
            instance: default_instance(),
            iam_endpoint: self.iam_endpoint_url()?,
            node_watches: self.node_watches,
            workload_identity: self.workload_identity_policy()?,
            node_conditions: self
                .node_conditions
                .policy(self.node_watches, own_namespace().as_deref())?,
            policy_reports: self.policy_reports.settings(),
        })
    }

    /// `--workload-identity-audiences` and `--workload-identity-providers`: both or neither.
    fn workload_identity_policy(&self) -> Result<WorkloadIdentityPolicy, String> {
        let policy = WorkloadIdentityPolicy {
            audiences: list(&self.workload_identity_audiences),
            identity_providers: list(&self.workload_identity_providers),
        };
        if policy.audiences.is_empty() != policy.identity_providers.is_empty() {
            return Err(
                "keyless credentials need both --workload-identity-audiences and \
                 --workload-identity-providers (env HOSTRISK_WORKLOAD_IDENTITY_AUDIENCES, \
                 HOSTRISK_WORKLOAD_IDENTITY_PROVIDERS): set both, or neither to leave them off"
                    .into(),
            );
        }
        Ok(policy)
    }

    /// `--iam-endpoint` checked: an https URL (http only on loopback) without credentials,
    /// query or fragment, since passwords are sent there.
    fn iam_endpoint_url(&self) -> Result<Option<url::Url>, String> {
        let Some(text) = self.iam_endpoint.as_deref().map(str::trim) else {
            return Ok(None);
        };
        let fix = "give an https:// URL such as https://iam.example.com/";
        let url = url::Url::parse(text)
            .map_err(|e| format!("--iam-endpoint {text:?} is not a URL ({e}): {fix}"))?;
        let secure = url.scheme() == "https" || (url.scheme() == "http" && is_loopback(&url));
        let clean = url.username().is_empty()
            && url.password().is_none()
            && url.query().is_none()
            && url.fragment().is_none();
        if !secure || !clean {
            return Err(format!(
                "--iam-endpoint {text:?} is refused: passwords go there, so {fix} (plain http only on \
                 loopback), without credentials, query or fragment"
            ));
        }
        Ok(Some(url))
    }

    /// The HSS client configuration these flags describe (reads the CA bundle).
    pub fn client_config(&self) -> Result<ClientConfig, String> {
        let extra_ca_pem = match &self.ca_bundle {
            Some(path) => Some(std::fs::read(path).map_err(|e| {
                format!(
                    "cannot read --ca-bundle {}: {e}: give the path of a readable PEM file",
                    path.display()
                )
            })?),
            None => None,
        };
        Ok(ClientConfig {
            calls_per_minute: self.hss_calls_per_minute,
            extra_ca_pem,
            ..ClientConfig::default()
        })
    }
}

/// Runs the controller until SIGTERM / Ctrl-C; returns the process exit code.
pub async fn run(args: RunArgs) -> u8 {
    if let Err(error) = init_logging(&args.log) {
        eprintln!("error: {error}");
        return exit::USAGE;
    }
    match run_inner(args).await {
        Ok(()) => exit::OK,
        Err(RunFailure::Usage(reason)) => {
            tracing::error!(%reason, "cannot start");
            exit::USAGE
        }
        Err(RunFailure::Runtime(reason)) => {
            tracing::error!(%reason, "operator stopped");
            1
        }
    }
}

enum RunFailure {
    Usage(String),
    Runtime(String),
}

async fn run_inner(args: RunArgs) -> Result<(), RunFailure> {
    let settings = args.controller_settings().map_err(RunFailure::Usage)?;
    let hss = HssClient::new(args.client_config().map_err(RunFailure::Usage)?)
        .map_err(|e| RunFailure::Usage(e.to_string()))?;
    let config = kube_config(&args).await.map_err(RunFailure::Usage)?;
    let client = kube_client(config)
        .map_err(|e| RunFailure::Usage(format!("cannot build the Kubernetes client: {e}")))?;
    let elector = if args.leader_elect {
        let config =
            LeaderElectionConfig::new(&args.lease_name, args.lease_namespace(), default_identity());
        let elector = LeaderElector::new(client.clone(), config)
            .map_err(|e| RunFailure::Usage(format!("leader election: {e}")))?;
        Some(elector)
    } else {
        None
    };
    tracing::info!(
        namespaces = ?args.namespaces,
        concurrency = args.concurrency,
        default_interval = ?settings.policy.default_interval,
        min_interval = ?settings.policy.min_interval,
        leader_elect = args.leader_elect,
        node_watches = args.node_watches,
        node_conditions = settings.node_conditions.enabled,
        node_taints = %settings.node_conditions.taints.problems,
        policy_reports = ?args.policy_reports.format,
        "starting hostrisk-operator"
    );
    let listener = health::bind(args.health_addr).await.map_err(|e| {
        RunFailure::Usage(format!(
            "cannot listen on --health-addr {}: {e}",
            args.health_addr
        ))
    })?;
    let metrics = Metrics::new(MetricsOptions {
        per_host: args.metrics_per_host,
    });
    let ctx = Arc::new(Context::with_metrics(client, hss, settings, metrics));
    let shutdown = CancellationToken::new();
    serve(ctx, &args.namespaces, listener, elector, shutdown).await
}

/// The Kubernetes client configuration: `--kubeconfig` / `--context` when given, else what
/// kubectl would use (KUBECONFIG, ~/.kube/config) or the in-cluster service account.
async fn kube_config(args: &RunArgs) -> Result<kube::Config, String> {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    let options = KubeConfigOptions {
        context: args.context.clone(),
        ..KubeConfigOptions::default()
    };
    match (&args.kubeconfig, &args.context) {
        (Some(path), _) => {
            let kubeconfig = Kubeconfig::read_from(path).map_err(|e| {
                format!(
                    "cannot read --kubeconfig {} (env HOSTRISK_KUBECONFIG): {e}",
                    path.display()
                )
            })?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| kubeconfig_problem(args, &e))
        }
        (None, Some(_)) => kube::Config::from_kubeconfig(&options)
            .await
            .map_err(|e| kubeconfig_problem(args, &e)),
        (None, None) => kube::Config::infer().await.map_err(|e| {
            format!(
                "no Kubernetes configuration (--kubeconfig, KUBECONFIG, ~/.kube/config or \
                 in-cluster): {e}"
            )
        }),
    }
}

fn kubeconfig_problem(args: &RunArgs, error: &kube::config::KubeconfigError) -> String {
    let context = match &args.context {
        Some(name) => format!(" with --context {name} (env HOSTRISK_CONTEXT)"),
        None => String::new(),
    };
    format!("cannot use the kubeconfig{context}: {error}")
}

/// Runs the controllers and the health server until a signal or a task's death. With an
/// elector, the controllers start only once this replica leads, and losing the Lease ends the
/// process (like controller-runtime): a restarted pod contends again from a clean state.
async fn serve(
    ctx: Arc<Context>,
    namespaces: &[String],
    listener: tokio::net::TcpListener,
    elector: Option<LeaderElector>,
    shutdown: CancellationToken,
) -> Result<(), RunFailure> {
    let mut tasks: JoinSet<(&'static str, Result<(), String>)> = JoinSet::new();
    let leadership = elector.as_ref().map(LeaderElector::subscribe);
    if let Some(elector) = elector {
        let stop = shutdown.clone().cancelled_owned();
        tasks.spawn(async move {
            let result = elector.run(stop).await.map_err(|e| e.to_string());
            ("leader election", result)
        });
    }
    {
        let ctx = ctx.clone();
        let namespaces = namespaces.to_vec();
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            let result = run_as_leader(ctx, namespaces, leadership, shutdown).await;
            ("controller", result)
        });
    }
    {
        let (health, metrics) = (ctx.health.clone(), ctx.metrics.clone());
        let stop = shutdown.clone().cancelled_owned();
        tasks.spawn(async move {
            let result = health::serve(listener, health, metrics, stop)
                .await
                .map_err(|e| format!("health server: {e}"));
            ("health server", result)
        });
    }
    {
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            tokio::select! {
                () = shutdown_signal() => tracing::info!("shutdown signal received"),
                () = shutdown.cancelled() => {}
            }
            shutdown.cancel();
            ("signal handler", Ok(()))
        });
    }
    // Whatever ends first decides: a signal is a clean exit, any other task ending is fatal.
    let mut failure = None;
    loop {
        let next = tokio::select! {
            next = tasks.join_next() => next,
            () = grace_expired(&shutdown) => {
                failure.get_or_insert_with(|| "tasks did not stop within the shutdown grace period".to_string());
                tasks.abort_all();
                break;
            }
        };
        let Some(joined) = next else { break };
        let (task, result) = match joined {
            Ok(done) => done,
            Err(join_error) => ("task", Err(format!("a task panicked: {join_error}"))),
        };
        if !shutdown.is_cancelled() {
            failure.get_or_insert_with(|| format!("{task} ended unexpectedly"));
            shutdown.cancel();
        }
        if let Err(message) = result {
            failure.get_or_insert(message);
        }
    }
    match failure {
        Some(message) => Err(RunFailure::Runtime(message)),
        None => {
            tracing::info!("stopped");
            Ok(())
        }
    }
}

/// The controllers, gated by leadership when `leadership` is given: wait (as a live, ready
/// standby) until leading, then run until shutdown or until the Lease is lost.
async fn run_as_leader(
    ctx: Arc<Context>,
    namespaces: Vec<String>,
    leadership: Option<watch::Receiver<LeadershipState>>,
    shutdown: CancellationToken,
) -> Result<(), String> {
    let Some(mut leadership) = leadership else {
        return run_controllers(ctx, namespaces, shutdown)
            .await
            .map_err(|e| e.to_string());
    };
    ctx.health.set_standby(true);
    tracing::info!("waiting for the leader-election Lease");
    let leading = tokio::select! {
        leading = wait_until_leading(&mut leadership) => leading,
        () = shutdown.cancelled() => return Ok(()),
    };
    ctx.health.set_standby(false);
    if let Err(error) = leading {
        return Err(format!("leader election: {error}"));
    }
    let leader_work = shutdown.child_token();
    let controllers = run_controllers(ctx, namespaces, leader_work.clone());
    tokio::pin!(controllers);
    tokio::select! {
        result = &mut controllers => result.map_err(|e| e.to_string()),
        state = wait_until_not_leading(&mut leadership) => {
            leader_work.cancel();
            let stopped = controllers.await.map_err(|e| e.to_string());
            if shutdown.is_cancelled() {
                return stopped;
            }
            tracing::warn!(?state, "lost the leader-election Lease; stopping");
            stopped.and(Err("lost the leader-election Lease".to_string()))
        }
    }
}

/// Completes `SHUTDOWN_GRACE` after shutdown was requested: the last resort against a task that
/// does not stop (Kubernetes would SIGKILL after its own 30 s grace anyway).
async fn grace_expired(shutdown: &CancellationToken) {
    shutdown.cancelled().await;
    tokio::time::sleep(SHUTDOWN_GRACE).await;
}

/// SIGTERM (what Kubernetes sends) or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Harness {
        #[command(flatten)]
        args: RunArgs,
    }

    #[test]
    fn defaults_match_the_contract() {
        let args = Harness::try_parse_from(["run"]).unwrap().args;
        assert!(args.namespaces.is_empty());
        assert_eq!(args.concurrency, 4);
        assert_eq!(args.default_interval, Duration::from_secs(600));
        assert_eq!(args.min_interval, Duration::from_secs(60));
        assert_eq!(args.status_heartbeat, Duration::from_secs(1800));
        assert_eq!(args.hss_calls_per_minute, 5);
        assert_eq!(args.health_addr, "0.0.0.0:8080".parse().unwrap());
        assert!(!args.leader_elect);
        assert_eq!(args.lease_name, "hostrisk-operator");
        assert_eq!(args.log, LogArgs::default());
        assert!(!args.metrics_per_host);
    }

    /// Every flag of `run` reads the environment variable `HOSTRISK_<FLAG>`, derived here from
    /// clap's own definition so a new flag cannot slip through.
    #[test]
    fn every_flag_reads_hostrisk_and_its_name() {
        use clap::CommandFactory;
        let command = Harness::command();
        let mut checked = 0;
        for arg in command.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if matches!(long, "help" | "version") {
                continue;
            }
            let expected = format!("HOSTRISK_{}", long.to_uppercase().replace('-', "_"));
            let env = arg.get_env().and_then(|e| e.to_str());
            assert_eq!(env, Some(expected.as_str()), "--{long}");
            checked += 1;
        }
        assert!(checked >= 18, "only {checked} flags");
    }

    #[test]
    fn health_addr_takes_go_style_port_only() {
        let addr = |value: &str| {
            Harness::try_parse_from(["run", "--health-addr", value]).map(|h| h.args.health_addr)
        };
        assert_eq!(addr(":8080").unwrap(), "0.0.0.0:8080".parse().unwrap());
        assert_eq!(
            addr("127.0.0.1:9090").unwrap(),
            "127.0.0.1:9090".parse().unwrap()
        );
        assert_eq!(addr("[::1]:9090").unwrap(), "[::1]:9090".parse().unwrap());
        let error = addr(":http").unwrap_err().to_string();
        assert!(error.contains("such as 0.0.0.0:8080"), "{error}");
        assert!(addr("8080").is_err());
    }

    #[test]
    fn iam_endpoint_must_be_safe_to_send_passwords_to() {
        let settings = |value: &str| {
            Harness::try_parse_from(["run", "--iam-endpoint", value])
                .unwrap()
                .args
                .controller_settings()
        };
        assert_eq!(
            settings("https://iam.cloud.example.com/")
                .unwrap()
                .iam_endpoint
                .map(String::from),
            Some("https://iam.cloud.example.com/".to_string())
        );
        assert!(settings("http://127.0.0.1:9000/").is_ok(), "loopback http");
        for refused in [
            "http://iam.cloud.example.com/",
            "https://user:pw@iam.cloud.example.com/",
            "https://iam.cloud.example.com/?x=1",
            "iam.cloud.example.com",
        ] {
            let error = settings(refused).unwrap_err();
            assert!(error.contains("--iam-endpoint"), "{refused}: {error}");
        }
        let none = Harness::try_parse_from(["run"]).unwrap().args;
        assert_eq!(none.controller_settings().unwrap().iam_endpoint, None);
    }

    #[test]
    fn lists_and_durations_parse() {
        let args = Harness::try_parse_from([
            "run",
            "--namespace",
            "a,b",
            "--namespace=c",
            "--allowed-endpoints",
            "http://127.0.0.1:9000,https://hss.internal",
            "--default-interval",
            "1h30m",
            "--log-format",
            "json",
        ])
        .unwrap()
        .args;
        assert_eq!(args.namespaces, ["a", "b", "c"]);
        assert_eq!(args.default_interval, Duration::from_secs(5400));
        let settings = args.controller_settings().unwrap();
        assert_eq!(
            settings.policy.allowed_endpoint_prefixes,
            ["http://127.0.0.1:9000", "https://hss.internal"]
        );
        assert!(Harness::try_parse_from(["run", "--default-interval", "10"]).is_err());
        assert!(Harness::try_parse_from(["run", "--concurrency", "0"]).is_err());
    }

    #[test]
    fn default_interval_is_raised_to_the_floor() {
        let args = Harness::try_parse_from(["run", "--default-interval", "30s"])
            .unwrap()
            .args;
        let settings = args.controller_settings().unwrap();
        assert_eq!(settings.policy.default_interval, Duration::from_secs(60));
    }

    #[test]
    fn zero_durations_are_refused_naming_the_flag_and_the_fix() {
        for (flag, env) in [
            ("--min-interval", "HOSTRISK_MIN_INTERVAL"),
            ("--status-heartbeat", "HOSTRISK_STATUS_HEARTBEAT"),
        ] {
            let args = Harness::try_parse_from(["run", flag, "0s"]).unwrap().args;
            let err = args.controller_settings().unwrap_err();
            assert!(err.starts_with(flag), "{err}");
            assert!(err.contains(env), "{err}");
            assert!(err.contains("set a duration such as"), "{err}");
        }
    }
}
