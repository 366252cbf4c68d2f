//! Starting, restarting and stopping one kube-apiserver + etcd pair.
//!
//! The flags are the ones `shared/envtest/README.md` lists as working with these assets, chosen
//! for a control plane without controller-manager or nodes: real RBAC, TokenRequest with an
//! RS256 key, no priority-and-fairness (its queues only add latency on a 2-core machine) and no
//! endpoint reconciler (127.0.0.1 is not a valid Endpoints address).

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::PostParams;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::Api;

use crate::pki::{self, Pki};
use crate::{audit, process, report, AuditEvent, EnvtestError};

/// The directory holding `kube-apiserver` and `etcd` (controller-runtime's convention).
pub const ASSETS_ENV: &str = "KUBEBUILDER_ASSETS";
/// A directory where each control plane appends a report line when it stops.
pub const REPORT_ENV: &str = "HOSTRISK_ENVTEST_REPORT";

/// Directory name prefix in the system temp dir; the pid follows, so a later start can tell
/// directories of dead processes (killed before they could clean up) and remove them.
const DIR_PREFIX: &str = "hostrisk-envtest-";
const PORT_ATTEMPTS: u32 = 5;
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// Grace after SIGTERM when the data is thrown away anyway.
const STOP_GRACE: Duration = Duration::from_secs(3);
/// Grace after SIGTERM on restart, where etcd's data must stay intact.
const RESTART_GRACE: Duration = Duration::from_secs(15);
/// kube-apiserver's graceful shutdown waits for open watches (a running operator always has
/// some) far longer than a test should; it keeps no state of its own, so after this it is
/// killed, like an API server that crashed.
const APISERVER_GRACE: Duration = Duration::from_secs(2);
const USER_AGENT: &str = "hostrisk-envtest";

/// How to start a control plane.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Write a JSON audit log (every request, Metadata level), read with
    /// [`ControlPlane::audit_events`].
    pub audit_log: bool,
    /// Appended to kube-apiserver's command line (a later flag overrides an earlier one).
    pub extra_apiserver_args: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
struct Ports {
    etcd_client: u16,
    etcd_peer: u16,
    apiserver: u16,
}

/// A running kube-apiserver backed by etcd, on loopback, with its own PKI and data in a
/// temporary directory. Stopped and removed by [`ControlPlane::stop`] or on drop.
pub struct ControlPlane {
    test_name: String,
    options: Options,
    apiserver_bin: PathBuf,
    etcd_bin: PathBuf,
    dir: Option<tempfile::TempDir>,
    root: PathBuf,
    pki: Pki,
    ports: Ports,
    etcd: Option<Child>,
    apiserver: Option<Child>,
    server_url: String,
    kubeconfig: PathBuf,
    client: kube::Client,
    version: String,
    started: Instant,
    startup: Duration,
}

impl std::fmt::Debug for ControlPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlPlane")
            .field("test_name", &self.test_name)
            .field("server_url", &self.server_url)
            .field("version", &self.version)
            .field("dir", &self.root)
            .finish_non_exhaustive()
    }
}

impl ControlPlane {
    /// Starts a control plane from the binaries in `$KUBEBUILDER_ASSETS`.
    ///
    /// Without the variable (or with it empty) this prints one `SKIP` line naming `test_name`
    /// and returns `Ok(None)`: the caller returns early and the test passes. With it set, any
    /// failure is an `Err`: a test must fail, never skip, when the assets are there.
    pub async fn start_from_env(
        test_name: &str,
        options: Options,
    ) -> Result<Option<ControlPlane>, EnvtestError> {
        let Some(dir) = std::env::var_os(ASSETS_ENV).filter(|v| !v.is_empty()) else {
            // Straight to the stderr handle: the test harness captures `eprintln!` of passing
            // tests, and this line is the only trace a skipped test leaves.
            let _ = writeln!(
                std::io::stderr(),
                "SKIP {test_name}: {ASSETS_ENV} is not set; real kube-apiserver tests skipped \
                 (see README: Real API server tests)"
            );
            return Ok(None);
        };
        Self::start_named(test_name, Path::new(&dir), options)
            .await
            .map(Some)
    }

