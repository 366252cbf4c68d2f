//! Credentials from the Secret a watch names in its own namespace (the spec has no namespace
//! field, and the name is checked before any request). The Secret is read once per
//! `resourceVersion`: the watch table keeps what a read found, the metadata-only Secret watch
//! says when that is outdated, and an idle reconcile sends nothing to the API server.
//!
//! Accepted key sets: `accessKey` + `secretKey` (+ `securityToken` for temporary keys), or
//! `authToken`, or `username` + `password` + `domainName` (IAM password login); exactly one
//! (the rules are the HSS client's, shared with the CLI's environment). Values are trimmed of
//! surrounding whitespace, because `kubectl create secret --from-file` keeps the trailing
//! newline of the file and no key, token or password of Huawei Cloud starts or ends with
//! whitespace.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;
use kube::Api;

use super::{CredentialSource, CredentialsProblem, ForWatch, Resolved};
use crate::controller::error::{Error, Result};
use crate::controller::secret_cache::{SecretKey, SecretRead};
use crate::controller::watches::WatchTable;
use crate::crd::schema::is_dns1123_subdomain;
use crate::hss::credential_fields::{credentials_from_fields, Field, FieldsError};
use crate::hss::Credentials;
use crate::status::Reason;

/// The Secret key each credentials field is read from.
fn key_of(field: Field) -> &'static str {
    match field {
        Field::AccessKey => "accessKey",
        Field::SecretKey => "secretKey",
        Field::SecurityToken => "securityToken",
        Field::AuthToken => "authToken",
        Field::Username => "username",
        Field::Password => "password",
        Field::DomainName => "domainName",
    }
}

/// The keys of a Secret's data the operator reads; anything else in the Secret is never kept.
pub const CREDENTIAL_KEYS: [&str; 7] = [
    "accessKey",
    "secretKey",
    "securityToken",
    "authToken",
    "username",
    "password",
    "domainName",
];

/// Credentials from a Secret of the watch's namespace.
pub struct SecretCredentials {
    client: kube::Client,
    watches: Arc<WatchTable>,
}

impl SecretCredentials {
    pub fn new(client: kube::Client, watches: Arc<WatchTable>) -> Self {
        Self { client, watches }
    }

    async fn resolve_named(&self, watch: ForWatch<'_>, name: &str) -> Result<Resolved> {
        let namespace = &watch.key.namespace;
        if !is_dns1123_subdomain(name) {
            return Ok(Resolved::of(Err(CredentialsProblem::new(
                Reason::SecretNotFound,
                format!("spec.credentialsSecretRef.name {name:?} is not a valid Secret name"),
            ))));
        }
        let secret = SecretKey {
            namespace: namespace.clone(),
            name: name.to_string(),
        };
        let read = match self.watches.cached_secret(watch.key, watch.uid, &secret) {
            // The watch is gone: nothing to resolve it for.
            None => return Ok(Resolved::of(Err(not_found(namespace, name)))),
            Some(Ok(read)) => read,
            Some(Err(ticket)) => match read_secret(&self.client, &secret).await {
                Ok(read) => {
                    self.watches.store_secret(secret, read.clone(), ticket);
                    read
                }
                Err(Error::SecretRead {
                    source: kube::Error::Api(status),
                    ..
                }) if status.code == 403 => {
                    return Ok(Resolved {
                        credentials: Err(forbidden(namespace, name)),
                        version: None,
                        retry: true,
                    })
                }
                Err(error) => return Err(error),
            },
        };
        let credentials = match read.version {
            None => Err(not_found(namespace, name)),
            Some(_) => credentials_from_data(name, &read.data, watch),
        };
        Ok(Resolved {
            credentials,
            version: read.version,
            retry: false,
        })
    }
}

impl CredentialSource for SecretCredentials {
    type Spec = str;

    fn resolve<'a>(
        &'a self,
        watch: ForWatch<'a>,
        name: &'a str,
    ) -> impl Future<Output = Result<Resolved>> + Send + 'a {
        self.resolve_named(watch, name)
    }
}

fn not_found(namespace: &str, name: &str) -> CredentialsProblem {
    CredentialsProblem::new(
        Reason::SecretNotFound,
        format!("Secret {name:?} does not exist in namespace {namespace:?}"),
    )
}

/// The operator's RBAC lacks `get` on Secrets in that namespace.
fn forbidden(namespace: &str, name: &str) -> CredentialsProblem {
    CredentialsProblem::new(
        Reason::SecretForbidden,
        format!(
            "the operator may not read Secret {name:?} in namespace {namespace:?}: grant its \
             ServiceAccount get on secrets there (the chart's RBAC does, for the namespaces it \
             watches)"
        ),
    )
}

