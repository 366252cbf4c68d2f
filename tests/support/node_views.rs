//! What a node-backed watch's status says, as plain pairs tests can compare: shared by the
//! stand-in controller tests and the real-API-server rows.
#![allow(dead_code)]

use hostrisk_operator::crd::HostRiskWatchStatus;

/// `(node, host id)` of each host entry.
pub fn hosts(status: &HostRiskWatchStatus) -> Vec<(String, String)> {
    status
        .hosts
        .iter()
        .map(|h| (h.node_name.clone().unwrap_or_default(), h.host_id.clone()))
        .collect()
}

/// `(node, reason)` of each unresolved Node.
pub fn unresolved(status: &HostRiskWatchStatus) -> Vec<(String, String)> {
    status
        .unresolved_nodes
        .iter()
        .map(|n| (n.node_name.clone(), n.reason.clone()))
        .collect()
}

pub fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}
