//! Set-up shared by the rows of `tests/real_apiserver.rs`: a control plane with the CRDs, the
//! operator binary as a child process, the chart's RBAC rendered by Helm's engine and applied
//! to the real API server, and audit-log queries.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use hostrisk_envtest::{apply_crds, spawn_tied, AuditEvent, ControlPlane, Options};
use hostrisk_operator::crd::HostRiskWatch;
use hostrisk_sim::hss::HssSimulator;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use kube::Api;
use serde_json::{json, Value};

use crate::e2e_story::{demo_secret, watch_of};
use crate::render::{self, Rendered};

pub const BIN: &str = env!("CARGO_BIN_EXE_hostrisk-operator");
/// The chart's release namespace (tests/chart/render.rs renders with it).
pub const RELEASE_NAMESPACE: &str = render::RELEASE_NAMESPACE;
/// The chart's operator ServiceAccount, ClusterRole and Lease name (release = chart name).
pub const OPERATOR: &str = "hostrisk-operator";
pub const CRD_NAME: &str = "hostriskwatches.hostrisk.io";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A control plane with `crds/` applied, or `None` (after a SKIP line) without
/// KUBEBUILDER_ASSETS. Panics when the assets are there but the control plane does not start.
pub async fn cluster(test: &str, audit_log: bool) -> Option<ControlPlane> {
    let options = Options {
        audit_log,
        ..Options::default()
    };
    let plane = match ControlPlane::start_from_env(test, options).await {
        Ok(Some(plane)) => plane,
        Ok(None) => return None,
        Err(error) => {
            panic!("KUBEBUILDER_ASSETS is set but the control plane did not start: {error}")
        }
    };
    eprintln!(
        "{test}: kube-apiserver {} ready in {:.1} s",
        plane.version(),
        plane.startup_duration().as_secs_f64()
    );
    apply_crds(&plane.client(), &repo().join("crds"))
        .await
        .unwrap_or_else(|e| panic!("applying crds/: {e}"));
    Some(plane)
}

pub async fn create_namespace_named(client: &kube::Client, name: &str) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let body: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    namespaces
        .create(&PostParams::default(), &body)
        .await
        .unwrap_or_else(|e| panic!("creating namespace {name}: {e}"));
}

/// Namespace `apps` with the Secret `creds` and the watch `fleet` of `hosts` on `sim`; the
/// watches of `apps`.
pub async fn create_fleet(
    client: &kube::Client,
    sim: &HssSimulator,
    hosts: &[&str],
) -> Api<HostRiskWatch> {
    create_namespace_named(client, "apps").await;
    let watches: Api<HostRiskWatch> = Api::namespaced(client.clone(), "apps");
    Api::<Secret>::namespaced(client.clone(), "apps")
        .create(&PostParams::default(), &demo_secret("creds"))
        .await
        .unwrap();
    watches
        .create(
            &PostParams::default(),
            &watch_of("fleet", sim, hosts, "creds"),
        )
        .await
        .unwrap();
    watches
}

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `hostrisk-operator run ...` as a child process (killed with the test process), its stdout
/// and stderr in a log file.
pub struct Operator {
    pub name: String,
    child: Child,
    log: PathBuf,
    pub health_port: u16,
}

