//! hostrisk-operator: Huawei Cloud HSS host risk status mirrored into Kubernetes `HostRiskWatch` resources.
//!
//! Layers, from the cloud inwards:
//! - [`hss`]: the HSS / IAM client. Knows nothing of Kubernetes.
//! - [`crd`]: the `HostRiskWatch` resource types, schema rules, code-side validation, CRD YAML.
//! - [`status`]: pure status computation (conditions, hosts, summary, events, write decision).
//! - [`controller`]: the reconciling controller (kube-runtime) and its health server.
//! - [`sim`]: stand-ins for tests and demos (HSS simulator, loopback Kubernetes API server).

pub mod cli;
pub mod controller;
pub mod crd;
pub mod hss;
pub mod sim;
pub mod status;
pub mod telemetry;
