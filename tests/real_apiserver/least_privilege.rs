//! Least privilege, proven: the operator binary runs with the rendered Deployment's args as the
//! chart's ServiceAccount (a TokenRequest token), bound to exactly the RBAC objects the chart
//! renders (Helm's engine, tests/chart/render.rs), against a kube-apiserver with RBAC on. Every
//! feature must work and the audit log must show no 403 for that user; with one rule removed,
//! the operator must say so and keep running.

use std::time::Duration;

use hostrisk_envtest::ControlPlane;
use hostrisk_operator::crd::HostRiskWatch;
use hostrisk_operator::hss::model::{AgentStatus, DetectResult, HssEdition};
use hostrisk_sim::hss::{HssSimulator, SimHost};
use k8s_openapi::api::core::v1::Secret;
use kube::api::PostParams;
use kube::Api;
use serde_json::{json, Value};

use crate::e2e_story::{
    condition_is, demo_secret, is_ready, refresh, simulator, wait_for, wait_for_event, watch_of,
};
use crate::nodes::{create_node, node_watch};
use crate::support::*;

/// The operator deployed from the chart against a fresh control plane (also used by
/// tests/real_apiserver/workload_identity.rs).
pub struct Deployed {
    pub plane: ControlPlane,
    pub sim: HssSimulator,
    pub operator: Operator,
    pub user: String,
    /// How the operator was started, to start it again ([`Deployed::respawn`]).
    pub args: Vec<String>,
    pub kubeconfig: std::path::PathBuf,
}

impl Deployed {
    /// Stops the operator and starts a new process the same way (a rollout, a new leader);
    /// returns once it is ready.
    pub async fn respawn(&mut self, name: &str) {
        assert_eq!(self.operator.terminate(), Some(0), "a clean stop");
        self.operator = Operator::spawn(
            name,
            &self.args,
            self.operator.health_port,
            &self.kubeconfig,
            self.plane.dir(),
            &[
                ("POD_NAME", "hostrisk-operator-0"),
                ("POD_NAMESPACE", RELEASE_NAMESPACE),
            ],
        );
        self.operator.wait_ready(Duration::from_secs(60)).await;
    }
}

/// Renders value set `set` plus `extra` values, applies its RBAC (after `edit`), mints the
/// ServiceAccount's token and starts the binary with the Deployment's args.
async fn deploy(
    test: &str,
    set: &str,
    extra: Value,
    edit: impl Fn(&mut Vec<Value>),
) -> Option<Deployed> {
    deploy_until(test, set, extra, edit, Wait::Ready).await
}

/// How far a started operator must get before a row goes on.
pub enum Wait {
    /// `/readyz` answers 200.
    Ready,
    /// `/livez` answers 200 (a row where readiness is what reports the problem).
    Live,
}

pub async fn deploy_until(
    test: &str,
    set: &str,
    extra: Value,
    edit: impl Fn(&mut Vec<Value>),
    wait: Wait,
) -> Option<Deployed> {
    let plane = cluster(test, true).await?;
    let client = plane.client();
    let sim = simulator().await;
    let values = test_values(plane.dir(), set, sim.base_url().as_str(), extra);
    let set_file = repo().join(format!("tests/chart/values/{set}.yaml"));
    let rendered = render_chart(set, &[&set_file, &values]);

    let mut objects = rbac_documents(&rendered);
    edit(&mut objects);
    let mut namespaces = vec![RELEASE_NAMESPACE.to_string()];
    for object in &objects {
        if let Some(namespace) = object["metadata"]["namespace"].as_str() {
            if !namespaces.iter().any(|n| n == namespace) {
                namespaces.push(namespace.to_string());
            }
        }
    }
    for namespace in &namespaces {
        create_namespace_named(&client, namespace).await;
    }
    apply_objects(&client, &objects).await;

    let account = rendered.service_accounts[0].metadata.name.clone().unwrap();
    let token = plane
        .service_account_token(RELEASE_NAMESPACE, &account, &[], 3600)
        .await
        .unwrap();
    let kubeconfig = plane
        .write_kubeconfig_for_token(&token, "operator.kubeconfig")
        .unwrap();
    let port = free_port();
    let args = deployment_args(&rendered, port);
    eprintln!("{test}: hostrisk-operator {}", args.join(" "));
    let mut operator = Operator::spawn(
        "replica-0",
        &args,
        port,
        &kubeconfig,
        plane.dir(),
        &[
            ("POD_NAME", "hostrisk-operator-0"),
            ("POD_NAMESPACE", RELEASE_NAMESPACE),
        ],
    );
    match wait {
        Wait::Ready => operator.wait_ready(Duration::from_secs(60)).await,
        Wait::Live => operator.wait_live(Duration::from_secs(60)).await,
    }
    Some(Deployed {
        plane,
        sim,
        operator,
        user: service_account_user(RELEASE_NAMESPACE, &account),
        args,
        kubeconfig,
    })
}

