//! hostrisk-operator: Huawei Cloud HSS host risk status mirrored into Kubernetes `HostRiskWatch` resources.
//!
//! Layers, from the cloud inwards:
//! - [`hss`]: the HSS / IAM client. Knows nothing of Kubernetes.
//! - [`sim`]: stand-ins for tests and demos (HSS simulator, loopback Kubernetes API server).

pub mod cli;
pub mod hss;
pub mod sim;
pub mod telemetry;
