//! The benchmark's world: the HSS simulator holding exactly the workload's hosts, the stand-in
//! API server with the CRD, the namespaces and one credential Secret per namespace (all the
//! same AK/SK, so every watch falls in one HSS scope and one quota), and the creation of the
//! watches over HTTP with a real kube client.

use std::net::SocketAddr;
use std::time::Instant;

use futures::{stream, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{ObjectMeta, PostParams};
use kube::Api;

use super::observe::Timeline;
use super::workload::Workload;
use super::BenchError;
use hostrisk_operator::crd::render::crd_yaml;
use hostrisk_operator::crd::{CredentialsSecretRef, HostRiskWatch, HostRiskWatchSpec};
use hostrisk_sim::hss::{
    generate_fleet, FleetSpec, HssSimulator, SimConfig, DEMO_ACCESS_KEY, DEMO_SECRET_KEY,
};
use hostrisk_sim::kube::StandinApiServer;

/// Name of the credential Secret in every benchmark namespace.
pub const SECRET_NAME: &str = "hss-credentials";

/// Creates in flight at once: enough to keep the stand-in busy without a thundering herd.
const CREATE_CONCURRENCY: usize = 16;

/// Changes the stand-in keeps for watch resumption. The default (1000) would hold a copy of a
/// thousand 100-host objects in memory for nothing; a real API server keeps them in etcd, not
/// in the operator's process.
const STANDIN_HISTORY: usize = 100;

/// The running servers.
pub struct BenchWorld {
    pub hss: HssSimulator,
    pub kube: StandinApiServer,
    /// `spec.endpoint` of every watch.
    pub endpoint: String,
}

/// Id of fleet host `index` (indices as in [`Workload::host_indices`]).
pub fn host_id(index: usize) -> String {
    format!("bench-host-{index:07}")
}

/// Namespace of watch `w`.
pub fn namespace_of(w: usize, per_namespace: usize) -> String {
    format!("bench-{:03}", w / per_namespace.max(1))
}

/// Name of watch `w`.
pub fn watch_name(w: usize) -> String {
    format!("w-{w:05}")
}

/// Starts both servers and applies the CRD, namespaces and Secrets.
pub async fn start_world(
    workload: &Workload,
    per_namespace: usize,
    calls_per_minute: u32,
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
    let kube = StandinApiServer::start(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    kube.set_history_limit(STANDIN_HISTORY);
    let endpoint = hss.base_url().as_str().trim_end_matches('/').to_string();

    kube.apply_yaml_documents(&crd_yaml()).await?;
    let client = kube.client().await?;
    let namespaces = workload.watches.div_ceil(per_namespace.max(1));
    for n in 0..namespaces {
        let name = namespace_of(n * per_namespace.max(1), per_namespace);
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
        kube,
        endpoint,
    })
}

/// Where the watches point: the simulator's URL and project.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HssTarget {
    pub endpoint: String,
    pub project_id: String,
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
            credentials_secret_ref: CredentialsSecretRef {
                name: SECRET_NAME.to_string(),
            },
            interval: Some(interval.to_string()),
            suspend: false,
        },
    );
    watch.metadata.namespace = Some(namespace_of(w, per_namespace));
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
    let namespace = namespace_of(0, per_namespace);
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
            let namespace = namespace_of(w, per_namespace);
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
        }
    }

    /// What the measurement reads: HSS requests and 429s, status writes received.
    pub fn counters(&self) -> WorldCounters {
        let hss = self.hss.counters();
        WorldCounters {
            hss_requests: hss.hss_requests,
            throttled: hss.throttled,
            status_writes: self.kube.status_writes("hostriskwatches"),
        }
    }

    pub async fn shutdown(self) {
        self.hss.shutdown().await;
        self.kube.shutdown().await;
    }
}

/// Counters of the world, read at the start and end of the measured sweep.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WorldCounters {
    /// `ListHostsRisk` requests the simulator received.
    pub hss_requests: u64,
    /// 429 answers it sent.
    pub throttled: u64,
    /// Writes to `hostriskwatches/status` the API server received.
    pub status_writes: u64,
}
