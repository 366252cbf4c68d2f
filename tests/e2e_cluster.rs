//! Opt-in end-to-end test against a real cluster: set `HOSTRISK_E2E_KUBECONFIG` to a kubeconfig
//! file (kind, k3d, minikube...). Otherwise the test prints a skip message and passes.
//!
//! It applies `crds/` (server-side apply), starts the HSS simulator on loopback (only the
//! in-process controller talks to it, so the cluster needs no route to it), runs the real
//! controller against the cluster in a fresh namespace, checks the main story, and deletes the
//! namespace. The CRD is left installed when it existed before, and deleted when this test
//! created it.
//!
//! The real API server enforces the schema's 1m interval floor, so the story uses the refresh
//! annotation to poll on demand instead of short intervals.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hostrisk_operator::controller::{run_controllers, Context, ControllerSettings};
use hostrisk_operator::crd::validation::ValidationPolicy;
use hostrisk_operator::crd::{HostRiskWatch, HostRiskWatchStatus};
use hostrisk_operator::hss::model::DetectResult;
use hostrisk_operator::hss::{ClientConfig, HssClient};
use hostrisk_sim::hss::{
    Faults, HssSimulator, SimConfig, DEMO_ACCESS_KEY, DEMO_PROJECT_ID, DEMO_SECRET_KEY,
};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{conditions, wait::await_condition};
use kube::Api;
use serde_json::json;
use tokio_util::sync::CancellationToken;

const ENV: &str = "HOSTRISK_E2E_KUBECONFIG";
const CRD_NAME: &str = "hostriskwatches.hostrisk.io";

async fn cluster_client(path: &str) -> kube::Client {
    let kubeconfig = Kubeconfig::read_from(path).expect("readable kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("usable kubeconfig");
    kube::Client::try_from(config).expect("client")
}

/// Applies every CRD in `crds/` (server-side apply) and waits until each is established;
/// returns whether the HostRiskWatch CRD existed before.
async fn apply_crds(client: &kube::Client) -> bool {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let existed = crds.get_opt(CRD_NAME).await.unwrap().is_some();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/crds");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no CRDs in {dir}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value: serde_json::Value = serde::Deserialize::deserialize(doc).unwrap();
            if value.is_null() {
                continue;
            }
            let crd: CustomResourceDefinition = serde_json::from_value(value).unwrap();
            let name = crd.metadata.name.clone().expect("CRD name");
            crds.patch(
                &name,
                &PatchParams::apply("hostrisk-e2e").force(),
                &Patch::Apply(&crd),
            )
            .await
            .unwrap();
            tokio::time::timeout(
                Duration::from_secs(30),
                await_condition(crds.clone(), &name, conditions::is_crd_established()),
            )
            .await
            .expect("CRD established in 30s")
            .unwrap();
        }
    }
    existed
}

async fn wait_for(
    api: &Api<HostRiskWatch>,
    name: &str,
    what: &str,
    check: impl Fn(&HostRiskWatch, &HostRiskWatchStatus) -> bool,
) -> HostRiskWatch {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let watch = api.get(name).await.unwrap();
        if let Some(status) = &watch.status {
            if check(&watch, status) {
                return watch;
            }
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {:#?}",
            watch.status
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn condition_is(status: &HostRiskWatchStatus, type_: &str, value: &str, reason: &str) -> bool {
    status
        .conditions
        .iter()
        .any(|c| c.type_ == type_ && c.status == value && c.reason == reason)
}

fn is_ready(watch: &HostRiskWatch, status: &HostRiskWatchStatus) -> bool {
    condition_is(status, "Ready", "True", "Synced")
        && status.observed_generation == watch.metadata.generation
}

fn secret(name: &str, keys: &[(&str, &str)]) -> Secret {
    let data: serde_json::Map<String, serde_json::Value> = keys
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    serde_json::from_value(json!({"metadata": {"name": name}, "stringData": data})).unwrap()
}

/// Deletes the test namespace (and the CRD when this test created it) when the test ends,
/// passed or failed.
struct Cleanup {
    kubeconfig: String,
    namespace: String,
    delete_crd: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let (path, namespace, delete_crd) = (
            self.kubeconfig.clone(),
            self.namespace.clone(),
            self.delete_crd,
        );
        // Drop cannot await; a separate thread with its own runtime can.
        let done = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let client = cluster_client(&path).await;
                let namespaces: Api<Namespace> = Api::all(client.clone());
                if let Err(error) = namespaces
                    .delete(&namespace, &DeleteParams::default())
                    .await
                {
                    eprintln!("cleanup: could not delete namespace {namespace}: {error}");
                }
                if delete_crd {
                    let crds: Api<CustomResourceDefinition> = Api::all(client);
                    if let Err(error) = crds.delete(CRD_NAME, &DeleteParams::default()).await {
                        eprintln!("cleanup: could not delete the CRD: {error}");
                    }
                }
            });
        });
        let _ = done.join();
    }
}

