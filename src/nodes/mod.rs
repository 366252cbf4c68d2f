//! Node-backed watches, the pure part: a Node as the operator keeps it ([`info`]), its ECS
//! server id ([`provider_id`]), and a watch's hosts among the cluster's Nodes ([`resolve`]).
//! The Node watch itself is `controller::hosts::node_watch`.

pub mod info;
pub mod provider_id;
pub mod resolve;

pub use info::{NodeInfo, SlimNode};
pub use resolve::resolve;