/// Every feature in `namespace`: a watch created before its Secret reports SecretNotFound,
/// the Secret is picked up without a restart (Secret watch), status and summary, a transition
/// polled on request with its Event.
async fn exercise(deployed: &Deployed, namespace: &str) {
    let client = deployed.plane.client();
    let watches: Api<HostRiskWatch> = Api::namespaced(client.clone(), namespace);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    // A host of this namespace's own, so that it sees its own transition.
    let db = format!("{namespace}-db");
    deployed.sim.set_host(SimHost::installed(
        &db,
        "0",
        AgentStatus::Online,
        HssEdition::Enterprise,
        DetectResult::Clean,
        [10, 0, 0, 0],
    ));
    watches
        .create(
            &PostParams::default(),
            &watch_of("fleet", &deployed.sim, &["demo-web-01", &db], "creds"),
        )
        .await
        .unwrap();
    wait_for(&watches, "fleet", "SecretNotFound", |_, s| {
        condition_is(s, "CredentialsValid", "False", "SecretNotFound")
    })
    .await;
    secrets
        .create(&PostParams::default(), &demo_secret("creds"))
        .await
        .unwrap();
    let ready = wait_for(&watches, "fleet", "Ready once the Secret exists", is_ready).await;
    assert_eq!(ready.status.unwrap().hosts.len(), 2);
    deployed
        .sim
        .update_host(&db, |h| h.risk.detect_result = Some(DetectResult::Risk));
    refresh(&watches, "fleet", &format!("{namespace}-1")).await;
    wait_for(&watches, "fleet", "db at risk", |_, s| {
        s.hosts
            .iter()
            .any(|h| h.host_id == db && h.detect_result.as_deref() == Some("risk"))
    })
    .await;
    let event = wait_for_event(&client, namespace, "BecameAtRisk").await;
    assert_eq!(
        event.reporting_controller.as_deref(),
        Some("hostrisk-operator")
    );
}

/// Stops the operator (watches are audited when they end), asserts that it got no 403 and did
/// each of `needed` (`verb resource`: the row exercised it), and tears the world down.
pub async fn finish(mut deployed: Deployed, needed: &[&str]) {
    assert_eq!(deployed.operator.terminate(), Some(0));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mine = assert_no_403(&deployed);
    for needed in needed {
        assert!(
            mine.iter()
                .any(|e| format!("{} {}", e.verb, e.resource()) == *needed),
            "the operator never did {needed}: the row did not exercise it"
        );
    }
    deployed.sim.shutdown().await;
    deployed.plane.stop().await;
}

