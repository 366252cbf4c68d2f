//! The operator with exactly the RBAC the chart renders for policy reports, under the stand-in's
//! RBAC authorizer: every step of a report's life works and nothing is refused; without the
//! report rules the watch's condition names the permission that is missing.

use hostrisk_operator::reports::{ReportFormat, ReportSettings};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::Value;

use crate::harness::{condition, condition_is, is_synced, Harness, OperatorRbac, Options, NS};
use crate::reading::{intended, report_of, reports};
use crate::render::{removed_by_upgrade, render, RELEASE_NAMESPACE};
use crate::support::{crds, options, settings, wait_report};

/// The chart's ServiceAccount and RBAC objects for value set `set`, after `edit`.
fn chart_rbac(set: &str, edit: impl Fn(&mut Vec<Value>)) -> OperatorRbac {
    let rendered = render(set);
    let mut objects = rendered.rbac_documents();
    edit(&mut objects);
    OperatorRbac {
        objects,
        namespace: RELEASE_NAMESPACE.to_string(),
        service_account: rendered.service_accounts[0].metadata.name.clone().unwrap(),
    }
}

async fn start_with_chart_rbac(
    set: &str,
    format: ReportFormat,
    namespaces: &[&str],
    edit: impl Fn(&mut Vec<Value>),
) -> Harness {
    let h = Harness::start(Options {
        policy_reports: settings(format),
        namespaces: namespaces.iter().map(|n| n.to_string()).collect(),
        rbac: Some(chart_rbac(set, edit)),
        ..Options::controller()
    })
    .await;
    let namespace = namespaces.first().copied().unwrap_or(NS);
    h.create_demo_secret(namespace, "hss-creds").await;
    h
}

async fn every_step_works_and_nothing_is_refused(
    set: &str,
    format: ReportFormat,
    namespaces: &[&str],
) {
    let mut h = start_with_chart_rbac(set, format, namespaces, |_| {}).await;
    let ns = namespaces.first().copied().unwrap_or(NS);
    h.create_watch(
        ns,
        "fleet",
        &["demo-web-01", "demo-batch-01"],
        "hss-creds",
        "1h",
    )
    .await;
    // The CRD watch (by name) works: the missing API is seen, and its installation too.
    h.wait_for(ns, "fleet", "ApiNotInstalled", |w, s| {
        is_synced(w, s) && condition_is(s, "ReportsWritten", "False", "ApiNotInstalled")
    })
    .await;
    for api in [ReportFormat::OpenReports, ReportFormat::WgPolicyK8s] {
        h.kube.install_policy_report_crds(crds(api)).await.unwrap();
    }
    h.wait_for(ns, "fleet", "written", |w, s| {
        is_synced(w, s) && condition_is(s, "ReportsWritten", "True", "Written")
    })
    .await;
    assert!(report_of(&h.client, format, ns, "fleet").await.is_some());
    h.patch_watch(ns, "fleet", serde_json::json!({"spec": {"suspend": true}}))
        .await;
    h.wait_for(ns, "fleet", "removed", |_, s| {
        condition_is(s, "ReportsWritten", "False", "Suspended")
    })
    .await;
    assert!(report_of(&h.client, format, ns, "fleet").await.is_none());
    h.patch_watch(ns, "fleet", serde_json::json!({"spec": {"suspend": false}}))
        .await;
    h.wait_for(ns, "fleet", "written again", |w, s| {
        is_synced(w, s) && condition_is(s, "ReportsWritten", "True", "Written")
    })
    .await;
    // A restart lists the reports of both kinds (the other one to remove them), and decides.
    h.restart().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while h.ctx.metrics.policy_reports("skipped") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the restarted operator never decided"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let refused = h.kube.refused_requests();
    assert!(
        refused.is_empty(),
        "{set}: the chart's RBAC refused {refused:?}"
    );
    h.stop().await;
}

#[tokio::test]
async fn with_the_charts_rbac_openreports_work_cluster_wide_and_nothing_is_refused() {
    every_step_works_and_nothing_is_refused("policy-reports", ReportFormat::OpenReports, &[]).await;
}

#[tokio::test]
async fn with_the_charts_rbac_wgpolicyk8s_reports_work_in_watch_namespaces() {
    every_step_works_and_nothing_is_refused(
        "policy-reports-namespaced",
        ReportFormat::WgPolicyK8s,
        &["team-a", "team-b"],
    )
    .await;
}

