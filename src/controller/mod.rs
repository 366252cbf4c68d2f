//! The reconciling controller: `HostRiskWatch` resources in, HSS risk status out.
//!
//! The files form layers, each importing only from those above it in this list:
//! - [`error`], [`settings`]: the error type, the settings and names;
//! - [`secret_cache`], [`startup`]: plain data the watch table holds;
//! - [`watches`]: the one owner of a watch's life ([`watches::WatchTable`]); everything kept
//!   per watch elsewhere follows it ([`watches::WatchScoped`]);
//! - [`hosts`]: where a watch's hosts come from (listed ids, selected Nodes);
//!   [`credentials`]: where its credentials come from (a Secret, workload identity);
//!   [`outputs`]: where its state goes (status, Events, metrics, policy reports); [`slim`]: objects without
//!   their host lists in the reflector store;
//! - [`context`]: what reconciles share (the seam for tests);
//! - [`reconcile`]: one reconcile, as the steps of one value;
//! - [`triggers`]: Secret changes and poller updates as reconcile triggers;
//! - [`run`]: the kube-runtime `Controller` wiring; [`health`]: `/livez`, `/readyz`, `/metrics`.

pub mod context;
pub mod credentials;
pub mod error;
pub mod health;
pub mod hosts;
pub mod outputs;
pub mod reconcile;
pub mod run;
pub mod secret_cache;
pub mod settings;
pub mod slim;
pub mod startup;
pub mod triggers;
pub mod watches;

pub use context::Context;
pub use error::Error;
pub use run::{run_controllers, RunError};
pub use settings::{
    default_instance, kube_client, BackoffPolicy, ControllerSettings, WorkloadIdentityPolicy,
    CONTROLLER_NAME, USER_AGENT,
};
