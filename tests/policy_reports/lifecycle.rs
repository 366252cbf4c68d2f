//! A report's life: written as meant in both formats, rewritten on a change only, removed while
//! suspended, gone with its watch, not rewritten by a restarted operator, back when deleted by
//! hand.

use std::time::Duration;

use hostrisk_operator::hss::model::DetectResult;
use hostrisk_operator::reports::ReportFormat;
use kube::api::DeleteParams;
use serde_json::json;

use crate::harness::{condition, condition_is, hss_calls, NS};
use crate::reading::{as_written, intended, report_of, reports, results};
use crate::support::{options, requests, since, start, wait_report, written, FLEET};

fn owned(rows: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    rows.iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

async fn follows_the_status_and_idle_polls_write_nothing(format: ReportFormat) {
    let h = start(format, true).await;
    h.create_watch(NS, "fleet", &FLEET, "hss-creds", "1s").await;
    let watch = written(&h, "fleet").await;
    let stored = report_of(&h.client, format, NS, "fleet")
        .await
        .expect("a report");
    // Read back, it is what was meant: nothing pruned, nothing refused.
    assert_eq!(
        as_written(stored.clone()),
        intended(&watch, &options(format))
    );
    assert_eq!(
        results(&stored),
        owned(&[
            ("demo-batch-01", "hss-host-clean", "fail"),
            ("demo-web-01", "hss-host-clean", "fail"),
            ("demo-batch-01", "hss-agent-online", "fail"),
            ("demo-new-01", "hss-agent-online", "fail"),
            ("demo-new-01", "hss-protection-open", "fail"),
            ("no-such-host", "hss-host-known", "error"),
            ("demo-new-01", "hss-host-clean", "warn"),
        ]),
        "{format}: the demo fleet's findings, most urgent first"
    );
    let summary = &stored["summary"];
    assert_eq!(
        ["pass", "fail", "warn", "error", "skip"].map(|k| summary[k].as_u64().unwrap()),
        [10, 5, 1, 1, 3],
        "{summary}"
    );
    let status = watch.status.as_ref().unwrap();
    let web = status
        .hosts
        .iter()
        .find(|h| h.host_id == "demo-web-01")
        .unwrap();
    let web_clean = &stored["results"][1];
    assert_eq!(
        web_clean["timestamp"]["seconds"].as_i64(),
        web.last_change_time.as_ref().map(|t| t.0.as_second()),
        "the time the host's data changed, not the poll's"
    );

    // Idle polls: no report written, and nothing but watches sent to the API server.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (before, calls) = (requests(&h), hss_calls(&h.sim));
    tokio::time::sleep(Duration::from_secs(4)).await;
    let sent = since(&before, &requests(&h));
    let polls = hss_calls(&h.sim) - calls;
    eprintln!("{format}: {polls} idle polls, requests to the API server: {sent:?}");
    assert!(polls >= 3, "the 1s interval polled {polls} times in 4s");
    assert!(
        sent.keys().all(|k| k.starts_with("watch ")),
        "{format}: idle polls sent {sent:?}"
    );

    // A change is written, once.
    let writes = h.kube.writes(format.plural());
    h.sim.update_host("demo-db-01", |host| {
        host.risk.detect_result = Some(DetectResult::Risk);
        host.risk.intrusion = Some(2);
    });
    let changed = wait_report(&h, format, "fleet", "db at risk", |r| {
        r.is_some_and(|r| {
            results(r)
                .first()
                .is_some_and(|first| first.0 == "demo-db-01")
        })
    })
    .await
    .unwrap();
    assert_eq!(changed["results"][0]["severity"], "critical");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        h.kube.writes(format.plural()) - writes,
        1,
        "one write for one change"
    );
    let watch = h.watches(NS).get("fleet").await.unwrap();
    let now = report_of(&h.client, format, NS, "fleet").await.unwrap();
    assert_eq!(as_written(now), intended(&watch, &options(format)));
    h.stop().await;
}

