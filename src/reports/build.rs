//! The report of one watch, from its identity, its hosts (the entries of its `status.hosts`,
//! with their Node names) and the operator's options: pure, no I/O, no clock.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;

use super::checks::{evaluate, Check, Status, Verdict};
use super::digest::{to_hex, Fnv64};
use super::format::{ReportFormat, ReportOptions};
use super::model::{Configuration, Limits, PolicyReport, ReportResult, ResultTimestamp, Summary};
use super::names::{
    report_name, watch_label, DIGEST_ANNOTATION, LISTED_ANNOTATION, MANAGED_BY, MANAGED_BY_LABEL,
    OMITTED_ANNOTATION, SOURCE, WATCH_LABEL,
};
use crate::crd::status::HostStatus;
use crate::crd::HostRiskWatch;

/// The watch a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportScope<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub uid: &'a str,
}

/// A report ready to apply, and what it left out.
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltReport {
    pub report: PolicyReport,
    /// Of everything but the digest annotation itself (which holds it, see [`to_hex`]).
    pub digest: u64,
    /// Results listed.
    pub listed: usize,
    /// Results of a listed status that `maxResults` left out.
    pub omitted: u64,
}

/// One result to list, before it is written out.
struct Candidate {
    host: usize,
    check: Check,
    verdict: Verdict,
}

impl Candidate {
    /// Most urgent first: status, then severity, then the host's place in the status, then the
    /// check's: the same hosts and states give the same list.
    fn order_key(&self) -> (Status, u8, usize, Check) {
        let severity = self.verdict.severity.map_or(u8::MAX, |s| s as u8);
        (self.verdict.status, severity, self.host, self.check)
    }
}

/// The report of `scope` over `hosts`.
pub fn build_report(
    scope: &ReportScope<'_>,
    hosts: impl IntoIterator<Item = HostStatus>,
    options: &ReportOptions,
) -> BuiltReport {
    let hosts: Vec<HostStatus> = hosts.into_iter().collect();
    let mut summary = Summary::default();
    let mut candidates = Vec::new();
    for (index, host) in hosts.iter().enumerate() {
        for check in Check::ALL {
            let verdict = evaluate(check, host);
            summary.add(verdict.status);
            if options.include_passing || verdict.status.needs_attention() {
                candidates.push(Candidate {
                    host: index,
                    check,
                    verdict,
                });
            }
        }
    }
    candidates.sort_by_key(Candidate::order_key);
    let max = usize::try_from(options.max_results).unwrap_or(usize::MAX);
    let omitted = candidates.len().saturating_sub(max) as u64;
    candidates.truncate(max);
    let results: Vec<ReportResult> = candidates
        .into_iter()
        .map(|c| result(&hosts[c.host], c.check, c.verdict))
        .collect();
    let listed = results.len();
    let mut report = PolicyReport {
        api_version: options.format.api_version(),
        kind: options.format.kind().to_string(),
        metadata: metadata(scope, options, omitted),
        scope: watch_reference(scope),
        source: report_level(options.format, SOURCE.to_string()),
        configuration: report_level(options.format, configuration(options)),
        summary,
        results,
    };
    let mut hasher = Fnv64::default();
    // Serialising plain data structures into a writer that never fails cannot fail.
    let _ = serde_json::to_writer(&mut hasher, &report);
    let digest = hasher.value();
    report
        .metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(DIGEST_ANNOTATION.to_string(), to_hex(digest));
    BuiltReport {
        report,
        digest,
        listed,
        omitted,
    }
}

/// `value` for the kinds that have report-level fields (OpenReports).
fn report_level<T>(format: ReportFormat, value: T) -> Option<T> {
    format.has_report_level_fields().then_some(value)
}

/// The statuses listed.
fn listed_statuses(options: &ReportOptions) -> Vec<Status> {
    Status::ALL
        .into_iter()
        .filter(|s| options.include_passing || s.needs_attention())
        .collect()
}

fn configuration(options: &ReportOptions) -> Configuration {
    Configuration {
        limits: Limits {
            max_results: options.max_results,
            status_filter: if options.include_passing {
                Vec::new()
            } else {
                listed_statuses(options)
            },
        },
    }
}