/// Audit: the operator's requests, none answered 403; returns them for more checks.
pub fn assert_no_403(deployed: &Deployed) -> Vec<hostrisk_envtest::AuditEvent> {
    let events = deployed.plane.audit_events().unwrap();
    let mine: Vec<_> = events_of(&events, &deployed.user)
        .into_iter()
        .cloned()
        .collect();
    let refs: Vec<_> = mine.iter().collect();
    let used = usage(&refs);
    let forbidden: Vec<String> = mine
        .iter()
        .filter(|e| e.code() == 403)
        .map(|e| e.summary())
        .collect();
    assert!(
        forbidden.is_empty(),
        "the operator got 403s with the chart's RBAC:\n{}\nall its requests: {used:#?}\nlog:\n{}",
        forbidden.join("\n"),
        deployed.operator.log()
    );
    assert!(!mine.is_empty(), "no request of {} audited", deployed.user);
    let agents: std::collections::BTreeSet<_> = mine
        .iter()
        .map(|e| e.user_agent.clone().unwrap_or_default())
        .collect();
    eprintln!(
        "{}: requests by verb/resource/code: {used:?}; user agents: {agents:?}",
        deployed.user
    );
    // Audit logs and API server metrics tell the operator apart by its User-Agent.
    let expected = format!("hostrisk-operator/{}", env!("CARGO_PKG_VERSION"));
    assert!(
        agents.iter().all(|agent| agent == &expected),
        "every request names the operator ({expected}): {agents:?}"
    );
    mine
}

#[tokio::test]
async fn chart_rbac_cluster_wide_is_enough_and_nothing_is_forbidden() {
    let Some(mut deployed) = deploy(
        "chart_rbac_cluster_wide_is_enough_and_nothing_is_forbidden",
        "defaults",
        json!({"leaderElection": {"enabled": true}}),
        |_| {},
    )
    .await
    else {
        return;
    };
    let client = deployed.plane.client();
    let holder = lease_holder(&client, RELEASE_NAMESPACE, OPERATOR).await;
    assert!(
        holder.starts_with("hostrisk-operator-0_"),
        "Lease holder {holder:?}"
    );
    for namespace in ["apps-one", "apps-two"] {
        create_namespace_named(&client, namespace).await;
        exercise(&deployed, namespace).await;
    }
    // Watches are audited when they end: stop the operator first (it releases the Lease).
    assert!(deployed.operator.exited().is_none(), "operator exited");
    finish(
        deployed,
        &[
            "watch hostriskwatches",
            "patch hostriskwatches/status",
            "create events",
            "get secrets",
            "watch secrets",
            "update leases",
        ],
    )
    .await;
}

#[tokio::test]
async fn chart_rbac_watch_namespaces_is_enough_and_scopes_the_operator() {
    let Some(mut deployed) = deploy(
        "chart_rbac_watch_namespaces_is_enough_and_scopes_the_operator",
        "namespaced",
        json!({"leaderElection": {"enabled": true}}),
        |_| {},
    )
    .await
    else {
        return;
    };
    let client = deployed.plane.client();
    // team-a and team-b exist (the chart's Roles live there); team-c is not watched.
    create_namespace_named(&client, "team-c").await;
    let outside: Api<HostRiskWatch> = Api::namespaced(client.clone(), "team-c");
    outside
        .create(
            &PostParams::default(),
            &watch_of("outside", &deployed.sim, &["demo-web-01"], "creds"),
        )
        .await
        .unwrap();
    for namespace in ["team-a", "team-b"] {
        exercise(&deployed, namespace).await;
    }
    let holder = lease_holder(&client, RELEASE_NAMESPACE, OPERATOR).await;
    assert!(holder.starts_with("hostrisk-operator-0_"), "{holder:?}");
    assert!(
        outside.get("outside").await.unwrap().status.is_none(),
        "a watch outside watchNamespaces got a status"
    );
    assert_eq!(deployed.operator.terminate(), Some(0));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mine = assert_no_403(&deployed);
    assert!(
        mine.iter()
            .all(|e| e.namespace().is_none_or(|ns| ns != "team-c")),
        "the operator touched team-c"
    );
    deployed.sim.shutdown().await;
    deployed.plane.stop().await;
}

