//! `HostRiskWatch` status. Written only by the operator through the status subresource.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::schema::{self, HOST_ID_MAX_LEN, STATUS_VALUE_MAX_LEN};

/// What the operator last learned from HSS about the watched hosts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HostRiskWatchStatus {
    /// The `metadata.generation` of the spec this status was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// `Ready` (True only when the last poll answered for the current generation),
    /// `CredentialsValid` and `ApiReachable`. Reasons are single CamelCase words; each condition
    /// carries the generation it was computed for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(transform = schema::conditions_list_map)]
    pub conditions: Vec<Condition>,

    /// Counts over the watched hosts, from the last successful poll.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<HostRiskSummary>,

    /// One entry per id of `spec.hostIds`, in spec order, from the last successful poll.
    /// Bounded by the 1000-host cap of the spec: a worst-case entry (64-character id, longest
    /// known values, 20-digit counts) serializes to about 420 bytes, plus about 350 bytes of
    /// server-side-apply `managedFields`, so 1000 hosts stay under 0.8 MiB, well below etcd's
    /// 1.5 MiB object limit. Values longer than 64 characters are cut.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(transform = schema::hosts_list_map)]
    pub hosts: Vec<HostStatus>,

    /// When HSS last confirmed the data (a successful poll). To avoid a write per poll it is
    /// refreshed only when the data changed or at the operator's `--status-heartbeat` (30m by
    /// default), so it may lag the latest poll by up to that heartbeat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<Time>,

    /// `X-Request-Id`s of the HSS calls that produced the data at `lastSyncTime`, in call order
    /// (one per 100 hosts). Quote them to Huawei Cloud support. Like `lastSyncTime`, refreshed
    /// only when status is written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(max = 128)))]
    pub last_request_ids: Vec<String>,

    /// The poll interval in force (`spec.interval`, or the operator default when absent), e.g. `10m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_interval: Option<String>,
}

/// Counts over the watched hosts. Agent, protection and detect counts cover found hosts only.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HostRiskSummary {
    /// Ids listed in `spec.hostIds`.
    pub hosts_requested: i64,
    /// Ids HSS returned.
    pub hosts_found: i64,
    /// Ids HSS did not return (unknown, deleted, or in another enterprise project).
    pub hosts_not_found: i64,
    /// Found hosts whose agent is `online`.
    pub agent_online: i64,
    /// Found hosts whose agent is `offline`.
    pub agent_offline: i64,
    /// Found hosts whose agent is `not_installed`.
    pub agent_not_installed: i64,
    /// Found hosts with any other agent status (`installing`, `install_failed`, values this
    /// operator does not know yet, or none reported).
    pub agent_other: i64,
    /// Found hosts whose protection is `opened`.
    pub protection_opened: i64,
    /// Found hosts whose protection is `closed`.
    pub protection_closed: i64,
    /// Found hosts whose detect result is `risk`.
    pub detect_risk: i64,
    /// Found hosts whose detect result is `clean`.
    pub detect_clean: i64,
    /// Found hosts whose detect result is `scanning`.
    pub detect_scanning: i64,
    /// Found hosts whose detect result is `undetected`.
    pub detect_undetected: i64,
    /// Sum of `asset` over found hosts.
    pub asset_total: i64,
    /// Sum of `vulnerability` over found hosts.
    pub vulnerability_total: i64,
    /// Sum of `baseline` over found hosts.
    pub baseline_total: i64,
    /// Sum of `intrusion` over found hosts.
    pub intrusion_total: i64,
}

/// The HSS risk data of one host, values as the API returns them (unknown values kept).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HostStatus {
    /// The requested host id.
    #[schemars(length(min = 1, max = HOST_ID_MAX_LEN))]
    pub host_id: String,
    /// False when HSS did not return this id (unknown, deleted, or in another enterprise project).
    pub found: bool,
    /// HSS agent status: `online`, `offline`, `not_installed`, `installing`, `install_failed`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = STATUS_VALUE_MAX_LEN))]
    pub agent_status: Option<String>,
    /// Agent installation result, e.g. `install_succeed`, `network_access_timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = STATUS_VALUE_MAX_LEN))]
    pub install_result_code: Option<String>,
    /// HSS edition protecting the host, e.g. `hss.version.enterprise`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = STATUS_VALUE_MAX_LEN))]
    pub version: Option<String>,
    /// Protection status: `opened` or `closed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = STATUS_VALUE_MAX_LEN))]
    pub protect_status: Option<String>,
    /// Detection result: `risk`, `clean`, `scanning` or `undetected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = STATUS_VALUE_MAX_LEN))]
    pub detect_result: Option<String>,
    /// Number of assets HSS reports for the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub asset: Option<i64>,
    /// Number of vulnerabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub vulnerability: Option<i64>,
    /// Number of baseline (configuration) risks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub baseline: Option<i64>,
    /// Number of intrusion alarms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub intrusion: Option<i64>,
    /// When this host's data (any field above) last changed as seen by the operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_change_time: Option<Time>,
}
