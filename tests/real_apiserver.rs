//! The operator against a real kube-apiserver + etcd (the envtest harness, crates/envtest):
//! started per test from `KUBEBUILDER_ASSETS`; without it every test prints a SKIP line and
//! passes. One binary, a module per row, so the set-up compiles once.

#[path = "support/e2e_story.rs"]
mod e2e_story;
#[path = "support/node_views.rs"]
mod node_views;
#[path = "support/policy_reports.rs"]
mod reading;
#[allow(dead_code)]
#[path = "chart/render.rs"]
mod render;
#[allow(dead_code)]
#[path = "real_apiserver/support.rs"]
mod support;

#[path = "real_apiserver/crd_upgrade.rs"]
mod crd_upgrade;
#[path = "real_apiserver/leader.rs"]
mod leader;
#[path = "real_apiserver/least_privilege.rs"]
mod least_privilege;
#[path = "real_apiserver/main_story.rs"]
mod main_story;
#[path = "real_apiserver/metrics_restart.rs"]
mod metrics_restart;
#[path = "real_apiserver/node_conditions.rs"]
mod node_conditions;
#[path = "real_apiserver/nodes.rs"]
mod nodes;
#[path = "real_apiserver/ownership.rs"]
mod ownership;
#[path = "real_apiserver/pod_security.rs"]
mod pod_security;
#[path = "real_apiserver/policy_reports.rs"]
mod policy_reports;
#[path = "real_apiserver/restart.rs"]
mod restart;
#[path = "real_apiserver/workload_identity.rs"]
mod workload_identity;
