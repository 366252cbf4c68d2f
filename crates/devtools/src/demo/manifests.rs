//! The demo's resources: the files of `examples/` (compiled in, so the demo shows what a user
//! would apply), rewritten for the in-process simulator, plus two more watches; the keyless
//! watch of `examples/keyless-hostriskwatch.yaml` with its ServiceAccount; and the node-backed
//! watch of `examples/hostriskwatch-nodes.yaml` with the Nodes of the demo's "cluster".
//!
//! What is rewritten and why:
//! - `spec.region` becomes `spec.endpoint` = the simulator's loopback URL (the operator is told
//!   to allow it, as `--allowed-endpoints` would);
//! - the Secret's placeholder keys become the simulator's demo credentials;
//! - `spec.hostIds` become hosts of the simulator's fleet, plus one id of the example that the
//!   fleet does not have, to show a host "not found";
//! - the Nodes are made up: two workers whose `spec.providerID` name fleet hosts (in the
//!   provider's current `huaweicloud:///<id>` form and the older `huaweicloud://<id>`), a
//!   control-plane Node the example's selector leaves out, and a Node of another cloud
//!   (`kind://...`) it reports as unresolved.

use serde::Deserialize;
use serde_json::{json, Value};

use hostrisk_sim::hss::{
    DEMO_ACCESS_KEY, DEMO_ENTERPRISE_PROJECT_ID, DEMO_SECRET_KEY, DEMO_SECURITY_TOKEN,
    DEMO_STATIC_TOKEN, DEMO_TEMP_ACCESS_KEY, DEMO_TEMP_SECRET_KEY,
};

const NAMESPACE_YAML: &str = include_str!("../../../../examples/namespace.yaml");
const SECRET_YAML: &str = include_str!("../../../../examples/credentials-secret.yaml");
const WATCH_YAML: &str = include_str!("../../../../examples/hostriskwatch.yaml");
const KEYLESS_YAML: &str = include_str!("../../../../examples/keyless-hostriskwatch.yaml");
const KEYLESS_FILE: &str = "examples/keyless-hostriskwatch.yaml";
const NODES_YAML: &str = include_str!("../../../../examples/hostriskwatch-nodes.yaml");
const NODES_FILE: &str = "examples/hostriskwatch-nodes.yaml";

/// The names the demo uses.
pub mod names {
    /// The namespace of `examples/namespace.yaml`.
    pub const NAMESPACE: &str = "security";
    /// The watch of `examples/hostriskwatch.yaml`: access key credentials.
    pub const WEB: &str = "web-tier";
    /// A second watch on a static token.
    pub const DATA: &str = "data-tier";
    /// A third watch whose Secret lacks a key until the script fixes it.
    pub const BATCH: &str = "batch-jobs";
    /// The Secret of `examples/credentials-secret.yaml`.
    pub const WEB_SECRET: &str = "hss-credentials";
    pub const DATA_SECRET: &str = "hss-token";
    pub const BATCH_SECRET: &str = "hss-batch-credentials";
    /// The watch of `examples/keyless-hostriskwatch.yaml`: no Secret, a ServiceAccount.
    pub const KEYLESS: &str = "keyless";
    /// The watch of `examples/hostriskwatch-nodes.yaml`: the hosts of the worker Nodes.
    pub const WORKERS: &str = "workers";
    /// The worker Node that stays (on demo-web-01), the Node the script adds (a worker joining)
    /// and the one it removes (leaving, on demo-db-01).
    pub const STAYING_NODE: &str = "cce-node-1";
    pub const JOINING_NODE: &str = "cce-node-3";
    pub const LEAVING_NODE: &str = "cce-node-2";
}

/// A made-up Node: `labels`, and `spec.providerID` when given.
pub fn node(name: &str, labels: Value, provider_id: Option<&str>) -> Value {
    let mut node = json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {},
    });
    if let Some(id) = provider_id {
        node["spec"]["providerID"] = json!(id);
    }
    node
}

