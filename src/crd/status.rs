//! `HostRiskWatch` status. Written only by the operator through the status subresource.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::schema::{self, HOST_ID_MAX_LEN, NODE_NAME_MAX_LEN, STATUS_VALUE_MAX_LEN};

/// Longest `status.source`.
pub const SOURCE_MAX_LEN: usize = 160;
/// Most entries of `status.unresolvedNodes` (their number is in `status.nodes.unresolved`).
pub const UNRESOLVED_NODES_MAX: usize = 100;
/// Longest message of an unresolved node.
pub const UNRESOLVED_MESSAGE_MAX_LEN: usize = 256;

/// What the operator last learned from HSS about the watched hosts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HostRiskWatchStatus {
    /// The `metadata.generation` of the spec this status was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// `Ready` (True only when the last poll answered for the current generation),
    /// `CredentialsValid` and `ApiReachable`; node-backed watches add `NodesResolved` (False
    /// when a selected Node is not watched: no usable ECS server id, or beyond the 1000-host
    /// cap) and, when the operator sets Node conditions, `NodeConditionsDriven` (whether this
    /// watch's data reaches its Nodes). Reasons are single CamelCase words; each condition
    /// carries the generation it was computed for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(transform = schema::conditions_list_map)]
    pub conditions: Vec<Condition>,

    /// Where the watched hosts come from, as the `Source` column shows it: `hostIds`, `nodes`
    /// (every Node), or `nodes: <selector>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = SOURCE_MAX_LEN))]
    pub source: Option<String>,

    /// Counts over the watched hosts, from the last successful poll.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<HostRiskSummary>,

    /// Node-backed watches: how many Nodes `spec.nodeSelector` selects, how many of their hosts
    /// are watched, and how many are not (see `unresolvedNodes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<NodeSummary>,

    /// Node-backed watches: the selected Nodes whose host is not watched, with the reason (no
    /// usable ECS server id, another Node with the same id, beyond the 1000-host cap), by Node
    /// name; at most 100 (`nodes.unresolved` counts them all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = UNRESOLVED_NODES_MAX), transform = schema::nodes_list_map)]
    pub unresolved_nodes: Vec<UnresolvedNode>,

    /// One entry per id of `spec.hostIds` in spec order (node-backed watches: per selected Node
    /// with an id, by Node name), from the last successful poll.
    /// Bounded by the 1000-host cap of the spec: with every value at its cap (64-character id
    /// and values, 19-digit counts) an entry serializes to about 670 bytes, plus about 310 bytes
    /// of `managedFields` bookkeeping, so 1000 hosts take under 1 MB, two thirds of etcd's
    /// 1.5 MiB object limit; typical entries (36-character ids, known values) take about 0.7 KB
    /// together. API values longer than 64 characters are cut.
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

    /// How often the data is refreshed, e.g. `10m`: the interval in force (`spec.interval`, or
    /// the operator default when absent), or, when the HSS call quota of the credential cannot
    /// refresh this watch that often, the interval it actually gets (then `Ready` has reason
    /// `QuotaLimited`). A measured value is rounded and changes only when it moves by more than
    /// 10 %.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_interval: Option<String>,
}

/// Counts over the Nodes of a node-backed watch.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeSummary {
    /// Nodes `spec.nodeSelector` selects.
    pub selected: i64,
    /// Selected Nodes whose host is watched (each has an entry in `hosts`).
    pub watched: i64,
    /// Selected Nodes whose host is not watched (listed in `unresolvedNodes`).
    pub unresolved: i64,
}

/// A selected Node whose host is not watched, and why.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnresolvedNode {
    /// The Node's name.
    #[schemars(length(min = 1, max = NODE_NAME_MAX_LEN))]
    pub node_name: String,
    /// CamelCase: `NoProviderId`, `ForeignProviderId`, `MalformedProviderId`, `LabelMissing`,
    /// `AnnotationMissing`, `InvalidHostId`, `DuplicateHostId` or `HostLimitExceeded`.
    #[schemars(length(min = 1, max = STATUS_VALUE_MAX_LEN))]
    pub reason: String,
    /// What was found and how to fix it.
    #[schemars(length(max = UNRESOLVED_MESSAGE_MAX_LEN))]
    pub message: String,
}

/// Counts over the watched hosts. Agent, protection and detect counts cover found hosts only.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HostRiskSummary {
    /// Ids watched: those of `spec.hostIds`, or of the selected Nodes.
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

/// A value of a host's status. Almost every value comes from a small vocabulary (`online`,
/// `opened`, `hss.version.enterprise`, ...): those borrow a `'static` string instead of owning a
/// copy (see `status::record`, where entries are made). Serialized and validated exactly like a
/// `String`.
pub type StatusValue = std::borrow::Cow<'static, str>;

