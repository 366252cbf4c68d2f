//! A policy report as the operator writes it: the fields both APIs share (`scope`, `summary`,
//! `results[]` with `source`, `policy`, `rule`, `category`, `severity`, `result`, `timestamp`,
//! `message`, `resources`, `properties`) and, for OpenReports only, the report-level `source`
//! and `configuration`. Only fields the target schema declares are ever set: a server-side
//! apply of an undeclared field is refused.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use super::checks::{Severity, Status};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyReport {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    /// The `HostRiskWatch` the report is about.
    pub scope: ObjectReference,
    /// OpenReports only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// OpenReports only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration: Option<Configuration>,
    pub summary: Summary,
    pub results: Vec<ReportResult>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Configuration {
    pub limits: Limits,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    pub max_results: u32,
    /// The statuses listed; empty (left out): all of them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub status_filter: Vec<Status>,
}

/// Counts of every result, listed or not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub pass: u64,
    pub fail: u64,
    pub warn: u64,
    pub error: u64,
    pub skip: u64,
}

impl Summary {
    pub fn add(&mut self, status: Status) {
        let counter = match status {
            Status::Pass => &mut self.pass,
            Status::Fail => &mut self.fail,
            Status::Warn => &mut self.warn,
            Status::Error => &mut self.error,
            Status::Skip => &mut self.skip,
        };
        *counter += 1;
    }

    pub fn total(&self) -> u64 {
        self.pass + self.fail + self.warn + self.error + self.skip
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportResult {
    pub source: String,
    pub policy: String,
    pub rule: String,
    pub category: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    pub result: Status,
    /// When the host's data last changed (not when it was polled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<ResultTimestamp>,
    pub message: String,
    /// The Node, for node-backed watches.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ObjectReference>,
    pub properties: BTreeMap<String, String>,
}

/// `timestamp` as both schemas have it (a protobuf Timestamp).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ResultTimestamp {
    pub seconds: i64,
    pub nanos: i32,
}
