//! The controller end to end on loopback, with no mocks: the real `kube::Client` against the
//! stand-in API server (with the generated CRD applied) and the real `HssClient` against the HSS
//! simulator.

#[path = "support/controller_harness/mod.rs"]
mod harness;

#[path = "support/node_views.rs"]
mod node_views;

#[path = "controller/failures.rs"]
mod failures;

#[path = "controller/process.rs"]
mod process;

#[path = "controller/batching.rs"]
mod batching;

#[path = "controller/observability.rs"]
mod observability;

#[path = "controller/nodes.rs"]
mod nodes;

#[path = "controller/rotation.rs"]
mod rotation;

#[path = "controller/lifecycle.rs"]
mod lifecycle;

use std::time::{Duration, Instant};

use hostrisk_operator::hss::model::DetectResult;
use serde_json::json;

use harness::{condition, condition_is, hss_calls, is_synced, Harness, Options, NS};

#[tokio::test]
async fn status_appears_with_every_field_then_follows_host_changes() {
    let h = Harness::start(Options::controller()).await;
    h.create_demo_secret(NS, "hss-creds").await;
    let created_at = Instant::now();
    h.create_watch(
        NS,
        "web",
        &["demo-web-01", "demo-db-01", "no-such-host"],
        "hss-creds",
        "1h",
    )
    .await;

    let first = h
        .wait_for(NS, "web", "first status", |_, s| !s.conditions.is_empty())
        .await;
    let first_ms = created_at.elapsed().as_millis();
    let watch = h.wait_for(NS, "web", "Ready", is_synced).await;
    let ready_ms = created_at.elapsed().as_millis();
    eprintln!("time from create to first status: {first_ms} ms");
    eprintln!("time from create to Ready=True (first HSS answer written): {ready_ms} ms");
    assert!(first.status.is_some());

    let status = watch.status.as_ref().unwrap();
    assert_eq!(status.observed_generation, watch.metadata.generation);
    assert_eq!(
        condition(status, "CredentialsValid").unwrap().status,
        "True"
    );
    assert_eq!(condition(status, "ApiReachable").unwrap().status, "True");
    for c in &status.conditions {
        assert_eq!(c.observed_generation, watch.metadata.generation, "{c:?}");
    }
    let summary = status.summary.as_ref().expect("summary");
    assert_eq!(summary.hosts_requested, 3);
    assert_eq!(summary.hosts_found, 2);
    assert_eq!(summary.hosts_not_found, 1);
    assert_eq!(summary.detect_risk, 1);
    assert_eq!(summary.detect_clean, 1);
    assert_eq!(summary.agent_online, 2);
    assert_eq!(summary.asset_total, 330);
    assert_eq!(summary.vulnerability_total, 3);
    let ids: Vec<_> = status.hosts.iter().map(|h| h.host_id.as_str()).collect();
    assert_eq!(ids, ["demo-web-01", "demo-db-01", "no-such-host"]);
    let web = &status.hosts[0];
    assert!(web.found);
    assert_eq!(web.agent_status.as_deref(), Some("online"));
    assert_eq!(web.detect_result.as_deref(), Some("risk"));
    assert_eq!(web.version.as_deref(), Some("hss.version.enterprise"));
    assert_eq!(web.asset, Some(120));
    assert!(web.last_change_time.is_some());
    assert!(!status.hosts[2].found);
    assert!(status.last_sync_time.is_some());
    assert!(!status.last_request_ids.is_empty());
    assert_eq!(status.effective_interval.as_deref(), Some("1h"));
    // The missing host is announced at once.
    let events = h.events_for(NS, "web").await;
    assert!(
        events
            .iter()
            .any(|e| e.reason.as_deref() == Some("HostNotFound")
                && e.note
                    .as_deref()
                    .unwrap_or_default()
                    .contains("no-such-host")),
        "{events:#?}"
    );

    // A host changes in HSS; the refresh annotation asks for an immediate poll (the 1h
    // interval would not).
    assert!(h
        .sim
        .update_host("demo-db-01", |host| host.risk.detect_result =
            Some(DetectResult::Risk)));
    h.request_refresh(NS, "web", "2026-01-01T00:00:00Z").await;
    let watch = h
        .wait_for(NS, "web", "db at risk", |_, s| {
            s.hosts
                .iter()
                .any(|x| x.host_id == "demo-db-01" && x.detect_result.as_deref() == Some("risk"))
        })
        .await;
    assert_eq!(
        watch
            .status
            .as_ref()
            .unwrap()
            .summary
            .as_ref()
            .unwrap()
            .detect_risk,
        2
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let events = h.events_for(NS, "web").await;
        if let Some(event) = events
            .iter()
            .find(|e| e.reason.as_deref() == Some("BecameAtRisk"))
        {
            assert!(event
                .note
                .as_deref()
                .unwrap_or_default()
                .contains("demo-db-01"));
            assert_eq!(
                event.reporting_controller.as_deref(),
                Some("hostrisk-operator")
            );
            assert_eq!(event.reporting_instance.as_deref(), Some("test-instance"));
            assert_eq!(event.type_.as_deref(), Some("Warning"));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no BecameAtRisk event: {events:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        h.ctx.health.is_ready(),
        "ready after CRD found and watches synced"
    );
    h.stop().await;
}

#[tokio::test]
async fn idle_polls_write_nothing() {
    let h = Harness::start(Options::controller()).await;
    h.create_demo_secret(NS, "hss-creds").await;
    h.create_watch(
        NS,
        "idle",
        &["demo-web-01", "demo-db-01"],
        "hss-creds",
        "1s",
    )
    .await;
    h.wait_for(NS, "idle", "Ready", is_synced).await;
    // Let the write that made it Ready settle, then count over several idle polls.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let writes_before = h.kube.status_writes("hostriskwatches");
    let calls_before = hss_calls(&h.sim);
    tokio::time::sleep(Duration::from_secs(6)).await;
    let polls = hss_calls(&h.sim) - calls_before;
    let writes = h.kube.status_writes("hostriskwatches") - writes_before;
    eprintln!("idle polls: {polls}, status writes during them: {writes}");
    eprintln!(
        "status writes per idle poll: {}",
        writes as f64 / polls.max(1) as f64
    );
    assert!(
        polls >= 4,
        "the 1s interval (±10%) polls about 6 times in 6s, saw {polls}"
    );
    assert_eq!(writes, 0, "idle polls must not write status");
    h.stop().await;
}

#[tokio::test]
async fn spec_change_moves_observed_generation() {
    let h = Harness::start(Options::controller()).await;
    h.create_demo_secret(NS, "hss-creds").await;
    h.create_watch(NS, "gen", &["demo-web-01"], "hss-creds", "1h")
        .await;
    let watch = h.wait_for(NS, "gen", "Ready", is_synced).await;
    assert_eq!(watch.metadata.generation, Some(1));
    // The controller's own status writes (Pending, then Ready) do not trigger polls.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        hss_calls(&h.sim),
        1,
        "one poll for one generation with a 1h interval"
    );
    h.patch_watch(
        NS,
        "gen",
        json!({"spec": {"hostIds": ["demo-web-01", "demo-batch-01"]}}),
    )
    .await;
    let watch = h
        .wait_for(NS, "gen", "generation 2 observed", |w, s| {
            w.metadata.generation == Some(2) && is_synced(w, s) && s.hosts.len() == 2
        })
        .await;
    let status = watch.status.unwrap();
    assert_eq!(status.observed_generation, Some(2));
    assert_eq!(status.summary.unwrap().agent_offline, 1);
    assert_eq!(hss_calls(&h.sim), 2, "one more poll for the new generation");
    h.stop().await;
}

#[tokio::test]
async fn deleted_watch_stops_polling() {
    let h = Harness::start(Options::controller()).await;
    h.create_demo_secret(NS, "hss-creds").await;
    h.create_watch(NS, "gone", &["demo-web-01"], "hss-creds", "1s")
        .await;
    h.wait_for(NS, "gone", "Ready", is_synced).await;
    let start = hss_calls(&h.sim);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        hss_calls(&h.sim) > start,
        "polls every second while it exists"
    );
    h.delete_watch(NS, "gone").await;
    // A poll already running when the delete lands may still finish.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after_delete = hss_calls(&h.sim);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(hss_calls(&h.sim), after_delete, "no polls after delete");
    assert!(h.ctx.watches.is_empty(), "watch state forgotten");
    h.stop().await;
}