/// The Nodes of the demo's cluster (`hosts.nodes`: the worker hosts, then the control plane's).
fn demo_nodes(hosts: &DemoHosts) -> Result<Vec<Value>, ManifestError> {
    let [worker_1, worker_2, master] =
        <[String; 3]>::try_from(hosts.nodes.clone()).map_err(|_| ManifestError::Unexpected {
            file: NODES_FILE,
            what: "three fleet hosts for the demo's Nodes",
        })?;
    let worker = |zone: &str| json!({"node.kubernetes.io/instance-type": "c7.xlarge.2", "topology.kubernetes.io/zone": zone});
    Ok(vec![
        node(
            names::STAYING_NODE,
            worker("ap-southeast-1a"),
            Some(&format!("huaweicloud:///{worker_1}")),
        ),
        node(
            names::LEAVING_NODE,
            worker("ap-southeast-1b"),
            Some(&format!("huaweicloud://{worker_2}")),
        ),
        node(
            "cce-master-1",
            json!({"node-role.kubernetes.io/control-plane": ""}),
            Some(&format!("huaweicloud:///{master}")),
        ),
        node(
            "edge-1",
            json!({"topology.kubernetes.io/zone": "on-premises"}),
            Some("kind://docker/edge/edge-1"),
        ),
    ])
}

/// The Node the script adds: a worker whose providerID names `host_id`.
pub fn joining_node(host_id: &str) -> Value {
    node(
        names::JOINING_NODE,
        json!({"node.kubernetes.io/instance-type": "c7.xlarge.2", "topology.kubernetes.io/zone": "ap-southeast-1a"}),
        Some(&format!("huaweicloud:///{host_id}")),
    )
}

/// `spec.workloadIdentity` of the keyless example: the demo registers that identity provider
/// and audience with the simulator's IAM and allows them in the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeylessIdentity {
    pub service_account: String,
    pub identity_provider_id: String,
    pub audience: String,
}

impl KeylessIdentity {
    /// The `sub` of the ServiceAccount's tokens, which the identity provider maps.
    pub fn subject(&self) -> String {
        format!(
            "system:serviceaccount:{}:{}",
            names::NAMESPACE,
            self.service_account
        )
    }
}

/// The ServiceAccount and the HostRiskWatch of the keyless example.
fn keyless_example() -> Result<(Value, Value), ManifestError> {
    let mut documents = Vec::new();
    for document in serde_yaml::Deserializer::from_str(KEYLESS_YAML) {
        let value = Value::deserialize(document).map_err(|source| ManifestError::Parse {
            file: KEYLESS_FILE,
            source,
        })?;
        documents.push(value);
    }
    match <[Value; 2]>::try_from(documents) {
        Ok([account, watch])
            if account["kind"] == "ServiceAccount"
                && watch.pointer("/spec/workloadIdentity").is_some() =>
        {
            Ok((account, watch))
        }
        _ => Err(ManifestError::Unexpected {
            file: KEYLESS_FILE,
            what: "a ServiceAccount, then a HostRiskWatch with spec.workloadIdentity",
        }),
    }
}

/// `spec.workloadIdentity` of the keyless example.
pub fn keyless_identity() -> Result<KeylessIdentity, ManifestError> {
    let (_, watch) = keyless_example()?;
    let field = |name: &str| {
        watch["spec"]["workloadIdentity"][name]
            .as_str()
            .map(str::to_string)
            .ok_or(ManifestError::Unexpected {
                file: KEYLESS_FILE,
                what: "serviceAccountName, identityProviderId and audience",
            })
    };
    Ok(KeylessIdentity {
        service_account: field("serviceAccountName")?,
        identity_provider_id: field("identityProviderId")?,
        audience: field("audience")?,
    })
}

/// Why the bundled examples could not be turned into the demo's resources.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("parsing bundled example {file}: {source}")]
    Parse {
        file: &'static str,
        #[source]
        source: serde_yaml::Error,
    },
    #[error("bundled example {file} is not what the demo expects: {what}")]
    Unexpected {
        file: &'static str,
        what: &'static str,
    },
    #[error("serializing a manifest: {0}")]
    Serialize(#[from] serde_yaml::Error),
}

/// The host ids each watch lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoHosts {
    /// `web-tier`: fleet hosts in the default enterprise project.
    pub web: Vec<String>,
    /// An id of the example manifest that the simulated fleet does not have.
    pub unknown: String,
    /// `data-tier`: generated fleet hosts (online, protected) and the host whose install failed.
    pub data: Vec<String>,
    /// `batch-jobs`: hosts of [`DEMO_ENTERPRISE_PROJECT_ID`].
    pub batch: Vec<String>,
    /// The hosts of the demo's Nodes: two workers, then the control plane.
    pub nodes: Vec<String>,
    /// The host of the Node that joins during the demo.
    pub joining: String,
}

