//! Keyless credentials: a watch names a ServiceAccount of its own namespace, an IAM identity
//! provider and an audience; the operator mints a short-lived token for that ServiceAccount
//! (TokenRequest) whenever the HSS client needs to exchange one at IAM. Neither the minted JWT
//! nor the IAM token it buys is kept anywhere but in the client's token cache.
//!
//! The administrator decides which audiences and identity providers may be used
//! (`--workload-identity-audiences`, `--workload-identity-providers`): a namespace user can act
//! only as a ServiceAccount of their own namespace, for a provider the administrator mapped.

use std::sync::Arc;

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::PostParams;
use kube::Api;
use url::Url;

use super::credentials::{is_dns1123_subdomain, CredentialsProblem, EndpointSource};
use super::settings::WorkloadIdentityPolicy;
use crate::crd::WorkloadIdentity;
use crate::hss::endpoint::iam_endpoint_for_region;
use crate::hss::{Credentials, IdTokenError, IdTokenFuture, IdTokenSource, Secret};

/// Lifetime of a minted ServiceAccount token: the shortest a kube-apiserver grants. It is used
/// once, for one exchange.
const TOKEN_SECONDS: i64 = 600;

/// Condition reasons of workload-identity problems found before any exchange.
pub mod reason {
    pub const WORKLOAD_IDENTITY_DISABLED: &str = "WorkloadIdentityDisabled";
    pub const AUDIENCE_NOT_ALLOWED: &str = "AudienceNotAllowed";
    pub const IDENTITY_PROVIDER_NOT_ALLOWED: &str = "IdentityProviderNotAllowed";
    pub const SERVICE_ACCOUNT_NOT_FOUND: &str = "ServiceAccountNotFound";
    pub const TOKEN_REQUEST_FORBIDDEN: &str = "TokenRequestForbidden";
    pub const INVALID_WORKLOAD_IDENTITY: &str = "InvalidWorkloadIdentity";
}

/// The credentials of a watch with `spec.workloadIdentity` in `namespace`, or the problem that
/// keeps it from having any.
pub fn credentials(
    client: &kube::Client,
    namespace: &str,
    identity: &WorkloadIdentity,
    policy: &WorkloadIdentityPolicy,
    endpoint: EndpointSource<'_>,
) -> Result<Credentials, CredentialsProblem> {
    if !policy.is_enabled() {
        return Err(CredentialsProblem::new(
            reason::WORKLOAD_IDENTITY_DISABLED,
            "spec.workloadIdentity is not enabled in this operator: its administrator starts it \
             with --workload-identity-audiences and --workload-identity-providers (chart: \
             workloadIdentity.enabled); or use spec.credentialsSecretRef",
        ));
    }
    if !policy.audiences.contains(&identity.audience) {
        return Err(CredentialsProblem::new(
            reason::AUDIENCE_NOT_ALLOWED,
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
            reason::IDENTITY_PROVIDER_NOT_ALLOWED,
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
            reason::INVALID_WORKLOAD_IDENTITY,
            format!(
                "spec.workloadIdentity.serviceAccountName {:?} is not a valid ServiceAccount name",
                identity.service_account_name
            ),
        ));
    }
    let iam_endpoint = iam_endpoint(endpoint)?;
    let source = TokenRequestSource {
        client: client.clone(),
        namespace: namespace.to_string(),
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
        .map_err(|message| CredentialsProblem::new(reason::INVALID_WORKLOAD_IDENTITY, message))?;
    Ok(credentials)
}

fn iam_endpoint(endpoint: EndpointSource<'_>) -> Result<Url, CredentialsProblem> {
    match endpoint {
        EndpointSource::Region(region) => iam_endpoint_for_region(region).ok_or_else(|| {
            CredentialsProblem::new(
                reason::INVALID_WORKLOAD_IDENTITY,
                format!("no IAM endpoint is known for region {region:?}"),
            )
        }),
        EndpointSource::Explicit {
            iam_endpoint: Some(url),
        } => Ok(url.clone()),
        EndpointSource::Explicit { iam_endpoint: None } => Err(CredentialsProblem::new(
            reason::INVALID_WORKLOAD_IDENTITY,
            "spec.workloadIdentity with spec.endpoint needs an operator started with \
             --iam-endpoint (the IAM that trusts the cluster's ServiceAccount tokens); or use \
             spec.region",
        )),
    }
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

    async fn mint(&self) -> Result<Secret, IdTokenError> {
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
                reason::SERVICE_ACCOUNT_NOT_FOUND,
                format!(
                    "{who} does not exist: create it (and map its subject {} in the IAM \
                     identity provider), or fix spec.workloadIdentity.serviceAccountName; refused \
                     credentials are tried again at the next interval",
                    self.subject()
                ),
            ),
            kube::Error::Api(status) if status.code == 403 => IdTokenError::permanent(
                reason::TOKEN_REQUEST_FORBIDDEN,
                format!(
                    "the operator may not create tokens for {who}: grant its ServiceAccount \
                     create on serviceaccounts/token there (chart: workloadIdentity.enabled)"
                ),
            ),
            other => IdTokenError::transient(
                "TokenRequestFailed",
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

    fn client() -> kube::Client {
        // Never contacted: building credentials makes no request.
        let config = kube::Config::new("http://127.0.0.1:9".parse().expect("url"));
        kube::Client::try_from(config).expect("client")
    }

    #[tokio::test]
    async fn the_policy_decides_before_any_token_is_minted() {
        let region = EndpointSource::Region("ap-southeast-1");
        let refused = |policy: &WorkloadIdentityPolicy, id: WorkloadIdentity| {
            credentials(&client(), "team-a", &id, policy, region)
                .expect_err("refused")
                .reason
        };
        assert_eq!(
            refused(
                &WorkloadIdentityPolicy::default(),
                identity("hss-client", "cce-oidc")
            ),
            reason::WORKLOAD_IDENTITY_DISABLED
        );
        assert_eq!(
            refused(&policy(), identity("other", "cce-oidc")),
            reason::AUDIENCE_NOT_ALLOWED
        );
        assert_eq!(
            refused(&policy(), identity("hss-client", "other")),
            reason::IDENTITY_PROVIDER_NOT_ALLOWED
        );
        let explicit = credentials(
            &client(),
            "team-a",
            &identity("hss-client", "cce-oidc"),
            &policy(),
            EndpointSource::Explicit { iam_endpoint: None },
        )
        .expect_err("no IAM endpoint");
        assert!(explicit.message.contains("--iam-endpoint"));
    }

    #[tokio::test]
    async fn the_credentials_name_the_service_account_of_the_watchs_namespace() {
        let credentials = credentials(
            &client(),
            "team-a",
            &identity("hss-client", "cce-oidc"),
            &policy(),
            EndpointSource::Region("ap-southeast-1"),
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
            "team-a",
            &identity("hss-client", "cce-oidc"),
            &policy(),
            EndpointSource::Region("ap-southeast-1"),
        )
        .expect("credentials");
        assert_eq!(credentials.identity(), again.identity());
        assert_eq!(credentials, again);
    }
}
