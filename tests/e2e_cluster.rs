//! Opt-in end-to-end test against a real cluster: set `HOSTRISK_E2E_KUBECONFIG` to a kubeconfig
//! file (kind, k3d, minikube...). Otherwise the test prints a skip message and passes.
//!
//! It applies `crds/` (server-side apply), then runs the main story of
//! `tests/support/e2e_story.rs` (the same one `tests/real_apiserver.rs` runs on every CI run
//! against a kube-apiserver it starts) in a fresh namespace, and deletes the namespace. The CRD
//! is left installed when it existed before, and deleted when this test created it.

use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{conditions, wait::await_condition};
use kube::Api;
use serde_json::json;

#[path = "support/e2e_story.rs"]
mod e2e_story;

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
    e2e_story::main_story(&client, &namespace).await;
}