impl Operator {
    /// Starts the binary with `args` (which must contain `run` and a `--health-addr` on
    /// `health_port`), KUBECONFIG set to `kubeconfig`, and `env`.
    pub fn spawn(
        name: &str,
        args: &[String],
        health_port: u16,
        kubeconfig: &Path,
        log_dir: &Path,
        env: &[(&str, &str)],
    ) -> Operator {
        let log = log_dir.join(format!("operator-{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let mut command = Command::new(BIN);
        command
            .args(args)
            .env("KUBECONFIG", kubeconfig)
            .env_remove("POD_NAME")
            .env_remove("POD_NAMESPACE")
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = spawn_tied(command).unwrap_or_else(|e| panic!("starting {BIN}: {e}"));
        Operator {
            name: name.to_string(),
            child,
            log,
            health_port,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The exit status if the process ended.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    pub async fn readyz(&self) -> Option<u16> {
        self.probe("readyz").await
    }

    pub async fn livez(&self) -> Option<u16> {
        self.probe("livez").await
    }

    async fn probe(&self, path: &str) -> Option<u16> {
        let url = format!("http://127.0.0.1:{}/{path}", self.health_port);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        client
            .get(url)
            .send()
            .await
            .ok()
            .map(|r| r.status().as_u16())
    }

    pub async fn wait_ready(&mut self, limit: Duration) {
        self.wait_for_probe("readyz", limit).await;
    }

    pub async fn wait_live(&mut self, limit: Duration) {
        self.wait_for_probe("livez", limit).await;
    }

    async fn wait_for_probe(&mut self, path: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if self.probe(path).await == Some(200) {
                return;
            }
            if let Some(status) = self.exited() {
                panic!(
                    "operator {} exited ({status}) before /{path} answered 200; log:\n{}",
                    self.name,
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "operator {}: /{path} not 200 in {limit:?}; log:\n{}",
                self.name,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL: no chance to release the Lease or finish a write.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait (10 s); the exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.exited() {
                return status.code();
            }
            if Instant::now() > deadline {
                self.kill9();
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Renders the chart with the value files (later ones win, like `helm -f a -f b`).
pub fn render_chart(set: &str, files: &[&Path]) -> Rendered {
    let mut args = vec!["render".to_string()];
    for file in files {
        args.push("-f".into());
        args.push(file.display().to_string());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let stream = render::run_script(&refs)
        .unwrap_or_else(|err| panic!("the chart does not render with {files:?}:\n{err}"));
    render::parse_stream(set, &stream)
}

/// The RBAC objects and the ServiceAccount of a rendered chart, as rendered.
pub fn rbac_documents(rendered: &Rendered) -> Vec<Value> {
    rendered.rbac_documents()
}

/// Applies objects (server-side apply, field manager `helm`), creating namespaced ones in the
/// namespace they name.
pub async fn apply_objects(client: &kube::Client, objects: &[Value]) {
    for object in objects {
        let (api, kind, name) = api_of(client, object);
        api.patch(
            name,
            &PatchParams::apply("helm").force(),
            &Patch::Apply(object),
        )
        .await
        .unwrap_or_else(|e| panic!("applying {kind} {name}: {e}"));
    }
}

/// The API of `object`'s kind (in its namespace, if it names one), its kind and its name.
fn api_of<'a>(client: &kube::Client, object: &'a Value) -> (Api<DynamicObject>, &'a str, &'a str) {
    let api_version = object["apiVersion"].as_str().unwrap();
    let kind = object["kind"].as_str().unwrap();
    let name = object["metadata"]["name"].as_str().unwrap();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    let api = match object["metadata"]["namespace"].as_str() {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    (api, kind, name)
}

/// Deletes objects (what Helm does with the ones an upgrade no longer renders); gone already
/// is fine.
pub async fn delete_objects(client: &kube::Client, objects: &[Value]) {
    for object in objects {
        let (api, kind, name) = api_of(client, object);
        match api.delete(name, &Default::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(e) => panic!("deleting {kind} {name}: {e}"),
        }
    }
}

/// The Deployment's container args with the health port replaced (the rendered one is a
/// container port; two test processes cannot share it).
pub fn deployment_args(rendered: &Rendered, health_port: u16) -> Vec<String> {
    rendered
        .args()
        .into_iter()
        .map(|arg| {
            if arg.starts_with("--health-addr=") {
                format!("--health-addr=127.0.0.1:{health_port}")
            } else {
                arg
            }
        })
        .collect()
}

/// A values file in `dir` with the settings a test needs on top of a value set: the
/// simulator allowed as an endpoint and as the IAM endpoint, a quota that does not slow the
/// test down.
pub fn test_values(dir: &Path, name: &str, sim_url: &str, extra: Value) -> PathBuf {
    let mut values = json!({
        "controller": {
            "allowedEndpoints": [sim_url],
            "iamEndpoint": sim_url,
            "hssCallsPerMinute": 600,
            "logLevel": "info,hostrisk_operator=debug,kube_runtime=info",
        }
    });
    merge(&mut values, extra);
    let path = dir.join(format!("{name}-values.yaml"));
    std::fs::write(&path, serde_yaml::to_string(&values).unwrap()).unwrap();
    path
}

fn merge(base: &mut Value, extra: Value) {
    match (base, extra) {
        (Value::Object(base), Value::Object(extra)) => {
            for (key, value) in extra {
                merge(base.entry(key).or_insert(Value::Null), value);
            }
        }
        (base, extra) => *base = extra,
    }
}

/// Audit events of one user.
pub fn events_of<'a>(events: &'a [AuditEvent], user: &str) -> Vec<&'a AuditEvent> {
    events.iter().filter(|e| e.username() == user).collect()
}

/// `verb resource -> [codes]` for failure messages and the report.
pub fn usage(events: &[&AuditEvent]) -> BTreeMap<String, BTreeMap<u16, usize>> {
    let mut usage: BTreeMap<String, BTreeMap<u16, usize>> = BTreeMap::new();
    for event in events {
        *usage
            .entry(format!("{} {}", event.verb, event.resource()))
            .or_default()
            .entry(event.code())
            .or_default() += 1;
    }
    usage
}

pub fn service_account_user(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// Status writes (any verb on `hostriskwatches/status` answered 2xx).
pub fn is_status_write(event: &AuditEvent) -> bool {
    event.resource() == "hostriskwatches/status"
        && matches!(event.verb.as_str(), "patch" | "update")
        && (200..300).contains(&event.code())
}

pub async fn lease_holder(client: &kube::Client, namespace: &str, name: &str) -> String {
    let leases: Api<Lease> = Api::namespaced(client.clone(), namespace);
    leases
        .get_opt(name)
        .await
        .unwrap()
        .and_then(|lease| lease.spec)
        .and_then(|spec| spec.holder_identity)
        .unwrap_or_default()
}

/// The managedFields entry of `manager` for the status subresource, if any.
pub fn status_manager_entry<'a>(
    watch: &'a HostRiskWatch,
    manager: &str,
) -> Option<&'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry> {
    watch
        .metadata
        .managed_fields
        .as_ref()?
        .iter()
        .find(|entry| {
            entry.manager.as_deref() == Some(manager)
                && entry.subresource.as_deref() == Some("status")
        })
}

/// kubectl: `.venv/bin/kubectl` (installed by .ci/setup-tools.sh), else the one on PATH.
pub fn kubectl() -> PathBuf {
    let venv = repo().join(".venv/bin/kubectl");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("kubectl")
    }
}

/// The operator binary with the admin kubeconfig, the simulator allowed, a quota out of the
/// way, and `extra` args.
pub async fn admin_operator(
    plane: &ControlPlane,
    sim_url: &str,
    name: &str,
    extra: &[&str],
) -> Operator {
    let port = free_port();
    let mut args = vec![
        "run".to_string(),
        format!("--health-addr=127.0.0.1:{port}"),
        format!("--allowed-endpoints={sim_url}"),
        "--hss-calls-per-minute=600".into(),
        "--log-level=info,hostrisk_operator=debug".into(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    let mut operator = Operator::spawn(
        name,
        &args,
        port,
        plane.kubeconfig_path(),
        plane.dir(),
        &[("POD_NAME", name)],
    );
    operator.wait_ready(Duration::from_secs(60)).await;
    operator
}

/// An audit timestamp (`requestReceivedTimestamp`).
pub fn audit_time(event: &AuditEvent) -> jiff::Timestamp {
    event
        .request_received_timestamp
        .as_deref()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no timestamp: {}", event.summary()))
}
