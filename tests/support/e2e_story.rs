//! The main story against a real API server, shared by the opt-in `tests/e2e_cluster.rs` (any
//! cluster, `HOSTRISK_E2E_KUBECONFIG`) and `tests/real_apiserver.rs` (a kube-apiserver + etcd
//! started by the envtest harness): one script, two ways to get a cluster.
//!
//! It starts the HSS simulator on loopback (only the in-process controller talks to it, so the
//! cluster needs no route to it), runs the real controller against the cluster in the given
//! namespace and walks through: a watch created before its Secret (`SecretNotFound`, fixed
//! without restart), status and summary, a host transition polled through the refresh
//! annotation with its Event, a spec change moving `observedGeneration`, `suspend`, deletion,
//! and an idle poll that writes nothing.
//!
//! The real API server enforces the schema's 1m interval floor, so the story polls on demand
//! through the refresh annotation instead of short intervals.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use hostrisk_operator::controller::{run_controllers, Context, ControllerSettings};
use hostrisk_operator::crd::validation::ValidationPolicy;
use hostrisk_operator::crd::{HostRiskWatch, HostRiskWatchStatus};
use hostrisk_operator::hss::model::DetectResult;
use hostrisk_operator::hss::{ClientConfig, HssClient};
use hostrisk_sim::hss::{
    Faults, HssSimulator, SimConfig, DEMO_ACCESS_KEY, DEMO_PROJECT_ID, DEMO_SECRET_KEY,
};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::Api;
use serde_json::json;
use tokio_util::sync::CancellationToken;

pub const REFRESH: &str = "hostrisk.io/refresh-requested-at";

/// Polls `get` until `check` holds on the status (60 s), then returns the object.
pub async fn wait_for(
    api: &Api<HostRiskWatch>,
    name: &str,
    what: &str,
    check: impl Fn(&HostRiskWatch, &HostRiskWatchStatus) -> bool,
) -> HostRiskWatch {
    wait_for_within(api, name, what, Duration::from_secs(60), check).await
}

