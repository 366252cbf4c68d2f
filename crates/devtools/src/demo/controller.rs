//! The real controller, started in-process against the stand-in API server, configured like
//! `hostrisk-operator run --allowed-endpoints <simulator URL>` (plain `http://` endpoints are
//! refused unless listed) with every other setting at its default.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::setup::DemoWorld;
use super::DemoError;
use hostrisk_operator::controller::{run_controllers, Context, ControllerSettings, RunError};
use hostrisk_operator::crd::validation::ValidationPolicy;
use hostrisk_operator::hss::{ClientConfig, HssClient};

/// How long the controller may take to finish its reconciles in flight after shutdown.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// The controller task.
pub struct RunningController {
    task: JoinHandle<Result<(), RunError>>,
}

/// Starts the controllers over all namespaces with a fresh `kube::Client` for the stand-in.
pub fn start(
    world: &DemoWorld,
    client: kube::Client,
    shutdown: CancellationToken,
) -> Result<RunningController, DemoError> {
    let settings = ControllerSettings {
        policy: ValidationPolicy {
            allowed_endpoint_prefixes: vec![world.endpoint.clone()],
            ..ValidationPolicy::default()
        },
        instance: "demo".to_string(),
        ..ControllerSettings::default()
    };
    let hss = HssClient::new(ClientConfig::default())
        .map_err(|error| DemoError::Controller(error.to_string()))?;
    let ctx = Arc::new(Context::new(client, hss, settings));
    let task = tokio::spawn(async move { run_controllers(ctx, Vec::new(), shutdown).await });
    Ok(RunningController { task })
}

impl RunningController {
    /// Waits for the controller to end after its shutdown token was cancelled.
    pub async fn stop(self) -> Result<(), DemoError> {
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
