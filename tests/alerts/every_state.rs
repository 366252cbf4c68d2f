//! A stand-in world in every state the alerts and the dashboard are about: watches with hosts at
//! risk and an intrusion, an offline agent, no agent, protection closed, unknown host ids, a
//! suspended watch, a missing Secret and refused credentials; and an operator that has seen a
//! refused status write, HSS 5xx answers and 429s. Every watch polls each second.

use std::time::{Duration, Instant};

use hostrisk_sim::hss::DEMO_ACCESS_KEY;
use serde_json::json;

use super::harness::{condition_is, is_synced, NS};
use super::world::World;

/// Watches whose polls succeed, and the hosts they list.
pub const POLLED: [(&str, &[&str]); 5] = [
    ("at-risk", &["h-risk"]),
    ("offline", &["h-offline"]),
    ("not-installed", &["h-noagent"]),
    ("unprotected", &["h-closed"]),
    ("gone", &["h-risk", "h-deleted"]),
];
/// `(watch, Secret, Ready reason)` of the watches that never poll successfully.
pub const REFUSED: [(&str, &str, &str); 2] = [
    ("failing", "no-such-secret", "SecretNotFound"),
    ("refused", "wrong-key", "InvalidCredentials"),
];
pub const SUSPENDED: &str = "suspended";

const LIMIT: Duration = Duration::from_secs(60);

async fn until(what: &str, mut probe: impl FnMut() -> bool) {
    let deadline = Instant::now() + LIMIT;
    while !probe() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Builds the world and waits until every watch shows its state and every schedule series exists.
pub async fn every_state() -> World {
    let world = World::start().await;
    let h = &world.harness;
    h.create_demo_secret(NS, "hss").await;
    h.create_secret(
        NS,
        "wrong-key",
        &[("accessKey", DEMO_ACCESS_KEY), ("secretKey", "not-the-key")],
    )
    .await;
    world.put_host("h-risk", "online", "opened", "risk").await;
    world.patch_host("h-risk", json!({"intrusion": 1})).await;
    world
        .put_host("h-offline", "offline", "opened", "clean")
        .await;
    world
        .put_host("h-noagent", "not_installed", "closed", "undetected")
        .await;
    world
        .put_host("h-closed", "online", "closed", "clean")
        .await;
    for (name, hosts) in POLLED {
        h.create_watch(NS, name, hosts, "hss", "1s").await;
    }
    for (name, secret, _) in REFUSED {
        h.create_watch(NS, name, &["h-risk"], secret, "1s").await;
    }
    h.create_watch_json(
        NS,
        json!({
            "apiVersion": "hostrisk.io/v1alpha1",
            "kind": "HostRiskWatch",
            "metadata": {"name": SUSPENDED, "namespace": NS},
            "spec": {
                "projectId": hostrisk_sim::hss::DEMO_PROJECT_ID,
                "endpoint": h.endpoint(),
                "hostIds": ["h-risk"],
                "credentialsSecretRef": {"name": "hss"},
                "interval": "1s",
                "suspend": true,
            }
        }),
    )
    .await;
    for (name, _) in POLLED {
        h.wait_for(NS, name, "synced", is_synced).await;
    }
    for (name, _, reason) in REFUSED {
        h.wait_for(NS, name, reason, |_, s| {
            condition_is(s, "Ready", "False", reason)
        })
        .await;
    }
    h.wait_for(NS, SUSPENDED, "suspended", |_, s| {
        condition_is(s, "Ready", "False", "Suspended")
    })
    .await;

    // A status write the API server refuses: data changes, and the next write answers 409.
    let errors = h.ctx.metrics.reconcile_errors_total();
    h.kube.conflict_next_writes("hostriskwatches", 1);
    world.patch_host("h-offline", json!({"baseline": 5})).await;
    until("a refused status write", || {
        h.ctx.metrics.reconcile_errors_total() > errors
    })
    .await;
    // HSS answering 5xx, then throttling, for a moment each.
    for (fault, counted) in [("server_error", "5"), ("throttled", "429")] {
        h.sim
            .update_faults(|f| match fault {
                "server_error" => f.error_rate = 1.0,
                _ => f.quota_per_minute = 1,
            })
            .expect("faults");
        let needle = format!("outcome=\"{fault}\",code=\"{counted}");
        let metrics = h.ctx.metrics.clone();
        until(fault, || {
            metrics.encode().expect("encode").contains(&needle)
        })
        .await;
        h.sim
            .update_faults(|f| {
                f.error_rate = 0.0;
                f.quota_per_minute = 0;
            })
            .expect("faults");
    }
    for (name, _) in POLLED {
        h.wait_for(NS, name, "synced again", is_synced).await;
    }
    // The schedule series appear with a watch's second refresh (its first measured interval).
    let metrics = h.ctx.metrics.clone();
    until("every schedule series", || {
        let text = metrics.encode().expect("encode");
        POLLED.iter().all(|(name, _)| {
            text.contains(&format!(
                "hostrisk_watch_interval_lag_seconds{{namespace=\"{NS}\",name=\"{name}\"}}"
            ))
        })
    })
    .await;
    world
}