/// Removes `resource` from the operator's ClusterRole rules.
fn without_rule(objects: &mut [Value], resource: &str) {
    let role = objects
        .iter_mut()
        .find(|o| o["kind"] == "ClusterRole" && o["metadata"]["name"] == OPERATOR)
        .expect("the operator's ClusterRole");
    let rules = role["rules"].as_array_mut().unwrap();
    let before = rules.len();
    rules.retain(|rule| {
        !rule["resources"]
            .as_array()
            .is_some_and(|r| r.iter().any(|x| x == resource))
    });
    assert_eq!(rules.len(), before - 1, "one rule for {resource}");
}

fn count_in(log: &str, needle: &str) -> usize {
    log.lines().filter(|line| line.contains(needle)).count()
}

#[tokio::test]
async fn without_events_create_the_operator_says_so_and_keeps_running() {
    let Some(mut deployed) = deploy(
        "without_events_create_the_operator_says_so_and_keeps_running",
        "defaults",
        json!({}),
        |objects| without_rule(objects, "events"),
    )
    .await
    else {
        return;
    };
    let client = deployed.plane.client();
    create_namespace_named(&client, "apps").await;
    let watches: Api<HostRiskWatch> = Api::namespaced(client.clone(), "apps");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "apps");
    secrets
        .create(&PostParams::default(), &demo_secret("creds"))
        .await
        .unwrap();
    watches
        .create(
            &PostParams::default(),
            &watch_of(
                "fleet",
                &deployed.sim,
                &["demo-web-01", "demo-db-01"],
                "creds",
            ),
        )
        .await
        .unwrap();
    wait_for(&watches, "fleet", "Ready", is_ready).await;
    deployed.sim.update_host("demo-db-01", |h| {
        h.risk.detect_result = Some(DetectResult::Risk)
    });
    refresh(&watches, "fleet", "1").await;
    // Status still works; the Event is refused and the log says which and why.
    wait_for(&watches, "fleet", "db at risk", |_, s| {
        s.hosts
            .iter()
            .any(|h| h.host_id == "demo-db-01" && h.detect_result.as_deref() == Some("risk"))
    })
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while count_in(&deployed.operator.log(), "could not publish event") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no log line about the refused Event:\n{}",
            deployed.operator.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let log = deployed.operator.log();
    let line = log
        .lines()
        .find(|l| l.contains("could not publish event"))
        .unwrap()
        .to_string();
    assert!(
        line.contains("BecameAtRisk") && line.contains("forbidden"),
        "the log line names the Event and the refusal: {line}"
    );
    // Not a crash loop: the same process, still ready, and no retry storm of Event creates.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        deployed.operator.exited().is_none(),
        "the operator exited:\n{log}"
    );
    assert_eq!(deployed.operator.readyz().await, Some(200));
    let events = deployed.plane.audit_events().unwrap();
    let refused: Vec<_> = events_of(&events, &deployed.user)
        .into_iter()
        .filter(|e| e.resource() == "events" && e.code() == 403)
        .collect();
    assert!(
        (1..=3).contains(&refused.len()),
        "Event creates refused: {} (expected the one transition, at most a few tries)",
        refused.len()
    );
    let only_events: Vec<_> = events_of(&events, &deployed.user)
        .into_iter()
        .filter(|e| e.code() == 403 && e.resource() != "events")
        .map(|e| e.summary())
        .collect();
    assert!(only_events.is_empty(), "other 403s: {only_events:?}");
    assert_eq!(deployed.operator.terminate(), Some(0));
    deployed.sim.shutdown().await;
    deployed.plane.stop().await;
}

/// Keeps only `get` on Secrets in the operator's ClusterRole (no list/watch).
fn secrets_get_only(objects: &mut [Value]) {
    let role = objects
        .iter_mut()
        .find(|o| o["kind"] == "ClusterRole" && o["metadata"]["name"] == OPERATOR)
        .expect("the operator's ClusterRole");
    let rule = role["rules"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|rule| rule["resources"] == json!(["secrets"]))
        .expect("a rule for secrets");
    rule["verbs"] = json!(["get"]);
}

