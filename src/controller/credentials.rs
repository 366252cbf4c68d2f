//! Credentials from the data of the Secret a `HostRiskWatch` names (read from the resource's own
//! namespace only, see [`super::secrets`]): pure parsing, no I/O.
//!
//! Accepted key sets: `accessKey` + `secretKey` (+ `securityToken` for temporary keys), or
//! `authToken`, or `username` + `password` + `domainName` (IAM password login). Values are
//! trimmed of surrounding whitespace, because `kubectl create secret --from-file` keeps the
//! trailing newline of the file and no key, token or password of Huawei Cloud starts or ends
//! with whitespace.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;

use crate::hss::endpoint::iam_endpoint_for_region;
use crate::hss::{Credentials, Secret};
use url::Url;

/// Condition reasons of a credentials problem.
pub mod reason {
    pub const SECRET_NOT_FOUND: &str = "SecretNotFound";
    pub const SECRET_FORBIDDEN: &str = "SecretForbidden";
    pub const SECRET_KEY_MISSING: &str = "SecretKeyMissing";
    pub const AMBIGUOUS_CREDENTIALS: &str = "AmbiguousCredentials";
    pub const INVALID_CREDENTIALS: &str = "InvalidCredentials";
}

const ACCESS_KEY: &str = "accessKey";
const SECRET_KEY: &str = "secretKey";
const SECURITY_TOKEN: &str = "securityToken";
const AUTH_TOKEN: &str = "authToken";
const USERNAME: &str = "username";
const PASSWORD: &str = "password";
const DOMAIN_NAME: &str = "domainName";

/// A Secret that cannot give usable credentials; shown in the `CredentialsValid` condition.
/// The message names keys, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CredentialsProblem {
    pub reason: &'static str,
    pub message: String,
}

impl CredentialsProblem {
    pub fn new(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }
}

/// Where the resource's HSS endpoint comes from, which decides the IAM endpoint for password
/// logins.
#[derive(Debug, Clone, Copy)]
pub enum EndpointSource<'a> {
    Region(&'a str),
    /// `spec.endpoint`, with the IAM endpoint the operator was given (`--iam-endpoint`).
    Explicit {
        iam_endpoint: Option<&'a Url>,
    },
}

/// The keys of a Secret's data the operator reads; anything else in the Secret is never kept.
pub const CREDENTIAL_KEYS: [&str; 7] = [
    ACCESS_KEY,
    SECRET_KEY,
    SECURITY_TOKEN,
    AUTH_TOKEN,
    USERNAME,
    PASSWORD,
    DOMAIN_NAME,
];

/// The problem of a watch whose Secret does not exist.
pub fn secret_not_found(namespace: &str, name: &str) -> CredentialsProblem {
    CredentialsProblem::new(
        reason::SECRET_NOT_FOUND,
        format!("Secret {name:?} does not exist in namespace {namespace:?}"),
    )
}

/// The problem of a watch whose Secret the operator may not read (its RBAC lacks `get` on
/// Secrets in that namespace).
pub fn secret_forbidden(namespace: &str, name: &str) -> CredentialsProblem {
    CredentialsProblem::new(
        reason::SECRET_FORBIDDEN,
        format!(
            "the operator may not read Secret {name:?} in namespace {namespace:?}: grant its \
             ServiceAccount get on secrets there (the chart's RBAC does, for the namespaces it \
             watches)"
        ),
    )
}

/// The problem of a watch naming something that cannot be a Secret.
pub fn invalid_secret_name(name: &str) -> CredentialsProblem {
    CredentialsProblem::new(
        reason::SECRET_NOT_FOUND,
        format!("spec.credentialsSecretRef.name {name:?} is not a valid Secret name"),
    )
}

