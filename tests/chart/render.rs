//! Renders the Helm chart through `scripts/render-chart.py` (Helm v4's Go engine via PyPI
//! `helm-python-sdk`) and turns the output into typed Kubernetes objects.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const RELEASE_NAMESPACE: &str = "hostrisk-system";
pub const CHART: &str = "charts/hostrisk-operator";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python that has helm-python-sdk: `HOSTRISK_PYTHON`, else the checkout's `.venv`.
pub fn python() -> PathBuf {
    let python = std::env::var_os("HOSTRISK_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv/bin/python"));
    assert!(
        python.exists(),
        "{} not found: the chart tests render with Helm's engine from PyPI helm-python-sdk. \
         Run `bash .ci/setup-tools.sh` (or the README's test command), which creates .venv, \
         or point HOSTRISK_PYTHON at a Python that has helm-python-sdk and pyyaml.",
        python.display()
    );
    python
}

/// Output of one `render-chart.py` run: stdout when it succeeded, stderr when the engine refused.
pub fn run_script(args: &[&str]) -> Result<String, String> {
    let output = Command::new(python())
        .arg(repo().join("scripts/render-chart.py"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap_or_else(|err| panic!("cannot run render-chart.py: {err}"));
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

pub fn values_file(set: &str) -> PathBuf {
    repo()
        .join("tests/chart/values")
        .join(format!("{set}.yaml"))
}

pub fn value_sets() -> Vec<String> {
    let mut sets: Vec<String> = std::fs::read_dir(repo().join("tests/chart/values"))
        .expect("tests/chart/values")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "yaml").then(|| path.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    sets.sort();
    assert!(sets.len() >= 5, "value sets missing: {sets:?}");
    sets
}

/// One rendered document and the template it came from.
#[derive(Clone, Debug)]
pub struct Doc {
    pub source: String,
    pub value: Value,
}

impl Doc {
    pub fn kind(&self) -> (&str, &str) {
        let field = |name: &str| self.value.get(name).and_then(Value::as_str).unwrap_or("");
        (field("apiVersion"), field("kind"))
    }
}

/// Everything one value set renders, sorted by type.
#[derive(Clone, Debug, Default)]
pub struct Rendered {
    pub set: String,
    pub docs: Vec<Doc>,
    pub deployments: Vec<Deployment>,
    pub service_accounts: Vec<ServiceAccount>,
    pub services: Vec<Service>,
    pub cluster_roles: Vec<ClusterRole>,
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
    pub roles: Vec<Role>,
    pub role_bindings: Vec<RoleBinding>,
    pub pod_disruption_budgets: Vec<PodDisruptionBudget>,
    pub network_policies: Vec<NetworkPolicy>,
    pub service_monitors: Vec<Value>,
    pub prometheus_rules: Vec<Value>,
    pub config_maps: Vec<k8s_openapi::api::core::v1::ConfigMap>,
    pub crds: Vec<CustomResourceDefinition>,
    /// `helm test` hooks.
    pub test_pods: Vec<Pod>,
}

impl Rendered {
    pub fn deployment(&self) -> &Deployment {
        assert_eq!(self.deployments.len(), 1, "{}: one Deployment", self.set);
        &self.deployments[0]
    }

    pub fn container(&self) -> &Container {
        let spec = self.deployment().spec.as_ref().expect("deployment spec");
        let pod = spec.template.spec.as_ref().expect("pod spec");
        assert_eq!(pod.containers.len(), 1, "{}: one container", self.set);
        &pod.containers[0]
    }

    pub fn args(&self) -> Vec<String> {
        self.container().args.clone().unwrap_or_default()
    }

    pub fn pod_spec(&self) -> &PodSpec {
        let spec = self.deployment().spec.as_ref().expect("deployment spec");
        spec.template.spec.as_ref().expect("pod spec")
    }

    /// The ServiceAccounts and RBAC objects, as rendered.
    pub fn rbac_documents(&self) -> Vec<Value> {
        self.docs
            .iter()
            .filter(|doc| {
                matches!(
                    doc.kind().1,
                    "ServiceAccount"
                        | "ClusterRole"
                        | "ClusterRoleBinding"
                        | "Role"
                        | "RoleBinding"
                )
            })
            .map(|doc| doc.value.clone())
            .collect()
    }
}

/// What `helm upgrade` from objects `old` to `new` deletes: those `new` no longer has (by kind,
/// namespace and name).
pub fn removed_by_upgrade(old: &[Value], new: &[Value]) -> Vec<Value> {
    let key = |o: &Value| {
        (
            o["kind"].clone(),
            o["metadata"]["namespace"].clone(),
            o["metadata"]["name"].clone(),
        )
    };
    old.iter()
        .filter(|o| !new.iter().any(|n| key(n) == key(o)))
        .cloned()
        .collect()
}

/// The restricted Pod Security Standard on a rendered pod and its only container: non-root,
/// seccomp RuntimeDefault, no host network, read-only root filesystem, no privilege escalation,
/// every capability dropped. Returns the pod-level (runAsUser, runAsGroup) for the caller's check.
pub fn assert_restricted(what: &str, pod: &PodSpec) -> (Option<i64>, Option<i64>) {
    let pod_sc = pod.security_context.as_ref().expect("pod securityContext");
    assert_eq!(pod_sc.run_as_non_root, Some(true), "{what}");
    let pod_seccomp = pod_sc.seccomp_profile.as_ref().map(|p| p.type_.as_str());
    assert_eq!(pod_seccomp, Some("RuntimeDefault"), "{what}");
    assert_ne!(pod.host_network, Some(true), "{what}");
    assert_eq!(pod.containers.len(), 1, "{what}: one container");
    let sc = pod.containers[0]
        .security_context
        .as_ref()
        .expect("container securityContext");
    assert_eq!(sc.run_as_non_root, Some(true), "{what}");
    assert_eq!(sc.read_only_root_filesystem, Some(true), "{what}");
    assert_eq!(sc.allow_privilege_escalation, Some(false), "{what}");
    assert_ne!(sc.privileged, Some(true), "{what}");
    assert_ne!(sc.run_as_user, Some(0), "{what}");
    let caps = sc.capabilities.as_ref().expect("capabilities");
    assert_eq!(caps.drop, Some(vec!["ALL".to_owned()]), "{what}");
    assert_eq!(caps.add, None, "{what}");
    let seccomp = sc.seccomp_profile.as_ref().map(|p| p.type_.as_str());
    assert_eq!(seccomp, Some("RuntimeDefault"), "{what}");
    (pod_sc.run_as_user, pod_sc.run_as_group)
}

/// Kinds without a namespace.
pub fn cluster_scoped(kind: &str) -> bool {
    matches!(
        kind,
        "ClusterRole" | "ClusterRoleBinding" | "CustomResourceDefinition"
    )
}

/// Renders a value set once per test binary and caches the result.
pub fn render(set: &str) -> Rendered {
    static CACHE: OnceLock<Mutex<HashMap<String, Rendered>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache.lock().expect("cache").get(set) {
        return hit.clone();
    }
    let file = values_file(set);
    let stream = run_script(&["render", "-f", file.to_str().expect("utf-8 path")])
        .unwrap_or_else(|err| panic!("value set {set} does not render:\n{err}"));
    let rendered = parse_stream(set, &stream);
    cache
        .lock()
        .expect("cache")
        .insert(set.to_owned(), rendered.clone());
    rendered
}

pub fn parse_stream(set: &str, stream: &str) -> Rendered {
    let mut rendered = Rendered {
        set: set.to_owned(),
        ..Rendered::default()
    };
    for chunk in stream.split("\n---\n") {
        let source = chunk
            .lines()
            .find_map(|line| line.strip_prefix("# Source: "))
            .unwrap_or("?")
            .to_owned();
        let body = chunk.trim_start_matches("---\n");
        let value: Value = serde_yaml::from_str(body)
            .unwrap_or_else(|err| panic!("{set}: {source} is not YAML: {err}\n{body}"));
        if value.is_null() {
            continue;
        }
        let doc = Doc { source, value };
        sort_into(&mut rendered, &doc);
        rendered.docs.push(doc);
    }
    assert!(!rendered.docs.is_empty(), "{set}: nothing rendered");
    rendered
}

fn sort_into(rendered: &mut Rendered, doc: &Doc) {
    match doc.kind() {
        ("apps/v1", "Deployment") => rendered.deployments.push(typed(doc)),
        ("v1", "ServiceAccount") => rendered.service_accounts.push(typed(doc)),
        ("v1", "Pod") => rendered.test_pods.push(typed(doc)),
        ("v1", "Service") => rendered.services.push(typed(doc)),
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => rendered.cluster_roles.push(typed(doc)),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
            rendered.cluster_role_bindings.push(typed(doc))
        }
        ("rbac.authorization.k8s.io/v1", "Role") => rendered.roles.push(typed(doc)),
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => rendered.role_bindings.push(typed(doc)),
        ("policy/v1", "PodDisruptionBudget") => rendered.pod_disruption_budgets.push(typed(doc)),
        ("networking.k8s.io/v1", "NetworkPolicy") => rendered.network_policies.push(typed(doc)),
        ("monitoring.coreos.com/v1", "ServiceMonitor") => {
            rendered.service_monitors.push(doc.value.clone())
        }
        ("monitoring.coreos.com/v1", "PrometheusRule") => {
            rendered.prometheus_rules.push(doc.value.clone())
        }
        ("v1", "ConfigMap") => rendered.config_maps.push(typed(doc)),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition") => rendered.crds.push(typed(doc)),
        (api_version, kind) => panic!(
            "{}: {} renders an unexpected {api_version}/{kind}",
            rendered.set, doc.source
        ),
    }
}

/// Parses a document as the k8s-openapi type it claims to be, and serializes it back: any field the
/// type does not know (a typo, a wrong nesting level) or a value of the wrong type makes the two differ.
pub fn typed<K: DeserializeOwned + Serialize>(doc: &Doc) -> K {
    let object: K = serde_json::from_value(doc.value.clone())
        .unwrap_or_else(|err| panic!("{} does not parse as {:?}: {err}", doc.source, doc.kind()));
    let back = serde_json::to_value(&object).expect("serialize");
    assert_eq!(
        back,
        doc.value,
        "{}: fields lost when parsed as {:?} (unknown or misplaced fields)",
        doc.source,
        doc.kind()
    );
    object
}

pub fn pod_labels(rendered: &Rendered) -> BTreeMap<String, String> {
    let spec = rendered.deployment().spec.as_ref().expect("spec");
    spec.template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .expect("pod labels")
}

pub fn selects_pods(rendered: &Rendered, selector: &BTreeMap<String, String>) -> bool {
    let labels = pod_labels(rendered);
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The first `# expect: <text>` comment of an invalid value file: what the rejection must mention.
pub fn expected_rejection(path: &Path) -> String {
    std::fs::read_to_string(path)
        .expect("invalid values file")
        .lines()
        .find_map(|line| line.strip_prefix("# expect: ").map(str::to_owned))
        .unwrap_or_else(|| panic!("{} has no `# expect:` line", path.display()))
}

#[derive(Debug, Deserialize)]
pub struct ChartMetadata {
    pub version: String,
    #[serde(rename = "appVersion")]
    pub app_version: String,
}