#[tokio::test]
async fn openreports_follow_the_status_and_idle_polls_write_nothing() {
    follows_the_status_and_idle_polls_write_nothing(ReportFormat::OpenReports).await;
}

#[tokio::test]
async fn wgpolicyk8s_reports_follow_the_status_and_idle_polls_write_nothing() {
    follows_the_status_and_idle_polls_write_nothing(ReportFormat::WgPolicyK8s).await;
}

#[tokio::test]
async fn a_suspended_watch_has_no_report_until_it_resumes() {
    let format = ReportFormat::OpenReports;
    let h = start(format, true).await;
    h.create_watch(NS, "pause", &["demo-web-01"], "hss-creds", "1h")
        .await;
    written(&h, "pause").await;
    h.patch_watch(NS, "pause", json!({"spec": {"suspend": true}}))
        .await;
    let suspended = h
        .wait_for(NS, "pause", "ReportsWritten=False Suspended", |_, s| {
            condition_is(s, "ReportsWritten", "False", "Suspended")
        })
        .await;
    let message = &condition(suspended.status.as_ref().unwrap(), "ReportsWritten")
        .unwrap()
        .message;
    assert!(
        message.contains("Report hostrisk-pause is removed"),
        "{message}"
    );
    assert!(report_of(&h.client, format, NS, "pause").await.is_none());
    h.patch_watch(NS, "pause", json!({"spec": {"suspend": false}}))
        .await;
    written(&h, "pause").await;
    assert!(report_of(&h.client, format, NS, "pause").await.is_some());
    h.stop().await;
}

#[tokio::test]
async fn a_deleted_watch_takes_its_report_along() {
    let format = ReportFormat::OpenReports;
    let h = start(format, true).await;
    h.kube.enable_garbage_collector();
    h.create_watch(NS, "gone", &["demo-web-01"], "hss-creds", "1h")
        .await;
    let watch = written(&h, "gone").await;
    let report = report_of(&h.client, format, NS, "gone").await.unwrap();
    let owner = &report["metadata"]["ownerReferences"][0];
    assert_eq!(owner["uid"].as_str(), watch.metadata.uid.as_deref());
    assert_eq!(owner["controller"], true);
    h.delete_watch(NS, "gone").await;
    wait_report(&h, format, "gone", "collected with its owner", |r| {
        r.is_none()
    })
    .await;
    h.stop().await;
}

#[tokio::test]
async fn a_restarted_operator_does_not_rewrite_what_is_stored() {
    let format = ReportFormat::WgPolicyK8s;
    let mut h = start(format, true).await;
    for name in ["one", "two"] {
        h.create_watch(NS, name, &FLEET, "hss-creds", "1h").await;
        written(&h, name).await;
    }
    let writes = h.kube.writes(format.plural());
    let status_writes = h.kube.status_writes("hostriskwatches");
    h.restart().await;
    // The new process reads the stored statuses and reports, decides, and writes nothing.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while h.ctx.metrics.policy_reports("skipped") < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the restarted operator never decided"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        h.kube.writes(format.plural()),
        writes,
        "no report rewritten"
    );
    assert_eq!(h.ctx.metrics.policy_reports("written"), 0);
    assert_eq!(
        h.kube.status_writes("hostriskwatches"),
        status_writes,
        "nor a status: ReportsWritten already says Written"
    );
    for name in ["one", "two"] {
        let status = h.status(NS, name).await;
        assert!(condition_is(&status, "ReportsWritten", "True", "Written"));
    }
    h.stop().await;
}

#[tokio::test]
async fn a_report_deleted_by_hand_is_written_again() {
    let format = ReportFormat::OpenReports;
    let h = start(format, true).await;
    h.create_watch(NS, "again", &["demo-web-01"], "hss-creds", "1h")
        .await;
    written(&h, "again").await;
    reports(&h.client, format, NS)
        .delete("hostrisk-again", &DeleteParams::default())
        .await
        .unwrap();
    wait_report(&h, format, "again", "written again", |r| r.is_some()).await;
    h.stop().await;
}
