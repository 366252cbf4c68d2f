//! The report of a watch: what is listed, counted, cut, and how big it gets.

use super::*;
use crate::crd::schema::{HOST_ID_MAX_LEN, NODE_NAME_MAX_LEN, STATUS_VALUE_MAX_LEN};
use crate::reports::format::{DEFAULT_MAX_RESULTS, MAX_RESULTS_LIMIT};
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{json, Value};

const SCOPE: ReportScope<'static> = ReportScope {
    namespace: "security",
    name: "web-tier",
    uid: "6f1c2a9e-0000-4000-8000-000000000001",
};

fn at(second: i64) -> Option<Time> {
    Some(Time(Timestamp::from_second(second).expect("valid")))
}

fn healthy(id: &str) -> HostStatus {
    HostStatus {
        host_id: id.into(),
        found: true,
        agent_status: Some("online".into()),
        install_result_code: Some("install_succeed".into()),
        version: Some("hss.version.enterprise".into()),
        protect_status: Some("opened".into()),
        detect_result: Some("clean".into()),
        asset: Some(10),
        vulnerability: Some(0),
        baseline: Some(0),
        intrusion: Some(0),
        last_change_time: at(1_700_000_000),
        ..HostStatus::default()
    }
}

fn fleet() -> Vec<HostStatus> {
    vec![
        healthy("web-1"),
        HostStatus {
            detect_result: Some("risk".into()),
            vulnerability: Some(3),
            last_change_time: at(1_700_000_500),
            ..healthy("web-2")
        },
        HostStatus {
            agent_status: Some("offline".into()),
            protect_status: Some("closed".into()),
            detect_result: Some("risk".into()),
            intrusion: Some(1),
            ..healthy("web-3")
        },
        HostStatus {
            host_id: "gone".into(),
            found: false,
            last_change_time: at(1_600_000_000),
            ..HostStatus::default()
        },
    ]
}

fn json_of(built: &BuiltReport) -> Value {
    serde_json::to_value(&built.report).expect("serialises")
}

