//! Policy reports on a real kube-apiserver with the CRDs exactly as OpenReports and the policy
//! working group publish them: the operator binary with the chart's RBAC (no 403 in the audit
//! log) sees the CRD missing, picks it up when installed, writes reports the real schemas keep
//! as written, writes nothing on an idle poll or after a restart, removes a suspended watch's
//! report, and owns each report by its watch (a real API server alone does not garbage-collect:
//! the owner reference is what is checked); the biggest report fits and is kept as written.

use std::time::{Duration, Instant};

use hostrisk_envtest::apply_crds;
use hostrisk_operator::crd::HostRiskWatch;
use hostrisk_operator::reports::format::MAX_RESULTS_LIMIT;
use hostrisk_operator::reports::{ReportFormat, ReportOptions};
use hostrisk_sim::kube::policy_reports;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams, PostParams};
use kube::Api;
use serde_json::json;

use crate::e2e_story::{
    condition_is, demo_secret, is_ready, refresh, wait_for, wait_for_hss_call, watch_of,
};
use crate::least_privilege::{deploy_until, finish, Deployed, Wait};
use crate::reading::{apply_biggest, as_written, intended, report_of, reports};
use crate::render::removed_by_upgrade;
use crate::support::*;

fn written(w: &HostRiskWatch, s: &hostrisk_operator::crd::HostRiskWatchStatus) -> bool {
    is_ready(w, s) && condition_is(s, "ReportsWritten", "True", "Written")
}

/// Report writes (apply, delete) of the operator in the audit log so far.
fn report_writes(deployed: &Deployed, plural: &str) -> usize {
    let events = deployed.plane.audit_events().unwrap();
    events_of(&events, &deployed.user)
        .into_iter()
        .filter(|e| {
            e.resource() == plural && matches!(e.verb.as_str(), "patch" | "create" | "delete")
        })
        .count()
}

