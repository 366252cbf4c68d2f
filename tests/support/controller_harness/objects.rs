//! The harness's helpers over Kubernetes objects: Secrets, HostRiskWatches, their status and
//! Events, all through the real `kube::Client` against the stand-in.

use std::time::{Duration, Instant};

use hostrisk_operator::crd::{HostRiskWatch, HostRiskWatchStatus};
use hostrisk_sim::hss::{DEMO_ACCESS_KEY, DEMO_PROJECT_ID, DEMO_SECRET_KEY};
use k8s_openapi::api::core::v1::{Node, Secret};
use k8s_openapi::api::events::v1::Event;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::Api;
use serde_json::json;

use super::Harness;

/// How long [`Harness::wait_for`] waits: long enough for a debug build on two shared cores.
pub const WAIT_LIMIT: Duration = Duration::from_secs(20);

impl Harness {
    pub fn watches(&self, namespace: &str) -> Api<HostRiskWatch> {
        Api::namespaced(self.client.clone(), namespace)
    }

    pub fn secrets(&self, namespace: &str) -> Api<Secret> {
        Api::namespaced(self.client.clone(), namespace)
    }

    pub fn endpoint(&self) -> String {
        self.sim.base_url().to_string()
    }

    /// Creates a Secret with the given keys (string values).
    pub async fn create_secret(&self, namespace: &str, name: &str, keys: &[(&str, &str)]) {
        let string_data: serde_json::Map<String, serde_json::Value> = keys
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": namespace},
            "stringData": string_data,
        }))
        .unwrap();
        self.secrets(namespace)
            .create(&PostParams::default(), &secret)
            .await
            .unwrap();
    }

    /// Replaces the Secret's data with `keys` (an empty slice empties it).
    pub async fn replace_secret(&self, namespace: &str, name: &str, keys: &[(&str, &str)]) {
        let secrets = self.secrets(namespace);
        let mut secret = secrets.get(name).await.unwrap();
        secret.data = Some(
            keys.iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        k8s_openapi::ByteString(v.as_bytes().to_vec()),
                    )
                })
                .collect(),
        );
        // `stringData` would be merged over `data` by the API server; only `data` is meant.
        secret.string_data = None;
        secrets
            .replace(name, &PostParams::default(), &secret)
            .await
            .unwrap();
    }

    pub async fn delete_secret(&self, namespace: &str, name: &str) {
        self.secrets(namespace)
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
    }

    /// An AK/SK Secret the simulator accepts.
    pub async fn create_demo_secret(&self, namespace: &str, name: &str) {
        self.create_secret(
            namespace,
            name,
            &[
                ("accessKey", DEMO_ACCESS_KEY),
                ("secretKey", DEMO_SECRET_KEY),
            ],
        )
        .await;
    }

    /// Creates a HostRiskWatch on the simulator's endpoint.
    pub async fn create_watch(
        &self,
        namespace: &str,
        name: &str,
        hosts: &[&str],
        secret: &str,
        interval: &str,
    ) -> HostRiskWatch {
        let watch = self.create_watch_document(namespace, name, hosts, secret, interval);
        self.create_watch_json(namespace, watch).await
    }

    /// Like [`Harness::create_watch`], in enterprise project `eps` (`None`: the spec names none):
    /// watches of other enterprise projects are polled by poller groups of their own.
    pub async fn create_watch_in(
        &self,
        namespace: &str,
        name: &str,
        hosts: &[&str],
        secret: &str,
        eps: Option<&str>,
    ) -> HostRiskWatch {
        let mut watch = self.create_watch_document(namespace, name, hosts, secret, "1h");
        if let Some(eps) = eps {
            watch["spec"]["enterpriseProjectId"] = json!(eps);
        }
        self.create_watch_json(namespace, watch).await
    }

    fn create_watch_document(
        &self,
        namespace: &str,
        name: &str,
        hosts: &[&str],
        secret: &str,
        interval: &str,
    ) -> serde_json::Value {
        json!({
            "apiVersion": "hostrisk.io/v1alpha1",
            "kind": "HostRiskWatch",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "projectId": DEMO_PROJECT_ID,
                "endpoint": self.endpoint(),
                "hostIds": hosts,
                "credentialsSecretRef": {"name": secret},
                "interval": interval,
            }
        })
    }

    /// Creates a node-backed HostRiskWatch on the simulator's endpoint: `selector` is its
    /// `spec.nodeSelector` (`{}`: every Node).
    pub async fn create_node_watch(
        &self,
        namespace: &str,
        name: &str,
        selector: serde_json::Value,
        secret: &str,
    ) -> HostRiskWatch {
        let mut watch = self.create_watch_document(namespace, name, &[], secret, "1h");
        let spec = watch["spec"].as_object_mut().expect("spec");
        spec.remove("hostIds");
        spec.insert("nodeSelector".into(), selector);
        self.create_watch_json(namespace, watch).await
    }

    pub fn nodes(&self) -> Api<Node> {
        Api::all(self.client.clone())
    }

    /// Creates a Node with `labels` and, when given, `spec.providerID`.
    pub async fn create_node(
        &self,
        name: &str,
        labels: &[(&str, &str)],
        provider_id: Option<&str>,
    ) {
        let labels: serde_json::Map<String, serde_json::Value> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let mut node = json!({"metadata": {"name": name, "labels": labels}, "spec": {}});
        if let Some(id) = provider_id {
            node["spec"]["providerID"] = json!(id);
        }
        let node: Node = serde_json::from_value(node).unwrap();
        self.nodes()
            .create(&PostParams::default(), &node)
            .await
            .unwrap();
    }

    /// Merge-patches a Node.
    pub async fn patch_node(&self, name: &str, patch: serde_json::Value) {
        self.nodes()
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
    }

    pub async fn delete_node(&self, name: &str) {
        self.nodes()
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
    }

    /// Stores any HostRiskWatch document, pruned by the CRD's structural schema but with no
    /// value validated (no pattern, maxLength, maxItems or CEL rule), like an API server holding
    /// a resource stored before those rules existed (`StandinApiServer::create_unvalidated`; the
    /// stand-in validates every other write, ratcheting unchanged values as a real server does).
    pub async fn create_watch_json(
        &self,
        namespace: &str,
        mut document: serde_json::Value,
    ) -> HostRiskWatch {
        document["metadata"]["namespace"] = json!(namespace);
        let stored = self.kube.create_unvalidated(document).unwrap();
        serde_json::from_value(stored).unwrap()
    }

    pub async fn patch_watch(&self, namespace: &str, name: &str, patch: serde_json::Value) {
        self.watches(namespace)
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
    }

    /// Sets the refresh annotation to `value` (a new value asks for a poll now).
    pub async fn request_refresh(&self, namespace: &str, name: &str, value: &str) {
        self.patch_watch(
            namespace,
            name,
            json!({"metadata": {"annotations": {"hostrisk.io/refresh-requested-at": value}}}),
        )
        .await;
    }

    pub async fn delete_watch(&self, namespace: &str, name: &str) {
        self.watches(namespace)
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
    }

    /// Waits (up to `limit`) until the watch's status satisfies `check`; returns the watch.
    pub async fn wait_within(
        &self,
        limit: Duration,
        namespace: &str,
        name: &str,
        what: &str,
        check: impl Fn(&HostRiskWatch, &HostRiskWatchStatus) -> bool,
    ) -> HostRiskWatch {
        let deadline = Instant::now() + limit;
        loop {
            // The API server may be playing unavailable: keep asking until the deadline.
            if let Ok(watch) = self.watches(namespace).get(name).await {
                if let Some(status) = &watch.status {
                    if check(&watch, status) {
                        return watch;
                    }
                }
                assert!(
                    Instant::now() < deadline,
                    "timed out after {limit:?} waiting for {what}; last status: {:#?}",
                    watch.status
                );
            } else {
                assert!(
                    Instant::now() < deadline,
                    "timed out after {limit:?} waiting for {what}; API unreachable"
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// [`Harness::wait_within`] [`WAIT_LIMIT`].
    pub async fn wait_for(
        &self,
        namespace: &str,
        name: &str,
        what: &str,
        check: impl Fn(&HostRiskWatch, &HostRiskWatchStatus) -> bool,
    ) -> HostRiskWatch {
        self.wait_within(WAIT_LIMIT, namespace, name, what, check)
            .await
    }

    /// The stored status, read straight from the stand-in's store.
    pub async fn status(&self, namespace: &str, name: &str) -> HostRiskWatchStatus {
        self.watches(namespace)
            .get(name)
            .await
            .unwrap()
            .status
            .expect("status")
    }

    /// Events in `namespace` regarding the watch `name`.
    pub async fn events_for(&self, namespace: &str, name: &str) -> Vec<Event> {
        let events: Api<Event> = Api::namespaced(self.client.clone(), namespace);
        events
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| {
                e.regarding.as_ref().is_some_and(|r| {
                    r.name.as_deref() == Some(name) && r.kind.as_deref() == Some("HostRiskWatch")
                })
            })
            .collect()
    }
}