#[tokio::test]
async fn main_story_on_a_real_cluster() {
    let Ok(path) = std::env::var(ENV) else {
        eprintln!(
            "skipping the real-cluster end-to-end test: set {ENV} to a kubeconfig file to run it"
        );
        return;
    };
    let client = cluster_client(&path).await;
    let crd_existed = apply_crds(&client).await;
    let namespace = format!("hostrisk-e2e-{}", std::process::id());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns_body: Namespace =
        serde_json::from_value(json!({"metadata": {"name": namespace}})).unwrap();
    namespaces
        .create(&PostParams::default(), &ns_body)
        .await
        .unwrap();
    let _cleanup = Cleanup {
        kubeconfig: path.clone(),
        namespace: namespace.clone(),
        delete_crd: !crd_existed,
    };

    let sim = HssSimulator::start(SimConfig {
        faults: Faults::none(),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let hss = HssClient::new(ClientConfig {
        calls_per_minute: 1000,
        ..ClientConfig::default()
    })
    .unwrap();
    let settings = ControllerSettings {
        policy: ValidationPolicy {
            allowed_endpoint_prefixes: vec![sim.base_url().to_string()],
            ..ValidationPolicy::default()
        },
        instance: "e2e".into(),
        ..ControllerSettings::default()
    };
    let ctx = Arc::new(Context::new(client.clone(), hss, settings));
    let shutdown = CancellationToken::new();
    let controller = tokio::spawn(run_controllers(
        ctx.clone(),
        vec![namespace.clone()],
        shutdown.clone(),
    ));

    let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let watches: Api<HostRiskWatch> = Api::namespaced(client.clone(), &namespace);
    let watch: HostRiskWatch = serde_json::from_value(json!({
        "apiVersion": "hostrisk.io/v1alpha1",
        "kind": "HostRiskWatch",
        "metadata": {"name": "e2e"},
        "spec": {
            "projectId": DEMO_PROJECT_ID,
            "endpoint": sim.base_url().to_string(),
            "hostIds": ["demo-web-01", "demo-db-01", "no-such-host"],
            "credentialsSecretRef": {"name": "hss-creds"},
            "interval": "1h",
        }
    }))
    .unwrap();

    // Created before its Secret: the condition says so, then the Secret fixes it without restart.
    let created = Instant::now();
    watches
        .create(&PostParams::default(), &watch)
        .await
        .unwrap();
    wait_for(&watches, "e2e", "first status", |_, s| {
        !s.conditions.is_empty()
    })
    .await;
    eprintln!(
        "time from create to first status: {} ms",
        created.elapsed().as_millis()
    );
    wait_for(&watches, "e2e", "SecretNotFound", |_, s| {
        condition_is(s, "CredentialsValid", "False", "SecretNotFound")
    })
    .await;
    secrets
        .create(
            &PostParams::default(),
            &secret(
                "hss-creds",
                &[
                    ("accessKey", DEMO_ACCESS_KEY),
                    ("secretKey", DEMO_SECRET_KEY),
                ],
            ),
        )
        .await
        .unwrap();
    let ready = wait_for(&watches, "e2e", "Ready", is_ready).await;
    let mut idle_watch = watch.clone();
    idle_watch.metadata.name = Some("idle".into());
    idle_watch.spec.host_ids = vec!["demo-web-01".into()];
    idle_watch.spec.interval = Some("1m".into());
    watches
        .create(&PostParams::default(), &idle_watch)
        .await
        .unwrap();
    wait_for(&watches, "idle", "idle Ready", is_ready).await;
    let status = ready.status.unwrap();
    let summary = status.summary.expect("summary");
    assert_eq!(
        (
            summary.hosts_requested,
            summary.hosts_found,
            summary.hosts_not_found
        ),
        (3, 2, 1)
    );
    assert_eq!(status.hosts.len(), 3);
    assert!(status.last_sync_time.is_some());

    // A host changes; the refresh annotation polls at once; status and an Event follow.
    assert!(sim.update_host("demo-db-01", |h| h.risk.detect_result =
        Some(DetectResult::Risk)));
    let annotate =
        json!({"metadata": {"annotations": {"hostrisk.io/refresh-requested-at": "e2e-1"}}});
    watches
        .patch("e2e", &PatchParams::default(), &Patch::Merge(&annotate))
        .await
        .unwrap();
    wait_for(&watches, "e2e", "db at risk", |_, s| {
        s.hosts
            .iter()
            .any(|h| h.host_id == "demo-db-01" && h.detect_result.as_deref() == Some("risk"))
    })
    .await;
    let events: Api<Event> = Api::namespaced(client.clone(), &namespace);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let list = events.list(&ListParams::default()).await.unwrap();
        if list
            .items
            .iter()
            .any(|e| e.reason.as_deref() == Some("BecameAtRisk"))
        {
            break;
        }
        assert!(Instant::now() < deadline, "no BecameAtRisk event");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A spec change moves observedGeneration.
    let spec_patch = json!({"spec": {"hostIds": ["demo-web-01"]}});
    watches
        .patch("e2e", &PatchParams::default(), &Patch::Merge(&spec_patch))
        .await
        .unwrap();
    wait_for(&watches, "e2e", "generation 2", |w, s| {
        w.metadata.generation == Some(2) && is_ready(w, s) && s.hosts.len() == 1
    })
    .await;

    // Delete: the poll state of "e2e" goes ("idle" keeps its own).
    watches
        .delete("e2e", &DeleteParams::default())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while ctx.state.len() != 1 {
        assert!(
            Instant::now() < deadline,
            "poll state not forgotten after delete"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // An idle poll writes nothing: the "idle" watch (created at the start, 1m interval, the
    // schema's floor) polls again, and its resourceVersion stays the same.
    let idle = watches.get("idle").await.unwrap();
    let idle_version = idle.metadata.resource_version.clone();
    let calls = sim.counters().hss_requests;
    let deadline = Instant::now() + Duration::from_secs(90);
    while sim.counters().hss_requests == calls {
        assert!(Instant::now() < deadline, "the 1m interval did not poll");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = watches.get("idle").await.unwrap();
    assert_eq!(
        idle.metadata.resource_version, idle_version,
        "idle poll wrote status"
    );
    eprintln!("status writes per idle poll: 0 (resourceVersion unchanged over one 1m poll)");

    shutdown.cancel();
    controller.await.unwrap().unwrap();
    sim.shutdown().await;
}
