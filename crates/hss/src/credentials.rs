//! Credentials for HSS calls, and the secret-free identity used as rate-limit and cache key.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use url::Url;

use super::id_token_source::IdTokenSource;
pub use super::secret::Secret;

/// How a call authenticates.
///
/// Equality compares what the credentials are, not object identity: two `IdToken`
/// credentials are equal when their provider, subject, IAM endpoint and source description
/// are, so re-building them from the same resource does not look like a rotation.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// Permanent (or, with `security_token`, temporary) access keys: requests are signed.
    AkSk {
        access_key: String,
        secret_key: Secret,
        security_token: Option<Secret>,
    },
    /// A static IAM token sent as `X-Auth-Token`. It cannot be refreshed by us.
    Token(Secret),
    /// IAM password login; the token is scoped to the project of each call, cached and refreshed.
    Iam {
        username: String,
        password: Secret,
        domain_name: String,
        iam_endpoint: Url,
    },
    /// Workload identity: an OIDC id token from `source` (for the operator, a Kubernetes
    /// ServiceAccount token) exchanged at IAM (`POST /v3.0/OS-AUTH/id-token/tokens`) for an
    /// IAM token scoped to the project of each call; cached and refreshed like `Iam`.
    IdToken {
        /// Asked for a fresh id token only when an exchange is due.
        source: Arc<dyn IdTokenSource>,
        /// The IAM identity provider (`X-Idp-Id`).
        identity_provider_id: String,
        /// Who the id tokens name (their `sub`, e.g. `system:serviceaccount:team-a:reader`):
        /// part of the identity and the token cache key; never a secret.
        subject: String,
        iam_endpoint: Url,
    },
}

impl PartialEq for Credentials {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (
                Self::AkSk {
                    access_key: a1,
                    secret_key: s1,
                    security_token: t1,
                },
                Self::AkSk {
                    access_key: a2,
                    secret_key: s2,
                    security_token: t2,
                },
            ) => a1 == a2 && s1 == s2 && t1 == t2,
            (Self::Token(a), Self::Token(b)) => a == b,
            (
                Self::Iam {
                    username: u1,
                    password: p1,
                    domain_name: d1,
                    iam_endpoint: e1,
                },
                Self::Iam {
                    username: u2,
                    password: p2,
                    domain_name: d2,
                    iam_endpoint: e2,
                },
            ) => u1 == u2 && p1 == p2 && d1 == d2 && e1 == e2,
            (
                Self::IdToken {
                    source: s1,
                    identity_provider_id: i1,
                    subject: n1,
                    iam_endpoint: e1,
                },
                Self::IdToken {
                    source: s2,
                    identity_provider_id: i2,
                    subject: n2,
                    iam_endpoint: e2,
                },
            ) => i1 == i2 && n1 == n2 && e1 == e2 && s1.describe() == s2.describe(),
            _ => false,
        }
    }
}

impl Eq for Credentials {}

impl Credentials {
    pub fn ak_sk(access_key: impl Into<String>, secret_key: impl Into<Secret>) -> Self {
        Self::AkSk {
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            security_token: None,
        }
    }

    pub fn temporary_ak_sk(
        access_key: impl Into<String>,
        secret_key: impl Into<Secret>,
        security_token: impl Into<Secret>,
    ) -> Self {
        Self::AkSk {
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            security_token: Some(security_token.into()),
        }
    }

    /// The secret-free name of this credential: `ak:<AK>`, `iam:<domain>/<user>@<iam host>`,
    /// `idtoken:<identity provider>/<subject>@<iam host>` or
    /// `token:<first 12 hex of sha256(token)>`. Used as rate-limit key and in logs.
    pub fn identity(&self) -> CredentialIdentity {
        match self {
            Self::AkSk { access_key, .. } => CredentialIdentity(format!("ak:{access_key}")),
            Self::Token(token) => {
                let digest = hex::encode(Sha256::digest(token.expose().as_bytes()));
                CredentialIdentity(format!("token:{}", &digest[..12]))
            }
            Self::Iam {
                username,
                domain_name,
                iam_endpoint,
                ..
            } => CredentialIdentity(format!(
                "iam:{domain_name}/{username}@{}",
                iam_endpoint.host_str().unwrap_or_default()
            )),
            Self::IdToken {
                identity_provider_id,
                subject,
                iam_endpoint,
                ..
            } => CredentialIdentity(format!(
                "idtoken:{identity_provider_id}/{subject}@{}",
                iam_endpoint.host_str().unwrap_or_default()
            )),
        }
    }

