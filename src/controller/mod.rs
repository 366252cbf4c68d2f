//! The reconciling controller: `HostRiskWatch` resources in, HSS risk status out.
//!
//! The files form layers, each importing only from those above it in this list:
//! - [`error`], [`settings`]: the error type, the settings and names;
//! - [`state`]: the one owner of what is kept per watch ([`state::WatchTable`]);
//!   [`node_cache`]: the cluster's Nodes as node-backed watches read them;
//! - [`context`]: what reconciles share (the seam for tests);
//! - [`credentials`], [`secrets`]: a watch's Secret turned into HSS credentials, read once per
//!   `resourceVersion`; [`workload_identity`]: keyless credentials from a ServiceAccount token; [`status_write`]: the previous status and the merge patch on
//!   `/status`; [`events`]: transition Events on `events.k8s.io/v1`; [`slim`]: objects
//!   without their host lists in the reflector store; [`snapshot`]: status as metric gauges;
//! - [`reconcile`]: one reconcile, as the steps of one value;
//! - [`triggers`]: Secret changes and poller updates as reconcile triggers; [`node_watch`]:
//!   Node changes as reconcile triggers of node-backed watches;
//! - [`run`]: the kube-runtime `Controller` wiring; [`health`]: `/livez`, `/readyz`, `/metrics`.

pub mod context;
pub mod credentials;
pub mod error;
pub mod events;
pub mod health;
pub mod node_cache;
pub mod node_watch;
pub mod reconcile;
pub mod run;
pub mod secrets;
pub mod settings;
pub mod slim;
pub mod snapshot;
pub mod state;
pub mod status_write;
pub mod triggers;
pub mod workload_identity;

pub use context::Context;
pub use error::Error;
pub use run::{run_controllers, RunError};
pub use settings::{
    default_instance, kube_client, BackoffPolicy, ControllerSettings, WorkloadIdentityPolicy,
    CONTROLLER_NAME, USER_AGENT,
};
