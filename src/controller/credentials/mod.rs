//! A watch's HSS credentials, from wherever its spec says they come, behind one interface
//! ([`CredentialSource`]): each source resolves a watch to one [`Resolved`] — the credentials or
//! the problem shown in `CredentialsValid`, the version of what they came from, whether to look
//! again though nothing changed.
//!
//! - [`secret`]: a Secret of the watch's namespace (access keys, a token, or an IAM password),
//!   read once per `resourceVersion`;
//! - [`workload_identity`]: a ServiceAccount token of the watch's namespace, exchanged at IAM.
//!
//! Adding a kind (CCE Pod Identity, ECS instance credentials): a variant of the spec's
//! `CredentialsSource`, a type implementing [`CredentialSource`] for it, and its arm in
//! [`CredentialSources::resolve`].

pub mod secret;
pub mod workload_identity;

use std::future::Future;
use std::sync::Arc;

use url::Url;

use super::error::Result;
use super::settings::WorkloadIdentityPolicy;
use super::watches::WatchTable;
use crate::crd::validation::CredentialsSource;
use crate::crd::WatchKey;
use crate::hss::endpoint::{iam_endpoint_for_scope, IamEndpointMissing};
use crate::hss::Credentials;
use crate::status::Reason;
use secret::SecretCredentials;
use workload_identity::WorkloadIdentityCredentials;

/// Credentials that cannot be used; shown in the `CredentialsValid` condition. The message
/// names keys, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CredentialsProblem {
    pub reason: Reason,
    pub message: String,
}

impl CredentialsProblem {
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }
}

/// What a source resolved for a watch.
#[derive(Debug)]
pub struct Resolved {
    pub credentials: std::result::Result<Credentials, CredentialsProblem>,
    /// The version of what they came from (a Secret's `resourceVersion`): part of the watch's
    /// registration revision, so other credentials are polled with at once.
    pub version: Option<String>,
    /// The problem may go away without any change the operator would see (the Secret was not
    /// readable: RBAC may be fixed): look again after a backoff.
    pub retry: bool,
}

impl Resolved {
    /// Credentials that need no version.
    pub fn of(credentials: std::result::Result<Credentials, CredentialsProblem>) -> Self {
        Self {
            credentials,
            version: None,
            retry: false,
        }
    }
}

/// The watch credentials are resolved for, and where its IAM is.
#[derive(Debug, Clone, Copy)]
pub struct ForWatch<'a> {
    pub key: &'a WatchKey,
    pub uid: Option<&'a str>,
    /// `spec.region`, which names the IAM endpoint; `None` with `spec.endpoint`.
    pub region: Option<&'a str>,
    /// The IAM endpoint the operator was given (`--iam-endpoint`), for watches with
    /// `spec.endpoint`.
    pub iam_endpoint: Option<&'a Url>,
}

impl ForWatch<'_> {
    /// The IAM that logins and token exchanges of this watch go to (the one rule:
    /// [`iam_endpoint_for_scope`]); when there is none the message says what `what` needs,
    /// and `otherwise` what else would do.
    pub fn iam_endpoint(&self, what: &str, otherwise: &str) -> std::result::Result<Url, String> {
        iam_endpoint_for_scope(self.region, self.iam_endpoint).map_err(|missing| match missing {
            IamEndpointMissing::UnknownRegion(region) => {
                format!("no IAM endpoint is known for region {region:?}")
            }
            IamEndpointMissing::NotConfigured => format!(
                "{what} with spec.endpoint: the operator must be started with --iam-endpoint \
                 (the IAM of that cloud); else use spec.region{otherwise}"
            ),
        })
    }
}

/// Where credentials come from.
pub trait CredentialSource: Send + Sync {
    /// What a watch's spec says of this source (a Secret's name, the workload identity).
    type Spec: ?Sized + Sync;

    /// The credentials of `watch` from `spec`. Only the Kubernetes API failing is an error;
    /// everything else is a [`CredentialsProblem`] in the result.
    fn resolve<'a>(
        &'a self,
        watch: ForWatch<'a>,
        spec: &'a Self::Spec,
    ) -> impl Future<Output = Result<Resolved>> + Send + 'a;
}

/// Every credential source of the operator.
pub struct CredentialSources {
    pub secret: SecretCredentials,
    pub workload_identity: WorkloadIdentityCredentials,
}

impl CredentialSources {
    pub fn new(
        client: &kube::Client,
        watches: &Arc<WatchTable>,
        policy: &WorkloadIdentityPolicy,
    ) -> Self {
        Self {
            secret: SecretCredentials::new(client.clone(), Arc::clone(watches)),
            workload_identity: WorkloadIdentityCredentials::new(client.clone(), policy.clone()),
        }
    }

    /// The credentials of `watch` from the source its spec names.
    pub async fn resolve(
        &self,
        watch: ForWatch<'_>,
        source: &CredentialsSource,
    ) -> Result<Resolved> {
        match source {
            CredentialsSource::Secret(name) => self.secret.resolve(watch, name.as_str()).await,
            CredentialsSource::WorkloadIdentity(identity) => {
                self.workload_identity.resolve(watch, identity).await
            }
        }
    }
}
