//! Huawei Cloud HSS client (`ListHostsRisk`), independent of Kubernetes.

pub mod chunk;
pub mod client;
pub mod config;
pub mod credentials;
pub mod endpoint;
pub mod error;
pub mod iam;
pub mod model;
pub mod ratelimit;
pub mod retry;
pub mod scope;
pub mod sign;
pub mod transport;

pub use chunk::{dedup_ids, merge_answer};
pub use client::{ClientStats, HssClient};
pub use config::ClientConfig;
pub use credentials::{CredentialIdentity, Credentials, Secret};
pub use error::{AuthKind, HssError};
pub use model::{HostRisk, HostsRiskResult, ListHostsRiskResponse};
pub use scope::Scope;
