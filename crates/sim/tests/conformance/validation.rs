//! Schema validation of custom resources: what a real kube-apiserver refuses (422 with
//! causes), prunes (silently) and accepts, with the policy-report CRDs as published (hostriskwatch_schema.rs: the HostRiskWatch CRD's rules; schema_keywords.rs: every keyword
//! on a test CRD).

use hostrisk_sim::kube::PolicyReportApi;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::{json, Value};

use super::support::{assert_causes, dynamic, install_policy_reports, namespace, object, status};
use super::{Cluster, Row};

/// Every row of this module.
pub const ROWS: &[Row] = crate::rows![
    report_enum_is_refused_with_the_real_message,
    report_types_and_required_fields_are_checked,
    unknown_report_fields_are_pruned_silently,
    each_version_is_validated_and_stored_by_its_own_schema,
    names_are_dns_subdomains_of_at_most_253_characters,
];

async fn install_openreports(c: &dyn Cluster) {
    install_policy_reports(&c.admin(), PolicyReportApi::OpenReports).await;
}

fn report(name: &str, result: Value) -> Value {
    json!({
        "apiVersion": "openreports.io/v1alpha1", "kind": "Report",
        "metadata": {"name": name},
        "source": "hostrisk-operator",
        "summary": {"pass": 0, "fail": 1, "warn": 0, "error": 0, "skip": 0},
        "results": [result],
    })
}

fn result(outcome: &str) -> Value {
    json!({"policy": "hss-agent-online", "result": outcome, "severity": "high",
           "timestamp": {"seconds": 1_700_000_000, "nanos": 0}, "properties": {"hostId": "h-1"}})
}