    /// A digest of the secret material (never shown): two credentials of one identity with
    /// different secrets (one of them wrong, or mid-rotation) tell apart by it. Id-token
    /// credentials have none: the identity and what the source asks for (its audience) tell
    /// two sources apart.
    pub fn material_digest(&self) -> u64 {
        let mut hasher = Sha256::new();
        match self {
            Self::AkSk {
                secret_key,
                security_token,
                ..
            } => {
                hasher.update(b"aksk\0");
                hasher.update(secret_key.expose().as_bytes());
                hasher.update(b"\0");
                if let Some(token) = security_token {
                    hasher.update(token.expose().as_bytes());
                }
            }
            Self::Token(token) => {
                hasher.update(b"token\0");
                hasher.update(token.expose().as_bytes());
            }
            Self::Iam { password, .. } => {
                hasher.update(b"iam\0");
                hasher.update(password.expose().as_bytes());
            }
            Self::IdToken { source, .. } => {
                hasher.update(b"idtoken\0");
                hasher.update(source.describe().as_bytes());
            }
        }
        let digest = hasher.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_le_bytes(first)
    }

    /// Rejects credentials that cannot possibly work before anything is sent (an empty secret
    /// key would still produce a signature, which the gateway would count as a failure).
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Self::AkSk {
                access_key,
                secret_key,
                security_token,
            } => {
                if access_key.trim().is_empty() {
                    return Err("the access key is empty".into());
                }
                if secret_key.is_empty() {
                    return Err("the secret key is empty".into());
                }
                if security_token.as_ref().is_some_and(Secret::is_empty) {
                    return Err("the security token is empty".into());
                }
                Ok(())
            }
            Self::Token(token) if token.expose().trim().is_empty() => {
                Err("the auth token is empty".into())
            }
            Self::Token(_) => Ok(()),
            Self::Iam {
                username,
                password,
                domain_name,
                iam_endpoint,
            } => {
                if username.trim().is_empty() || domain_name.trim().is_empty() {
                    return Err("the IAM username or domain name is empty".into());
                }
                if password.is_empty() {
                    return Err("the IAM password is empty".into());
                }
                super::scope::check_transport_security(iam_endpoint)
                    .map_err(|e| format!("IAM endpoint: {e}"))
            }
            Self::IdToken {
                identity_provider_id,
                subject,
                iam_endpoint,
                ..
            } => {
                // The id goes into the X-Idp-Id header: a control character would make the
                // request unsendable, so say so here rather than as a transport error.
                if identity_provider_id.trim().is_empty()
                    || identity_provider_id.chars().any(char::is_control)
                {
                    return Err("the identity provider id is empty or not a header value".into());
                }
                if subject.trim().is_empty() {
                    return Err("the id token subject is empty".into());
                }
                super::scope::check_transport_security(iam_endpoint)
                    .map_err(|e| format!("IAM endpoint: {e}"))
            }
        }
    }
}

/// A credential's name without any secret in it (see [`Credentials::identity`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CredentialIdentity(String);

impl CredentialIdentity {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CredentialIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let creds = Credentials::temporary_ak_sk("AKID", "sk-value-123", "sts-token-456");
        let printed = format!("{creds:?} {}", creds.identity());
        assert!(!printed.contains("sk-value-123"));
        assert!(!printed.contains("sts-token-456"));
        assert!(printed.contains("AKID"));
        let token = Credentials::Token(Secret::new("tok-secret-789"));
        let printed = format!("{token:?} {}", token.identity());
        assert!(!printed.contains("tok-secret-789"));
        assert!(token.identity().as_str().starts_with("token:"));
    }

    #[test]
    fn identities_distinguish_credentials() {
        let iam = |user: &str| Credentials::Iam {
            username: user.into(),
            password: Secret::new("pw"),
            domain_name: "dom".into(),
            iam_endpoint: Url::parse("https://iam.cn-north-4.myhuaweicloud.com").expect("url"),
        };
        assert_eq!(
            iam("alice").identity().as_str(),
            "iam:dom/alice@iam.cn-north-4.myhuaweicloud.com"
        );
        assert_ne!(iam("alice").identity(), iam("bob").identity());
        assert_ne!(
            Credentials::Token("a".into()).identity(),
            Credentials::Token("b".into()).identity()
        );
    }

    #[test]
    fn the_material_digest_tells_secrets_of_one_identity_apart() {
        let a = Credentials::temporary_ak_sk("AK", "sk-1", "token-1");
        let rotated = Credentials::temporary_ak_sk("AK", "sk-1", "token-2");
        assert_eq!(a.identity(), rotated.identity());
        assert_ne!(a.material_digest(), rotated.material_digest());
        assert_eq!(a.material_digest(), a.clone().material_digest());
        assert_ne!(
            Credentials::Token("t".into()).material_digest(),
            Credentials::ak_sk("t", "").material_digest()
        );
    }

    #[test]
    fn validation_rejects_empty_parts() {
        assert!(Credentials::ak_sk("", "sk").validate().is_err());
        assert!(Credentials::ak_sk("ak", "").validate().is_err());
        assert!(Credentials::ak_sk("ak", "sk").validate().is_ok());
        assert!(Credentials::Token(" ".into()).validate().is_err());
    }
}
