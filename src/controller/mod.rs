//! The reconciling controller: `HostRiskWatch` resources in, HSS risk status out.
//!
//! - [`context`]: what reconciles share (the seam for tests).
//! - [`reconcile`]: one reconcile, from spec to status write and Events.
//! - [`schedule`]: when each resource polls (interval jitter, backoff, in-memory state).
//! - [`credentials`]: the Secret of a resource turned into HSS credentials.
//! - [`status_write`]: the merge patch on `/status`, and the statuses this process keeps.
//! - [`slim`]: objects without their host lists in the reflector store.
//! - [`events`]: transition Events on `events.k8s.io/v1`.
//! - [`run`]: the kube-runtime `Controller` wiring.
//! - [`health`]: `/livez`, `/readyz`, `/metrics`.

pub mod batched;
pub mod context;
pub mod credentials;
pub mod events;
pub mod health;
pub mod poller_link;
pub mod prepare;
pub mod reconcile;
pub mod run;
pub mod schedule;
pub mod slim;
pub mod snapshot;
pub mod status_write;

pub use context::{Context, ControllerSettings, PollingMode, CONTROLLER_NAME};
pub use run::{run_controllers, RunError};
