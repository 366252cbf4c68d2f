//! Reading a watch's policy report back and comparing it with what the operator meant to write:
//! shared by the stand-in suite (tests/policy_reports.rs) and the real API server rows.
#![allow(dead_code)]

use hostrisk_operator::crd::HostRiskWatch;
use hostrisk_operator::reports::names::report_name;
use hostrisk_operator::reports::{build_report, ReportFormat, ReportOptions, ReportScope};
use kube::api::{ApiResource, DynamicObject};
use kube::Api;
use serde_json::Value;

pub fn api_resource(format: ReportFormat) -> ApiResource {
    ApiResource {
        group: format.group().into(),
        version: format.version().into(),
        api_version: format.api_version(),
        kind: format.kind().into(),
        plural: format.plural().into(),
    }
}

pub fn reports(client: &kube::Client, format: ReportFormat, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), namespace, &api_resource(format))
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