#[tokio::test]
async fn suspend_stops_polling_and_says_so() {
    let h = Harness::start(Options::controller()).await;
    h.create_demo_secret(NS, "hss-creds").await;
    h.create_watch(NS, "pause", &["demo-web-01"], "hss-creds", "1s")
        .await;
    h.wait_for(NS, "pause", "Ready", is_synced).await;
    h.patch_watch(NS, "pause", json!({"spec": {"suspend": true}}))
        .await;
    h.wait_for(NS, "pause", "Suspended", |_, s| {
        s.conditions.iter().any(|c| c.reason == "Suspended")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let paused = hss_calls(&h.sim);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(hss_calls(&h.sim), paused, "no polls while suspended");
    h.patch_watch(NS, "pause", json!({"spec": {"suspend": false}}))
        .await;
    h.wait_for(NS, "pause", "Ready again", is_synced).await;
    h.stop().await;
}

#[tokio::test]
async fn watches_only_the_given_namespaces_and_secrets_stay_in_their_namespace() {
    let h = Harness::start(Options {
        namespaces: vec!["team-a".into()],
        ..Options::controller()
    })
    .await;
    for ns in ["team-a", "team-b"] {
        let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> =
            kube::Api::all(h.client.clone());
        let body = serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap();
        namespaces.create(&Default::default(), &body).await.unwrap();
    }
    // The Secret exists only in team-b; a watch in team-a naming it must not find it.
    h.create_demo_secret("team-b", "hss-creds").await;
    h.create_watch("team-a", "a", &["demo-web-01"], "hss-creds", "1h")
        .await;
    h.create_watch("team-b", "b", &["demo-web-01"], "hss-creds", "1h")
        .await;
    h.wait_for("team-a", "a", "SecretNotFound", |_, s| {
        condition_is(s, "CredentialsValid", "False", "SecretNotFound")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let b = h.watches("team-b").get("b").await.unwrap();
    assert!(b.status.is_none(), "team-b is not watched");
    assert_eq!(hss_calls(&h.sim), 0);
    h.stop().await;
}

#[tokio::test]
async fn several_namespaces_each_get_a_controller() {
    let h = Harness::start(Options {
        namespaces: vec!["team-a".into(), "team-c".into()],
        ..Options::controller()
    })
    .await;
    for ns in ["team-a", "team-c"] {
        let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> =
            kube::Api::all(h.client.clone());
        let body = serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap();
        namespaces.create(&Default::default(), &body).await.unwrap();
        h.create_demo_secret(ns, "hss-creds").await;
    }
    for ns in ["team-a", "team-c"] {
        h.create_watch(ns, "w", &["demo-web-01"], "hss-creds", "1h")
            .await;
    }
    for ns in ["team-a", "team-c"] {
        h.wait_for(ns, "w", "Ready", is_synced).await;
    }
    // One poller serves both controllers: same endpoint, project and credential identity, so
    // the shared host id is asked once.
    assert_eq!(hss_calls(&h.sim), 1);
    h.stop().await;
}

#[tokio::test]
async fn concurrency_bounds_the_polls_in_flight() {
    // Every HSS answer takes 400 ms; with one call at a time three resources take three
    // answers' time, with three at a time about one. Each watch names another enterprise
    // project, so each is a poller group of its own (one scope's watches would share one call
    // whatever the concurrency).
    async fn time_to_ready(concurrency: u16) -> Duration {
        let h = Harness::start(Options {
            concurrency,
            ..Options::controller()
        })
        .await;
        h.sim.update_faults(|f| f.latency_ms = 400).unwrap();
        h.create_demo_secret(NS, "hss-creds").await;
        let started = Instant::now();
        for (name, eps) in [
            ("c1", None),
            ("c2", Some("0")),
            ("c3", Some("all_granted_eps")),
        ] {
            h.create_watch_in(NS, name, &["demo-web-01"], "hss-creds", eps)
                .await;
        }
        for name in ["c1", "c2", "c3"] {
            h.wait_for(NS, name, "Ready", is_synced).await;
        }
        let elapsed = started.elapsed();
        h.stop().await;
        elapsed
    }
    let serial = time_to_ready(1).await;
    let parallel = time_to_ready(3).await;
    eprintln!(
        "3 watches, 400 ms HSS latency: concurrency 1 {serial:?}, concurrency 3 {parallel:?}"
    );
    assert!(serial >= Duration::from_millis(1200), "{serial:?}");
    assert!(parallel < Duration::from_millis(1100), "{parallel:?}");
}

#[tokio::test]
async fn first_status_is_pending_until_hss_answers() {
    let h = Harness::start(Options::controller()).await;
    h.sim.update_faults(|f| f.latency_ms = 1500).unwrap();
    h.create_demo_secret(NS, "hss-creds").await;
    let created_at = Instant::now();
    h.create_watch(NS, "slow", &["demo-web-01"], "hss-creds", "1h")
        .await;
    let pending = h
        .wait_for(NS, "slow", "Pending", |_, s| {
            condition_is(s, "Ready", "Unknown", "Pending")
        })
        .await;
    let pending_ms = created_at.elapsed().as_millis();
    eprintln!("time from create to first (Pending) status with a 1.5 s HSS: {pending_ms} ms");
    assert!(pending_ms < 1000, "Pending is written before HSS answers");
    let status = pending.status.unwrap();
    assert_eq!(status.observed_generation, Some(1));
    assert!(status.hosts.is_empty());
    h.wait_for(NS, "slow", "Ready", is_synced).await;
    h.stop().await;
}
