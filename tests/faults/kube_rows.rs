//! Kubernetes API rows of the fault matrix, with the stand-in API server's fault switches (each
//! documents the kube-apiserver behaviour it copies in `src/sim/kube/faults.rs`).

use std::time::{Duration, Instant};

use hostrisk_operator::hss::model::DetectResult;
use hostrisk_sim::hss::{Faults, DEMO_STATIC_TOKEN};
use serde_json::json;

use super::harness::{eventually, hss_calls, is_ready, Harness, Options, NS};
use super::rows::{
    db_scanning, hold_fault, ready_watch, recover, Window, ATTEMPTS_PER_POLL, INTERVAL, POLL_SLACK,
};

/// A spec change or Secret change must be seen within this, with a 1h interval.
const PICKED_UP: Duration = Duration::from_secs(8);

fn watch_requests(h: &Harness, plural: &str) -> u64 {
    h.kube.request_count("watch", plural, "")
}

fn list_requests(h: &Harness, plural: &str) -> u64 {
    h.kube.request_count("list", plural, "")
}

/// After a disruption of the watches: a spec change and a Secret change are still seen.
async fn changes_still_seen(h: &Harness, name: &str) {
    h.patch_watch(
        NS,
        name,
        json!({"spec": {"hostIds": ["demo-web-01", "demo-db-01"]}}),
    )
    .await;
    let watch = h
        .wait_within(PICKED_UP, NS, name, "spec change seen", |w, s| {
            is_ready(w, s) && s.hosts.len() == 2
        })
        .await;
    eprintln!(
        "{name}: spec change seen at generation {:?}",
        watch.metadata.generation
    );
    h.replace_secret(NS, "creds", &[("authToken", DEMO_STATIC_TOKEN)])
        .await;
    eventually(PICKED_UP, "Secret change seen", || async {
        h.sim.counters().calls_by("static-token:0") > 0
    })
    .await;
    assert!(h.is_running());
}

async fn hourly_watch(h: &Harness, name: &str) {
    h.create_demo_secret(NS, "creds").await;
    h.create_watch(NS, name, &["demo-web-01"], "creds", "1h")
        .await;
    h.wait_for(NS, name, "Ready", is_ready).await;
}

#[tokio::test]
async fn row_kube_watch_streams_dropped() {
    let h = Harness::start(Options::faults()).await;
    hourly_watch(&h, "dropped").await;
    let watches = watch_requests(&h, "hostriskwatches");
    let secret_watches = watch_requests(&h, "secrets");
    h.kube.drop_watches();
    eventually(PICKED_UP, "watches re-established", || async {
        watch_requests(&h, "hostriskwatches") > watches
            && watch_requests(&h, "secrets") > secret_watches
    })
    .await;
    changes_still_seen(&h, "dropped").await;
    h.stop().await;
}

#[tokio::test]
async fn row_kube_410_gone_on_resume_relists() {
    let h = Harness::start(Options::faults()).await;
    hourly_watch(&h, "expired").await;
    let lists = list_requests(&h, "hostriskwatches") + list_requests(&h, "secrets");
    // Both watches (HostRiskWatches and Secrets) resuming from their last resourceVersion are
    // told that version is gone.
    h.kube.expire_next_watches(2);
    h.kube.drop_watches();
    eventually(PICKED_UP, "re-list after 410", || async {
        list_requests(&h, "hostriskwatches") + list_requests(&h, "secrets") > lists
    })
    .await;
    let relisted = Instant::now();
    changes_still_seen(&h, "expired").await;
    eprintln!(
        "expired: changes seen {} ms after the re-list",
        relisted.elapsed().as_millis()
    );
    h.stop().await;
}

#[tokio::test]
async fn row_kube_409_conflicts_on_status_writes() {
    let h = Harness::start(Options::faults()).await;
    let good = ready_watch(&h, "conflict", "hss-creds").await;
    let errors = || h.ctx.metrics.reconcile_errors_total();
    let errors_before = errors();
    let window = Window::open(&h);
    assert!(h
        .sim
        .update_host("demo-db-01", |host| host.risk.detect_result =
            Some(DetectResult::Scanning)));
    // The next three writes to HostRiskWatches (status patches) answer 409.
    h.kube.conflict_next_writes("hostriskwatches", 3);
    let watch = h
        .wait_within(
            3 * INTERVAL + POLL_SLACK,
            NS,
            "conflict",
            "status after the conflicts",
            |w, s| is_ready(w, s) && db_scanning(s),
        )
        .await;
    let took = window.started.elapsed();
    eprintln!(
        "conflict: status caught up {} ms after 3 conflicts",
        took.as_millis()
    );
    let status = watch.status.unwrap();
    let web = status.hosts.iter().find(|x| x.host_id == "demo-web-01");
    assert_eq!(web, good.iter().find(|x| x.host_id == "demo-web-01"));
    assert!(
        errors() > errors_before,
        "conflicts went through the error policy"
    );
    window.assert_backed_off(&h, 1, "conflict");
    h.stop().await;
}

