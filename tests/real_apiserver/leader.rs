//! Leader election on real Leases: two `run --leader-elect` processes (the chart's
//! `replicaCount: 2` args, distinct POD_NAMEs and ServiceAccounts so the audit log tells them
//! apart); `kill -9` of the leader; the standby takes over within the lease duration (and not
//! before it expired), and only the process holding the Lease ever writes status.

use std::time::{Duration, Instant};

use hostrisk_operator::hss::model::DetectResult;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use serde_json::{json, Value};

use crate::e2e_story::{is_ready, refresh, simulator, wait_for};
use crate::support::*;

/// client-go's defaults, which `run` uses: a follower may take over 15 s after it last saw
/// the Lease renewed; the leader renews every 2 s (retry period, jittered up to 1.2x).
const LEASE_DURATION: Duration = Duration::from_secs(15);
const RETRY_PERIOD: Duration = Duration::from_millis(2400);

/// Adds the ServiceAccount `extra` (in the release namespace) to every binding that names the
/// chart's ServiceAccount: a second replica with its own identity and exactly the same rights.
fn with_second_subject(objects: &mut Vec<Value>, extra: &str) {
    for object in objects.iter_mut() {
        if !matches!(
            object["kind"].as_str(),
            Some("ClusterRoleBinding" | "RoleBinding")
        ) {
            continue;
        }
        let subjects = object["subjects"].as_array_mut().unwrap();
        if subjects.iter().any(|s| s["name"] == OPERATOR) {
            subjects.push(
                json!({"kind": "ServiceAccount", "name": extra, "namespace": RELEASE_NAMESPACE}),
            );
        }
    }
    let mut account = objects
        .iter()
        .find(|o| o["kind"] == "ServiceAccount")
        .unwrap()
        .clone();
    account["metadata"]["name"] = json!(extra);
    objects.push(account);
}

fn lease_time(lease: &Lease, field: &str) -> jiff::Timestamp {
    let spec = lease.spec.as_ref().unwrap();
    let time = match field {
        "acquireTime" => spec.acquire_time.as_ref(),
        _ => spec.renew_time.as_ref(),
    };
    time.unwrap_or_else(|| panic!("Lease without {field}")).0
}