fn listed(built: &BuiltReport) -> Vec<(String, String, String)> {
    built
        .report
        .results
        .iter()
        .map(|r| {
            (
                r.properties["hostId"].clone(),
                r.policy.clone(),
                r.result.as_str().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_summary_counts_every_result_and_only_what_needs_attention_is_listed() {
    let built = build_report(
        &SCOPE,
        fleet(),
        &ReportOptions::new(ReportFormat::OpenReports),
    );
    let summary = built.report.summary;
    assert_eq!(summary.total(), 16, "4 checks on 4 hosts");
    assert_eq!(
        (
            summary.pass,
            summary.fail,
            summary.warn,
            summary.error,
            summary.skip
        ),
        (8, 4, 0, 1, 3)
    );
    // Most urgent first: fails by severity (critical intrusion, then the high ones), the error.
    let owned = |v: &[(&str, &str, &str)]| -> Vec<(String, String, String)> {
        v.iter()
            .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
            .collect()
    };
    assert_eq!(
        listed(&built),
        owned(&[
            ("web-3", "hss-host-clean", "fail"),
            ("web-2", "hss-host-clean", "fail"),
            ("web-3", "hss-agent-online", "fail"),
            ("web-3", "hss-protection-open", "fail"),
            ("gone", "hss-host-known", "error"),
        ])
    );
    assert_eq!((built.listed, built.omitted), (5, 0));
    let doc = json_of(&built);
    assert_eq!(
        doc["configuration"],
        json!({"limits": {"maxResults": DEFAULT_MAX_RESULTS, "statusFilter": ["fail", "error", "warn"]}})
    );
    assert_eq!(
        doc["metadata"]["annotations"]["hostrisk.io/results-listed"],
        "fail,error,warn"
    );
    assert!(doc["metadata"]["annotations"]
        .get("hostrisk.io/results-omitted")
        .is_none());
}

#[test]
fn an_openreports_report_names_its_watch_everywhere_a_consumer_looks() {
    let built = build_report(
        &SCOPE,
        fleet(),
        &ReportOptions::new(ReportFormat::OpenReports),
    );
    let doc = json_of(&built);
    assert_eq!(doc["apiVersion"], "openreports.io/v1alpha1");
    assert_eq!(doc["kind"], "Report");
    assert_eq!(doc["metadata"]["name"], "hostrisk-web-tier");
    assert_eq!(doc["metadata"]["namespace"], "security");
    assert_eq!(
        doc["metadata"]["labels"],
        json!({"app.kubernetes.io/managed-by": "hostrisk-operator", "hostrisk.io/watch": "web-tier"})
    );
    assert_eq!(
        doc["metadata"]["ownerReferences"],
        json!([{"apiVersion": "hostrisk.io/v1alpha1", "kind": "HostRiskWatch", "name": "web-tier",
                "uid": SCOPE.uid, "controller": true}])
    );
    assert_eq!(
        doc["scope"],
        json!({"apiVersion": "hostrisk.io/v1alpha1", "kind": "HostRiskWatch", "name": "web-tier",
               "namespace": "security", "uid": SCOPE.uid})
    );
    assert_eq!(doc["source"], "hostrisk-operator");
    let first = &doc["results"][0];
    assert_eq!(
        first,
        &json!({
            "source": "hostrisk-operator",
            "policy": "hss-host-clean",
            "rule": "detectResult",
            "category": "HSS detection",
            "severity": "critical",
            "result": "fail",
            "timestamp": {"seconds": 1_700_000_000, "nanos": 0},
            "message": "HSS reports the host at risk: 1 intrusion(s)",
            "properties": {"hostId": "web-3", "edition": "hss.version.enterprise",
                           "detectResult": "risk", "intrusion": "1", "vulnerability": "0",
                           "baseline": "0", "asset": "10"},
        })
    );
    assert_eq!(
        doc["metadata"]["annotations"]["hostrisk.io/report-digest"],
        crate::reports::digest::to_hex(built.digest).as_str()
    );
}

#[test]
fn a_wgpolicyk8s_report_carries_only_what_its_schema_declares() {
    let built = build_report(
        &SCOPE,
        fleet(),
        &ReportOptions::new(ReportFormat::WgPolicyK8s),
    );
    let doc = json_of(&built);
    assert_eq!(doc["apiVersion"], "wgpolicyk8s.io/v1alpha2");
    assert_eq!(doc["kind"], "PolicyReport");
    assert!(doc.get("source").is_none(), "no report-level source there");
    assert!(doc.get("configuration").is_none(), "no configuration there");
    // What is listed is said another way the schema keeps.
    assert_eq!(
        doc["metadata"]["annotations"]["hostrisk.io/results-listed"],
        "fail,error,warn"
    );
    assert!(doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["source"] == "hostrisk-operator"));
}

#[test]
fn node_backed_hosts_reference_their_node() {
    let hosts = vec![HostStatus {
        node_name: Some("192.168.0.12".into()),
        agent_status: Some("offline".into()),
        ..healthy("web-1")
    }];
    let built = build_report(
        &SCOPE,
        hosts,
        &ReportOptions::new(ReportFormat::OpenReports),
    );
    let result = &json_of(&built)["results"][0];
    assert_eq!(
        result["resources"],
        json!([{"apiVersion": "v1", "kind": "Node", "name": "192.168.0.12"}])
    );
    assert_eq!(result["properties"]["nodeName"], "192.168.0.12");
    assert_eq!(result["properties"]["agentStatus"], "offline");
}

#[test]
fn the_timestamp_is_when_the_hosts_data_last_changed() {
    let built = build_report(
        &SCOPE,
        fleet(),
        &ReportOptions::new(ReportFormat::OpenReports),
    );
    let web2 = built
        .report
        .results
        .iter()
        .find(|r| r.properties["hostId"] == "web-2")
        .unwrap();
    assert_eq!(web2.timestamp.unwrap().seconds, 1_700_000_500);
    let without = HostStatus {
        last_change_time: None,
        agent_status: Some("offline".into()),
        ..healthy("x")
    };
    let built = build_report(
        &SCOPE,
        [without],
        &ReportOptions::new(ReportFormat::OpenReports),
    );
    assert!(json_of(&built)["results"][0].get("timestamp").is_none());
}

#[test]
fn passing_results_are_listed_on_request() {
    let options = ReportOptions {
        include_passing: true,
        ..ReportOptions::new(ReportFormat::OpenReports)
    };
    let built = build_report(&SCOPE, fleet(), &options);
    assert_eq!(built.listed, 16);
    let doc = json_of(&built);
    assert_eq!(
        doc["configuration"],
        json!({"limits": {"maxResults": DEFAULT_MAX_RESULTS}}),
        "no statusFilter: every status is listed"
    );
    assert_eq!(
        doc["metadata"]["annotations"]["hostrisk.io/results-listed"],
        "fail,error,warn,skip,pass"
    );
    let last = built.report.results.last().unwrap();
    assert_eq!(last.result, Status::Pass);
}

#[test]
fn max_results_cuts_the_least_urgent_and_says_so() {
    let options = ReportOptions {
        max_results: 2,
        ..ReportOptions::new(ReportFormat::OpenReports)
    };
    let built = build_report(&SCOPE, fleet(), &options);
    assert_eq!((built.listed, built.omitted), (2, 3));
    assert_eq!(
        built.report.summary.total(),
        16,
        "the summary still counts all"
    );
    let doc = json_of(&built);
    assert_eq!(
        doc["metadata"]["annotations"]["hostrisk.io/results-omitted"],
        "3"
    );
    assert_eq!(doc["configuration"]["limits"]["maxResults"], 2);
    assert_eq!(doc["results"][0]["severity"], "critical");
}

#[test]
fn the_digest_follows_the_content_and_nothing_else() {
    let options = ReportOptions::new(ReportFormat::OpenReports);
    let a = build_report(&SCOPE, fleet(), &options);
    let b = build_report(&SCOPE, fleet(), &options);
    assert_eq!(a.digest, b.digest, "same content, same digest");
    let mut changed = fleet();
    changed[0].vulnerability = Some(1);
    changed[0].detect_result = Some("risk".into());
    assert_ne!(build_report(&SCOPE, changed, &options).digest, a.digest);
    // A passing host's counts are in no listed result, but in the summary's passes.
    let mut counts = fleet();
    counts[0].asset = Some(11);
    assert_eq!(
        build_report(&SCOPE, counts, &options).digest,
        a.digest,
        "an unlisted value changes nothing written"
    );
    let other_uid = ReportScope {
        uid: "another",
        ..SCOPE
    };
    assert_ne!(build_report(&other_uid, fleet(), &options).digest, a.digest);
    let wg = build_report(
        &SCOPE,
        fleet(),
        &ReportOptions::new(ReportFormat::WgPolicyK8s),
    );
    assert_ne!(wg.digest, a.digest);
}

/// 1,000 hosts with every value at its length cap, every check failing or in error.
fn worst_case_hosts(node: bool) -> Vec<HostStatus> {
    let long = "x".repeat(STATUS_VALUE_MAX_LEN);
    (0..1000)
        .map(|i| HostStatus {
            host_id: format!("{i:0>width$}", width = HOST_ID_MAX_LEN),
            node_name: node.then(|| format!("{i:0>width$}", width = NODE_NAME_MAX_LEN)),
            found: true,
            agent_status: Some("install_failed".into()),
            install_result_code: Some(long.clone().into()),
            version: Some(long.clone().into()),
            protect_status: Some("closed".into()),
            detect_result: Some("risk".into()),
            asset: Some(i64::MAX),
            vulnerability: Some(i64::MAX),
            baseline: Some(i64::MAX),
            intrusion: Some(i64::MAX),
            last_change_time: at(4_000_000_000),
        })
        .collect()
}

/// managedFields of the operator's apply: every top-level field, label, annotation and the
/// owner reference once, `f:results: {}` (an atomic list) once; well under this.
const MANAGED_FIELDS_BOUND: usize = 4096;

#[test]
fn a_report_of_1000_failing_hosts_stays_under_one_mebibyte() {
    let long_name = "w".repeat(253);
    let scope = ReportScope {
        name: &long_name,
        ..SCOPE
    };
    for format in ReportFormat::ALL {
        for node in [false, true] {
            let built = build_report(&scope, worst_case_hosts(node), &ReportOptions::new(format));
            assert_eq!(built.report.summary.fail, 3000);
            assert_eq!(built.listed, DEFAULT_MAX_RESULTS as usize);
            assert_eq!(built.omitted, 3000 - u64::from(DEFAULT_MAX_RESULTS));
            let bytes = serde_json::to_vec(&built.report).unwrap().len();
            eprintln!(
                "{format}, node-backed {node}: {bytes} bytes for {} listed results of 4000 \
                 ({} per result)",
                built.listed,
                bytes / built.listed
            );
            assert!(
                bytes + MANAGED_FIELDS_BOUND < 1 << 20,
                "{format}, node-backed {node}: {bytes} bytes"
            );
        }
    }
    // At the flag's limit, every status listed: still under etcd's 1.5 MiB.
    let options = ReportOptions {
        max_results: MAX_RESULTS_LIMIT,
        include_passing: true,
        ..ReportOptions::new(ReportFormat::OpenReports)
    };
    let built = build_report(&scope, worst_case_hosts(true), &options);
    let bytes = serde_json::to_vec(&built.report).unwrap().len();
    eprintln!("at maxResults {MAX_RESULTS_LIMIT}: {bytes} bytes");
    assert!(bytes + MANAGED_FIELDS_BOUND < 1_400_000, "{bytes} bytes");
}
