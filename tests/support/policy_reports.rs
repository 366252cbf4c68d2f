//! Reading a watch's policy report back and comparing it with what the operator meant to write:
//! shared by the stand-in suite (tests/policy_reports.rs) and the real API server rows.
#![allow(dead_code)]

use hostrisk_operator::crd::schema::{HOST_ID_MAX_LEN, NODE_NAME_MAX_LEN, STATUS_VALUE_MAX_LEN};
use hostrisk_operator::crd::status::HostStatus;
use hostrisk_operator::crd::HostRiskWatch;
use hostrisk_operator::reports::names::report_name;
use hostrisk_operator::reports::{
    build_report, BuiltReport, ReportFormat, ReportOptions, ReportScope,
};
use kube::api::{DynamicObject, Patch, PatchParams};
use kube::Api;
use serde_json::Value;

pub fn reports(client: &kube::Client, format: ReportFormat, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), namespace, &format.api_resource())
}

/// The report of watch `name` as stored, as JSON; `None` when there is none (or no such kind).
pub async fn report_of(
    client: &kube::Client,
    format: ReportFormat,
    namespace: &str,
    name: &str,
) -> Option<Value> {
    match reports(client, format, namespace)
        .get_opt(&report_name(name))
        .await
    {
        Ok(found) => found.map(|r| serde_json::to_value(r).expect("json")),
        Err(kube::Error::Api(status)) if status.code == 404 => None,
        Err(error) => panic!("reading the report of {namespace}/{name}: {error}"),
    }
}

/// `report` without what the API server adds (uid, resourceVersion, creationTimestamp,
/// generation, managedFields): what the writer controls.
pub fn as_written(mut report: Value) -> Value {
    if let Some(metadata) = report["metadata"].as_object_mut() {
        for field in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "generation",
            "managedFields",
        ] {
            metadata.remove(field);
        }
    }
    report
}

/// The report the operator means for `watch` as stored now (its status' hosts).
pub fn intended(watch: &HostRiskWatch, options: &ReportOptions) -> Value {
    let status = watch.status.clone().unwrap_or_default();
    let scope = ReportScope {
        namespace: watch.metadata.namespace.as_deref().unwrap_or_default(),
        name: watch.metadata.name.as_deref().unwrap_or_default(),
        uid: watch.metadata.uid.as_deref().unwrap_or_default(),
    };
    let built = build_report(&scope, status.hosts, options);
    serde_json::to_value(&built.report).expect("json")
}

/// `(hostId, policy, result)` of every listed result.
pub fn results(report: &Value) -> Vec<(String, String, String)> {
    report["results"]
        .as_array()
        .map(|results| {
            results
                .iter()
                .map(|r| {
                    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
                    (
                        text(&r["properties"]["hostId"]),
                        text(&r["policy"]),
                        text(&r["result"]),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// 1,000 hosts (the most a watch may have) with every value at its length cap (64-character ids
/// and values, 253-character Node names, 19-digit counts) and every check but `hss-host-known`
/// failing: the biggest report a watch can have.
pub fn worst_case_hosts() -> Vec<HostStatus> {
    let long = "x".repeat(STATUS_VALUE_MAX_LEN);
    let changed = jiff::Timestamp::from_second(4_000_000_000).expect("valid");
    (0..1000)
        .map(|i| HostStatus {
            host_id: format!("{i:0>width$}", width = HOST_ID_MAX_LEN),
            node_name: Some(format!("{i:0>width$}", width = NODE_NAME_MAX_LEN)),
            found: true,
            agent_status: Some("offline".into()),
            install_result_code: Some(long.clone().into()),
            version: Some(long.clone().into()),
            protect_status: Some("closed".into()),
            detect_result: Some("risk".into()),
            asset: Some(i64::MAX),
            vulnerability: Some(i64::MAX),
            baseline: Some(i64::MAX),
            intrusion: Some(i64::MAX),
            last_change_time: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                changed,
            )),
        })
        .collect()
}

/// The biggest report a watch can have with `options` ([`worst_case_hosts`] of a watch named
/// with 253 characters), applied in `namespace` as the operator applies it: what was meant, and
/// the object the server answered, as JSON.
pub async fn apply_biggest(
    client: &kube::Client,
    options: &ReportOptions,
    namespace: &str,
) -> (BuiltReport, Value) {
    let format = options.format;
    let name = "w".repeat(253);
    let scope = ReportScope {
        namespace,
        name: &name,
        uid: "0b7c3a3e-5c7f-4f8e-9a51-0c1d2e3f4a5b",
    };
    let built = build_report(&scope, worst_case_hosts(), options);
    let report_name = built.report.metadata.name.clone().expect("named");
    let stored = reports(client, format, namespace)
        .patch(
            &report_name,
            &PatchParams::apply("hostrisk-operator").force(),
            &Patch::Apply(&built.report),
        )
        .await
        .unwrap_or_else(|e| panic!("{format}: the biggest report ({options:?}) is refused: {e}"));
    (built, serde_json::to_value(stored).expect("json"))
}
