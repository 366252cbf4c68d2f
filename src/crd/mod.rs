//! The `HostRiskWatch` custom resource (`hostrisk.io/v1alpha1`): Rust types, the schema rules the
//! API server enforces (OpenAPI bounds and CEL), the same rules again in code, and the CRD YAML.

pub mod cel;
pub mod duration;
pub mod host_ids;
pub mod key;
pub mod nodes;
pub mod render;
pub mod schema;
pub mod selector;
pub mod spec;
pub mod spec_error;
pub mod status;
pub mod validation;

pub use host_ids::HostIdList;
pub use key::WatchKey;
pub use nodes::{HostIdSource, NodeHostIdFrom, NodeSelector, NodeSelectorRequirement};
pub use spec::{CredentialsSecretRef, HostRiskWatch, HostRiskWatchSpec, WorkloadIdentity};
pub use status::{HostRiskSummary, HostRiskWatchStatus, HostStatus, NodeSummary, UnresolvedNode};

/// API group of the resource.
pub const GROUP: &str = "hostrisk.io";
/// API version of the resource.
pub const VERSION: &str = "v1alpha1";
/// Annotation whose change asks for an immediate poll.
pub const REFRESH_ANNOTATION: &str = "hostrisk.io/refresh-requested-at";
