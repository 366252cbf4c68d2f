//! Keyless credentials: a watch names a ServiceAccount of its own namespace, an IAM identity
//! provider and an audience; the operator mints a short-lived token for that ServiceAccount
//! (TokenRequest) whenever the HSS client needs to exchange one at IAM. Neither the minted JWT
//! nor the IAM token it buys is kept anywhere but in the client's token cache.
//!
//! The administrator decides which audiences and identity providers may be used
//! (`--workload-identity-audiences`, `--workload-identity-providers`): a namespace user can act
//! only as a ServiceAccount of their own namespace, for a provider the administrator mapped.

use std::future::Future;
use std::sync::Arc;

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::PostParams;
use kube::Api;

use super::{CredentialSource, CredentialsProblem, ForWatch, Resolved};
use crate::controller::error::Result;
use crate::controller::settings::WorkloadIdentityPolicy;
use crate::crd::schema::is_dns1123_subdomain;
use crate::crd::WorkloadIdentity;
use crate::hss::{Credentials, IdTokenError, IdTokenFuture, IdTokenSource, Secret};
use crate::status::Reason;

/// Lifetime of a minted ServiceAccount token: the shortest a kube-apiserver grants. It is used
/// once, for one exchange.
const TOKEN_SECONDS: i64 = 600;

/// Reasons of a token request the API server refused, as the exchange reports them (the HSS
/// client's call failure words).
const SERVICE_ACCOUNT_NOT_FOUND: &str = "ServiceAccountNotFound";
const TOKEN_REQUEST_FORBIDDEN: &str = "TokenRequestForbidden";
const TOKEN_REQUEST_FAILED: &str = "TokenRequestFailed";

/// Keyless credentials from a ServiceAccount of the watch's namespace.
pub struct WorkloadIdentityCredentials {
    client: kube::Client,
    policy: WorkloadIdentityPolicy,
}

impl WorkloadIdentityCredentials {
    pub fn new(client: kube::Client, policy: WorkloadIdentityPolicy) -> Self {
        Self { client, policy }
    }
}

impl CredentialSource for WorkloadIdentityCredentials {
    type Spec = WorkloadIdentity;

    fn resolve<'a>(
        &'a self,
        watch: ForWatch<'a>,
        identity: &'a WorkloadIdentity,
    ) -> impl Future<Output = Result<Resolved>> + Send + 'a {
        std::future::ready(Ok(Resolved::of(credentials(
            &self.client,
            watch,
            identity,
            &self.policy,
        ))))
    }
}

/// The credentials of a watch with `spec.workloadIdentity`, or the problem that keeps it from
/// having any. No request is made: tokens are minted when the HSS client needs one.
fn credentials(
    client: &kube::Client,
    watch: ForWatch<'_>,
    identity: &WorkloadIdentity,
    policy: &WorkloadIdentityPolicy,
) -> std::result::Result<Credentials, CredentialsProblem> {
    if !policy.is_enabled() {
        return Err(CredentialsProblem::new(
            Reason::WorkloadIdentityDisabled,
            "spec.workloadIdentity is not enabled in this operator: its administrator starts it \
             with --workload-identity-audiences and --workload-identity-providers (chart: \
             workloadIdentity.enabled); or use spec.credentialsSecretRef",
        ));
    }
    if !policy.audiences.contains(&identity.audience) {
        return Err(CredentialsProblem::new(
            Reason::AudienceNotAllowed,
            format!(
                "spec.workloadIdentity.audience {:?} is not one this operator mints tokens for \
                 (allowed: {}): use the client id of an identity provider the administrator set up",
                identity.audience,
                policy.audiences.join(", ")
            ),
        ));
    }
    if !policy
        .identity_providers
        .contains(&identity.identity_provider_id)
    {
        return Err(CredentialsProblem::new(
            Reason::IdentityProviderNotAllowed,
            format!(
                "spec.workloadIdentity.identityProviderId {:?} is not one this operator may use \
                 (allowed: {})",
                identity.identity_provider_id,
                policy.identity_providers.join(", ")
            ),
        ));
    }
    if !is_dns1123_subdomain(&identity.service_account_name) {
        return Err(CredentialsProblem::new(
            Reason::InvalidWorkloadIdentity,
            format!(
                "spec.workloadIdentity.serviceAccountName {:?} is not a valid ServiceAccount name",
                identity.service_account_name
            ),
        ));
    }
    let iam_endpoint = watch
        .iam_endpoint("spec.workloadIdentity", "")
        .map_err(|message| CredentialsProblem::new(Reason::InvalidWorkloadIdentity, message))?;
    let source = TokenRequestSource {
        client: client.clone(),
        namespace: watch.key.namespace.clone(),
        service_account: identity.service_account_name.clone(),
        audience: identity.audience.clone(),
    };
    let credentials = Credentials::IdToken {
        subject: source.subject(),
        source: Arc::new(source),
        identity_provider_id: identity.identity_provider_id.clone(),
        iam_endpoint,
    };
    credentials
        .validate()
        .map_err(|message| CredentialsProblem::new(Reason::InvalidWorkloadIdentity, message))?;
    Ok(credentials)
}

/// Mints ServiceAccount tokens with the TokenRequest API of the watch's own namespace.
struct TokenRequestSource {
    client: kube::Client,
    namespace: String,
    service_account: String,
    audience: String,
}

impl TokenRequestSource {
    fn subject(&self) -> String {
        format!(
            "system:serviceaccount:{}:{}",
            self.namespace, self.service_account
        )
    }

