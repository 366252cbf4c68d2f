//! A real Prometheus server (Debian's `prometheus`) scraping the running operator in the stand-in
//! world every second and evaluating the chart's rules (rendered with tests/alerts/values/e2e.yaml:
//! `for: 2s` for HostRiskHostAtRisk, the test's job name), and its HTTP API. End to end: a host
//! turning risky in the simulator makes HostRiskHostAtRisk fire, and the host clean again resolves it.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::harness::{is_synced, NS};
use super::promtool::which;
use super::rules::{prometheus_rule, write_rules_file};
use super::world::World;

/// The job of the test's scrape config, and `prometheusRule.job` of e2e.yaml.
pub const JOB: &str = "hostrisk-e2e";
/// Generous: a debug build and Prometheus share two cores with other work.
const LIMIT: Duration = Duration::from_secs(120);

/// The Prometheus process and its data directory: killed and removed when dropped, panics included.
pub struct Prometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // `_dir` is removed after this, with the TSDB in it.
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

impl Prometheus {
    /// Scrapes `target` (`host:port`) every second as job [`JOB`], with the e2e rules loaded.
    pub fn start(target: &str) -> Prometheus {
        let binary = which("prometheus")
            .expect("prometheus not found: run `bash .ci/setup-tools.sh` (Debian's prometheus)");
        let dir = tempfile::tempdir().expect("tempdir");
        write_rules_file(&prometheus_rule("e2e"), dir.path());
        let config = json!({
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": ["rules.yaml"],
            "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": [target]}]}],
        });
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, serde_yaml::to_string(&config).expect("yaml"))
            .expect("config");
        let port = free_port();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start prometheus");
        Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }

    async fn get(&self, http: &reqwest::Client, path: &str) -> Option<Value> {
        let response = http.get(format!("{}{path}", self.url)).send().await.ok()?;
        response.json().await.ok()
    }

    /// Alerts Prometheus has now (pending or firing) named `name`.
    async fn alerts(&self, http: &reqwest::Client, name: &str) -> Vec<Value> {
        let body = self.get(http, "/api/v1/alerts").await.unwrap_or_default();
        let alerts = body["data"]["alerts"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        alerts
            .into_iter()
            .filter(|a| a["labels"]["alertname"] == name)
            .collect()
    }

    /// The instant vector `query` evaluates to (empty when Prometheus is not answering yet).
    pub async fn query(&self, http: &reqwest::Client, query: &str) -> Vec<Value> {
        self.evaluate(http, query).await.unwrap_or_default()
    }

    /// What `query` evaluates to now, or Prometheus' error (a query it cannot parse or run).
    pub async fn evaluate(
        &self,
        http: &reqwest::Client,
        query: &str,
    ) -> Result<Vec<Value>, String> {
        let path = format!("/api/v1/query?query={}", urlencode(query));
        let body = self
            .get(http, &path)
            .await
            .ok_or_else(|| format!("no answer to {query}"))?;
        if body["status"] != "success" {
            return Err(format!("{}: {}", body["errorType"], body["error"]));
        }
        Ok(body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Waits (polling every 250 ms, up to [`LIMIT`]) until `probe` holds.
pub async fn until<F, Fut>(what: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + LIMIT;
    while !probe().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {LIMIT:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_at_risk_fires_in_a_real_prometheus_and_resolves() {
    let world = World::start().await;
    let h = &world.harness;
    h.create_demo_secret(NS, "hss").await;
    world
        .put_host("e2e-host", "online", "opened", "clean")
        .await;
    h.create_watch(NS, "e2e", &["e2e-host"], "hss", "1s").await;
    h.wait_for(NS, "e2e", "synced", is_synced).await;

    let target = world.operator_url.trim_start_matches("http://").to_owned();
    let prometheus = Prometheus::start(&target);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let clean = "hostrisk_watch_hosts_by_detect_result{detect_result=\"clean\",name=\"e2e\"} == 1";
    until("Prometheus scrapes the clean watch", || async {
        !prometheus.query(&http, clean).await.is_empty()
    })
    .await;
    assert!(
        prometheus
            .alerts(&http, "HostRiskHostAtRisk")
            .await
            .is_empty(),
        "nothing at risk yet"
    );

    world
        .patch_host("e2e-host", json!({"detect_result": "risk"}))
        .await;
    until("HostRiskHostAtRisk fires", || async {
        let alerts = prometheus.alerts(&http, "HostRiskHostAtRisk").await;
        alerts.iter().any(|a| a["state"] == "firing")
    })
    .await;
    let alerts = prometheus.alerts(&http, "HostRiskHostAtRisk").await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = &alerts[0];
    assert_eq!(alert["labels"]["namespace"], NS);
    assert_eq!(alert["labels"]["name"], "e2e");
    assert_eq!(alert["labels"]["job"], JOB);
    assert_eq!(alert["labels"]["severity"], "warning");
    assert_eq!(
        alert["annotations"]["summary"],
        format!("HostRiskWatch {NS}/e2e: 100% of its hosts at risk")
    );
    assert!(
        prometheus
            .alerts(&http, "HostRiskOperatorDown")
            .await
            .is_empty(),
        "the operator's target is up"
    );

    world
        .patch_host("e2e-host", json!({"detect_result": "clean"}))
        .await;
    until("HostRiskHostAtRisk resolves", || async {
        prometheus
            .alerts(&http, "HostRiskHostAtRisk")
            .await
            .is_empty()
    })
    .await;
    drop(prometheus);
    world.stop().await;
}