/// Credentials from a Secret's `data`.
pub fn credentials_from_data(
    secret_name: &str,
    data: &BTreeMap<String, ByteString>,
    watch: ForWatch<'_>,
) -> std::result::Result<Credentials, CredentialsProblem> {
    let value = |field: Field| {
        let bytes = data.get(key_of(field))?;
        Some(match std::str::from_utf8(&bytes.0).map(str::trim) {
            Err(_) => Err("is not UTF-8 text"),
            Ok("") => Err("is empty"),
            Ok(text) => Ok(text.to_string()),
        })
    };
    let iam_endpoint = || {
        watch.iam_endpoint(
            "username/password credentials",
            ", or accessKey/secretKey or authToken",
        )
    };
    credentials_from_fields(value, iam_endpoint).map_err(|error| {
        let reason = match error {
            FieldsError::NoCredentials | FieldsError::Incomplete { .. } => Reason::SecretKeyMissing,
            FieldsError::SeveralKinds(_) => Reason::AmbiguousCredentials,
            FieldsError::Unusable { .. }
            | FieldsError::NoIamEndpoint(_)
            | FieldsError::Invalid(_) => Reason::InvalidCredentials,
        };
        CredentialsProblem::new(
            reason,
            error.describe(&format!("Secret {secret_name:?}"), key_of),
        )
    })
}

/// GETs the Secret; keeps only the keys credentials are made of.
async fn read_secret(client: &kube::Client, secret: &SecretKey) -> Result<SecretRead> {
    let api: Api<Secret> = Api::namespaced(client.clone(), &secret.namespace);
    let found = api
        .get_opt(&secret.name)
        .await
        .map_err(|source| Error::SecretRead {
            namespace: secret.namespace.clone(),
            name: secret.name.clone(),
            source,
        })?;
    let Some(found) = found else {
        return Ok(SecretRead::default());
    };
    let data: BTreeMap<_, _> = found
        .data
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| CREDENTIAL_KEYS.contains(&k.as_str()))
        .collect();
    Ok(SecretRead {
        version: Some(found.metadata.resource_version.unwrap_or_default()),
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::WatchKey;
    use crate::hss::Secret as SecretValue;
    use url::Url;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, ByteString> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
            .collect()
    }

    fn watch<'a>(key: &'a WatchKey, iam: Option<&'a Url>, region: Option<&'a str>) -> ForWatch<'a> {
        ForWatch {
            key,
            uid: None,
            region,
            iam_endpoint: iam,
        }
    }

    fn load(pairs: &[(&str, &str)]) -> std::result::Result<Credentials, CredentialsProblem> {
        let key = WatchKey::new("ns", "w");
        credentials_from_data("creds", &data(pairs), watch(&key, None, Some("cn-north-4")))
    }

    #[test]
    fn every_key_is_one_the_operator_reads() {
        for field in [
            Field::AccessKey,
            Field::SecretKey,
            Field::SecurityToken,
            Field::AuthToken,
            Field::Username,
            Field::Password,
            Field::DomainName,
        ] {
            assert!(CREDENTIAL_KEYS.contains(&key_of(field)));
        }
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
            Credentials::Token(SecretValue::new("tok"))
        );
        let c = load(&[("username", "u"), ("password", "p"), ("domainName", "d")]).unwrap();
        assert!(matches!(c, Credentials::Iam { ref iam_endpoint, .. }
            if iam_endpoint.as_str().starts_with("https://iam.cn-north-4.")));
        let key = WatchKey::new("ns", "w");
        let iam = data(&[("username", "u"), ("password", "p"), ("domainName", "d")]);
        let explicit = credentials_from_data("creds", &iam, watch(&key, None, None)).unwrap_err();
        assert_eq!(explicit.reason, Reason::InvalidCredentials);
        assert!(explicit.message.contains("--iam-endpoint"));
        let private_iam = Url::parse("https://iam.cloud.example.com/").unwrap();
        let given =
            credentials_from_data("creds", &iam, watch(&key, Some(&private_iam), None)).unwrap();
        assert!(matches!(given, Credentials::Iam { ref iam_endpoint, .. }
            if *iam_endpoint == private_iam));
    }

    #[test]
    fn problems_have_reasons_and_never_values() {
        let missing = load(&[("accessKey", "AKVALUE")]).unwrap_err();
        assert_eq!(missing.reason, Reason::SecretKeyMissing);
        assert!(missing.message.contains("secretKey") && !missing.message.contains("AKVALUE"));
        let none = load(&[("other", "x")]).unwrap_err();
        assert_eq!(none.reason, Reason::SecretKeyMissing);
        let both = load(&[("accessKey", "a"), ("secretKey", "s"), ("authToken", "t")]).unwrap_err();
        assert_eq!(both.reason, Reason::AmbiguousCredentials);
        let empty = load(&[("accessKey", "a"), ("secretKey", " \n")]).unwrap_err();
        assert_eq!(empty.reason, Reason::InvalidCredentials);
        let partial_iam = load(&[("username", "u"), ("password", "SECRETPW")]).unwrap_err();
        assert_eq!(partial_iam.reason, Reason::SecretKeyMissing);
        assert!(!partial_iam.message.contains("SECRETPW"));
    }
}
