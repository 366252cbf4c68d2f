//! Node conditions and taints end to end on loopback: the real controller with
//! `--node-watches --node-conditions` against the stand-in API server (Nodes with a real
//! server's semantics: `nodes/status` apart, conditions merged by type, server-side apply
//! ownership, atomic taints, RBAC per subresource) and the HSS simulator.

#[path = "support/controller_harness/mod.rs"]
mod harness;

#[allow(dead_code)]
#[path = "chart/render.rs"]
mod render;

#[allow(dead_code)]
#[path = "node_conditions/support.rs"]
mod support;

#[path = "node_conditions/conditions.rs"]
mod conditions;

#[path = "node_conditions/rbac.rs"]
mod rbac;

#[path = "node_conditions/taints.rs"]
mod taints;
