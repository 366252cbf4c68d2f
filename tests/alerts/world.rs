//! The stand-in world with its `/metrics` served over HTTP, as a Prometheus would scrape a pod: the
//! controller harness (stand-in API server, HSS simulator, real controller) plus the operator's own
//! health router on a free loopback port, and hosts set up through the simulator's admin API.
//! [`World::restart`] replaces the operator as a rollout would: the old pod's endpoint goes away and a
//! new process, with a fresh registry, serves on another port.

use std::time::Duration;

use hostrisk_operator::controller::health::router;
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use super::harness::{Harness, Options};

pub struct World {
    pub harness: Harness,
    /// `http://127.0.0.1:<port>`, serving /metrics, /livez and /readyz.
    pub operator_url: String,
    server: JoinHandle<()>,
    http: reqwest::Client,
}

/// Serves the health router of the harness's current operator on a free loopback port.
async fn serve(harness: &Harness) -> (String, JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free loopback port");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let app = router(harness.ctx.health.clone(), harness.ctx.metrics.clone());
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("health server");
    });
    (url, server)
}

impl World {
    pub async fn start() -> World {
        Self::start_with(Options::controller()).await
    }

    pub async fn start_with(options: Options) -> World {
        let harness = Harness::start(options).await;
        let (operator_url, server) = serve(&harness).await;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("http client");
        World {
            harness,
            operator_url,
            server,
            http,
        }
    }

    /// Stops the operator and starts a new one (fresh metrics) serving on another port; returns
    /// once the new one's `/metrics` accepts connections.
    pub async fn restart(&mut self) {
        self.server.abort();
        self.harness.restart().await;
        let (url, server) = serve(&self.harness).await;
        self.operator_url = url;
        self.server = server;
    }

    /// Creates or replaces a simulator host (PUT /_sim/hosts/{id}), installed with the given states.
    pub async fn put_host(&self, id: &str, agent: &str, protect: &str, detect: &str) {
        let host = json!({
            "host_id": id,
            "agent_status": agent,
            "install_result_code": "install_succeed",
            "version": "hss.version.enterprise",
            "protect_status": protect,
            "detect_result": detect,
            "asset": 3, "vulnerability": 1, "baseline": 2, "intrusion": 0,
        });
        self.admin(reqwest::Method::PUT, id, host).await;
    }

    /// Merge-patches a simulator host (PATCH /_sim/hosts/{id}), as README "The HSS simulator" shows.
    pub async fn patch_host(&self, id: &str, patch: Value) {
        self.admin(reqwest::Method::PATCH, id, patch).await;
    }

    async fn admin(&self, method: reqwest::Method, id: &str, body: Value) {
        let base = self.harness.endpoint();
        let url = format!("{}/_sim/hosts/{id}", base.trim_end_matches('/'));
        let response = self
            .http
            .request(method, &url)
            .json(&body)
            .send()
            .await
            .expect("simulator admin API");
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
    }

    /// `GET /metrics` as a classic scraper gets it (Prometheus text 0.0.4, what promtool reads).
    pub async fn scrape(&self) -> String {
        let response = self
            .http
            .get(format!("{}/metrics", self.operator_url))
            .send()
            .await
            .expect("GET /metrics");
        assert_eq!(response.status(), 200);
        response.text().await.expect("body")
    }

    pub async fn stop(self) {
        self.server.abort();
        self.harness.stop().await;
    }
}
