//! A watch's credentials, from the Secret it names in its own namespace (the spec has no
//! namespace field, and the name is checked before any request). The Secret is read once per
//! `resourceVersion`: the table keeps what a read found, the metadata-only Secret watch says
//! when that is outdated, and an idle reconcile sends nothing to the API server.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;

use super::context::Context;
use super::credentials::{
    credentials_from_data, invalid_secret_name, is_dns1123_subdomain, secret_forbidden,
    secret_not_found, CredentialsProblem, EndpointSource, CREDENTIAL_KEYS,
};
use super::error::{Error, Result};
use super::state::{SecretKey, SecretRead};
use crate::crd::WatchKey;
use crate::hss::Credentials;

/// The credentials of a watch and the `resourceVersion` of the Secret they came from (`None`
/// when there is no Secret).
#[derive(Debug)]
pub struct Resolved {
    pub version: Option<String>,
    pub credentials: std::result::Result<Credentials, CredentialsProblem>,
    /// The problem may go away without any change the operator would see (the Secret was not
    /// readable: RBAC may be fixed): look again after a backoff.
    pub retry: bool,
}

/// The credentials in Secret `name` of the watch's namespace, read from the API only when the
/// table has nothing current for it. Only the API failing is an error; a missing or unusable
/// Secret is a [`CredentialsProblem`].
pub async fn resolve(
    ctx: &Context,
    key: &WatchKey,
    uid: Option<&str>,
    name: &str,
    endpoint: EndpointSource<'_>,
) -> Result<Resolved> {
    if !is_dns1123_subdomain(name) {
        return Ok(Resolved {
            version: None,
            credentials: Err(invalid_secret_name(name)),
            retry: false,
        });
    }
    let secret = SecretKey {
        namespace: key.namespace.clone(),
        name: name.to_string(),
    };
    let read = match ctx.state.cached_secret(key, uid, &secret) {
        Ok(read) => read,
        Err(ticket) => match read_secret(&ctx.client, &secret).await {
            Ok(read) => {
                ctx.state.store_secret(secret, read.clone(), ticket);
                read
            }
            Err(Error::SecretRead {
                source: kube::Error::Api(status),
                ..
            }) if status.code == 403 => {
                return Ok(Resolved {
                    version: None,
                    credentials: Err(secret_forbidden(&key.namespace, name)),
                    retry: true,
                })
            }
            Err(error) => return Err(error),
        },
    };
    let credentials = match read.version {
        None => Err(secret_not_found(&key.namespace, name)),
        Some(_) => credentials_from_data(name, &read.data, endpoint),
    };
    Ok(Resolved {
        version: read.version,
        credentials,
        retry: false,
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