#[tokio::test]
async fn standby_takes_over_a_killed_leader_and_only_the_holder_writes_status() {
    let test = "standby_takes_over_a_killed_leader_and_only_the_holder_writes_status";
    let Some(plane) = cluster(test, true).await else {
        return;
    };
    let client = plane.client();
    let sim = simulator().await;
    let values = test_values(plane.dir(), "replicas", sim.base_url().as_str(), json!({}));
    let set_file = repo().join("tests/chart/values/replicas.yaml");
    let rendered = render_chart("replicas", &[&set_file, &values]);
    let mut objects = rbac_documents(&rendered);
    with_second_subject(&mut objects, "hostrisk-operator-b");
    create_namespace_named(&client, RELEASE_NAMESPACE).await;
    apply_objects(&client, &objects).await;

    let mut replicas = Vec::new();
    for (pod, account) in [
        ("replica-a", OPERATOR),
        ("replica-b", "hostrisk-operator-b"),
    ] {
        let token = plane
            .service_account_token(RELEASE_NAMESPACE, account, &[], 3600)
            .await
            .unwrap();
        let kubeconfig = plane
            .write_kubeconfig_for_token(&token, &format!("{pod}.kubeconfig"))
            .unwrap();
        let port = free_port();
        let args = deployment_args(&rendered, port);
        assert!(args.iter().any(|a| a == "--leader-elect"), "{args:?}");
        let mut operator = Operator::spawn(
            pod,
            &args,
            port,
            &kubeconfig,
            plane.dir(),
            &[("POD_NAME", pod), ("POD_NAMESPACE", RELEASE_NAMESPACE)],
        );
        operator.wait_ready(Duration::from_secs(60)).await;
        if pod == "replica-a" {
            // a leads before b starts, so the roles are known.
            let deadline = Instant::now() + Duration::from_secs(20);
            while !lease_holder(&client, RELEASE_NAMESPACE, OPERATOR)
                .await
                .starts_with("replica-a_")
            {
                assert!(
                    Instant::now() < deadline,
                    "replica-a did not take the Lease"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        replicas.push((operator, service_account_user(RELEASE_NAMESPACE, account)));
    }
    let (mut a, user_a) = replicas.remove(0);
    let (b, user_b) = replicas.remove(0);

    let watches = create_fleet(&client, &sim, &["demo-web-01", "demo-db-01"]).await;
    wait_for(&watches, "fleet", "Ready (leader a)", is_ready).await;
    assert!(
        b.log().contains("waiting for the leader-election Lease"),
        "b is a standby:\n{}",
        b.log()
    );

    // Let a renew at least once more, then kill it without a chance to release the Lease.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), RELEASE_NAMESPACE);
    let before = leases.get(OPERATOR).await.unwrap();
    assert!(lease_time(&before, "renewTime") > lease_time(&before, "acquireTime"));
    let killed_at = jiff::Timestamp::now();
    let killed = Instant::now();
    a.kill9();

    // b may have seen a's last renewal up to one retry period late, and notices the expiry
    // at its next attempt, up to one more retry period later; plus slack for a loaded machine.
    let limit = LEASE_DURATION + RETRY_PERIOD * 2 + Duration::from_secs(5);
    while !lease_holder(&client, RELEASE_NAMESPACE, OPERATOR)
        .await
        .starts_with("replica-b_")
    {
        assert!(
            killed.elapsed() < limit,
            "replica-b did not take over within {limit:?}; b's log:\n{}",
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took_over = killed.elapsed();
    let after = leases.get(OPERATOR).await.unwrap();
    let acquired = lease_time(&after, "acquireTime");
    // a's last renewal as the API server received it; b saw it no earlier, so an expiry
    // honoured by b means acquireTime >= that + the lease duration.
    let events = plane.audit_events().unwrap();
    let last_renewal = events_of(&events, &user_a)
        .into_iter()
        .filter(|e| e.verb == "update" && e.resource() == "leases" && e.code() == 200)
        .map(audit_time)
        .max()
        .expect("a renewed the Lease");
    let waited = acquired.duration_since(last_renewal);
    eprintln!(
        "takeover {:.1} s after kill -9; Lease acquired {:.1} s after a's last renewal",
        took_over.as_secs_f64(),
        waited.as_secs_f64()
    );
    assert!(
        waited >= jiff::SignedDuration::try_from(LEASE_DURATION).unwrap(),
        "b took the Lease {waited:?} after a's last renewal: before it expired"
    );
    assert_eq!(
        after.spec.as_ref().unwrap().lease_transitions,
        Some(before.spec.as_ref().unwrap().lease_transitions.unwrap_or(0) + 1)
    );

    // The new leader polls and writes.
    sim.update_host("demo-db-01", |h| {
        h.risk.detect_result = Some(DetectResult::Risk)
    });
    refresh(&watches, "fleet", "after-takeover").await;
    let written = wait_for(&watches, "fleet", "db at risk (leader b)", |w, s| {
        is_ready(w, s)
            && s.hosts
                .iter()
                .any(|h| h.host_id == "demo-db-01" && h.detect_result.as_deref() == Some("risk"))
    })
    .await;
    let entry = status_manager_entry(&written, "hostrisk-operator")
        .expect("hostrisk-operator manages status");
    assert!(
        // managedFields times have whole seconds.
        entry.time.as_ref().unwrap().0.as_second() >= acquired.as_second(),
        "the last status write predates b's leadership"
    );

    // The audit log: a wrote status only before it was killed, b only after it acquired
    // the Lease (as a standby it wrote nothing).
    let events = plane.audit_events().unwrap();
    let writes = |user: &str| -> Vec<jiff::Timestamp> {
        events_of(&events, user)
            .into_iter()
            .filter(|e| is_status_write(e))
            .map(audit_time)
            .collect()
    };
    let (writes_a, writes_b) = (writes(&user_a), writes(&user_b));
    assert!(!writes_a.is_empty(), "a never wrote status");
    assert!(!writes_b.is_empty(), "b never wrote status");
    assert!(
        writes_a.iter().all(|t| *t < killed_at),
        "a status write by a after it was killed"
    );
    let first_b = writes_b.iter().min().unwrap();
    assert!(
        *first_b >= acquired,
        "b wrote status at {first_b} before it acquired the Lease at {acquired}"
    );
    assert!(
        writes_a.iter().all(|t| t < first_b),
        "a wrote status after b started writing"
    );
    eprintln!(
        "status writes: a {} (all before the kill), b {} (all after {acquired})",
        writes_a.len(),
        writes_b.len()
    );
    drop(b);
    sim.shutdown().await;
    plane.stop().await;
}