async fn report_enum_is_refused_with_the_real_message(c: &dyn Cluster) {
    install_openreports(c).await;
    let ns = namespace(&c.admin(), "enum").await;
    let reports = dynamic(
        &c.admin(),
        "openreports.io/v1alpha1",
        "Report",
        "reports",
        &ns,
    );
    let refused = status(
        reports
            .create(
                &PostParams::default(),
                &object(report("r", result("bogus"))),
            )
            .await,
    );
    assert_eq!((refused.code, refused.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        refused.message,
        "Report.openreports.io \"r\" is invalid: results[0].result: Unsupported value: \"bogus\": supported values: \"pass\", \"fail\", \"warn\", \"error\", \"skip\""
    );
    let details = refused.details.clone().unwrap();
    assert_eq!(
        (
            details.kind.as_str(),
            details.group.as_str(),
            details.name.as_str()
        ),
        ("Report", "openreports.io", "r")
    );
    assert_causes(&refused, &[("results[0].result", "FieldValueNotSupported")]);
    assert_eq!(
        details.causes[0].message,
        "Unsupported value: \"bogus\": supported values: \"pass\", \"fail\", \"warn\", \"error\", \"skip\""
    );
    // A valid report is stored, then an update to an unknown value is refused the same way.
    reports
        .create(&PostParams::default(), &object(report("r", result("fail"))))
        .await
        .unwrap();
    let patch = json!({"results": [result("maybe")]});
    let refused = status(
        reports
            .patch("r", &PatchParams::default(), &Patch::Merge(&patch))
            .await,
    );
    assert_causes(&refused, &[("results[0].result", "FieldValueNotSupported")]);
}

async fn report_types_and_required_fields_are_checked(c: &dyn Cluster) {
    install_openreports(c).await;
    let ns = namespace(&c.admin(), "types").await;
    let reports = dynamic(
        &c.admin(),
        "openreports.io/v1alpha1",
        "Report",
        "reports",
        &ns,
    );
    let mut bad = report(
        "t",
        json!({"result": "pass", "timestamp": {"seconds": 1, "nanos": "0"}}),
    );
    bad["summary"]["pass"] = json!("one");
    bad["configuration"] = json!({});
    let refused = status(reports.create(&PostParams::default(), &object(bad)).await);
    assert_causes(
        &refused,
        &[
            ("configuration.limits", "FieldValueRequired"),
            ("results[0].policy", "FieldValueRequired"),
            ("results[0].timestamp.nanos", "FieldValueTypeInvalid"),
            ("summary.pass", "FieldValueTypeInvalid"),
        ],
    );
    assert!(
        refused.message.contains("summary.pass: Invalid value: \"string\": summary.pass in body must be of type integer: \"string\""),
        "{}",
        refused.message
    );
    assert!(
        refused
            .message
            .contains("results[0].policy: Required value"),
        "{}",
        refused.message
    );
}

async fn unknown_report_fields_are_pruned_silently(c: &dyn Cluster) {
    install_openreports(c).await;
    let ns = namespace(&c.admin(), "prune").await;
    let reports = dynamic(
        &c.admin(),
        "openreports.io/v1alpha1",
        "Report",
        "reports",
        &ns,
    );
    let mut body = report("p", result("pass"));
    body["results"][0]["bogus"] = json!(1);
    body["extra"] = json!({"a": 1});
    let created = reports
        .create(&PostParams::default(), &object(body))
        .await
        .unwrap();
    assert!(created.data.get("extra").is_none());
    assert!(created.data["results"][0].get("bogus").is_none());
    assert_eq!(created.data["results"][0]["properties"]["hostId"], "h-1");
    let patched = reports
        .patch(
            "p",
            &PatchParams::default(),
            &Patch::Merge(&json!({"summary": {"pass": 3, "other": 1}})),
        )
        .await
        .unwrap();
    assert_eq!(
        patched.data["summary"],
        json!({"pass": 3, "fail": 1, "warn": 0, "error": 0, "skip": 0})
    );
}

async fn each_version_is_validated_and_stored_by_its_own_schema(c: &dyn Cluster) {
    install_policy_reports(&c.admin(), PolicyReportApi::WgPolicyK8s).await;
    let ns = namespace(&c.admin(), "versions").await;
    let at = |v: &str| {
        dynamic(
            &c.admin(),
            &format!("wgpolicyk8s.io/{v}"),
            "PolicyReport",
            "policyreports",
            &ns,
        )
    };
    // v1alpha2 (and the storage version v1beta1) calls the outcome `result`; this CRD has
    // `results[].source` but no report-level `source` (OpenReports added it): that one is pruned.
    let body = json!({"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport", "metadata": {"name": "a2"},
        "source": "hostrisk-operator",
        "results": [{"policy": "p", "result": "fail", "source": "hostrisk-operator"}]});
    let created = at("v1alpha2")
        .create(&PostParams::default(), &object(body))
        .await
        .unwrap();
    assert!(created.data.get("source").is_none());
    assert_eq!(
        created.data["results"][0],
        json!({"policy": "p", "result": "fail", "source": "hostrisk-operator"})
    );
    let bad = json!({"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport", "metadata": {"name": "bad"},
        "results": [{"policy": "p", "result": "bogus"}]});
    let refused = status(
        at("v1alpha2")
            .create(&PostParams::default(), &object(bad))
            .await,
    );
    assert_causes(&refused, &[("results[0].result", "FieldValueNotSupported")]);
    // v1alpha1 calls it `status`: validated by v1alpha1's enum...
    let bad = json!({"apiVersion": "wgpolicyk8s.io/v1alpha1", "kind": "PolicyReport", "metadata": {"name": "bad1"},
        "results": [{"policy": "p", "status": "bogus"}]});
    let refused = status(
        at("v1alpha1")
            .create(&PostParams::default(), &object(bad))
            .await,
    );
    assert_causes(&refused, &[("results[0].status", "FieldValueNotSupported")]);
    // ... accepted there, but the storage version has no such field: it is not stored, and
    // v1alpha1's `result`-less schema does not keep v1alpha2's `result` either.
    let ok = json!({"apiVersion": "wgpolicyk8s.io/v1alpha1", "kind": "PolicyReport", "metadata": {"name": "a1"},
        "results": [{"policy": "p", "status": "pass", "result": "fail"}]});
    let created = at("v1alpha1")
        .create(&PostParams::default(), &object(ok))
        .await
        .unwrap();
    assert_eq!(created.data["results"][0], json!({"policy": "p"}));
    let read = at("v1alpha2").get("a2").await.unwrap();
    assert_eq!(read.types.unwrap().api_version, "wgpolicyk8s.io/v1alpha2");
    let read = at("v1alpha1").get("a2").await.unwrap();
    assert_eq!(
        read.data["results"][0],
        json!({"policy": "p"}),
        "v1alpha1 has no `result` nor `source`"
    );
}

/// A custom resource's name is a DNS-1123 subdomain: 253 characters at most in all, its
/// dot-separated parts as long as they like (the 63-character cap is a label's, not a part's).
async fn names_are_dns_subdomains_of_at_most_253_characters(c: &dyn Cluster) {
    install_openreports(c).await;
    let ns = namespace(&c.admin(), "names").await;
    let reports = dynamic(
        &c.admin(),
        "openreports.io/v1alpha1",
        "Report",
        "reports",
        &ns,
    );
    let longest = format!("{}.{}", "a".repeat(200), "b".repeat(52));
    reports
        .create(
            &PostParams::default(),
            &object(report(&longest, result("pass"))),
        )
        .await
        .unwrap();
    let too_long = format!("{longest}c");
    let refused = status(
        reports
            .create(
                &PostParams::default(),
                &object(report(&too_long, result("pass"))),
            )
            .await,
    );
    assert_eq!(refused.code, 422);
    assert!(
        refused
            .message
            .contains("must be no more than 253 characters"),
        "{}",
        refused.message
    );
    let dash_end = format!("{}-", "a".repeat(100));
    let refused = status(
        reports
            .create(
                &PostParams::default(),
                &object(report(&dash_end, result("pass"))),
            )
            .await,
    );
    assert_eq!(refused.code, 422, "{}", refused.message);
}