/// Every document to apply after the CRD, in order (namespace, Secrets, watches, the keyless
/// example's ServiceAccount and watch, then the Nodes and the node-backed watch).
pub fn demo_documents(
    endpoint: &str,
    project_id: &str,
    hosts: &DemoHosts,
) -> Result<Vec<Value>, ManifestError> {
    let namespace = parse(NAMESPACE_YAML, "examples/namespace.yaml")?;
    let secret = parse(SECRET_YAML, "examples/credentials-secret.yaml")?;
    let watch = parse(WATCH_YAML, "examples/hostriskwatch.yaml")?;
    if watch.pointer("/spec/region").is_none() || secret.get("stringData").is_none() {
        return Err(ManifestError::Unexpected {
            file: "examples/",
            what: "a HostRiskWatch with spec.region and a Secret with stringData",
        });
    }

    let web_secret = with_string_data(
        &secret,
        names::WEB_SECRET,
        json!({"accessKey": DEMO_ACCESS_KEY, "secretKey": DEMO_SECRET_KEY}),
    );
    let data_secret = with_string_data(
        &secret,
        names::DATA_SECRET,
        json!({"authToken": DEMO_STATIC_TOKEN}),
    );
    // Deliberately incomplete: the secretKey (and the securityToken a temporary key needs) were
    // forgotten. The script adds them with `batch_secret_fix`.
    let batch_secret = with_string_data(
        &secret,
        names::BATCH_SECRET,
        json!({"accessKey": DEMO_TEMP_ACCESS_KEY}),
    );

    let mut web_ids = hosts.web.clone();
    web_ids.push(hosts.unknown.clone());
    let web = rewrite_watch(
        &watch,
        names::WEB,
        endpoint,
        project_id,
        &web_ids,
        names::WEB_SECRET,
    );
    let data = rewrite_watch(
        &watch,
        names::DATA,
        endpoint,
        project_id,
        &hosts.data,
        names::DATA_SECRET,
    );
    let mut batch = rewrite_watch(
        &watch,
        names::BATCH,
        endpoint,
        project_id,
        &hosts.batch,
        names::BATCH_SECRET,
    );
    batch["spec"]["enterpriseProjectId"] = json!(DEMO_ENTERPRISE_PROJECT_ID);

    let (account, mut keyless) = keyless_example()?;
    keyless["metadata"]["name"] = json!(names::KEYLESS);
    if let Some(spec) = keyless["spec"].as_object_mut() {
        spec.remove("region");
    }
    keyless["spec"]["endpoint"] = json!(endpoint);
    keyless["spec"]["projectId"] = json!(project_id);
    keyless["spec"]["hostIds"] = json!(hosts.web);

    let mut workers = parse(NODES_YAML, NODES_FILE)?;
    if workers.pointer("/spec/nodeSelector").is_none() {
        return Err(ManifestError::Unexpected {
            file: NODES_FILE,
            what: "a HostRiskWatch with spec.nodeSelector",
        });
    }
    workers["metadata"]["name"] = json!(names::WORKERS);
    if let Some(spec) = workers["spec"].as_object_mut() {
        spec.remove("region");
    }
    workers["spec"]["endpoint"] = json!(endpoint);
    workers["spec"]["projectId"] = json!(project_id);
    workers["spec"]["credentialsSecretRef"]["name"] = json!(names::WEB_SECRET);

    let mut documents = vec![
        namespace,
        web_secret,
        data_secret,
        batch_secret,
        web,
        data,
        batch,
        account,
        keyless,
    ];
    documents.extend(demo_nodes(hosts)?);
    documents.push(workers);
    Ok(documents)
}

/// The `data` the script merges into the batch Secret to fix it (the missing keys).
pub fn batch_secret_fix() -> Value {
    json!({"stringData": {
        "secretKey": DEMO_TEMP_SECRET_KEY,
        "securityToken": DEMO_SECURITY_TOKEN,
    }})
}

/// The documents as one multi-document YAML string, for `apply_yaml_documents`.
pub fn to_yaml(documents: &[Value]) -> Result<String, ManifestError> {
    let mut out = String::new();
    for doc in documents {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(doc)?);
    }
    Ok(out)
}

/// The first host id of the example manifest, which the simulated fleet does not contain.
pub fn example_host_id() -> Result<String, ManifestError> {
    let watch = parse(WATCH_YAML, "examples/hostriskwatch.yaml")?;
    watch
        .pointer("/spec/hostIds/0")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or(ManifestError::Unexpected {
            file: "examples/hostriskwatch.yaml",
            what: "spec.hostIds with at least one id",
        })
}

