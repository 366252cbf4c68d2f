//! hostrisk-operator: Huawei Cloud HSS host risk status mirrored into Kubernetes `HostRiskWatch` resources.
//!
//! Layers, from the cloud inwards:
//! - [`hss`]: the HSS / IAM client. Knows nothing of Kubernetes.
//! - [`crd`]: the `HostRiskWatch` resource types, schema rules, code-side validation, CRD YAML.
//! - [`status`]: pure status computation (conditions, hosts, summary, events, write decision).
//! - [`controller`]: the reconciling controller (kube-runtime) and its health server.
//! - [`metrics`]: Prometheus / OpenMetrics registry and the `/metrics` route.
//! - [`poller`]: the shared, batched, quota-aware HSS poller serving every watch of a credential.
//! - [`leader`]: leader election with a coordination.k8s.io Lease (client-go semantics).
//! - [`sim`]: stand-ins for tests and demos (HSS simulator, loopback Kubernetes API server).
//! - [`bench`]: the scale benchmark (real controller, simulator, stand-in) behind `bench`.
//! - [`cli`]: the subcommands of the binary; [`telemetry`]: logging set-up.

pub mod bench;
pub mod cli;
pub mod controller;
pub mod crd;
pub mod demo;
pub mod hss;
pub mod leader;
pub mod metrics;
pub mod poller;
pub mod sim;
pub mod status;
pub mod telemetry;