    async fn mint(&self) -> std::result::Result<Secret, IdTokenError> {
        let api: Api<ServiceAccount> = Api::namespaced(self.client.clone(), &self.namespace);
        let request = TokenRequest {
            spec: TokenRequestSpec {
                audiences: vec![self.audience.clone()],
                expiration_seconds: Some(TOKEN_SECONDS),
                ..TokenRequestSpec::default()
            },
            ..TokenRequest::default()
        };
        let answer = api
            .create_token_request(&self.service_account, &PostParams::default(), &request)
            .await
            .map_err(|error| self.refusal(error))?;
        let token = answer.status.map(|s| s.token).unwrap_or_default();
        Ok(Secret::new(token))
    }

    fn refusal(&self, error: kube::Error) -> IdTokenError {
        let who = format!(
            "ServiceAccount {:?} in namespace {:?}",
            self.service_account, self.namespace
        );
        match error {
            kube::Error::Api(status) if status.code == 404 => IdTokenError::permanent(
                SERVICE_ACCOUNT_NOT_FOUND,
                format!(
                    "{who} does not exist: create it (and map its subject {} in the IAM \
                     identity provider), or fix spec.workloadIdentity.serviceAccountName; refused \
                     credentials are tried again at the next interval",
                    self.subject()
                ),
            ),
            kube::Error::Api(status) if status.code == 403 => IdTokenError::permanent(
                TOKEN_REQUEST_FORBIDDEN,
                format!(
                    "the operator may not create tokens for {who}: grant its ServiceAccount \
                     create on serviceaccounts/token there (chart: workloadIdentity.enabled)"
                ),
            ),
            other => IdTokenError::transient(
                TOKEN_REQUEST_FAILED,
                format!("requesting a token for {who} failed: {other}"),
            ),
        }
    }
}

impl IdTokenSource for TokenRequestSource {
    fn id_token(&self) -> IdTokenFuture<'_> {
        Box::pin(self.mint())
    }

    fn describe(&self) -> String {
        format!(
            "serviceaccount {}/{} audience={}",
            self.namespace, self.service_account, self.audience
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::WatchKey;

    fn identity(audience: &str, idp: &str) -> WorkloadIdentity {
        WorkloadIdentity {
            service_account_name: "hss-reader".into(),
            identity_provider_id: idp.into(),
            audience: audience.into(),
        }
    }

    fn policy() -> WorkloadIdentityPolicy {
        WorkloadIdentityPolicy {
            audiences: vec!["hss-client".into()],
            identity_providers: vec!["cce-oidc".into()],
        }
    }

    fn watch<'a>(key: &'a WatchKey, region: Option<&'a str>) -> ForWatch<'a> {
        ForWatch {
            key,
            uid: None,
            region,
            iam_endpoint: None,
        }
    }

    fn client() -> kube::Client {
        // Never contacted: building credentials makes no request.
        let config = kube::Config::new("http://127.0.0.1:9".parse().expect("url"));
        kube::Client::try_from(config).expect("client")
    }

    #[tokio::test]
    async fn the_policy_decides_before_any_token_is_minted() {
        let key = WatchKey::new("team-a", "w");
        let region = watch(&key, Some("ap-southeast-1"));
        let refused = |policy: &WorkloadIdentityPolicy, id: WorkloadIdentity| {
            credentials(&client(), region, &id, policy)
                .expect_err("refused")
                .reason
        };
        assert_eq!(
            refused(
                &WorkloadIdentityPolicy::default(),
                identity("hss-client", "cce-oidc")
            ),
            Reason::WorkloadIdentityDisabled
        );
        assert_eq!(
            refused(&policy(), identity("other", "cce-oidc")),
            Reason::AudienceNotAllowed
        );
        assert_eq!(
            refused(&policy(), identity("hss-client", "other")),
            Reason::IdentityProviderNotAllowed
        );
        let explicit = credentials(
            &client(),
            watch(&key, None),
            &identity("hss-client", "cce-oidc"),
            &policy(),
        )
        .expect_err("no IAM endpoint");
        assert!(explicit.message.contains("--iam-endpoint"));
    }

    #[tokio::test]
    async fn the_credentials_name_the_service_account_of_the_watchs_namespace() {
        let key = WatchKey::new("team-a", "w");
        let credentials = credentials(
            &client(),
            watch(&key, Some("ap-southeast-1")),
            &identity("hss-client", "cce-oidc"),
            &policy(),
        )
        .expect("credentials");
        let Credentials::IdToken {
            source,
            subject,
            identity_provider_id,
            iam_endpoint,
        } = &credentials
        else {
            panic!("id-token credentials: {credentials:?}");
        };
        assert_eq!(subject, "system:serviceaccount:team-a:hss-reader");
        assert_eq!(identity_provider_id, "cce-oidc");
        assert!(iam_endpoint.as_str().starts_with("https://iam."));
        assert_eq!(
            source.describe(),
            "serviceaccount team-a/hss-reader audience=hss-client"
        );
        // Two watches of one ServiceAccount, provider and project share one identity (one
        // poller group, one quota).
        let again = super::credentials(
            &client(),
            watch(&key, Some("ap-southeast-1")),
            &identity("hss-client", "cce-oidc"),
            &policy(),
        )
        .expect("credentials");
        assert_eq!(credentials.identity(), again.identity());
        assert_eq!(credentials, again);
    }
}