    /// Starts a control plane from the binaries in `assets_dir`. The report line (if any) is
    /// named after the current thread, which the test harness names after the test.
    pub async fn start(assets_dir: &Path, options: Options) -> Result<ControlPlane, EnvtestError> {
        let name = std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .to_string();
        Self::start_named(&name, assets_dir, options).await
    }

    async fn start_named(
        test_name: &str,
        assets_dir: &Path,
        options: Options,
    ) -> Result<ControlPlane, EnvtestError> {
        let started = Instant::now();
        let apiserver_bin = executable(assets_dir, "kube-apiserver")?;
        let etcd_bin = executable(assets_dir, "etcd")?;
        remove_directories_of_dead_processes();
        let dir = tempfile::Builder::new()
            .prefix(&format!("{DIR_PREFIX}{}-", std::process::id()))
            .tempdir()
            .map_err(|e| EnvtestError::io("creating the control plane's temp dir", e))?;
        let root = dir.path().to_path_buf();
        let pki = pki::generate(&root.join("pki"))?;
        if options.audit_log {
            let policy = root.join("audit-policy.yaml");
            std::fs::write(&policy, audit::POLICY)
                .map_err(|e| EnvtestError::io(format!("writing {}", policy.display()), e))?;
        }

        let mut last_race = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let ports = Ports {
                etcd_client: process::free_port()?,
                etcd_peer: process::free_port()?,
                apiserver: process::free_port()?,
            };
            // A failed attempt may have initialised etcd's data with other peer URLs.
            let data = root.join("etcd-data");
            if data.exists() {
                std::fs::remove_dir_all(&data)
                    .map_err(|e| EnvtestError::io(format!("removing {}", data.display()), e))?;
            }
            let server_url = format!("https://127.0.0.1:{}", ports.apiserver);
            let kubeconfig = root.join("admin.kubeconfig");
            write_file(&kubeconfig, &admin_kubeconfig(&server_url, &pki))?;
            let client =
                client_from_kubeconfig_text(&admin_kubeconfig(&server_url, &pki), "admin").await?;
            let mut plane = ControlPlane {
                test_name: test_name.to_string(),
                options: options.clone(),
                apiserver_bin: apiserver_bin.clone(),
                etcd_bin: etcd_bin.clone(),
                dir: None,
                root: root.clone(),
                pki: pki.clone(),
                ports,
                etcd: None,
                apiserver: None,
                server_url,
                kubeconfig,
                client,
                version: String::new(),
                started,
                startup: Duration::ZERO,
            };
            match plane.launch().await {
                Ok(()) => {
                    plane.version = plane
                        .client
                        .apiserver_version()
                        .await
                        .map_err(|e| EnvtestError::kube("reading /version", e))?
                        .git_version;
                    plane.dir = Some(dir);
                    plane.startup = started.elapsed();
                    return Ok(plane);
                }
                Err(Launch::PortRace(message)) => {
                    plane.kill_processes(STOP_GRACE);
                    last_race = message;
                }
                Err(Launch::Failed(error)) => {
                    plane.kill_processes(STOP_GRACE);
                    return Err(error);
                }
            }
        }
        Err(EnvtestError::Ports {
            attempts: PORT_ATTEMPTS,
            last: last_race,
        })
    }

    /// An admin client (client certificate in `system:masters`; user agent `hostrisk-envtest`).
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// The admin kubeconfig (for kubectl and child processes).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// `https://127.0.0.1:PORT`.
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// The CA that signed the serving and admin certificates, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.pki.ca_pem
    }

    /// kube-apiserver's `gitVersion` from `/version`, e.g. `v1.36.2`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// How long the start took, from the call to `/readyz` = `ok` (PKI included).
    pub fn startup_duration(&self) -> Duration {
        self.startup
    }

    /// The control plane's temporary directory (PKI, logs, etcd data, kubeconfigs).
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// Mints a ServiceAccount token through the TokenRequest API (the ServiceAccount must
    /// exist). Empty `audiences` means the API server's own audience, so the token
    /// authenticates against it; `expiration_seconds` is at least 600.
    pub async fn service_account_token(
        &self,
        namespace: &str,
        name: &str,
        audiences: &[String],
        expiration_seconds: i64,
    ) -> Result<String, EnvtestError> {
        let accounts: Api<ServiceAccount> = Api::namespaced(self.client.clone(), namespace);
        let request = TokenRequest {
            spec: TokenRequestSpec {
                audiences: audiences.to_vec(),
                expiration_seconds: Some(expiration_seconds),
                bound_object_ref: None,
            },
            ..TokenRequest::default()
        };
        let answer = accounts
            .create_token_request(name, &PostParams::default(), &request)
            .await
            .map_err(|e| {
                EnvtestError::kube(
                    format!("TokenRequest for serviceaccount {namespace}/{name}"),
                    e,
                )
            })?;
        answer
            .status
            .map(|status| status.token)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                EnvtestError::Kubeconfig(format!(
                    "TokenRequest for {namespace}/{name} answered without a token"
                ))
            })
    }

    /// Writes a kubeconfig authenticating with `token` (e.g. a ServiceAccount's) as
    /// `file_name` in the control plane's directory, and returns its path.
    pub fn write_kubeconfig_for_token(
        &self,
        token: &str,
        file_name: &str,
    ) -> Result<PathBuf, EnvtestError> {
        if file_name.is_empty() || file_name.contains('/') || file_name.starts_with('.') {
            return Err(EnvtestError::Kubeconfig(format!(
                "{file_name:?} is not a plain file name"
            )));
        }
        let path = self.root.join(file_name);
        write_file(&path, &token_kubeconfig(&self.server_url, &self.pki, token))?;
        Ok(path)
    }

    /// A client authenticating with `token` (user agent `hostrisk-envtest (token)`).
    pub async fn client_for_token(&self, token: &str) -> Result<kube::Client, EnvtestError> {
        client_from_kubeconfig_text(
            &token_kubeconfig(&self.server_url, &self.pki, token),
            "token",
        )
        .await
    }

    /// Stops kube-apiserver (SIGTERM, SIGKILL after 2 s if watches keep it busy) and etcd
    /// (SIGTERM, so it closes its data cleanly) and starts
    /// both again on the same ports with the same data, then waits for `/readyz`. Clients
    /// made before keep working: the URL and the PKI do not change.
    pub async fn restart(&mut self) -> Result<(), EnvtestError> {
        self.kill_processes(RESTART_GRACE);
        match self.launch().await {
            Ok(()) => Ok(()),
            Err(Launch::Failed(error)) => Err(error),
            Err(Launch::PortRace(message)) => Err(EnvtestError::Ports {
                attempts: 1,
                last: format!("restart on the same ports: {message}"),
            }),
        }
    }

    /// The audit log's `ResponseComplete` events so far (requires `audit_log: true`).
    pub fn audit_events(&self) -> Result<Vec<AuditEvent>, EnvtestError> {
        if !self.options.audit_log {
            return Err(EnvtestError::AuditLogOff);
        }
        audit::read(&self.audit_log_path())
    }

    /// The last `lines` lines of kube-apiserver's log (for failure messages).
    pub fn apiserver_log_tail(&self, lines: usize) -> String {
        process::tail(&self.root.join("kube-apiserver.log"), lines)
    }

    /// Stops both processes and removes the directory (what drop does; async for symmetry
    /// with `start`, and so the waiting happens off the runtime's thread).
    pub async fn stop(self) {
        let _ = tokio::task::spawn_blocking(move || drop(self)).await;
    }

    fn audit_log_path(&self) -> PathBuf {
        self.root.join("audit.log")
    }

    fn etcd_args(&self) -> Vec<String> {
        let p = self.ports;
        vec![
            "--name=envtest".into(),
            format!("--data-dir={}", self.root.join("etcd-data").display()),
            format!("--listen-client-urls=http://127.0.0.1:{}", p.etcd_client),
            format!("--advertise-client-urls=http://127.0.0.1:{}", p.etcd_client),
            format!("--listen-peer-urls=http://127.0.0.1:{}", p.etcd_peer),
            format!(
                "--initial-advertise-peer-urls=http://127.0.0.1:{}",
                p.etcd_peer
            ),
            "--log-level=warn".into(),
        ]
    }

    fn apiserver_args(&self) -> Vec<String> {
        let path = |p: &Path| p.display().to_string();
        let mut args = vec![
            format!("--etcd-servers=http://127.0.0.1:{}", self.ports.etcd_client),
            format!("--secure-port={}", self.ports.apiserver),
            "--bind-address=127.0.0.1".into(),
            "--advertise-address=127.0.0.1".into(),
            format!("--cert-dir={}", path(&self.root.join("apiserver-certs"))),
            format!("--tls-cert-file={}", path(&self.pki.serving_cert)),
            format!("--tls-private-key-file={}", path(&self.pki.serving_key)),
            format!("--client-ca-file={}", path(&self.pki.ca_cert)),
            "--service-account-issuer=https://kubernetes.default.svc".into(),
            format!("--service-account-key-file={}", path(&self.pki.sa_public)),
            format!(
                "--service-account-signing-key-file={}",
                path(&self.pki.sa_private)
            ),
            "--service-cluster-ip-range=10.96.0.0/16".into(),
            "--authorization-mode=Node,RBAC".into(),
            "--enable-priority-and-fairness=false".into(),
            "--endpoint-reconciler-type=none".into(),
        ];
        if self.options.audit_log {
            args.push(format!(
                "--audit-policy-file={}",
                path(&self.root.join("audit-policy.yaml"))
            ));
            args.push(format!("--audit-log-path={}", path(&self.audit_log_path())));
            args.push("--audit-log-format=json".into());
        }
        args.extend(self.options.extra_apiserver_args.iter().cloned());
        args
    }

    /// Starts etcd and kube-apiserver (together: the API server retries etcd until it answers)
    /// and waits for `/readyz` = `ok`.
    async fn launch(&mut self) -> Result<(), Launch> {
        let etcd_log = self.root.join("etcd.log");
        let apiserver_log = self.root.join("kube-apiserver.log");
        self.etcd = Some(process::spawn(
            &self.etcd_bin,
            &self.etcd_args(),
            &etcd_log,
        )?);
        self.apiserver = Some(process::spawn(
            &self.apiserver_bin,
            &self.apiserver_args(),
            &apiserver_log,
        )?);
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last;
        loop {
            for (component, log) in [("etcd", &etcd_log), ("kube-apiserver", &apiserver_log)] {
                let child = if component == "etcd" {
                    &mut self.etcd
                } else {
                    &mut self.apiserver
                };
                if let Some(status) = child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                    let tail = process::tail(log, 40);
                    if process::lost_port_race(&tail) {
                        return Err(Launch::PortRace(format!("{component}: {tail}")));
                    }
                    return Err(Launch::Failed(EnvtestError::Exited {
                        component,
                        status: status.to_string(),
                        log: log.clone(),
                        tail,
                    }));
                }
            }
            let request = http::Request::get("/readyz").body(Vec::new());
            match request {
                Ok(request) => match self.client.request_text(request).await {
                    Ok(body) if body.trim() == "ok" => return Ok(()),
                    Ok(body) => last = body,
                    Err(error) => last = error.to_string(),
                },
                Err(error) => last = error.to_string(),
            }
            if Instant::now() > deadline {
                return Err(Launch::Failed(EnvtestError::NotReady {
                    seconds: READY_TIMEOUT.as_secs(),
                    last,
                    apiserver_tail: process::tail(&apiserver_log, 40),
                    etcd_tail: process::tail(&etcd_log, 20),
                }));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The API server first (it would log etcd errors while etcd goes), then etcd.
    fn kill_processes(&mut self, grace: Duration) {
        if let Some(mut child) = self.apiserver.take() {
            process::terminate(&mut child, grace.min(APISERVER_GRACE));
        }
        if let Some(mut child) = self.etcd.take() {
            process::terminate(&mut child, grace);
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.kill_processes(STOP_GRACE);
        if let Some(dir) = self.dir.take() {
            if let Some(report_dir) = std::env::var_os(REPORT_ENV).filter(|v| !v.is_empty()) {
                report::append(
                    Path::new(&report_dir),
                    &self.test_name,
                    &self.version,
                    self.started.elapsed(),
                );
            }
            let path = dir.path().to_path_buf();
            if let Err(error) = dir.close() {
                eprintln!("envtest: could not remove {}: {error}", path.display());
            }
        }
    }
}

enum Launch {
    PortRace(String),
    Failed(EnvtestError),
}

impl From<EnvtestError> for Launch {
    fn from(error: EnvtestError) -> Self {
        Launch::Failed(error)
    }
}

fn executable(dir: &Path, name: &str) -> Result<PathBuf, EnvtestError> {
    let problem = |problem: String| EnvtestError::Assets {
        dir: dir.to_path_buf(),
        problem,
    };
    let path = dir.join(name);
    let metadata = std::fs::metadata(&path)
        .map_err(|e| problem(format!("{} is missing ({e})", path.display())))?;
    if !metadata.is_file() || metadata.permissions().mode() & 0o111 == 0 {
        return Err(problem(format!(
            "{} is not an executable file",
            path.display()
        )));
    }
    Ok(path)
}

fn write_file(path: &Path, text: &str) -> Result<(), EnvtestError> {
    std::fs::write(path, text)
        .map_err(|e| EnvtestError::io(format!("writing {}", path.display()), e))
}

fn yaml_string(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

fn kubeconfig(server_url: &str, pki: &Pki, user: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: envtest\n  cluster:\n    server: {}\n    certificate-authority: {}\nusers:\n- name: envtest-user\n  user:\n{user}contexts:\n- name: envtest\n  context:\n    cluster: envtest\n    user: envtest-user\n    namespace: default\ncurrent-context: envtest\n",
        yaml_string(server_url),
        yaml_string(&pki.ca_cert.display().to_string()),
    )
}

fn admin_kubeconfig(server_url: &str, pki: &Pki) -> String {
    let user = format!(
        "    client-certificate: {}\n    client-key: {}\n",
        yaml_string(&pki.admin_cert.display().to_string()),
        yaml_string(&pki.admin_key.display().to_string()),
    );
    kubeconfig(server_url, pki, &user)
}

fn token_kubeconfig(server_url: &str, pki: &Pki, token: &str) -> String {
    let user = format!("    token: {}\n", yaml_string(token));
    kubeconfig(server_url, pki, &user)
}

async fn client_from_kubeconfig_text(text: &str, who: &str) -> Result<kube::Client, EnvtestError> {
    let kubeconfig: Kubeconfig = serde_yaml::from_str(text)
        .map_err(|e| EnvtestError::Kubeconfig(format!("parsing the {who} kubeconfig: {e}")))?;
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(|e| EnvtestError::Kubeconfig(format!("loading the {who} kubeconfig: {e}")))?;
    let agent = if who == "admin" {
        USER_AGENT.to_string()
    } else {
        format!("{USER_AGENT} ({who})")
    };
    if let Ok(value) = http::HeaderValue::from_str(&agent) {
        config.headers.push((http::header::USER_AGENT, value));
    }
    kube::Client::try_from(config)
        .map_err(|e| EnvtestError::Kubeconfig(format!("building the {who} client: {e}")))
}

/// Removes `hostrisk-envtest-<pid>-*` directories whose process is gone (a test binary killed
/// before its control planes could clean up; their processes died with it).
fn remove_directories_of_dead_processes() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(DIR_PREFIX)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
