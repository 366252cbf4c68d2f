//! A stand-in Kubernetes API server on loopback, for tests and the demo.
//!
//! It serves plain HTTP on 127.0.0.1 and behaves like kube-apiserver for what it
//! implements (each module documents the behaviour it copies, prefixed "copies:"), so a
//! real `kube::Client`, `kube_runtime::watcher`, `Controller` and `events::Recorder` work
//! against it unchanged. What it does not implement is refused with a Status answer
//! (e.g. 501 / 415) rather than faked.
//!
//! Served: core v1 `secrets`, `namespaces`, `nodes`; `events.k8s.io/v1` `events`;
//! `coordination.k8s.io/v1` `leases`; `apiextensions.k8s.io/v1`
//! `customresourcedefinitions`; and every custom resource whose CRD exists.
//!
//! Not implemented (known gaps): authentication/authorization (every request is
//! allowed, unless refused on purpose with `StandinApiServer::forbid`), admission and validation of built-in types (an events.k8s.io Event missing
//! required fields is accepted), OpenAPI value validation of custom resources (pruning
//! and defaulting are done, see schema.rs), CEL rules, conversion webhooks, dryRun,
//! deletecollection, namespace deletion, ownerReference garbage collection, immutable
//! Secrets, protobuf/CBOR, Table output, `managedFields`, warning headers.
//! Note: kube's client itself retries 429/503/504 answers (so the unavailable fault
//! shows up as retried requests).

mod apply;
mod auth;
mod defaults;
mod delete;
mod discovery;
mod faults;
mod fields;
mod gc;
mod http;
mod list;
mod meta;
mod patch;
pub mod policy_reports;
mod query;
mod resources;
mod route;
mod schema;
mod selectors;
mod server;
mod smp;
mod status;
mod store;
mod strategy;
mod target;
mod tokens;
mod validation;
mod watch;
mod write;

pub use faults::RequestKey;
pub use policy_reports::PolicyReportApi;
pub use server::{StandinApiServer, StandinError, DEFAULT_HISTORY_LIMIT};
/// The `iss` of the stand-in's ServiceAccount tokens.
pub use tokens::ISSUER as SERVICE_ACCOUNT_ISSUER;

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use faults::Faults;
use status::ApiError;
use store::State;

/// State shared by the HTTP handlers and the Rust-side handle.
pub(crate) struct Shared {
    state: Mutex<State>,
    faults: Faults,
    bookmark_interval: Mutex<Duration>,
    /// Signs ServiceAccount tokens (TokenRequest) and publishes the key.
    tokens: tokens::Signer,
    /// Authentication and the authorization mode.
    auth: auth::Auth,
    /// The garbage collector's task, once enabled.
    gc: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Shared {
    fn lock(&self) -> Result<MutexGuard<'_, State>, ApiError> {
        self.state
            .lock()
            .map_err(|_| ApiError::new(500, "InternalError", "stand-in store lock poisoned"))
    }

    fn bookmark_interval(&self) -> Duration {
        self.bookmark_interval
            .lock()
            .map(|d| *d)
            .unwrap_or(Duration::from_secs(60))
    }
}