/// `hostrisk_policy_report_writes_total{result}` of the running operator.
async fn report_metric(operator: &Operator, result: &str) -> u64 {
    let url = format!("http://127.0.0.1:{}/metrics", operator.health_port);
    let text = reqwest::get(url).await.unwrap().text().await.unwrap();
    let series = format!("hostrisk_policy_report_writes_total{{result=\"{result}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&series))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0)
}

/// Waits until watch `name` has no report of `format`.
async fn wait_gone(client: &kube::Client, format: ReportFormat, namespace: &str, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while report_of(client, format, namespace, name).await.is_some() {
        assert!(
            Instant::now() < deadline,
            "{format}: the report of {name} stays"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `deployed` taken from chart value set `from` to `to` as `helm upgrade` does it (the RBAC
/// objects no longer rendered deleted, the others applied), and the operator restarted with the
/// new Deployment's args.
async fn upgrade(deployed: &mut Deployed, from: &str, to: &str) {
    let sim_url = deployed.sim.base_url().to_string();
    let render = |set: &str| {
        let values = test_values(deployed.plane.dir(), set, &sim_url, json!({}));
        let file = repo().join(format!("tests/chart/values/{set}.yaml"));
        render_chart(set, &[&file, &values])
    };
    let (old, new) = (render(from), render(to));
    let new_rbac = new.rbac_documents();
    let gone = removed_by_upgrade(&old.rbac_documents(), &new_rbac);
    assert!(!gone.is_empty(), "{from} -> {to} removes RBAC objects");
    let client = deployed.plane.client();
    delete_objects(&client, &gone).await;
    apply_objects(&client, &new_rbac).await;
    deployed.args = deployment_args(&new, deployed.operator.health_port);
    deployed.respawn(to).await;
}

/// The story of one format (the chart's `options`) in `namespace`.
async fn story(deployed: &mut Deployed, options: &ReportOptions, namespace: &str) {
    let format = options.format;
    let client = deployed.plane.client();
    let watches: Api<HostRiskWatch> = Api::namespaced(client.clone(), namespace);
    Api::<Secret>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &demo_secret("creds"))
        .await
        .unwrap();
    let fleet = [
        "demo-web-01",
        "demo-batch-01",
        "demo-new-01",
        "no-such-host",
    ];
    watches
        .create(
            &PostParams::default(),
            &watch_of("fleet", &deployed.sim, &fleet, "creds"),
        )
        .await
        .unwrap();
    // No CRD yet: the watch is served and says so.
    wait_for(&watches, "fleet", "ApiNotInstalled", |w, s| {
        is_ready(w, s) && condition_is(s, "ReportsWritten", "False", "ApiNotInstalled")
    })
    .await;
    // Installed later: picked up without a restart.
    apply_crds(&client, &policy_reports::dir()).await.unwrap();
    let watch = wait_for(&watches, "fleet", "report written", written).await;
    let stored = report_of(&client, format, namespace, "fleet")
        .await
        .expect("a report");
    assert_eq!(
        as_written(stored.clone()),
        intended(&watch, options),
        "{format}: the real schema keeps the report as written"
    );
    let owner = &stored["metadata"]["ownerReferences"][0];
    assert_eq!(owner["uid"].as_str(), watch.metadata.uid.as_deref());
    assert_eq!(
        (owner["kind"].as_str(), owner["controller"].as_bool()),
        (Some("HostRiskWatch"), Some(true))
    );

    // A poll that changes nothing writes no report; nor does a restarted operator, once it has
    // compared what it would write with what is stored.
    let writes = report_writes(deployed, format.plural());
    let calls = deployed.sim.counters().hss_requests;
    refresh(&watches, "fleet", "idle-1").await;
    wait_for_hss_call(&deployed.sim, calls, Duration::from_secs(30), "refresh").await;
    deployed.respawn("replica-1").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while report_metric(&deployed.operator, "skipped").await == 0 {
        assert!(
            Instant::now() < deadline,
            "{format}: the restarted operator never compared its report; log:\n{}",
            deployed.operator.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(report_metric(&deployed.operator, "written").await, 0);
    assert_eq!(
        report_writes(deployed, format.plural()),
        writes,
        "{format}: no rewrite"
    );

    // Suspended: removed; resumed: written again.
    let suspend = |on: bool| json!({"spec": {"suspend": on}});
    watches
        .patch(
            "fleet",
            &PatchParams::default(),
            &Patch::Merge(&suspend(true)),
        )
        .await
        .unwrap();
    wait_for(&watches, "fleet", "removed while suspended", |_, s| {
        condition_is(s, "ReportsWritten", "False", "Suspended")
    })
    .await;
    assert!(report_of(&client, format, namespace, "fleet")
        .await
        .is_none());
    watches
        .patch(
            "fleet",
            &PatchParams::default(),
            &Patch::Merge(&suspend(false)),
        )
        .await
        .unwrap();
    wait_for(&watches, "fleet", "written again", written).await;
    assert!(report_of(&client, format, namespace, "fleet")
        .await
        .is_some());
}

/// `namespace` exists (the chart's Roles live there) or is created.
async fn run(test: &str, set: &str, options: ReportOptions, namespace: &str, create: bool) {
    let Some(mut deployed) = deploy_until(test, set, json!({}), |_| {}, Wait::Ready).await else {
        return;
    };
    if create {
        create_namespace_named(&deployed.plane.client(), namespace).await;
    }
    let format = options.format;
    story(&mut deployed, &options, namespace).await;
    let plural = format.plural();
    finish(
        deployed,
        &[
            "watch customresourcedefinitions",
            &format!("patch {plural}"),
            &format!("watch {plural}"),
            &format!("delete {plural}"),
        ],
    )
    .await;
}

#[tokio::test]
async fn openreports_with_the_charts_rbac_on_a_real_api_server() {
    run(
        "openreports_with_the_charts_rbac_on_a_real_api_server",
        "policy-reports",
        ReportOptions::new(ReportFormat::OpenReports),
        "apps",
        true,
    )
    .await;
}

#[tokio::test]
async fn wgpolicyk8s_reports_with_the_charts_namespaced_rbac_on_a_real_api_server() {
    run(
        "wgpolicyk8s_reports_with_the_charts_namespaced_rbac_on_a_real_api_server",
        "policy-reports-namespaced",
        // As tests/chart/values/policy-reports-namespaced.yaml sets them.
        ReportOptions {
            max_results: 1000,
            include_passing: true,
            ..ReportOptions::new(ReportFormat::WgPolicyK8s)
        },
        "team-a",
        false,
    )
    .await;
}

/// The biggest report a watch can have, in both formats: accepted by the real schemas, read
/// back as written, stored under 1 MiB with its managedFields; and at the max-results limit with
/// every status listed, accepted by etcd.
#[tokio::test]
async fn the_biggest_report_fits_and_is_kept_as_written_on_a_real_api_server() {
    let Some(plane) = cluster(
        "the_biggest_report_fits_and_is_kept_as_written_on_a_real_api_server",
        false,
    )
    .await
    else {
        return;
    };
    let client = plane.client();
    apply_crds(&client, &policy_reports::dir()).await.unwrap();
    create_namespace_named(&client, "apps").await;
    for format in ReportFormat::ALL {
        let (built, stored) = apply_biggest(&client, &ReportOptions::new(format), "apps").await;
        let bytes = serde_json::to_vec(&stored).unwrap().len();
        eprintln!("{format}: the biggest report is {bytes} bytes as stored");
        assert!(bytes < 1 << 20, "{format}: {bytes} bytes");
        assert_eq!(
            as_written(stored),
            serde_json::to_value(&built.report).unwrap()
        );
        // At the flag's limit, every status listed: etcd (1.5 MiB requests) takes it too.
        let at_limit = ReportOptions {
            max_results: MAX_RESULTS_LIMIT,
            include_passing: true,
            ..ReportOptions::new(format)
        };
        let (built, stored) = apply_biggest(&client, &at_limit, "apps").await;
        assert_eq!(
            as_written(stored),
            serde_json::to_value(&built.report).unwrap()
        );
    }
    plane.stop().await;
}

/// Reports switched off with `cleanupWhenOff` (a `helm upgrade` from `format: openreports`): with
/// exactly the list and delete the chart then grants, the restarted operator removes the reports
/// it wrote in either kind (one left by an earlier `wgpolicyk8s` operator too), leaves another
/// tool's report alone, drops `ReportsWritten` from the watch and is refused nothing.
#[tokio::test]
async fn switched_off_with_the_charts_cleanup_rbac_its_reports_go_on_a_real_api_server() {
    let test = "switched_off_with_the_charts_cleanup_rbac_its_reports_go_on_a_real_api_server";
    let Some(mut deployed) =
        deploy_until(test, "policy-reports", json!({}), |_| {}, Wait::Ready).await
    else {
        return;
    };
    let client = deployed.plane.client();
    let namespace = "apps";
    create_namespace_named(&client, namespace).await;
    apply_crds(&client, &policy_reports::dir()).await.unwrap();
    Api::<Secret>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &demo_secret("creds"))
        .await
        .unwrap();
    let watches: Api<HostRiskWatch> = Api::namespaced(client.clone(), namespace);
    watches
        .create(
            &PostParams::default(),
            &watch_of("fleet", &deployed.sim, &["demo-web-01"], "creds"),
        )
        .await
        .unwrap();
    let watch = wait_for(&watches, "fleet", "report written", written).await;
    // What an operator writing the other kind left, and another tool's report.
    let leftover = intended(&watch, &ReportOptions::new(ReportFormat::WgPolicyK8s));
    let foreign = json!({
        "apiVersion": "openreports.io/v1alpha1",
        "kind": "Report",
        "metadata": {"name": "kyverno-pod-x", "namespace": namespace},
        "source": "kyverno",
    });
    apply_objects(&client, &[leftover, foreign]).await;

    upgrade(&mut deployed, "policy-reports", "policy-reports-cleanup").await;
    for format in ReportFormat::ALL {
        wait_gone(&client, format, namespace, "fleet").await;
    }
    wait_for(&watches, "fleet", "no ReportsWritten", |w, s| {
        is_ready(w, s) && s.conditions.iter().all(|c| c.type_ != "ReportsWritten")
    })
    .await;
    let kept = reports(&client, ReportFormat::OpenReports, namespace)
        .get_opt("kyverno-pod-x")
        .await
        .unwrap();
    assert!(kept.is_some(), "another tool's report stays");
    finish(
        deployed,
        &[
            "list reports",
            "delete reports",
            "list policyreports",
            "delete policyreports",
        ],
    )
    .await;
}