#[tokio::test]
async fn without_secrets_list_watch_the_operator_says_so_and_keeps_polling() {
    let Some(mut deployed) = deploy_until(
        "without_secrets_list_watch_the_operator_says_so_and_keeps_polling",
        "defaults",
        json!({}),
        |objects| secrets_get_only(objects),
        Wait::Live,
    )
    .await
    else {
        return;
    };
    let pid = deployed.operator.pid();
    let client = deployed.plane.client();
    let watches = create_fleet(&client, &deployed.sim, &["demo-web-01"]).await;
    // Polling reads the Secret with get: status still works.
    wait_for(&watches, "fleet", "Ready", is_ready).await;
    // The refused Secret watch is in the log, naming the verb and the resource.
    let needle = "cannot list resource \\\"secrets\\\"";
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while count_in(&deployed.operator.log(), needle) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no log line about the refused Secret list:\n{}",
            deployed.operator.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Not a crash loop: same process, still answering; retries back off rather than hammer.
    let observed_from = std::time::Instant::now();
    let retries_before = count_in(&deployed.operator.log(), needle);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let retries = count_in(&deployed.operator.log(), needle) - retries_before;
    assert!(deployed.operator.exited().is_none(), "the operator exited");
    assert_eq!(deployed.operator.pid(), pid);
    assert_eq!(
        deployed.operator.readyz().await,
        Some(503),
        "not ready: without the Secret watch a rotated Secret would go unseen"
    );
    assert!(
        retries <= 20,
        "{retries} refused Secret lists logged in {:?}: a hot loop",
        observed_from.elapsed()
    );
    eprintln!(
        "refused Secret lists logged in {:.0} s: {retries}",
        observed_from.elapsed().as_secs_f64()
    );
    assert_eq!(deployed.operator.terminate(), Some(0));
    deployed.sim.shutdown().await;
    deployed.plane.stop().await;
}

#[tokio::test]
async fn without_any_secrets_rule_each_watch_says_the_secret_is_forbidden() {
    let Some(mut deployed) = deploy_until(
        "without_any_secrets_rule_each_watch_says_the_secret_is_forbidden",
        "defaults",
        json!({}),
        |objects| without_rule(objects, "secrets"),
        Wait::Live,
    )
    .await
    else {
        return;
    };
    let pid = deployed.operator.pid();
    let client = deployed.plane.client();
    let watches = create_fleet(&client, &deployed.sim, &["demo-web-01"]).await;
    // The refusal is in the watch's status, naming the fix; not a reconcile stuck at Pending.
    let refused = wait_for(&watches, "fleet", "CredentialsValid=False", |_, s| {
        condition_is(s, "CredentialsValid", "False", "SecretForbidden")
    })
    .await;
    let status = refused.status.unwrap();
    let credentials = status
        .conditions
        .iter()
        .find(|c| c.type_ == "CredentialsValid")
        .unwrap();
    assert!(
        credentials.message.contains("get on secrets"),
        "{}",
        credentials.message
    );
    assert!(condition_is(&status, "Ready", "False", "SecretForbidden"));
    // Not ready (the Secret watch is refused too), but alive, the same process, backing off.
    assert_eq!(deployed.operator.readyz().await, Some(503));
    assert_eq!(deployed.operator.livez().await, Some(200));
    assert!(deployed.operator.exited().is_none(), "the operator exited");
    assert_eq!(deployed.operator.pid(), pid);
    assert_eq!(deployed.operator.terminate(), Some(0));
    deployed.sim.shutdown().await;
    deployed.plane.stop().await;
}