/// Credentials from a Secret's `data`.
pub fn credentials_from_data(
    secret_name: &str,
    data: &BTreeMap<String, ByteString>,
    endpoint: EndpointSource<'_>,
) -> Result<Credentials, CredentialsProblem> {
    let has = |key: &str| data.contains_key(key);
    let kinds: Vec<&str> = [
        (
            has(ACCESS_KEY) || has(SECRET_KEY) || has(SECURITY_TOKEN),
            "accessKey/secretKey",
        ),
        (has(AUTH_TOKEN), "authToken"),
        (
            has(USERNAME) || has(PASSWORD) || has(DOMAIN_NAME),
            "username/password/domainName",
        ),
    ]
    .into_iter()
    .filter_map(|(present, name)| present.then_some(name))
    .collect();
    if kinds.len() > 1 {
        return Err(CredentialsProblem::new(
            reason::AMBIGUOUS_CREDENTIALS,
            format!(
                "Secret {secret_name:?} holds more than one kind of credentials ({}): keep exactly one",
                kinds.join(" and ")
            ),
        ));
    }
    let value = |key: &str| read_value(secret_name, data, key);
    let credentials = match kinds.first().copied() {
        None => {
            return Err(CredentialsProblem::new(
                reason::SECRET_KEY_MISSING,
                format!(
                    "Secret {secret_name:?} has none of the credential keys: set accessKey and \
                     secretKey (+ securityToken), or authToken, or username, password and domainName"
                ),
            ))
        }
        Some("authToken") => Credentials::Token(Secret::new(value(AUTH_TOKEN)?)),
        Some("accessKey/secretKey") => {
            require(secret_name, data, &[ACCESS_KEY, SECRET_KEY])?;
            let access_key = value(ACCESS_KEY)?;
            let secret_key = Secret::new(value(SECRET_KEY)?);
            match has(SECURITY_TOKEN) {
                true => Credentials::temporary_ak_sk(access_key, secret_key, value(SECURITY_TOKEN)?),
                false => Credentials::ak_sk(access_key, secret_key),
            }
        }
        Some(_) => {
            require(secret_name, data, &[USERNAME, PASSWORD, DOMAIN_NAME])?;
            let iam_endpoint = match endpoint {
                EndpointSource::Region(region) => {
                    iam_endpoint_for_region(region).ok_or_else(|| {
                        CredentialsProblem::new(
                            reason::INVALID_CREDENTIALS,
                            format!("no IAM endpoint is known for region {region:?}"),
                        )
                    })?
                }
                EndpointSource::Explicit {
                    iam_endpoint: Some(url),
                } => url.clone(),
                EndpointSource::Explicit { iam_endpoint: None } => {
                    return Err(CredentialsProblem::new(
                        reason::INVALID_CREDENTIALS,
                        "username/password credentials need spec.region (the IAM endpoint comes \
                         from the region), or an operator started with --iam-endpoint; with \
                         spec.endpoint use accessKey/secretKey or authToken",
                    ))
                }
            };
            Credentials::Iam {
                username: value(USERNAME)?,
                password: Secret::new(value(PASSWORD)?),
                domain_name: value(DOMAIN_NAME)?,
                iam_endpoint,
            }
        }
    };
    credentials.validate().map_err(|message| {
        CredentialsProblem::new(
            reason::INVALID_CREDENTIALS,
            format!("Secret {secret_name:?}: {message}"),
        )
    })?;
    Ok(credentials)
}

fn require(
    secret_name: &str,
    data: &BTreeMap<String, ByteString>,
    keys: &[&str],
) -> Result<(), CredentialsProblem> {
    let missing: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|k| !data.contains_key(*k))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(CredentialsProblem::new(
        reason::SECRET_KEY_MISSING,
        format!(
            "Secret {secret_name:?} lacks the key(s) {} (needed with {})",
            missing.join(", "),
            keys.join(" + ")
        ),
    ))
}

fn read_value(
    secret_name: &str,
    data: &BTreeMap<String, ByteString>,
    key: &str,
) -> Result<String, CredentialsProblem> {
    let bytes = data.get(key).ok_or_else(|| {
        CredentialsProblem::new(
            reason::SECRET_KEY_MISSING,
            format!("Secret {secret_name:?} lacks the key {key}"),
        )
    })?;
    let text = std::str::from_utf8(&bytes.0).map_err(|_| {
        CredentialsProblem::new(
            reason::INVALID_CREDENTIALS,
            format!("Secret {secret_name:?} key {key} is not UTF-8 text"),
        )
    })?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(CredentialsProblem::new(
            reason::INVALID_CREDENTIALS,
            format!("Secret {secret_name:?} key {key} is empty"),
        ));
    }
    Ok(trimmed.to_string())
}

