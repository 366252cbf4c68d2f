//! The benchmark's world: the HSS simulator holding exactly the workload's hosts, the API server
//! (the stand-in, or a real kube-apiserver named by a kubeconfig) with the CRD, the namespaces and
//! one credential Secret per namespace (all the same AK/SK, so every watch falls in one HSS scope
//! and one quota), and the creation of the watches over HTTP with a real kube client.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::{stream, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{conditions, wait::await_condition};
use kube::Api;

use super::observe::Timeline;
use super::workload::Workload;
use super::BenchError;
use hostrisk_operator::crd::render::crd_yaml;
use hostrisk_operator::crd::{CredentialsSecretRef, HostRiskWatch, HostRiskWatchSpec};
use hostrisk_operator::reports::ReportFormat;
use hostrisk_sim::hss::{
    generate_fleet, FleetSpec, HssSimulator, SimConfig, DEMO_ACCESS_KEY, DEMO_SECRET_KEY,
};
use hostrisk_sim::kube::{PolicyReportApi, StandinApiServer};

/// Name of the credential Secret in every benchmark namespace.
pub const SECRET_NAME: &str = "hss-credentials";

/// Creates in flight at once: enough to keep the stand-in busy without a thundering herd.
const CREATE_CONCURRENCY: usize = 16;

/// Changes the stand-in keeps for watch resumption. The default (1000) would hold a copy of a
/// thousand 100-host objects in memory for nothing; a real API server keeps them in etcd, not
/// in the operator's process.
const STANDIN_HISTORY: usize = 100;

/// How long a real API server may take to establish the CRD.
const CRD_ESTABLISHED_TIMEOUT: Duration = Duration::from_secs(60);

/// The API server of the world.
pub enum WorldApi {
    /// The stand-in, started by the world.
    Standin(StandinApiServer),
    /// A real API server; the world's namespaces are deleted at shutdown.
    External {
        kubeconfig: PathBuf,
        client: kube::Client,
        namespaces: Vec<String>,
    },
}

/// The running servers.
pub struct BenchWorld {
    pub hss: HssSimulator,
    pub api: WorldApi,
    /// `spec.endpoint` of every watch.
    pub endpoint: String,
    /// Prefix of the namespaces the watches live in.
    pub namespace_prefix: String,
}

/// Id of fleet host `index` (indices as in [`Workload::host_indices`]).
pub fn host_id(index: usize) -> String {
    format!("bench-host-{index:07}")
}

/// Namespace of watch `w`.
pub fn namespace_of(prefix: &str, w: usize, per_namespace: usize) -> String {
    format!("{prefix}-{:03}", w / per_namespace.max(1))
}

/// A kube client (and its configuration) from a kubeconfig file, its current context.
pub async fn kubeconfig_client(path: &Path) -> Result<(kube::Config, kube::Client), BenchError> {
    let kubeconfig = Kubeconfig::read_from(path)
        .map_err(|e| BenchError::Options(format!("cannot read {}: {e}", path.display())))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| BenchError::Options(format!("unusable kubeconfig {}: {e}", path.display())))?;
    let client = kube::Client::try_from(config.clone())?;
    Ok((config, client))
}

/// Name of watch `w`.
pub fn watch_name(w: usize) -> String {
    format!("w-{w:05}")
}

/// [`start_world`] with the benchmark's options.
pub async fn start_world_for(options: &super::BenchOptions) -> Result<BenchWorld, BenchError> {
    let world = start_world(
        &options.workload()?,
        options.watches_per_namespace,
        options.calls_per_minute(),
        options.kubeconfig.as_deref(),
        &options.namespace_prefix,
    )
    .await?;
    if let Some(format) = options.policy_reports {
        install_report_crds(&world, format).await?;
    }
    Ok(world)
}

/// The policy-report CRDs of `format` (as their project publishes them), unless a real API
/// server has them already (from Kyverno, say: those stay as they are).
async fn install_report_crds(world: &BenchWorld, format: ReportFormat) -> Result<(), BenchError> {
    let api = match format {
        ReportFormat::OpenReports => PolicyReportApi::OpenReports,
        ReportFormat::WgPolicyK8s => PolicyReportApi::WgPolicyK8s,
    };
    let client = match &world.api {
        WorldApi::Standin(kube) => {
            kube.install_policy_report_crds(api).await?;
            return Ok(());
        }
        WorldApi::External { client, .. } => client.clone(),
    };
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for file in api.crds() {
        if crds.get_opt(file.name).await?.is_some() {
            continue;
        }
        let crd: CustomResourceDefinition = serde_yaml::from_str(file.yaml)
            .map_err(|e| BenchError::Options(format!("{}: {e}", file.file)))?;
        crds.create(&PostParams::default(), &crd).await?;
        tokio::time::timeout(
            CRD_ESTABLISHED_TIMEOUT,
            await_condition(crds.clone(), file.name, conditions::is_crd_established()),
        )
        .await
        .map_err(|_| BenchError::Options(format!("CRD {} not established in time", file.name)))?
        .map_err(|e| BenchError::Options(format!("waiting for CRD {}: {e}", file.name)))?;
    }
    Ok(())
}

