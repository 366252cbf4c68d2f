//! Starting the demo's world: the HSS simulator and the stand-in API server on loopback, then
//! the CRD and the example resources applied over HTTP with a real kube client.

use std::net::SocketAddr;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;

use super::manifests::{demo_documents, example_host_id, to_yaml, DemoHosts};
use super::DemoError;
use hostrisk_operator::crd::render::crd_yaml;
use hostrisk_operator::hss::model::{AgentStatus, ProtectStatus};
use hostrisk_sim::hss::{HssSimulator, SimConfig, DEMO_ENTERPRISE_PROJECT_ID};
use hostrisk_sim::kube::StandinApiServer;

/// Name of the CRD as stored.
pub const CRD_NAME: &str = "hostriskwatches.hostrisk.io";

/// The running servers and what was applied to them.
pub struct DemoWorld {
    pub hss: HssSimulator,
    pub kube: StandinApiServer,
    /// `spec.endpoint` of every watch: the simulator's URL.
    pub endpoint: String,
    pub hosts: DemoHosts,
    /// `Kind namespace/name` of everything applied, in order.
    pub applied: Vec<String>,
}

/// Starts both servers on free loopback ports and applies the CRD and the demo's resources.
pub async fn start_world() -> Result<DemoWorld, DemoError> {
    let hss = HssSimulator::start(SimConfig::default()).await?;
    let kube = StandinApiServer::start(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let endpoint = hss.base_url().as_str().trim_end_matches('/').to_string();
    let hosts = pick_hosts(&hss)?;

    let mut applied = Vec::new();
    for object in kube.apply_yaml_documents(&crd_yaml()).await? {
        applied.push(describe(&object));
    }
    let documents = demo_documents(&endpoint, hss.project_id(), &hosts)?;
    for object in kube.apply_yaml_documents(&to_yaml(&documents)?).await? {
        applied.push(describe(&object));
    }
    Ok(DemoWorld {
        hss,
        kube,
        endpoint,
        hosts,
        applied,
    })
}

/// The CRD as the API server serves it (its printer columns drive the table).
pub async fn read_crd(client: &kube::Client) -> Result<CustomResourceDefinition, DemoError> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    Ok(crds.get(CRD_NAME).await?)
}

/// Hosts for each watch, from the simulator's fleet (the demo hosts have readable ids; the
/// generated ones are drawn from a fixed seed, so every run shows the same fleet).
fn pick_hosts(hss: &HssSimulator) -> Result<DemoHosts, DemoError> {
    let known = hss.host_ids();
    let require = |id: &str| {
        known
            .iter()
            .any(|k| k == id)
            .then(|| id.to_string())
            .ok_or_else(|| DemoError::Fleet(format!("the simulator has no host {id}")))
    };
    let web = vec![
        require("demo-web-01")?,
        require("demo-db-01")?,
        require("demo-batch-01")?,
    ];
    let mut data: Vec<String> = hss
        .hosts()
        .into_iter()
        .filter(|h| {
            !h.host_id().starts_with("demo-")
                && h.enterprise_project_id == "0"
                && h.risk.agent_status == Some(AgentStatus::Online)
                && h.risk.protect_status == Some(ProtectStatus::Opened)
        })
        .take(3)
        .map(|h| h.host_id().to_string())
        .collect();
    if data.len() < 3 {
        return Err(DemoError::Fleet(
            "fewer than 3 online, protected hosts in the generated fleet".into(),
        ));
    }
    data.push(require("demo-new-01")?);
    let batch: Vec<String> = hss
        .hosts()
        .into_iter()
        .filter(|h| h.enterprise_project_id == DEMO_ENTERPRISE_PROJECT_ID)
        .map(|h| h.host_id().to_string())
        .collect();
    if batch.is_empty() {
        return Err(DemoError::Fleet(format!(
            "no host in enterprise project {DEMO_ENTERPRISE_PROJECT_ID}"
        )));
    }
    let unknown = example_host_id()?;
    if known.contains(&unknown) {
        return Err(DemoError::Fleet(format!(
            "example host id {unknown} unexpectedly exists in the fleet"
        )));
    }
    Ok(DemoHosts {
        web,
        unknown,
        data,
        batch,
    })
}

fn describe(object: &kube::api::DynamicObject) -> String {
    let kind = object
        .types
        .as_ref()
        .map(|t| t.kind.as_str())
        .unwrap_or("Object");
    let name = object.metadata.name.as_deref().unwrap_or_default();
    match object.metadata.namespace.as_deref() {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}
