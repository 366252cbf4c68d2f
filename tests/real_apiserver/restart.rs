//! kube-apiserver and etcd restart under a running operator (same ports, same data): the
//! operator process carries on (same pid, no exit), its watches come back by themselves, and
//! the next HSS change reaches status.

use std::time::{Duration, Instant};

use hostrisk_operator::hss::model::DetectResult;

use crate::e2e_story::{is_ready, refresh, simulator, wait_for};
use crate::support::*;

#[tokio::test]
async fn operator_recovers_from_an_api_server_restart_without_restarting() {
    let Some(mut plane) = cluster(
        "operator_recovers_from_an_api_server_restart_without_restarting",
        false,
    )
    .await
    else {
        return;
    };
    let client = plane.client();
    let sim = simulator().await;
    let mut operator = admin_operator(&plane, sim.base_url().as_str(), "restart", &[]).await;
    let pid = operator.pid();
    let watches = create_fleet(&client, &sim, &["demo-web-01", "demo-db-01"]).await;
    wait_for(&watches, "fleet", "Ready", is_ready).await;

    let started = Instant::now();
    plane.restart().await.unwrap();
    eprintln!(
        "kube-apiserver and etcd restarted in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        operator.exited().is_none(),
        "the operator exited during the restart:\n{}",
        operator.log()
    );

    // Data survived; the next change in HSS reaches status through the restarted server.
    sim.update_host("demo-db-01", |h| {
        h.risk.detect_result = Some(DetectResult::Risk)
    });
    let changed = Instant::now();
    refresh(&watches, "fleet", "after-restart").await;
    wait_for(&watches, "fleet", "db at risk after the restart", |w, s| {
        is_ready(w, s)
            && s.hosts
                .iter()
                .any(|h| h.host_id == "demo-db-01" && h.detect_result.as_deref() == Some("risk"))
    })
    .await;
    eprintln!(
        "change reached status {:.1} s after the refresh request",
        changed.elapsed().as_secs_f64()
    );
    assert_eq!(operator.pid(), pid);
    assert!(operator.exited().is_none(), "{}", operator.log());
    let deadline = Instant::now() + Duration::from_secs(30);
    while operator.readyz().await != Some(200) {
        assert!(
            Instant::now() < deadline,
            "not ready again after the restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(operator.terminate(), Some(0), "{}", operator.log());
    sim.shutdown().await;
    plane.stop().await;
}