/// Starts the simulator (and the stand-in unless `kubeconfig` names a real API server) and
/// applies the CRD, namespaces and Secrets.
pub async fn start_world(
    workload: &Workload,
    per_namespace: usize,
    calls_per_minute: u32,
    kubeconfig: Option<&Path>,
    namespace_prefix: &str,
) -> Result<BenchWorld, BenchError> {
    // Every host in the default enterprise project, which a watch without
    // enterpriseProjectId queries; the states keep the generator's realistic mix, the ids are
    // derived from the index so the operator's side needs no copy of the fleet.
    let mut fleet = generate_fleet(FleetSpec {
        hosts: workload.unique_hosts(),
        seed: 5,
    });
    for (index, host) in fleet.iter_mut().enumerate() {
        host.enterprise_project_id = "0".to_string();
        host.risk.host_id = Some(host_id(index));
    }
    let mut config = SimConfig::empty();
    config.explicit_hosts = fleet;
    // The simulator enforces the same per-identity quota the operator is told about.
    config.faults.quota_per_minute = calls_per_minute;
    let hss = HssSimulator::start(config).await?;
    let endpoint = hss.base_url().as_str().trim_end_matches('/').to_string();
    let (client, mut api) = match kubeconfig {
        None => {
            let kube = StandinApiServer::start(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
            kube.set_history_limit(STANDIN_HISTORY);
            kube.apply_yaml_documents(&standin_crd_yaml()?).await?;
            (kube.client().await?, WorldApi::Standin(kube))
        }
        Some(path) => {
            let (_, client) = kubeconfig_client(path).await?;
            apply_crd(&client).await?;
            let api = WorldApi::External {
                kubeconfig: path.to_path_buf(),
                client: client.clone(),
                namespaces: Vec::new(),
            };
            (client, api)
        }
    };
    let namespaces = workload.watches.div_ceil(per_namespace.max(1));
    for n in 0..namespaces {
        let name = namespace_of(namespace_prefix, n * per_namespace.max(1), per_namespace);
        if let WorldApi::External { namespaces, .. } = &mut api {
            namespaces.push(name.clone());
        }
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await?;
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(SECRET_NAME.to_string()),
                namespace: Some(name.clone()),
                ..ObjectMeta::default()
            },
            string_data: Some(
                [
                    ("accessKey".to_string(), DEMO_ACCESS_KEY.to_string()),
                    ("secretKey".to_string(), DEMO_SECRET_KEY.to_string()),
                ]
                .into(),
            ),
            ..Secret::default()
        };
        Api::<Secret>::namespaced(client.clone(), &name)
            .create(&PostParams::default(), &secret)
            .await?;
    }
    Ok(BenchWorld {
        hss,
        api,
        endpoint,
        namespace_prefix: namespace_prefix.to_string(),
    })
}

/// The CRD for the stand-in world: as generated, less the `spec.interval` floor rule (1m), so
/// a short benchmark may poll faster (the operator's `--min-interval` allows it). The stand-in
/// validates like a real API server, which refuses such watches: `--envtest` and
/// `--kubeconfig` runs keep the CRD as is and need intervals of at least 1m.
fn standin_crd_yaml() -> Result<String, BenchError> {
    let bad = |e: &dyn std::fmt::Display| {
        BenchError::Options(format!("the generated CRD does not parse: {e}"))
    };
    let mut crd: serde_json::Value = serde_yaml::from_str(&crd_yaml()).map_err(|e| bad(&e))?;
    if let Some(versions) = crd
        .pointer_mut("/spec/versions")
        .and_then(|v| v.as_array_mut())
    {
        for version in versions {
            if let Some(interval) = version
                .pointer_mut("/schema/openAPIV3Schema/properties/spec/properties/interval")
                .and_then(|i| i.as_object_mut())
            {
                interval.remove("x-kubernetes-validations");
            }
        }
    }
    serde_yaml::to_string(&crd).map_err(|e| bad(&e))
}

/// Applies the CRD server-side to a real API server and waits until it is established.
async fn apply_crd(client: &kube::Client) -> Result<(), BenchError> {
    let crd: CustomResourceDefinition = serde_yaml::from_str(&crd_yaml())
        .map_err(|e| BenchError::Options(format!("the generated CRD does not parse: {e}")))?;
    let name = crd.metadata.name.clone().unwrap_or_default();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch(
        &name,
        &PatchParams::apply("hostrisk-bench").force(),
        &Patch::Apply(&crd),
    )
    .await?;
    tokio::time::timeout(
        CRD_ESTABLISHED_TIMEOUT,
        await_condition(crds, &name, conditions::is_crd_established()),
    )
    .await
    .map_err(|_| BenchError::Options(format!("CRD {name} not established in time")))?
    .map_err(|e| BenchError::Options(format!("waiting for CRD {name}: {e}")))?;
    Ok(())
}

