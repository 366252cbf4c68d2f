//! What rows share: namespaces, CRD installation, reading answers.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::Status;
use serde_json::{json, Value};

/// The repository's HostRiskWatch CRD.
pub const HOSTRISKWATCH_CRD: &str = include_str!("../../../../crds/hostriskwatch.yaml");

/// Creates a fresh namespace (`generateName`) and returns its name.
pub async fn namespace(client: &kube::Client, prefix: &str) -> String {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"generateName": format!("{prefix}-")}}))
            .unwrap();
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap()
        .metadata
        .name
        .unwrap()
}

/// Applies every CRD document of `yaml` (field manager `conformance`) and waits until each is
/// `Established`.
pub async fn install_crds(client: &kube::Client, yaml: &str) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let docs: Vec<Value> = serde_yaml::Deserializer::from_str(yaml)
        .map(|doc| serde::Deserialize::deserialize(doc).unwrap())
        .filter(|v: &Value| !v.is_null())
        .collect();
    let mut names = Vec::new();
    for value in docs {
        let name = value["metadata"]["name"].as_str().unwrap().to_string();
        crds.patch(
            &name,
            &PatchParams::apply("conformance").force(),
            &Patch::Apply(&value),
        )
        .await
        .unwrap();
        names.push(name);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    for name in names {
        loop {
            let crd = crds.get(&name).await.unwrap();
            let established = crd
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            if established {
                break;
            }
            assert!(Instant::now() < deadline, "CRD {name} not Established");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A dynamic API for `group/version` `kind` (`plural`) in `namespace` ("" for cluster-scoped).
pub fn dynamic(
    client: &kube::Client,
    api_version: &str,
    kind: &str,
    plural: &str,
    namespace: &str,
) -> Api<DynamicObject> {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let ar = ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: api_version.into(),
        kind: kind.into(),
        plural: plural.into(),
    };
    if namespace.is_empty() {
        Api::all_with(client.clone(), &ar)
    } else {
        Api::namespaced_with(client.clone(), namespace, &ar)
    }
}

/// An object from JSON.
pub fn object(value: Value) -> DynamicObject {
    serde_json::from_value(value).unwrap()
}

/// The Status of a refused request (panics on success or another error).
pub fn status<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> Status {
    match result {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("expected a Status answer, got {other:?}"),
    }
}

/// `(field, reason)` of each cause of a Status, sorted.
pub fn causes(status: &Status) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = status
        .details
        .as_ref()
        .map(|d| {
            d.causes
                .iter()
                .map(|c| (c.field.clone(), c.reason.clone()))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Asserts the `(field, reason)` causes of a refusal, in any order.
pub fn assert_causes(status: &Status, want: &[(&str, &str)]) {
    let mut want: Vec<(String, String)> = want
        .iter()
        .map(|(f, r)| (f.to_string(), r.to_string()))
        .collect();
    want.sort();
    assert_eq!(causes(status), want, "{}", status.message);
}

/// The object's JSON without metadata.
pub fn data(obj: &DynamicObject) -> Value {
    obj.data.clone()
}

/// A unique name (cluster-scoped objects of rows sharing a real server).
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{:08x}", rand::random::<u32>())
}

/// A JSON patch (`application/json-patch+json`) to `path` (kube's typed API needs a feature
/// this workspace does not enable for it).
pub async fn json_patch(
    client: &kube::Client,
    path: &str,
    patch: &Value,
) -> Result<Value, kube::Error> {
    let request = http::Request::patch(path)
        .header("content-type", "application/json-patch+json")
        .body(serde_json::to_vec(patch).unwrap())
        .unwrap();
    client.request::<Value>(request).await
}

/// Server-side applies each object (field manager `conformance`), its resource the kind's
/// lower-case plural (enough for the RBAC kinds and the like).
pub async fn apply_objects(client: &kube::Client, objects: &[Value]) {
    for obj in objects {
        let api_version = obj["apiVersion"].as_str().unwrap();
        let kind = obj["kind"].as_str().unwrap();
        let plural = format!("{}s", kind.to_lowercase());
        let ns = obj["metadata"]["namespace"].as_str().unwrap_or("");
        let api = dynamic(client, api_version, kind, &plural, ns);
        let name = obj["metadata"]["name"].as_str().unwrap();
        api.patch(
            name,
            &PatchParams::apply("conformance").force(),
            &Patch::Apply(obj),
        )
        .await
        .unwrap();
    }
}

/// Installs both CRDs of a policy-report API.
pub async fn install_policy_reports(
    client: &kube::Client,
    api: hostrisk_sim::kube::PolicyReportApi,
) {
    for crd in api.crds() {
        install_crds(client, crd.yaml).await;
    }
}