fn metadata(scope: &ReportScope<'_>, options: &ReportOptions, omitted: u64) -> ObjectMeta {
    let labels = BTreeMap::from([
        (MANAGED_BY_LABEL.to_string(), MANAGED_BY.to_string()),
        (WATCH_LABEL.to_string(), watch_label(scope.name)),
    ]);
    let listed: Vec<&str> = listed_statuses(options)
        .into_iter()
        .map(Status::as_str)
        .collect();
    let mut annotations = BTreeMap::from([(LISTED_ANNOTATION.to_string(), listed.join(","))]);
    if omitted > 0 {
        annotations.insert(OMITTED_ANNOTATION.to_string(), omitted.to_string());
    }
    ObjectMeta {
        name: Some(report_name(scope.name)),
        namespace: Some(scope.namespace.to_string()),
        labels: Some(labels),
        annotations: Some(annotations),
        // The report goes with its watch (garbage collection). blockOwnerDeletion stays unset:
        // it would make a foreground deletion of the watch wait for the report, and setting it
        // needs `update` on hostriskwatches/finalizers where OwnerReferencesPermissionEnforcement
        // is on, for nothing the report needs.
        owner_references: Some(vec![OwnerReference {
            api_version: HostRiskWatch::api_version(&()).into_owned(),
            kind: HostRiskWatch::kind(&()).into_owned(),
            name: scope.name.to_string(),
            uid: scope.uid.to_string(),
            controller: Some(true),
            block_owner_deletion: None,
        }]),
        ..ObjectMeta::default()
    }
}

fn watch_reference(scope: &ReportScope<'_>) -> ObjectReference {
    ObjectReference {
        api_version: Some(HostRiskWatch::api_version(&()).into_owned()),
        kind: Some(HostRiskWatch::kind(&()).into_owned()),
        name: Some(scope.name.to_string()),
        namespace: Some(scope.namespace.to_string()),
        uid: Some(scope.uid.to_string()),
        ..ObjectReference::default()
    }
}

fn result(host: &HostStatus, check: Check, verdict: Verdict) -> ReportResult {
    let resources = host
        .node_name
        .iter()
        .map(|node| ObjectReference {
            api_version: Some("v1".to_string()),
            kind: Some("Node".to_string()),
            name: Some(node.clone()),
            ..ObjectReference::default()
        })
        .collect();
    ReportResult {
        source: SOURCE.to_string(),
        policy: check.policy().to_string(),
        rule: check.rule().to_string(),
        category: check.category().to_string(),
        severity: verdict.severity,
        result: verdict.status,
        timestamp: host.last_change_time.as_ref().map(|time| ResultTimestamp {
            seconds: time.0.as_second(),
            nanos: time.0.subsec_nanosecond(),
        }),
        message: verdict.message,
        resources,
        properties: properties(host, check),
    }
}

/// The host's id, Node and edition, and what the check read.
fn properties(host: &HostStatus, check: Check) -> BTreeMap<String, String> {
    let mut properties = BTreeMap::from([("hostId".to_string(), host.host_id.clone())]);
    let mut put = |key: &str, value: Option<String>| {
        if let Some(value) = value {
            properties.insert(key.to_string(), value);
        }
    };
    put("nodeName", host.node_name.clone());
    put("edition", host.version.as_deref().map(str::to_string));
    let text =
        |value: &Option<crate::crd::status::StatusValue>| value.as_deref().map(str::to_string);
    let number = |value: Option<i64>| value.map(|n| n.to_string());
    match check {
        Check::HostKnown => {}
        Check::AgentOnline => {
            put("agentStatus", text(&host.agent_status));
            put("installResultCode", text(&host.install_result_code));
        }
        Check::ProtectionOpen => put("protectStatus", text(&host.protect_status)),
        Check::HostClean => {
            put("detectResult", text(&host.detect_result));
            put("intrusion", number(host.intrusion));
            put("vulnerability", number(host.vulnerability));
            put("baseline", number(host.baseline));
            put("asset", number(host.asset));
        }
    }
    properties
}

#[cfg(test)]
#[path = "build_tests.rs"]
mod tests;
