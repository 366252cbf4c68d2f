//! The real controller, started in-process against the stand-in API server, configured like
//! `hostrisk-operator run --allowed-endpoints <simulator URL> --iam-endpoint <simulator URL>
//! --workload-identity-audiences <aud> --workload-identity-providers <idp> --node-watches
//! --node-conditions --node-conditions-namespaces security --node-taints at-risk
//! --node-taint-after 0s --node-taint-max 1 --policy-reports openreports` (plain `http://`
//! endpoints are refused unless listed; the keyless example's audience and identity provider;
//! the Nodes of the stand-in watched for the node-backed watch, which sets their conditions and
//! taints those at risk, one at a time; a Report per watch, the OpenReports CRD installed)
//! with every other setting at its default, and its `/metrics`, `/livez` and `/readyz` served
//! like `run --health-addr` does.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::setup::DemoWorld;
use super::DemoError;
use hostrisk_operator::controller::{
    health, run_controllers, Context, ControllerSettings, RunError, WorkloadIdentityPolicy,
};
use hostrisk_operator::crd::validation::ValidationPolicy;
use hostrisk_operator::hss::{ClientConfig, HssClient};
use hostrisk_operator::nodes::policy::NodeConditionPolicy;
use hostrisk_operator::nodes::taints::{Problem, ProblemSet, TaintBudget, TaintPolicy};
use hostrisk_operator::reports::{ReportFormat, ReportSettings};

/// How long the controller may take to finish its reconciles in flight after shutdown.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// The controller task and its health server.
pub struct RunningController {
    task: JoinHandle<Result<(), RunError>>,
    health: JoinHandle<std::io::Result<()>>,
}

/// Starts the controllers over all namespaces with a fresh `kube::Client` for the stand-in, and
/// the health server on `health_listener`; both stop when `shutdown` is cancelled.
pub fn start(
    world: &DemoWorld,
    client: kube::Client,
    health_listener: tokio::net::TcpListener,
    shutdown: CancellationToken,
) -> Result<RunningController, DemoError> {
    let settings = ControllerSettings {
        policy: ValidationPolicy {
            allowed_endpoint_prefixes: vec![world.endpoint.clone()],
            ..ValidationPolicy::default()
        },
        instance: "demo".to_string(),
        iam_endpoint: Some(world.hss.iam_url()),
        workload_identity: WorkloadIdentityPolicy {
            audiences: vec![world.keyless.audience.clone()],
            identity_providers: vec![world.keyless.identity_provider_id.clone()],
        },
        node_watches: true,
        policy_reports: ReportSettings {
            format: Some(ReportFormat::OpenReports),
            ..ReportSettings::default()
        },
        node_conditions: NodeConditionPolicy {
            enabled: true,
            namespaces: vec![super::manifests::names::NAMESPACE.to_string()],
            taints: TaintPolicy {
                problems: ProblemSet::of([Problem::AtRisk]),
                after: Duration::ZERO,
                budget: TaintBudget::Nodes(1),
                ..TaintPolicy::default()
            },
        },
        ..ControllerSettings::default()
    };
    let hss = HssClient::new(ClientConfig::default())
        .map_err(|error| DemoError::Controller(error.to_string()))?;
    let ctx = Arc::new(Context::new(client, hss, settings));
    let health = tokio::spawn(health::serve(
        health_listener,
        ctx.health.clone(),
        ctx.metrics.clone(),
        shutdown.clone().cancelled_owned(),
    ));
    let task = tokio::spawn(async move { run_controllers(ctx, Vec::new(), shutdown).await });
    Ok(RunningController { task, health })
}

impl RunningController {
    /// Waits for the controller to end after its shutdown token was cancelled.
    pub async fn stop(self) -> Result<(), DemoError> {
        // The health server ends with the shutdown token; its failure is not the demo's.
        if let Ok(Ok(Err(error))) = tokio::time::timeout(STOP_GRACE, self.health).await {
            tracing::warn!(%error, "demo health server failed");
        }
        match tokio::time::timeout(STOP_GRACE, self.task).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(error))) => Err(DemoError::ControllerStopped(error.to_string())),
            Ok(Err(join)) => Err(DemoError::ControllerStopped(join.to_string())),
            Err(_) => Err(DemoError::ControllerStopped(format!(
                "still running {}s after shutdown",
                STOP_GRACE.as_secs()
            ))),
        }
    }
}
