//! Huawei Cloud HSS client (`ListHostsRisk`) and IAM token acquisition (password login and
//! id-token exchange), independent of Kubernetes: the operator, the CLI and the simulator's
//! tests all use it as a plain library.

pub mod chunk;
pub mod client;
pub mod config;
pub mod credential_fields;
pub mod credentials;
pub mod endpoint;
pub mod error;
pub mod iam;
pub mod id_token_source;
pub mod idtoken;
pub mod model;
pub mod observe;
pub mod ratelimit;
pub mod retry;
pub mod scope;
pub mod secret;
pub mod sign;
mod token_post;
pub mod transport;

pub use chunk::{dedup_ids, merge_answer};
pub use client::{ClientStats, HssClient};
pub use config::ClientConfig;
pub use credentials::{CredentialIdentity, Credentials, Secret};
pub use error::{AuthKind, ErrorBody, HssError, RefusedExchange};
pub use idtoken::{IdTokenError, IdTokenFuture, IdTokenSource};
pub use model::{HostRisk, HostsRiskResult, ListHostsRiskResponse};
pub use observe::{AttemptOutcome, HssObserver, Operation};
pub use scope::Scope;