/// A DNS-1123 subdomain, as Kubernetes requires of Secret names (so a name cannot carry a path
/// separator into the request URL).
pub fn is_dns1123_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, ByteString> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
            .collect()
    }

    fn load(pairs: &[(&str, &str)]) -> Result<Credentials, CredentialsProblem> {
        credentials_from_data("creds", &data(pairs), EndpointSource::Region("cn-north-4"))
    }

    #[test]
    fn ak_sk_with_and_without_token() {
        let c = load(&[("accessKey", "AK1\n"), ("secretKey", "SK1\n")]).unwrap();
        assert_eq!(c, Credentials::ak_sk("AK1", "SK1"));
        let c = load(&[
            ("accessKey", "AK"),
            ("secretKey", "SK"),
            ("securityToken", "T"),
        ])
        .unwrap();
        assert_eq!(c, Credentials::temporary_ak_sk("AK", "SK", "T"));
    }

    #[test]
    fn token_and_iam() {
        assert_eq!(
            load(&[("authToken", "tok")]).unwrap(),
            Credentials::Token(Secret::new("tok"))
        );
        let c = load(&[("username", "u"), ("password", "p"), ("domainName", "d")]).unwrap();
        assert!(matches!(c, Credentials::Iam { ref iam_endpoint, .. }
            if iam_endpoint.as_str().starts_with("https://iam.cn-north-4.")));
        let explicit = credentials_from_data(
            "creds",
            &data(&[("username", "u"), ("password", "p"), ("domainName", "d")]),
            EndpointSource::Explicit { iam_endpoint: None },
        )
        .unwrap_err();
        assert_eq!(explicit.reason, reason::INVALID_CREDENTIALS);
        assert!(explicit.message.contains("--iam-endpoint"));
        let private_iam = Url::parse("https://iam.cloud.example.com/").unwrap();
        let given = credentials_from_data(
            "creds",
            &data(&[("username", "u"), ("password", "p"), ("domainName", "d")]),
            EndpointSource::Explicit {
                iam_endpoint: Some(&private_iam),
            },
        )
        .unwrap();
        assert!(matches!(given, Credentials::Iam { ref iam_endpoint, .. }
            if *iam_endpoint == private_iam));
    }

    #[test]
    fn problems_have_reasons_and_never_values() {
        let missing = load(&[("accessKey", "AKVALUE")]).unwrap_err();
        assert_eq!(missing.reason, reason::SECRET_KEY_MISSING);
        assert!(missing.message.contains("secretKey") && !missing.message.contains("AKVALUE"));
        let none = load(&[("other", "x")]).unwrap_err();
        assert_eq!(none.reason, reason::SECRET_KEY_MISSING);
        let both = load(&[("accessKey", "a"), ("secretKey", "s"), ("authToken", "t")]).unwrap_err();
        assert_eq!(both.reason, reason::AMBIGUOUS_CREDENTIALS);
        let empty = load(&[("accessKey", "a"), ("secretKey", " \n")]).unwrap_err();
        assert_eq!(empty.reason, reason::INVALID_CREDENTIALS);
        let partial_iam = load(&[("username", "u"), ("password", "SECRETPW")]).unwrap_err();
        assert_eq!(partial_iam.reason, reason::SECRET_KEY_MISSING);
        assert!(!partial_iam.message.contains("SECRETPW"));
    }

    #[test]
    fn secret_names_are_checked() {
        assert!(is_dns1123_subdomain("hss-creds.v2"));
        for bad in ["", "../x", "a/b", "Upper", "-a", "a..b", "a_b"] {
            assert!(!is_dns1123_subdomain(bad), "{bad}");
        }
    }
}
