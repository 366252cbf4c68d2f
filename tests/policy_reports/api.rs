//! The report API's presence and the operator's choice of format: a missing CRD is said in the
//! watch's status while everything else goes on, and a CRD installed later is picked up without
//! a restart or polling; switching reports off or to the other format removes the old ones when
//! the operator may, and leaves them to a documented `kubectl delete` when it may not.

use std::time::Duration;

use hostrisk_operator::reports::names::managed_selector;
use hostrisk_operator::reports::ReportFormat;
use kube::api::{DeleteParams, ListParams};

use crate::harness::{condition, condition_is, hss_calls, is_synced, NS};
use crate::reading::{report_of, reports};
use crate::support::{crds, requests, settings, since, start, wait_report, written};

#[tokio::test]
async fn without_the_crd_the_watch_says_so_and_a_crd_installed_later_is_picked_up() {
    let format = ReportFormat::OpenReports;
    let h = start(format, false).await;
    h.create_watch(NS, "early", &["demo-web-01"], "hss-creds", "1s")
        .await;
    // Status goes on; the report condition says what is missing and how to fix it.
    let watch = h
        .wait_for(NS, "early", "Ready, and ApiNotInstalled", |w, s| {
            is_synced(w, s) && condition_is(s, "ReportsWritten", "False", "ApiNotInstalled")
        })
        .await;
    let message = &condition(watch.status.as_ref().unwrap(), "ReportsWritten")
        .unwrap()
        .message;
    assert!(
        message.contains("reports.openreports.io") && message.contains("without a restart"),
        "{message}"
    );
    // Idle, waiting for the CRD: only watches, no lookups in a loop.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (before, calls) = (requests(&h), hss_calls(&h.sim));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let sent = since(&before, &requests(&h));
    assert!(hss_calls(&h.sim) - calls >= 2, "still polling HSS");
    assert!(
        sent.keys().all(|k| k.starts_with("watch ")),
        "while the CRD is missing: {sent:?}"
    );
    h.kube
        .install_policy_report_crds(crds(format))
        .await
        .unwrap();
    written(&h, "early").await;
    assert!(report_of(&h.client, format, NS, "early").await.is_some());
    h.stop().await;
}

#[tokio::test]
async fn switching_reports_off_with_cleanup_removes_them_and_their_condition() {
    let format = ReportFormat::OpenReports;
    let mut h = start(format, true).await;
    h.create_watch(NS, "fleet", &["demo-web-01"], "hss-creds", "1h")
        .await;
    written(&h, "fleet").await;
    // An unrelated report in the namespace stays.
    h.kube
        .apply_yaml_documents(
            "apiVersion: openreports.io/v1alpha1\nkind: Report\nmetadata: {name: kyverno-pod-x, namespace: default}\nsource: kyverno\n",
        )
        .await
        .unwrap();
    h.restart_with(|s| {
        s.policy_reports.format = None;
        s.policy_reports.cleanup = true;
    })
    .await;
    wait_report(&h, format, "fleet", "removed", |r| r.is_none()).await;
    h.wait_for(NS, "fleet", "no ReportsWritten any more", |_, s| {
        condition(s, "ReportsWritten").is_none()
    })
    .await;
    let left = reports(&h.client, format, NS)
        .list(&ListParams::default())
        .await
        .unwrap();
    let names: Vec<_> = left
        .items
        .iter()
        .map(|r| r.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(
        names,
        ["kyverno-pod-x"],
        "only the operator's own reports go"
    );
    h.stop().await;
}

#[tokio::test]
async fn switching_the_format_moves_the_reports() {
    let mut h = start(ReportFormat::OpenReports, true).await;
    h.kube
        .install_policy_report_crds(crds(ReportFormat::WgPolicyK8s))
        .await
        .unwrap();
    h.create_watch(NS, "fleet", &["demo-web-01"], "hss-creds", "1h")
        .await;
    written(&h, "fleet").await;
    h.restart_with(|s| s.policy_reports = settings(ReportFormat::WgPolicyK8s))
        .await;
    wait_report(
        &h,
        ReportFormat::WgPolicyK8s,
        "fleet",
        "written in the new format",
        |r| r.is_some(),
    )
    .await;
    wait_report(
        &h,
        ReportFormat::OpenReports,
        "fleet",
        "removed in the old one",
        |r| r.is_none(),
    )
    .await;
    h.stop().await;
}

#[tokio::test]
async fn switched_off_without_cleanup_the_operator_leaves_reports_alone_for_kubectl() {
    let format = ReportFormat::WgPolicyK8s;
    let mut h = start(format, true).await;
    h.create_watch(NS, "fleet", &["demo-web-01"], "hss-creds", "1h")
        .await;
    written(&h, "fleet").await;
    let before = requests(&h);
    h.restart_with(|s| s.policy_reports = Default::default())
        .await;
    h.wait_for(NS, "fleet", "no ReportsWritten any more", |_, s| {
        condition(s, "ReportsWritten").is_none()
    })
    .await;
    let sent = since(&before, &requests(&h));
    // (`get customresourcedefinitions` is the readiness check of the HostRiskWatch CRD.)
    assert!(
        sent.keys().all(|k| !k.contains("reports")
            && !matches!(
                k.as_str(),
                "list customresourcedefinitions" | "watch customresourcedefinitions"
            )),
        "an operator with reports off does not touch them: {sent:?}"
    );
    // What the README says to run (`kubectl delete ... -l <selector>` lists, then deletes).
    let api = reports(&h.client, format, NS);
    let mine = api
        .list(&ListParams::default().labels(&managed_selector()))
        .await
        .unwrap();
    assert_eq!(mine.items.len(), 1);
    for report in mine.items {
        api.delete(&report.metadata.name.unwrap(), &DeleteParams::default())
            .await
            .unwrap();
    }
    assert!(report_of(&h.client, format, NS, "fleet").await.is_none());
    h.stop().await;
}
