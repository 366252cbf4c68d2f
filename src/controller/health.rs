//! Health and metrics endpoints: `/livez`, `/readyz`, `/metrics` (a few counters in Prometheus
//! text format; the full metric families come later).

use std::fmt::Write as _;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

/// Liveness and readiness, shared by the controller tasks and the HTTP server.
#[derive(Debug, Default)]
pub struct Health {
    controller_alive: AtomicBool,
    crd_found: AtomicBool,
    watches_synced: AtomicBool,
    standby: AtomicBool,
}

impl Health {
    pub fn set_controller_alive(&self, alive: bool) {
        self.controller_alive.store(alive, Ordering::SeqCst);
    }

    pub fn set_crd_found(&self, found: bool) {
        self.crd_found.store(found, Ordering::SeqCst);
    }

    pub fn set_watches_synced(&self, synced: bool) {
        self.watches_synced.store(synced, Ordering::SeqCst);
    }

    /// A replica waiting for the leader-election Lease runs no controller yet: it is alive and
    /// ready (so a rolling update can proceed while the old leader still holds the Lease).
    pub fn set_standby(&self, standby: bool) {
        self.standby.store(standby, Ordering::SeqCst);
    }

    pub fn is_live(&self) -> bool {
        self.standby.load(Ordering::SeqCst) || self.controller_alive.load(Ordering::SeqCst)
    }

    /// Ready once the CRD was found and every primary watch completed its first list, and only
    /// while the controller task lives.
    pub fn is_ready(&self) -> bool {
        if self.standby.load(Ordering::SeqCst) {
            return true;
        }
        self.is_live()
            && self.crd_found.load(Ordering::SeqCst)
            && self.watches_synced.load(Ordering::SeqCst)
    }
}

/// Counters of what the controller did since it started.
#[derive(Debug, Default)]
pub struct Counters {
    pub reconciles: AtomicU64,
    pub reconcile_errors: AtomicU64,
    pub polls: AtomicU64,
    pub poll_failures: AtomicU64,
    pub status_writes: AtomicU64,
    pub events_published: AtomicU64,
    pub events_failed: AtomicU64,
}

impl Counters {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Prometheus text exposition (format 0.0.4).
    pub fn render(&self, health: &Health) -> String {
        let mut out = String::new();
        let counters: [(&str, &str, &AtomicU64); 7] = [
            (
                "hostrisk_reconciles_total",
                "Reconcile calls.",
                &self.reconciles,
            ),
            (
                "hostrisk_reconcile_errors_total",
                "Reconciles that returned an error (Kubernetes API failures).",
                &self.reconcile_errors,
            ),
            ("hostrisk_polls_total", "HSS poll attempts.", &self.polls),
            (
                "hostrisk_poll_failures_total",
                "HSS poll attempts that failed (API or credentials).",
                &self.poll_failures,
            ),
            (
                "hostrisk_status_writes_total",
                "Status patches sent to the Kubernetes API.",
                &self.status_writes,
            ),
            (
                "hostrisk_events_published_total",
                "Kubernetes Events published.",
                &self.events_published,
            ),
            (
                "hostrisk_events_failed_total",
                "Kubernetes Events that could not be published.",
                &self.events_failed,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
        let _ = writeln!(
            out,
            "# HELP hostrisk_ready Whether the operator is ready (1) or not (0)."
        );
        let _ = writeln!(out, "# TYPE hostrisk_ready gauge");
        let _ = writeln!(out, "hostrisk_ready {}", u8::from(health.is_ready()));
        out
    }
}

#[derive(Clone)]
struct ServerState {
    health: Arc<Health>,
    counters: Arc<Counters>,
}

/// The router serving the three endpoints.
pub fn router(health: Arc<Health>, counters: Arc<Counters>) -> Router {
    Router::new()
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(ServerState { health, counters })
}

/// Binds the health address up front, so a taken port stops the process before any watch starts.
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

/// Serves the endpoints on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    health: Arc<Health>,
    counters: Arc<Counters>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tracing::info!(addr = %listener.local_addr()?, "health server listening");
    axum::serve(listener, router(health, counters))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn livez(State(state): State<ServerState>) -> impl IntoResponse {
    if state.health.is_live() {
        (StatusCode::OK, "ok\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "controller task not running\n",
        )
    }
}

async fn readyz(State(state): State<ServerState>) -> impl IntoResponse {
    if state.health.is_ready() {
        (StatusCode::OK, "ok\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "waiting for the HostRiskWatch CRD and the first watch sync\n",
        )
    }
}

async fn metrics(State(state): State<ServerState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.counters.render(&state.health),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_needs_crd_sync_and_a_live_controller() {
        let health = Health::default();
        assert!(!health.is_live() && !health.is_ready());
        health.set_controller_alive(true);
        health.set_crd_found(true);
        assert!(health.is_live() && !health.is_ready());
        health.set_watches_synced(true);
        assert!(health.is_ready());
        health.set_controller_alive(false);
        assert!(!health.is_ready() && !health.is_live());
    }

    #[test]
    fn a_standby_replica_is_live_and_ready_without_a_controller() {
        let health = Health::default();
        health.set_standby(true);
        assert!(health.is_live() && health.is_ready());
        health.set_standby(false);
        assert!(!health.is_live() && !health.is_ready());
    }

    #[test]
    fn metrics_render_counters_in_prometheus_text() {
        let counters = Counters::default();
        Counters::inc(&counters.polls);
        Counters::inc(&counters.polls);
        let text = counters.render(&Health::default());
        assert!(text.contains("# TYPE hostrisk_polls_total counter\nhostrisk_polls_total 2\n"));
        assert!(text.contains("hostrisk_ready 0\n"));
    }

    #[tokio::test]
    async fn endpoints_answer_over_http() {
        let health = Arc::new(Health::default());
        let counters = Arc::new(Counters::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = router(health.clone(), counters);
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let client = reqwest::Client::new();
        let get = |path: &str| client.get(format!("http://{addr}{path}")).send();
        assert_eq!(get("/livez").await.unwrap().status(), 503);
        health.set_controller_alive(true);
        assert_eq!(get("/livez").await.unwrap().status(), 200);
        assert_eq!(get("/readyz").await.unwrap().status(), 503);
        health.set_crd_found(true);
        health.set_watches_synced(true);
        assert_eq!(get("/readyz").await.unwrap().status(), 200);
        let body = get("/metrics").await.unwrap().text().await.unwrap();
        assert!(body.contains("hostrisk_ready 1"));
        server.abort();
    }
}
