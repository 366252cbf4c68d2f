//! Policy reports end to end on loopback: the real controller with `--policy-reports` against
//! the stand-in API server, which validates, prunes and applies reports with the CRDs exactly
//! as OpenReports and the policy working group publish them, and the HSS simulator.

#[path = "support/controller_harness/mod.rs"]
mod harness;
#[path = "support/policy_reports.rs"]
mod reading;
#[allow(dead_code)]
#[path = "chart/render.rs"]
mod render;

#[path = "policy_reports/api.rs"]
mod api;
#[path = "policy_reports/docs.rs"]
mod docs;
#[path = "policy_reports/lifecycle.rs"]
mod lifecycle;
#[path = "policy_reports/rbac.rs"]
mod rbac;
#[path = "policy_reports/size.rs"]
mod size;
#[path = "policy_reports/support.rs"]
mod support;