#[tokio::test]
async fn row_kube_api_server_unavailable_for_a_while() {
    let h = Harness::start(Options::faults()).await;
    let good = ready_watch(&h, "outage", "hss-creds").await;
    let window = Window::open(&h);
    let outage = Duration::from_secs(3);
    h.kube.unavailable_for(outage);
    assert!(h
        .sim
        .update_host("demo-db-01", |host| host.risk.detect_result =
            Some(DetectResult::Scanning)));
    tokio::time::sleep(outage).await;
    assert!(h.is_running(), "the operator survives the outage");
    // During the outage nothing could be written; the stored status is still the good one.
    let calls = window.assert_backed_off(&h, 1, "outage");
    let ended = Instant::now();
    let watch = h
        .wait_within(
            INTERVAL + POLL_SLACK,
            NS,
            "outage",
            "status after the outage",
            |w, s| is_ready(w, s) && db_scanning(s),
        )
        .await;
    eprintln!(
        "outage: {calls} HSS calls during {outage:?}; caught up {} ms after it ended",
        ended.elapsed().as_millis()
    );
    let status = watch.status.unwrap();
    let web = status.hosts.iter().find(|x| x.host_id == "demo-web-01");
    assert_eq!(web, good.iter().find(|x| x.host_id == "demo-web-01"));
    h.stop().await;
}

#[tokio::test]
async fn row_kube_watch_deleted_while_its_poll_is_in_flight() {
    let h = Harness::start(Options {
        sim_faults: Faults {
            latency_ms: 600,
            ..Faults::none()
        },
        ..Options::faults()
    })
    .await;
    h.create_demo_secret(NS, "hss-creds").await;
    h.create_watch(NS, "doomed", &["demo-web-01"], "hss-creds", "1s")
        .await;
    eventually(
        Duration::from_secs(10),
        "the first poll is in flight",
        || async { hss_calls(&h.sim) >= 1 },
    )
    .await;
    h.delete_watch(NS, "doomed").await;
    let deleted_at = Instant::now();
    let calls_at_delete = hss_calls(&h.sim);
    tokio::time::sleep(Duration::from_secs(3)).await;
    // The answer of the in-flight poll must not bring the object back, and polling stops.
    assert!(
        h.kube
            .object("hostrisk.io", "hostriskwatches", NS, "doomed")
            .is_none(),
        "a late status write does not resurrect the deleted watch"
    );
    let later = hss_calls(&h.sim) - calls_at_delete;
    assert!(
        later <= ATTEMPTS_PER_POLL,
        "{later} HSS calls after the delete; at most the retry of the poll in flight"
    );
    assert!(h.is_running());
    eprintln!(
        "doomed: {later} HSS calls in the {} ms after the delete",
        deleted_at.elapsed().as_millis()
    );
    // The operator still serves other watches.
    h.create_watch(NS, "survivor", &["demo-web-01"], "hss-creds", "1h")
        .await;
    h.wait_for(NS, "survivor", "Ready", is_ready).await;
    h.stop().await;
}

#[tokio::test]
async fn row_kube_restart_computes_from_the_full_status_the_list_delivered() {
    // The reflector store keeps objects without host lists (src/controller/slim.rs); the full
    // status lives in memory, taken from the watch's own events before they are slimmed. A
    // restarted operator has nothing in memory: its first failing poll must still keep the last
    // good hosts, computed from the full status its first list delivered, not from the store's
    // copy without hosts.
    let mut h = Harness::start(Options::faults()).await;
    let good = ready_watch(&h, "kept", "hss-creds").await;
    h.sim.update_faults(|f| f.error_rate = 1.0).unwrap();
    h.restart().await;
    h.wait_within(
        INTERVAL + POLL_SLACK + Duration::from_secs(2),
        NS,
        "kept",
        "failure reported",
        |_, s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "False")
        },
    )
    .await;
    hold_fault(&h, "kept", &good, Duration::from_secs(1)).await;
    // After recovery, a host whose data did not change keeps its lastChangeTime: the status was
    // computed from the full previous one, not from a copy without hosts.
    recover(&h, "kept", async {
        h.sim.update_faults(|f| f.error_rate = 0.0).unwrap();
    })
    .await;
    let hosts = h.status(NS, "kept").await.hosts;
    let web = |list: &[hostrisk_operator::crd::HostStatus]| {
        list.iter()
            .find(|host| host.host_id == "demo-web-01")
            .and_then(|host| host.last_change_time.clone())
    };
    assert!(web(&good).is_some());
    assert_eq!(
        web(&hosts),
        web(&good),
        "unchanged host keeps its lastChangeTime"
    );
    h.stop().await;
}