pub async fn wait_for_within(
    api: &Api<HostRiskWatch>,
    name: &str,
    what: &str,
    limit: Duration,
    check: impl Fn(&HostRiskWatch, &HostRiskWatchStatus) -> bool,
) -> HostRiskWatch {
    let deadline = Instant::now() + limit;
    loop {
        let watch = api.get(name).await.unwrap();
        if let Some(status) = &watch.status {
            if check(&watch, status) {
                return watch;
            }
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}: {:#?}",
            watch.status
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub fn condition_is(status: &HostRiskWatchStatus, type_: &str, value: &str, reason: &str) -> bool {
    status
        .conditions
        .iter()
        .any(|c| c.type_ == type_ && c.status == value && c.reason == reason)
}

pub fn is_ready(watch: &HostRiskWatch, status: &HostRiskWatchStatus) -> bool {
    condition_is(status, "Ready", "True", "Synced")
        && status.observed_generation == watch.metadata.generation
}

pub fn secret(name: &str, keys: &[(&str, &str)]) -> Secret {
    let data: serde_json::Map<String, serde_json::Value> = keys
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    serde_json::from_value(json!({"metadata": {"name": name}, "stringData": data})).unwrap()
}

/// The simulator's AK/SK credentials as a Secret.
pub fn demo_secret(name: &str) -> Secret {
    secret(
        name,
        &[
            ("accessKey", DEMO_ACCESS_KEY),
            ("secretKey", DEMO_SECRET_KEY),
        ],
    )
}

/// A HostRiskWatch polling the simulator.
pub fn watch_of(name: &str, sim: &HssSimulator, hosts: &[&str], secret: &str) -> HostRiskWatch {
    serde_json::from_value(json!({
        "apiVersion": "hostrisk.io/v1alpha1",
        "kind": "HostRiskWatch",
        "metadata": {"name": name},
        "spec": {
            "projectId": DEMO_PROJECT_ID,
            "endpoint": sim.base_url().to_string(),
            "hostIds": hosts,
            "credentialsSecretRef": {"name": secret},
            "interval": "1h",
        }
    }))
    .unwrap()
}

/// Sets the refresh annotation to a new value (poll now); returns the object as patched.
pub async fn refresh(api: &Api<HostRiskWatch>, name: &str, value: &str) -> HostRiskWatch {
    let annotate = json!({"metadata": {"annotations": {REFRESH: value}}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&annotate))
        .await
        .unwrap()
}

/// Waits until an Event with `reason` exists in `namespace` (30 s).
pub async fn wait_for_event(client: &kube::Client, namespace: &str, reason: &str) -> Event {
    let events: Api<Event> = Api::namespaced(client.clone(), namespace);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let list = events.list(&ListParams::default()).await.unwrap();
        if let Some(found) = list
            .items
            .into_iter()
            .find(|e| e.reason.as_deref() == Some(reason))
        {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "no {reason} Event in {namespace}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A loopback HSS simulator without faults or quota.
pub async fn simulator() -> HssSimulator {
    HssSimulator::start(SimConfig {
        faults: Faults::none(),
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

/// Waits until the simulator has answered more than `calls` ListHostsRisk requests.
pub async fn wait_for_hss_call(sim: &HssSimulator, calls: u64, limit: Duration, what: &str) {
    let deadline = Instant::now() + limit;
    while sim.counters().hss_requests <= calls {
        assert!(
            Instant::now() < deadline,
            "no HSS call within {limit:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The story; `namespace` must exist and be empty. Returns once every step was confirmed.
pub async fn main_story(client: &kube::Client, namespace: &str) {
    let sim = simulator().await;
    let hss = HssClient::new(ClientConfig {
        calls_per_minute: 1000,
        ..ClientConfig::default()
    })
    .unwrap();
    let settings = ControllerSettings {
        policy: ValidationPolicy {
            allowed_endpoint_prefixes: vec![sim.base_url().to_string()],
            ..ValidationPolicy::default()
        },
        instance: "e2e".into(),
        ..ControllerSettings::default()
    };
    let ctx = Arc::new(Context::new(client.clone(), hss, settings));
    let shutdown = CancellationToken::new();
    let controller = tokio::spawn(run_controllers(
        ctx.clone(),
        vec![namespace.to_string()],
        shutdown.clone(),
    ));

    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let watches: Api<HostRiskWatch> = Api::namespaced(client.clone(), namespace);
    let watch = watch_of(
        "e2e",
        &sim,
        &["demo-web-01", "demo-db-01", "no-such-host"],
        "hss-creds",
    );

    // Created before its Secret: the condition says so, then the Secret fixes it without restart.
    let created = Instant::now();
    watches
        .create(&PostParams::default(), &watch)
        .await
        .unwrap();
    wait_for(&watches, "e2e", "first status", |_, s| {
        !s.conditions.is_empty()
    })
    .await;
    eprintln!(
        "time from create to first status: {} ms",
        created.elapsed().as_millis()
    );
    wait_for(&watches, "e2e", "SecretNotFound", |_, s| {
        condition_is(s, "CredentialsValid", "False", "SecretNotFound")
    })
    .await;
    secrets
        .create(&PostParams::default(), &demo_secret("hss-creds"))
        .await
        .unwrap();
    let ready = wait_for(&watches, "e2e", "Ready", is_ready).await;
    let mut idle_watch = watch.clone();
    idle_watch.metadata.name = Some("idle".into());
    idle_watch.spec.host_ids = ["demo-web-01"].into();
    idle_watch.spec.interval = Some("1m".into());
    watches
        .create(&PostParams::default(), &idle_watch)
        .await
        .unwrap();
    wait_for(&watches, "idle", "idle Ready", is_ready).await;
    let status = ready.status.unwrap();
    let summary = status.summary.expect("summary");
    assert_eq!(
        (
            summary.hosts_requested,
            summary.hosts_found,
            summary.hosts_not_found
        ),
        (3, 2, 1)
    );
    assert_eq!(status.hosts.len(), 3);
    assert!(status.last_sync_time.is_some());

    // A host changes; the refresh annotation polls at once; status and an Event follow.
    assert!(sim.update_host("demo-db-01", |h| h.risk.detect_result =
        Some(DetectResult::Risk)));
    refresh(&watches, "e2e", "e2e-1").await;
    wait_for(&watches, "e2e", "db at risk", |_, s| {
        s.hosts
            .iter()
            .any(|h| h.host_id == "demo-db-01" && h.detect_result.as_deref() == Some("risk"))
    })
    .await;
    wait_for_event(client, namespace, "BecameAtRisk").await;

    // A spec change moves observedGeneration.
    let spec_patch = json!({"spec": {"hostIds": ["demo-web-01"]}});
    watches
        .patch("e2e", &PatchParams::default(), &Patch::Merge(&spec_patch))
        .await
        .unwrap();
    wait_for(&watches, "e2e", "generation 2", |w, s| {
        w.metadata.generation == Some(2) && is_ready(w, s) && s.hosts.len() == 1
    })
    .await;

    // Suspend: Ready=False/Suspended, and a refresh request polls nothing; resume polls again.
    let suspend = |on: bool| json!({"spec": {"suspend": on}});
    watches
        .patch(
            "e2e",
            &PatchParams::default(),
            &Patch::Merge(&suspend(true)),
        )
        .await
        .unwrap();
    wait_for(&watches, "e2e", "Suspended", |w, s| {
        condition_is(s, "Ready", "False", "Suspended")
            && s.observed_generation == w.metadata.generation
    })
    .await;
    let calls = sim.counters().hss_requests;
    refresh(&watches, "e2e", "while-suspended").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        sim.counters().hss_requests,
        calls,
        "a suspended watch was polled"
    );
    watches
        .patch(
            "e2e",
            &PatchParams::default(),
            &Patch::Merge(&suspend(false)),
        )
        .await
        .unwrap();
    wait_for(&watches, "e2e", "Ready after resume", is_ready).await;

    // Delete: the poll state of "e2e" goes ("idle" keeps its own).
    watches
        .delete("e2e", &DeleteParams::default())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while ctx.watches.len() != 1 {
        assert!(
            Instant::now() < deadline,
            "poll state not forgotten after delete"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // An idle poll writes nothing: "idle" is polled again on request (nothing changed in HSS)
    // and its resourceVersion stays the one the annotation gave it.
    let calls = sim.counters().hss_requests;
    let idle_version = refresh(&watches, "idle", "idle-1")
        .await
        .metadata
        .resource_version;
    wait_for_hss_call(&sim, calls, Duration::from_secs(30), "refresh of idle").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = watches.get("idle").await.unwrap();
    assert_eq!(
        idle.metadata.resource_version, idle_version,
        "idle poll wrote status"
    );
    eprintln!("status writes per idle poll: 0 (resourceVersion unchanged over a requested poll)");

    shutdown.cancel();
    controller.await.unwrap().unwrap();
    sim.shutdown().await;
}