#[tokio::test]
async fn without_the_report_rules_the_condition_names_the_missing_permission() {
    let format = ReportFormat::OpenReports;
    let h = start_with_chart_rbac("policy-reports", format, &[], |objects| {
        for object in objects.iter_mut() {
            if object["kind"] == "ClusterRole"
                && object["metadata"]["name"] == "hostrisk-operator-policy-reports"
            {
                let rules = object["rules"].as_array_mut().unwrap();
                rules.retain(|rule| rule["apiGroups"][0] != "openreports.io");
            }
        }
    })
    .await;
    h.kube
        .install_policy_report_crds(crds(format))
        .await
        .unwrap();
    h.create_watch(NS, "fleet", &["demo-web-01"], "hss-creds", "1h")
        .await;
    let watch = h
        .wait_for(NS, "fleet", "Forbidden", |w, s| {
            is_synced(w, s) && condition_is(s, "ReportsWritten", "False", "Forbidden")
        })
        .await;
    let message = &condition(watch.status.as_ref().unwrap(), "ReportsWritten")
        .unwrap()
        .message;
    assert!(
        message.contains("cannot patch resource \"reports\" in API group \"openreports.io\""),
        "{message}"
    );
    // Refused once for this content: idle polls do not knock again.
    let refused = h.kube.refused_requests();
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let patches = |r: &std::collections::BTreeMap<hostrisk_sim::kube::RequestKey, u64>| {
        r.iter()
            .filter(|(k, _)| k.verb == "patch" && k.resource == "reports")
            .map(|(_, n)| n)
            .sum::<u64>()
    };
    assert_eq!(patches(&h.kube.refused_requests()), patches(&refused));
    assert!((1..=2).contains(&patches(&refused)), "{refused:?}");
    wait_report(&h, format, "fleet", "none written", |r| r.is_none()).await;
    h.stop().await;
}

/// The chart's RBAC taken from value set `from` to `to` as `helm upgrade` does it: the objects
/// no longer rendered are deleted, the others applied.
async fn upgrade_rbac(h: &Harness, from: &str, to: &str) {
    let (old, new) = (
        chart_rbac(from, |_| {}).objects,
        chart_rbac(to, |_| {}).objects,
    );
    for gone in removed_by_upgrade(&old, &new) {
        let (group, version) = gone["apiVersion"]
            .as_str()
            .unwrap()
            .split_once('/')
            .unwrap();
        let kind = gone["kind"].as_str().unwrap();
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
        let api: kube::Api<DynamicObject> = match gone["metadata"]["namespace"].as_str() {
            Some(ns) => kube::Api::namespaced_with(h.client.clone(), ns, &resource),
            None => kube::Api::all_with(h.client.clone(), &resource),
        };
        api.delete(
            gone["metadata"]["name"].as_str().unwrap(),
            &Default::default(),
        )
        .await
        .unwrap();
    }
    let yaml: Vec<String> = new
        .iter()
        .map(|o| serde_yaml::to_string(o).unwrap())
        .collect();
    let applied = h
        .kube
        .apply_yaml_documents(&yaml.join("---\n"))
        .await
        .unwrap();
    // Rules are an atomic list: the upgrade's rules replace the old ones.
    for (object, stored) in new.iter().zip(&applied) {
        assert_eq!(stored.data.get("rules"), object.get("rules"), "{object}");
    }
}

#[tokio::test]
async fn switched_off_with_the_charts_cleanup_rbac_both_kinds_go_and_nothing_is_refused() {
    let format = ReportFormat::OpenReports;
    let mut h = start_with_chart_rbac("policy-reports", format, &[], |_| {}).await;
    for api in [ReportFormat::OpenReports, ReportFormat::WgPolicyK8s] {
        h.kube.install_policy_report_crds(crds(api)).await.unwrap();
    }
    h.create_watch(NS, "fleet", &["demo-web-01"], "hss-creds", "1h")
        .await;
    let watch = h
        .wait_for(NS, "fleet", "written", |w, s| {
            is_synced(w, s) && condition_is(s, "ReportsWritten", "True", "Written")
        })
        .await;
    // What an operator writing the other kind left, and another tool's report.
    let leftover = intended(&watch, &options(ReportFormat::WgPolicyK8s));
    h.kube
        .apply_yaml_documents(&format!(
            "{}---\napiVersion: openreports.io/v1alpha1\nkind: Report\n\
             metadata: {{name: kyverno-pod-x, namespace: {NS}}}\nsource: kyverno\n",
            serde_yaml::to_string(&leftover).unwrap()
        ))
        .await
        .unwrap();
    upgrade_rbac(&h, "policy-reports", "policy-reports-cleanup").await;
    h.restart_with(|s| {
        s.policy_reports = ReportSettings {
            format: None,
            cleanup: true,
            ..ReportSettings::default()
        }
    })
    .await;
    for format in ReportFormat::ALL {
        wait_report(&h, format, "fleet", "removed", |r| r.is_none()).await;
    }
    h.wait_for(NS, "fleet", "no ReportsWritten any more", |w, s| {
        is_synced(w, s) && condition(s, "ReportsWritten").is_none()
    })
    .await;
    let kept = reports(&h.client, format, NS)
        .get_opt("kyverno-pod-x")
        .await
        .unwrap();
    assert!(kept.is_some(), "another tool's report stays");
    let refused = h.kube.refused_requests();
    assert!(refused.is_empty(), "the chart's RBAC refused {refused:?}");
    h.stop().await;
}
