//! Starting the demo's world: the HSS simulator and the stand-in API server on loopback, then
//! the CRD, the example resources and the demo's Nodes applied over HTTP with a real kube
//! client, and the
//! stand-in's ServiceAccount issuer registered as an identity provider of the simulated IAM
//! (what an administrator does for keyless credentials on CCE).

use std::net::SocketAddr;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;

use super::manifests::{
    demo_documents, example_host_id, keyless_identity, to_yaml, DemoHosts, KeylessIdentity,
};
use super::DemoError;
use hostrisk_operator::crd::render::crd_yaml;
use hostrisk_operator::hss::model::{AgentStatus, ProtectStatus};
use hostrisk_sim::hss::{
    HssSimulator, IdentityProviderConfig, JwksSource, JwksUrl, SimConfig,
    DEMO_ENTERPRISE_PROJECT_ID,
};
use hostrisk_sim::kube::{PolicyReportApi, StandinApiServer, SERVICE_ACCOUNT_ISSUER};

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
    /// The identity provider and audience of the keyless watch, registered with the
    /// simulator's IAM and allowed in the operator.
    pub keyless: KeylessIdentity,
}

/// The user group the keyless watch's ServiceAccount is mapped to.
pub const KEYLESS_GROUP: &str = "hss-readers";

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
    // The OpenReports CRDs as their project publishes them: the operator writes a Report per
    // watch.
    kube.install_policy_report_crds(PolicyReportApi::OpenReports)
        .await?;
    applied.push("CustomResourceDefinition reports.openreports.io".to_string());
    let documents = demo_documents(&endpoint, hss.project_id(), &hosts)?;
    for object in kube.apply_yaml_documents(&to_yaml(&documents)?).await? {
        applied.push(describe(&object));
    }
    // The identity provider: the stand-in's issuer, its keys at /openid/v1/jwks (fetched now),
    // the audience as client id, and the keyless ServiceAccount mapped to a group.
    let keyless = keyless_identity()?;
    let mut idp = IdentityProviderConfig::new(
        keyless.identity_provider_id.clone(),
        SERVICE_ACCOUNT_ISSUER,
        keyless.audience.clone(),
        serde_json::json!({"keys": []}),
    )
    .with_rule(keyless.subject(), KEYLESS_GROUP);
    idp.jwks = JwksSource::Url(JwksUrl::new(format!("{}/openid/v1/jwks", kube.url())));
    hss.set_identity_provider(idp).await?;
    Ok(DemoWorld {
        hss,
        kube,
        endpoint,
        hosts,
        applied,
        keyless,
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
    // The Nodes' hosts: the two workers are web-tier's first hosts (so the script's changes
    // show on both watches), the control plane's its third; a worker joins on demo-new-01.
    let nodes = web.clone();
    let joining = require("demo-new-01")?;
    Ok(DemoHosts {
        web,
        unknown,
        data,
        batch,
        nodes,
        joining,
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
