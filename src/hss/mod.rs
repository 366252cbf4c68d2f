//! Huawei Cloud HSS client (`ListHostsRisk`), independent of Kubernetes.

pub mod endpoint;
pub mod model;
pub mod sign;
