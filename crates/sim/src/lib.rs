//! Stand-ins for the real services, for tests and demos: an HSS simulator and a loopback
//! Kubernetes API server. Each documents the behaviour of the real service it copies.

pub mod hss;
pub mod kube;
