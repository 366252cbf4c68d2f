//! Node-backed watches on the stand-in: hosts from the Nodes' providerIDs, Nodes joining and
//! leaving, Nodes without a usable id reported, what a label change costs, and the refusals
//! (flag off, namespaced operator, Node list forbidden).

use std::time::{Duration, Instant};

use hostrisk_operator::crd::HostRiskWatchStatus;
use serde_json::json;

use super::harness::{condition, condition_is, hss_calls, is_synced, Harness, Options, NS};
use super::node_views::{hosts, pairs, unresolved};

fn node_options() -> Options {
    Options {
        node_watches: true,
        metrics_per_host: true,
        ..Options::controller()
    }
}

/// Waits until the controller has reconciled more than `before` times.
async fn reconciled_after(h: &Harness, before: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while h.ctx.metrics.reconciles_total() <= before {
        assert!(
            Instant::now() < deadline,
            "no reconcile after the Node change"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until the watch `nodes` says `Ready=False` for `reason`; its status and that message.
async fn refused(h: &Harness, reason: &str) -> (HostRiskWatchStatus, String) {
    let watch = h
        .wait_for(NS, "nodes", reason, |_, s| {
            condition_is(s, "Ready", "False", reason)
        })
        .await;
    let status = watch.status.expect("status");
    let message = condition(&status, "Ready").expect("Ready").message.clone();
    (status, message)
}

#[tokio::test]
async fn a_node_backed_watch_follows_nodes_joining_and_leaving_and_reports_those_without_an_id() {
    let h = Harness::start(node_options()).await;
    h.create_demo_secret(NS, "creds").await;
    h.create_node(
        "web-1",
        &[("pool", "web")],
        Some("huaweicloud:///demo-web-01"),
    )
    .await;
    h.create_node("db-1", &[("pool", "db")], Some("huaweicloud://demo-db-01"))
        .await;
    h.create_node(
        "kind-1",
        &[("pool", "web")],
        Some("kind://docker/kind/kind-1"),
    )
    .await;
    h.create_node_watch(NS, "fleet", json!({}), "creds").await;

    let watch = h
        .wait_for(
            NS,
            "fleet",
            "the hosts of both Huawei Cloud Nodes",
            |w, s| is_synced(w, s) && s.hosts.len() == 2,
        )
        .await;
    let status = watch.status.expect("status");
    assert_eq!(
        hosts(&status),
        pairs(&[("db-1", "demo-db-01"), ("web-1", "demo-web-01")])
    );
    assert!(status.hosts.iter().all(|h| h.found));
    assert_eq!(status.source.as_deref(), Some("nodes"));
    assert_eq!(
        unresolved(&status),
        pairs(&[("kind-1", "ForeignProviderId")])
    );
    let nodes = condition(&status, "NodesResolved").expect("NodesResolved");
    assert_eq!(
        (nodes.status.as_str(), nodes.reason.as_str()),
        ("False", "UnresolvedNodes")
    );
    assert!(
        nodes.message.contains("kind-1 (ForeignProviderId)"),
        "{}",
        nodes.message
    );
    let counts = status.nodes.clone().expect("node counts");
    assert_eq!(
        (counts.selected, counts.watched, counts.unresolved),
        (3, 2, 1)
    );

    // Per-host series name the Node.
    let metrics = h.ctx.metrics.encode().expect("metrics");
    assert!(
        metrics.contains("host_id=\"demo-web-01\",node=\"web-1\""),
        "{metrics}"
    );

    // A Node joins (a bare id): its host is polled and shown within seconds.
    let joined_at = Instant::now();
    h.create_node("batch-1", &[("pool", "batch")], Some("demo-batch-01"))
        .await;
    h.wait_for(NS, "fleet", "the joining Node's host", |_, s| {
        hosts(s).contains(&("batch-1".into(), "demo-batch-01".into()))
            && s.hosts.iter().all(|h| h.found)
    })
    .await;
    eprintln!(
        "Node joined -> its host in status: {} ms",
        joined_at.elapsed().as_millis()
    );

    // A Node leaves: its host goes at once, and costs no HSS call (the others' answers stand).
    let calls_before_leaving = hss_calls(&h.sim);
    h.delete_node("db-1").await;
    let left = h
        .wait_for(NS, "fleet", "the leaving Node's host gone", |_, s| {
            !s.hosts.iter().any(|h| h.host_id == "demo-db-01")
        })
        .await;
    assert_eq!(
        hosts(left.status.as_ref().unwrap()),
        pairs(&[("batch-1", "demo-batch-01"), ("web-1", "demo-web-01")])
    );
    assert_eq!(
        left.status
            .as_ref()
            .and_then(|s| s.summary.as_ref())
            .map(|s| s.hosts_requested),
        Some(2)
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        hss_calls(&h.sim),
        calls_before_leaving,
        "a leaving Node called HSS"
    );

    // A label change that keeps the set of ids: no HSS call, no status write.
    let calls = hss_calls(&h.sim);
    let writes = h.kube.status_writes("hostriskwatches");
    let reconciles = h.ctx.metrics.reconciles_total();
    h.patch_node("web-1", json!({"metadata": {"labels": {"team": "a"}}}))
        .await;
    reconciled_after(&h, reconciles).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(hss_calls(&h.sim), calls, "a label change called HSS");
    assert_eq!(
        h.kube.status_writes("hostriskwatches"),
        writes,
        "a label change wrote status"
    );

    // A Node without providerID joins: reported at once, without an HSS call; once the cloud
    // controller manager sets its providerID, its host is watched.
    h.create_node("new-1", &[], None).await;
    h.wait_for(NS, "fleet", "the new Node reported", |_, s| {
        unresolved(s).contains(&("new-1".into(), "NoProviderId".into()))
    })
    .await;
    assert_eq!(hss_calls(&h.sim), calls, "an unresolvable Node called HSS");
    h.patch_node(
        "new-1",
        json!({"spec": {"providerID": "huaweicloud:///demo-new-01"}}),
    )
    .await;
    h.wait_for(NS, "fleet", "the initialised Node's host", |_, s| {
        hosts(s).contains(&("new-1".into(), "demo-new-01".into()))
            && !unresolved(s).iter().any(|(n, _)| n == "new-1")
    })
    .await;
    h.stop().await;
}

#[tokio::test]
async fn a_selector_picks_nodes_by_label_and_relabelling_moves_hosts_in_and_out() {
    let h = Harness::start(node_options()).await;
    h.create_demo_secret(NS, "creds").await;
    h.create_node(
        "web-1",
        &[("pool", "web")],
        Some("huaweicloud:///demo-web-01"),
    )
    .await;
    h.create_node("db-1", &[("pool", "db")], Some("huaweicloud:///demo-db-01"))
        .await;
    h.create_node_watch(NS, "web", json!({"matchLabels": {"pool": "web"}}), "creds")
        .await;
    let watch = h
        .wait_for(NS, "web", "the web Node's host", |w, s| {
            is_synced(w, s) && s.hosts.len() == 1
        })
        .await;
    let status = watch.status.expect("status");
    assert_eq!(hosts(&status), pairs(&[("web-1", "demo-web-01")]));
    assert_eq!(status.source.as_deref(), Some("nodes: pool=web"));
    assert!(condition_is(
        &status,
        "NodesResolved",
        "True",
        "AllResolved"
    ));
    h.patch_node("db-1", json!({"metadata": {"labels": {"pool": "web"}}}))
        .await;
    h.wait_for(NS, "web", "the relabelled Node's host", |_, s| {
        s.hosts.len() == 2
    })
    .await;
    h.patch_node("web-1", json!({"metadata": {"labels": {"pool": "spare"}}}))
        .await;
    let moved = h
        .wait_for(NS, "web", "the Node relabelled away", |_, s| {
            hosts(s) == pairs(&[("db-1", "demo-db-01")])
        })
        .await;
    assert!(is_synced(&moved, moved.status.as_ref().unwrap()));
    h.stop().await;
}

#[tokio::test]
async fn node_backed_and_listed_watches_share_one_poller_group() {
    let h = Harness::start(node_options()).await;
    h.create_demo_secret(NS, "creds").await;
    h.create_node("web-1", &[], Some("huaweicloud:///demo-web-01"))
        .await;
    h.create_node("db-1", &[], Some("huaweicloud:///demo-db-01"))
        .await;
    h.create_watch(NS, "listed", &["demo-web-01"], "creds", "1h")
        .await;
    h.create_node_watch(NS, "nodes", json!({}), "creds").await;
    h.wait_for(NS, "listed", "Ready", is_synced).await;
    h.wait_for(NS, "nodes", "Ready", |w, s| {
        is_synced(w, s) && s.hosts.len() == 2
    })
    .await;
    let stats = h.poller_stats();
    assert_eq!(stats.groups.len(), 1, "{stats:?}");
    let group = stats.groups.values().next().expect("group");
    assert_eq!((group.watches, group.unique_ids), (2, 2));
    h.stop().await;
}

#[tokio::test]
async fn without_the_flag_a_node_backed_watch_is_refused_and_says_how_to_enable_it() {
    let h = Harness::start(Options::controller()).await;
    h.create_demo_secret(NS, "creds").await;
    h.create_node("web-1", &[], Some("huaweicloud:///demo-web-01"))
        .await;
    h.create_node_watch(NS, "nodes", json!({}), "creds").await;
    let (status, message) = refused(&h, "NodeWatchesDisabled").await;
    assert!(message.contains("--node-watches"), "{message}");
    assert!(condition_is(
        &status,
        "NodesResolved",
        "Unknown",
        "NodeWatchesDisabled"
    ));
    // A suspended one says Suspended, whatever the Nodes' state.
    h.patch_watch(NS, "nodes", json!({"spec": {"suspend": true}}))
        .await;
    h.wait_for(NS, "nodes", "Suspended", |_, s| {
        condition_is(s, "Ready", "False", "Suspended")
    })
    .await;
    assert_eq!(h.kube.request_count("list", "nodes", ""), 0, "no Node list");
    assert_eq!(hss_calls(&h.sim), 0);
    h.stop().await;
}

#[tokio::test]
async fn a_namespaced_operator_refuses_node_backed_watches() {
    let h = Harness::start(Options {
        namespaces: vec![NS.to_string()],
        ..node_options()
    })
    .await;
    h.create_demo_secret(NS, "creds").await;
    h.create_node_watch(NS, "nodes", json!({}), "creds").await;
    let (_, message) = refused(&h, "NodeWatchesDisabled").await;
    assert!(message.contains("all namespaces"), "{message}");
    assert_eq!(h.kube.request_count("list", "nodes", ""), 0, "no Node list");
    h.stop().await;
}

#[tokio::test]
async fn a_forbidden_node_list_is_reported_and_recovers_once_granted() {
    let h = Harness::start(node_options()).await;
    // Refused from the start, as without the RBAC rule (the operator is already listing).
    h.kube.forbid("nodes", &["get", "list", "watch"]);
    h.create_demo_secret(NS, "creds").await;
    h.create_node("web-1", &[], Some("huaweicloud:///demo-web-01"))
        .await;
    h.create_node_watch(NS, "nodes", json!({}), "creds").await;
    let (_, message) = refused(&h, "NodeWatchForbidden").await;
    assert!(
        message.contains("cannot list resource \"nodes\""),
        "{message}"
    );
    assert!(
        h.is_running(),
        "a refused Node watch does not stop the operator"
    );
    assert_eq!(hss_calls(&h.sim), 0);
    h.kube.forbid("nodes", &[]);
    h.wait_for(NS, "nodes", "Ready once granted", |w, s| {
        is_synced(w, s) && s.hosts.len() == 1
    })
    .await;
    h.stop().await;
}
