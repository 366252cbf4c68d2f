//! hostrisk-operator: Huawei Cloud HSS host risk status mirrored into Kubernetes `HostRiskWatch` resources.
//!
//! Layers, from the cloud inwards (the workspace's crates are the outer layers: `hostrisk-hss`
//! the HSS / IAM client, which knows nothing of Kubernetes, re-exported here as [`hss`];
//! `hostrisk-sim` the stand-ins and `hostrisk-devtools` the demo and benchmark, which build on
//! this crate and never ship in the operator's image):
//! - [`crd`]: the `HostRiskWatch` resource types, schema rules, code-side validation, CRD YAML.
//! - [`status`]: pure status computation (conditions, hosts, summary, events, write decision).
//! - [`nodes`]: node-backed watches, the pure part: Node facts, ECS ids from providerIDs, selection.
//! - [`reports`]: policy reports, the pure part: a watch's hosts as policy results, bounded.
//! - [`controller`]: the reconciling controller (kube-runtime) and its health server.
//! - [`metrics`]: Prometheus / OpenMetrics registry and the `/metrics` route.
//! - [`poller`]: the shared, batched, quota-aware HSS poller serving every watch of a credential.
//! - [`leader`]: leader election with a coordination.k8s.io Lease (client-go semantics).
//! - [`cli`]: the subcommands of the binary; [`telemetry`]: logging set-up; [`allocator`]: how
//!   the process holds memory.

pub mod allocator;
pub mod cli;
pub mod controller;
pub mod crd;
pub mod leader;
pub mod metrics;
pub mod nodes;
pub mod poller;
pub mod reports;
pub mod status;
pub mod telemetry;

pub use hostrisk_hss as hss;
