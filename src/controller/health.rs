//! Health and metrics endpoints: `/livez`, `/readyz`, `/metrics` (the registry of
//! [`crate::metrics`]).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::metrics::{metrics_router, Metrics};

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

#[derive(Clone)]
struct ServerState {
    health: Arc<Health>,
}

/// The router serving the three endpoints. `/metrics` is the operator's Prometheus registry
/// ([`crate::metrics::metrics_router`]), with `hostrisk_ready` set to what `/readyz` would
/// answer at the moment of the scrape; a starting leader answers it once its per-watch series
/// are seeded (`until_first_lists`).
pub fn router(health: Arc<Health>, metrics: Metrics) -> Router {
    let ready_gauge = {
        let (health, metrics) = (health.clone(), metrics.clone());
        move |request: Request, next: Next| {
            let (health, metrics) = (health.clone(), metrics.clone());
            async move {
                until_first_lists(&health).await;
                metrics.set_ready(health.is_ready());
                next.run(request).await
            }
        }
    };
    let scrape = metrics_router(metrics).layer(middleware::from_fn(ready_gauge));
    Router::new()
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .with_state(ServerState { health })
        .merge(scrape)
}

/// Longest a scrape waits for the first lists of a starting leader.
const FIRST_LIST_WAIT: Duration = Duration::from_secs(5);

/// Until the controllers have finished their first lists, waits for them (at most
/// [`FIRST_LIST_WAIT`], under any sane scrape timeout): the per-watch series are seeded from
/// the listed statuses, and a scrape answered before would show some watches without series,
/// which resets their alerts. A standby, or a process whose lists are done, answers at once.
async fn until_first_lists(health: &Health) {
    let deadline = tokio::time::Instant::now() + FIRST_LIST_WAIT;
    while !health.standby.load(Ordering::SeqCst)
        && !health.watches_synced.load(Ordering::SeqCst)
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Binds the health address up front, so a taken port stops the process before any watch starts.
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

/// Serves the endpoints on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    health: Arc<Health>,
    metrics: Metrics,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tracing::info!(addr = %listener.local_addr()?, "health server listening");
    axum::serve(listener, router(health, metrics))
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
            "waiting for the HostRiskWatch CRD and the first list of HostRiskWatches and Secrets \
             (may the operator list and watch both? its log names any refusal)\n",
        )
    }
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

    #[tokio::test]
    async fn endpoints_answer_over_http() {
        let health = Arc::new(Health::default());
        let metrics = Metrics::new(crate::metrics::MetricsOptions::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = router(health.clone(), metrics);
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
        assert!(body.contains("hostrisk_ready 1"), "{body}");
        assert!(body.contains("hostrisk_reconciles_total{result=\"ok\"} 0"));
        health.set_controller_alive(false);
        let body = get("/metrics").await.unwrap().text().await.unwrap();
        assert!(body.contains("hostrisk_ready 0"), "{body}");
        server.abort();
    }
}