/// The HSS risk data of one host, values as the API returns them (unknown values kept).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HostStatus {
    /// The requested host id.
    #[schemars(length(min = 1, max = HOST_ID_MAX_LEN))]
    pub host_id: String,
    /// Node-backed watches: the Node this host is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = NODE_NAME_MAX_LEN))]
    pub node_name: Option<String>,
    /// False when HSS did not return this id (unknown, deleted, or in another enterprise project).
    pub found: bool,
    /// HSS agent status: `online`, `offline`, `not_installed`, `installing`, `install_failed`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = STATUS_VALUE_MAX_LEN))]
    pub agent_status: Option<StatusValue>,
    /// Agent installation result, e.g. `install_succeed`, `network_access_timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = STATUS_VALUE_MAX_LEN))]
    pub install_result_code: Option<StatusValue>,
    /// HSS edition protecting the host, e.g. `hss.version.enterprise`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = STATUS_VALUE_MAX_LEN))]
    pub version: Option<StatusValue>,
    /// Protection status: `opened` or `closed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = STATUS_VALUE_MAX_LEN))]
    pub protect_status: Option<StatusValue>,
    /// Detection result: `risk`, `clean`, `scanning` or `undetected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = STATUS_VALUE_MAX_LEN))]
    pub detect_result: Option<StatusValue>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;

    fn worst_case_hosts(node_name: Option<&str>) -> Vec<HostStatus> {
        let long = "x".repeat(STATUS_VALUE_MAX_LEN);
        let time = Time(Timestamp::from_second(4_000_000_000).expect("valid"));
        (0..1000)
            .map(|i| HostStatus {
                host_id: format!("{i:0>64}"),
                node_name: node_name.map(|n| format!("{i:0>4}{}", &n[4..])),
                found: true,
                agent_status: Some(long.clone().into()),
                install_result_code: Some(long.clone().into()),
                version: Some(long.clone().into()),
                protect_status: Some(long.clone().into()),
                detect_result: Some(long.clone().into()),
                asset: Some(i64::MAX),
                vulnerability: Some(i64::MAX),
                baseline: Some(i64::MAX),
                intrusion: Some(i64::MAX),
                last_change_time: Some(time.clone()),
            })
            .collect()
    }

    /// Backs the size figures in the doc of [`HostRiskWatchStatus::hosts`].
    #[test]
    fn worst_case_status_of_1000_hosts_stays_under_one_megabyte() {
        let status = HostRiskWatchStatus {
            hosts: worst_case_hosts(None),
            ..HostRiskWatchStatus::default()
        };
        let bytes = serde_json::to_vec(&status).expect("serializes").len();
        let per_host = bytes / 1000;
        // Every value at its cap: 64-char id and values, 19-digit counts.
        assert!(per_host <= 680, "{per_host} bytes per host");
        // managedFields records each list-map entry and its field names once per manager:
        // `"k:{\"hostId\":\"<64>\"}":{".":{},"f:agentStatus":{},...}` is 312 bytes.
        // Both together stay under 1 MB, against etcd's 1.5 MiB.
        assert!(bytes + 1000 * 312 < 1_000_000, "{bytes} bytes");
    }

    /// A node-backed watch at every cap: 253-character Node names on 1000 hosts and 100
    /// unresolved Nodes with full messages still fit etcd's 1.5 MiB with room for metadata.
    #[test]
    fn worst_case_node_backed_status_stays_under_etcds_limit() {
        let name = "n".repeat(NODE_NAME_MAX_LEN);
        let status = HostRiskWatchStatus {
            hosts: worst_case_hosts(Some(&name)),
            source: Some("s".repeat(SOURCE_MAX_LEN)),
            nodes: Some(NodeSummary {
                selected: i64::MAX,
                watched: i64::MAX,
                unresolved: i64::MAX,
            }),
            unresolved_nodes: (0..UNRESOLVED_NODES_MAX)
                .map(|i| UnresolvedNode {
                    node_name: format!("{i:0>4}{}", &name[4..]),
                    reason: "x".repeat(STATUS_VALUE_MAX_LEN),
                    message: "m".repeat(UNRESOLVED_MESSAGE_MAX_LEN),
                })
                .collect(),
            ..HostRiskWatchStatus::default()
        };
        let bytes = serde_json::to_vec(&status).expect("serializes").len();
        // managedFields: the host entries as above plus `"f:nodeName":{},` (15 bytes) each, and
        // per unresolved Node `"k:{\"nodeName\":\"<253>\"}":{".":{},"f:message":{},...}`
        // (about 330 bytes).
        let managed = 1000 * (312 + 15) + UNRESOLVED_NODES_MAX * 330;
        assert!(
            bytes + managed < 1_400_000,
            "{bytes} + {managed} bytes, against etcd's 1,572,864"
        );
    }
}