/// Where the watches point (the simulator's URL and project) and where they live.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HssTarget {
    pub endpoint: String,
    pub project_id: String,
    pub namespace_prefix: String,
}

/// The watch object for index `w`.
pub fn watch(
    target: &HssTarget,
    workload: &Workload,
    w: usize,
    per_namespace: usize,
    interval: &str,
) -> HostRiskWatch {
    let mut watch = HostRiskWatch::new(
        &watch_name(w),
        HostRiskWatchSpec {
            project_id: target.project_id.clone(),
            region: None,
            endpoint: Some(target.endpoint.clone()),
            enterprise_project_id: None,
            host_ids: workload.host_indices(w).into_iter().map(host_id).collect(),
            node_selector: None,
            node_host_id_from: None,
            credentials_secret_ref: Some(CredentialsSecretRef {
                name: SECRET_NAME.to_string(),
            }),
            workload_identity: None,
            interval: Some(interval.to_string()),
            suspend: false,
        },
    );
    watch.metadata.namespace = Some(namespace_of(&target.namespace_prefix, w, per_namespace));
    watch
}

/// Name of probe watch `p` (see `drive`).
pub fn probe_name(p: usize) -> String {
    format!("probe-{p:05}")
}

/// Creates probe watch `p` in the first namespace, listing the hosts of watch `p` (so the
/// unique ids do not change); returns when the create was sent.
pub async fn create_probe(
    client: &kube::Client,
    target: &HssTarget,
    workload: &Workload,
    p: usize,
    per_namespace: usize,
    interval: &str,
    timeline: &Timeline,
) -> Result<Instant, BenchError> {
    let mut probe = watch(
        target,
        workload,
        p % workload.watches,
        per_namespace,
        interval,
    );
    let namespace = namespace_of(&target.namespace_prefix, 0, per_namespace);
    probe.metadata.name = Some(probe_name(p));
    probe.metadata.namespace = Some(namespace.clone());
    let created = Instant::now();
    timeline.created(&namespace, &probe_name(p), created);
    Api::<HostRiskWatch>::namespaced(client.clone(), &namespace)
        .create(&PostParams::default(), &probe)
        .await?;
    Ok(created)
}

/// Creates every watch, a few at a time, noting each create time in `timeline`.
pub async fn create_watches(
    client: &kube::Client,
    target: &HssTarget,
    workload: &Workload,
    per_namespace: usize,
    interval: &str,
    timeline: &Timeline,
) -> Result<(), BenchError> {
    stream::iter(0..workload.watches)
        .map(|w| {
            let watch = watch(target, workload, w, per_namespace, interval);
            let namespace = namespace_of(&target.namespace_prefix, w, per_namespace);
            let client = client.clone();
            let timeline = timeline.clone();
            async move {
                let api: Api<HostRiskWatch> = Api::namespaced(client, &namespace);
                timeline.created(&namespace, &watch_name(w), Instant::now());
                api.create(&PostParams::default(), &watch).await?;
                Ok::<(), BenchError>(())
            }
        })
        .buffer_unordered(CREATE_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

impl BenchWorld {
    pub fn target(&self) -> HssTarget {
        HssTarget {
            endpoint: self.endpoint.clone(),
            project_id: self.hss.project_id().to_string(),
            namespace_prefix: self.namespace_prefix.clone(),
        }
    }

    /// A kube client for the world's API server (the driver's: it is not the operator's).
    pub async fn client(&self) -> Result<kube::Client, BenchError> {
        match &self.api {
            WorldApi::Standin(kube) => Ok(kube.client().await?),
            WorldApi::External { client, .. } => Ok(client.clone()),
        }
    }

    /// What the measurement reads of the world: HSS requests and 429s.
    pub fn counters(&self) -> WorldCounters {
        let hss = self.hss.counters();
        WorldCounters {
            hss_requests: hss.hss_requests,
            throttled: hss.throttled,
        }
    }

    /// Stops the servers; on a real API server, deletes the world's namespaces (and with them
    /// the watches and Secrets).
    pub async fn shutdown(self) {
        self.hss.shutdown().await;
        match self.api {
            WorldApi::Standin(kube) => kube.shutdown().await,
            WorldApi::External {
                client, namespaces, ..
            } => {
                let api: Api<Namespace> = Api::all(client);
                for namespace in namespaces {
                    if let Err(error) = api.delete(&namespace, &DeleteParams::default()).await {
                        tracing::warn!(%namespace, %error, "could not delete a benchmark namespace");
                    }
                }
            }
        }
    }
}

/// Counters of the world, read at the start and end of the measured sweep.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WorldCounters {
    /// `ListHostsRisk` requests the simulator received.
    pub hss_requests: u64,
    /// 429 answers it sent.
    pub throttled: u64,
}
