//! A real Kubernetes control plane (kube-apiserver + etcd) on loopback, for tests.
//!
//! Why: a stand-in API server only behaves the way its authors believed Kubernetes behaves.
//! RBAC decisions, CRD schema and CEL validation, server-side apply ownership, Lease semantics,
//! TokenRequest and what really happens when the API server goes away are only proven against
//! the real binaries. This crate follows controller-runtime's `envtest` convention so that the
//! same assets work everywhere: `KUBEBUILDER_ASSETS` names a directory holding `kube-apiserver`
//! and `etcd` (what `setup-envtest use 1.30.x -p path` prints, or what `.ci/run` unpacks).
//!
//! Design choices, each for a reason:
//! - **Nothing fixed**: free loopback ports and a fresh temporary directory (with the PKI made
//!   at start) per control plane, because several test binaries, and several tests inside one
//!   binary, start control planes at the same time. A port taken between choosing and binding
//!   makes the start retry on new ports instead of failing the test.
//! - **Skip only when unconfigured**: without `KUBEBUILDER_ASSETS` a test prints one `SKIP` line
//!   and passes, so a contributor without the assets still gets a green suite; with the variable
//!   set, anything that keeps the control plane from starting is an error, so CI cannot go
//!   green by silently skipping.
//! - **Nothing left behind**: processes are stopped and the directory removed on [`ControlPlane::stop`]
//!   and on drop (a failing test unwinds through drop); if the test process itself is killed,
//!   the kernel kills the children (`PR_SET_PDEATHSIG`), and the next start removes directories
//!   left by dead processes.
//! - **Real identities**: RBAC is on (`Node,RBAC`), the admin is a client certificate in
//!   `system:masters`, and ServiceAccount tokens come from the TokenRequest API signed with an
//!   RSA key (RS256), as on a real cluster, so least-privilege tests prove something.
//! - **Evidence**: an optional JSON audit log (every request, Metadata level) lets a test assert
//!   who did what (verbs, users, user agents, status codes); a report file lets CI say how many
//!   tests ran against which kube-apiserver version.

mod audit;
mod control_plane;
mod error;
mod helpers;
mod pki;
mod process;
mod report;

pub use audit::{AuditEvent, AuditObjectRef, AuditResponseStatus, AuditUser};
pub use control_plane::{ControlPlane, Options, ASSETS_ENV, REPORT_ENV};
pub use error::EnvtestError;
pub use helpers::{apply_crds, create_namespace, unique_name};
pub use process::spawn_tied;