fn parse(yaml: &str, file: &'static str) -> Result<Value, ManifestError> {
    serde_yaml::from_str(yaml).map_err(|source| ManifestError::Parse { file, source })
}

fn with_string_data(secret: &Value, name: &str, data: Value) -> Value {
    let mut secret = secret.clone();
    secret["metadata"]["name"] = json!(name);
    secret["stringData"] = data;
    secret
}

fn rewrite_watch(
    watch: &Value,
    name: &str,
    endpoint: &str,
    project_id: &str,
    host_ids: &[String],
    secret: &str,
) -> Value {
    let mut watch = watch.clone();
    watch["metadata"]["name"] = json!(name);
    let spec = &mut watch["spec"];
    if let Some(spec) = spec.as_object_mut() {
        spec.remove("region");
    }
    spec["endpoint"] = json!(endpoint);
    spec["projectId"] = json!(project_id);
    spec["hostIds"] = json!(host_ids);
    spec["credentialsSecretRef"]["name"] = json!(secret);
    watch
}

#[cfg(test)]
mod tests {
    use super::*;
    use hostrisk_operator::crd::HostRiskWatch;

    fn hosts() -> DemoHosts {
        DemoHosts {
            web: vec!["demo-web-01".into(), "demo-db-01".into()],
            unknown: example_host_id().unwrap(),
            data: vec!["h-1".into()],
            batch: vec!["demo-ep-01".into()],
            nodes: vec![
                "demo-web-01".into(),
                "demo-db-01".into(),
                "demo-batch-01".into(),
            ],
            joining: "demo-new-01".into(),
        }
    }

    #[test]
    fn examples_become_valid_watches_and_nodes_on_the_simulator() {
        let docs = demo_documents("http://127.0.0.1:9/", "p", &hosts()).unwrap();
        let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
        assert_eq!(
            kinds,
            [
                "Namespace",
                "Secret",
                "Secret",
                "Secret",
                "HostRiskWatch",
                "HostRiskWatch",
                "HostRiskWatch",
                "ServiceAccount",
                "HostRiskWatch",
                "Node",
                "Node",
                "Node",
                "Node",
                "HostRiskWatch"
            ]
        );
        let watches: Vec<HostRiskWatch> = docs[4..]
            .iter()
            .filter(|d| d["kind"] == "HostRiskWatch")
            .map(|d| serde_json::from_value(d.clone()).unwrap())
            .collect();
        for w in &watches {
            assert_eq!(w.spec.region, None);
            assert_eq!(w.spec.endpoint.as_deref(), Some("http://127.0.0.1:9/"));
            assert_eq!(w.metadata.namespace.as_deref(), Some(names::NAMESPACE));
        }
        assert_eq!(
            watches[0].spec.host_ids.iter().next_back(),
            Some("5c4d0f3a-2f7e-4a51-9c1b-0e2f8a7b6c5d")
        );
        assert_eq!(
            watches[2].spec.enterprise_project_id.as_deref(),
            Some(DEMO_ENTERPRISE_PROJECT_ID)
        );
        assert_eq!(
            docs[3]["stringData"],
            json!({"accessKey": DEMO_TEMP_ACCESS_KEY})
        );
        let keyless = &watches[3];
        assert_eq!(keyless.spec.credentials_secret_ref, None);
        let identity = keyless.spec.workload_identity.clone().expect("keyless");
        assert_eq!(identity.service_account_name, docs[7]["metadata"]["name"]);
        assert_eq!(
            keyless_identity().unwrap().subject(),
            "system:serviceaccount:security:hss-reader"
        );
        let workers = &watches[4];
        assert_eq!(workers.metadata.name.as_deref(), Some(names::WORKERS));
        assert!(workers.spec.host_ids.is_empty());
        assert!(workers.spec.node_selector.is_some());
        let provider_ids: Vec<&str> = docs
            .iter()
            .filter(|d| d["kind"] == "Node")
            .filter_map(|d| d.pointer("/spec/providerID")?.as_str())
            .collect();
        assert_eq!(
            provider_ids,
            [
                "huaweicloud:///demo-web-01",
                "huaweicloud://demo-db-01",
                "huaweicloud:///demo-batch-01",
                "kind://docker/edge/edge-1"
            ]
        );
        let yaml = to_yaml(&docs).unwrap();
        assert_eq!(yaml.matches("---\n").count(), 14);
        assert!(!yaml.contains("REPLACE_WITH"));
    }
}