/// A node-backed watch and a listed one in `apps`, with Nodes of two pools.
async fn create_node_world(deployed: &Deployed) -> Api<HostRiskWatch> {
    let client = deployed.plane.client();
    create_namespace_named(&client, "apps").await;
    Api::<Secret>::namespaced(client.clone(), "apps")
        .create(&PostParams::default(), &demo_secret("creds"))
        .await
        .unwrap();
    create_node(
        &client,
        "web-1",
        json!({"pool": "web"}),
        json!({}),
        Some("huaweicloud:///demo-web-01"),
    )
    .await;
    create_node(
        &client,
        "db-1",
        json!({"pool": "db"}),
        json!({}),
        Some("huaweicloud:///demo-db-01"),
    )
    .await;
    let watches: Api<HostRiskWatch> = Api::namespaced(client.clone(), "apps");
    watches
        .create(
            &PostParams::default(),
            &node_watch(
                "web-nodes",
                &deployed.sim,
                json!({"matchLabels": {"pool": "web"}}),
                json!({}),
            ),
        )
        .await
        .unwrap();
    watches
        .create(
            &PostParams::default(),
            &watch_of("listed", &deployed.sim, &["demo-db-01"], "creds"),
        )
        .await
        .unwrap();
    watches
}

#[tokio::test]
async fn chart_rbac_with_node_watches_is_enough_for_node_backed_watches() {
    let Some(deployed) = deploy(
        "chart_rbac_with_node_watches_is_enough_for_node_backed_watches",
        "defaults",
        json!({"nodeWatches": {"enabled": true}}),
        |_| {},
    )
    .await
    else {
        return;
    };
    let watches = create_node_world(&deployed).await;
    let ready = wait_for(
        &watches,
        "web-nodes",
        "Ready with the web Node's host",
        |w, s| is_ready(w, s) && s.hosts.len() == 1,
    )
    .await;
    let host = &ready.status.unwrap().hosts[0];
    assert_eq!(
        (host.host_id.as_str(), host.node_name.as_deref()),
        ("demo-web-01", Some("web-1"))
    );
    wait_for(&watches, "listed", "Ready", is_ready).await;
    finish(deployed, &["list nodes", "watch nodes"]).await;
}

#[tokio::test]
async fn without_the_nodes_rule_node_backed_watches_say_the_node_watch_is_forbidden() {
    let Some(mut deployed) = deploy(
        "without_the_nodes_rule_node_backed_watches_say_the_node_watch_is_forbidden",
        "defaults",
        json!({"nodeWatches": {"enabled": true}}),
        |objects| without_rule(objects, "nodes"),
    )
    .await
    else {
        return;
    };
    let pid = deployed.operator.pid();
    let watches = create_node_world(&deployed).await;
    let refused = wait_for(&watches, "web-nodes", "NodeWatchForbidden", |_, s| {
        condition_is(s, "Ready", "False", "NodeWatchForbidden")
    })
    .await;
    let status = refused.status.unwrap();
    let ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert!(
        ready.message.contains("cannot list resource \"nodes\"")
            && ready.message.contains("nodeWatches.enabled"),
        "{}",
        ready.message
    );
    assert!(condition_is(
        &status,
        "NodesResolved",
        "Unknown",
        "NodeWatchForbidden"
    ));
    // Listed watches are not held back by the refused Node watch.
    wait_for(&watches, "listed", "Ready", is_ready).await;
    assert_eq!(deployed.operator.readyz().await, Some(200));
    assert!(deployed.operator.exited().is_none(), "the operator exited");
    assert_eq!(deployed.operator.pid(), pid);
    assert_eq!(deployed.operator.terminate(), Some(0));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let events = deployed.plane.audit_events().unwrap();
    let refused: Vec<_> = events_of(&events, &deployed.user)
        .into_iter()
        .filter(|e| e.code() == 403)
        .map(|e| format!("{} {}", e.verb, e.resource()))
        .collect();
    assert!(!refused.is_empty(), "no refused Node list was audited");
    assert!(
        refused.iter().all(|r| r == "list nodes"),
        "only the Node list is refused: {refused:?}"
    );
    deployed.sim.shutdown().await;
    deployed.plane.stop().await;
}
