//! A stand-in Kubernetes API server on loopback, for tests and the demo.
//!
//! It serves plain HTTP on 127.0.0.1 and behaves like kube-apiserver for what it
//! implements (each module documents the behaviour it copies, prefixed "copies:"), so a
//! real `kube::Client`, `kube_runtime::watcher`, `Controller` and `events::Recorder` work
//! against it unchanged, and code passing here passes on a real server (the conformance rows
//! of `tests/conformance` run the same assertions on both; see `tests/real_apiserver_conformance.rs`).
//! What it does not implement is refused with a Status answer (e.g. 501 / 415) rather than faked.
//!
//! Served: core v1 `secrets`, `serviceaccounts` (+ `token`), `namespaces`, `nodes` (+ `status`);
//! `events.k8s.io/v1` `events`; `coordination.k8s.io/v1` `leases`;
//! `rbac.authorization.k8s.io/v1` roles, clusterroles and their bindings;
//! `apiextensions.k8s.io/v1` `customresourcedefinitions`; and every custom resource whose CRD
//! exists (discovered and served from the moment the CRD is created, until it is deleted).
//!
//! Copied from kube-apiserver, by module:
//! - validation/: custom resources validated by the OpenAPI v3 schema of the version written
//!   (every keyword, the formats apiextensions checks, list-type set/map, embedded resources),
//!   CEL rules (kube's `cel` port), ratcheting; metadata, Node and CRD rules; 422 `Invalid`
//!   with `details.causes` and the `NewInvalid` message;
//! - schema.rs, resources.rs: pruning, null dropping and defaulting by that schema; conversion
//!   (strategy None) to the storage version and back, pruning by each version's schema;
//! - fields/, apply.rs, smp.rs, patch.rs: `managedFields` on every write, server-side apply with
//!   structured-merge-diff's ownership, conflicts and removals, list semantics from CRD markers
//!   and the built-ins' Kubernetes markers (Node `spec.taints` atomic, `status.conditions` keyed
//!   by `type`), strategic merge patch, JSON patch, merge patch;
//! - write.rs, strategy.rs, delete.rs: the registry strategies (status subresources, Node status
//!   kept on create, generation, optimistic concurrency, finalizers, deletion propagation);
//! - auth/: bearer-token authentication (admin, static users, ServiceAccount tokens) and, after
//!   `StandinApiServer::enable_rbac`, the RBAC authorizer per verb, resource and subresource
//!   (an apply that would create the object is authorized as a `create` too), with the refused
//!   requests counted (`StandinApiServer::refused_requests`);
//! - gc.rs: an opt-in garbage collector (`enable_garbage_collector`) like kube-controller-manager's;
//! - list.rs, watch.rs, query.rs, discovery.rs: lists, watches, bookmarks, 410s, selectors,
//!   pagination, metadata-only answers, legacy and aggregated discovery;
//! - faults.rs: counters and fault switches (409, 429 with Retry-After, 403, 503, dropped and
//!   expired watches).
//!
//! Not implemented (known gaps): validation of most built-in types beyond metadata and Node
//! rules (an events.k8s.io Event missing required fields is accepted); built-ins' server-side
//! apply types beyond the markers above (an undeclared built-in field is accepted); CRD
//! structural-schema and CEL compilation checks on CRD writes; CEL cost limits; conversion
//! webhooks; admission plugins (NodeRestriction, ...) and webhooks; dryRun; deletecollection;
//! namespace deletion; immutable Secrets; RBAC escalation checks, aggregated ClusterRoles and
//! bootstrap roles; impersonation; protobuf/CBOR; Table output; warning headers.
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
