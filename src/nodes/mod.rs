//! Node-backed watches, the pure part: a Node as the operator keeps it ([`info`]), its ECS
//! server id ([`provider_id`]), and a watch's hosts among the cluster's Nodes ([`resolve`]).
//! The Node watch itself is `controller::hosts::node_watch`.
//!
//! Node conditions and taints, the pure part: the conditions from a host's HSS state
//! ([`conditions`]), the taint planner ([`taints`]), what the operator reads of its own work on
//! a Node ([`marks`]) and the operator-wide settings ([`policy`]). Their writer is
//! `controller::outputs::node_conditions`.

pub mod conditions;
pub mod info;
pub mod marks;
pub mod policy;
pub mod provider_id;
pub mod resolve;
pub mod taints;

pub use info::{NodeInfo, SlimNode};
pub use resolve::resolve;
