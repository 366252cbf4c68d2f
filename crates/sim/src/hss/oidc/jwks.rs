//! Signing keys of an identity provider: a JWKS document parsed into RS256 verification
//! keys, given inline or fetched once from a URL (a kube-apiserver's `/openid/v1/jwks`).

use std::time::Duration;

use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use serde_json::Value;

use super::config::{JwksSource, JwksUrl};

/// The RS256 keys of one provider, by `kid`.
#[derive(Clone)]
pub(crate) struct KeySet {
    keys: Vec<(Option<String>, DecodingKey)>,
}

/// The fields of a JWK that matter here; anything else (`x5c`, `key_ops`...) is ignored.
#[derive(Deserialize)]
struct RsaJwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default, rename = "use")]
    usage: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
}

impl KeySet {
    /// The RSA signing keys of a JWKS document. Keys of other types (a cluster may sign with
    /// ECDSA), encryption keys and keys for other algorithms are skipped; a document without
    /// a single usable key is an error, so a misconfiguration shows when it is made.
    pub(crate) fn parse(document: &Value) -> Result<Self, String> {
        let entries = document
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("the JWKS has no \"keys\" array")?;
        let mut keys = Vec::new();
        for entry in entries {
            let Ok(jwk) = serde_json::from_value::<RsaJwk>(entry.clone()) else {
                continue;
            };
            let usable = jwk.kty == "RSA"
                && jwk.usage.as_deref().is_none_or(|u| u == "sig")
                && jwk.alg.as_deref().is_none_or(|a| a == "RS256");
            let (Some(n), Some(e)) = (jwk.n.as_deref(), jwk.e.as_deref()) else {
                continue;
            };
            if !usable {
                continue;
            }
            let key = DecodingKey::from_rsa_components(n, e)
                .map_err(|err| format!("JWKS key {:?} is not a valid RSA key: {err}", jwk.kid))?;
            keys.push((jwk.kid, key));
        }
        if keys.is_empty() {
            return Err(format!(
                "the JWKS holds no RS256 signing key ({} key(s) of other kinds)",
                entries.len()
            ));
        }
        Ok(Self { keys })
    }

    /// The key a token's `kid` names; a token without `kid` may use the only key there is.
    pub(crate) fn get(&self, kid: Option<&str>) -> Option<&DecodingKey> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|(k, _)| k.as_deref() == Some(kid))
                .map(|(_, key)| key),
            None if self.keys.len() == 1 => self.keys.first().map(|(_, key)| key),
            None => None,
        }
    }

    /// The key ids, for the admin API.
    pub(crate) fn kids(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|(kid, _)| kid.clone().unwrap_or_default())
            .collect()
    }
}

/// The keys of `source`, fetching them when they live at a URL.
pub(crate) async fn resolve(source: &JwksSource) -> Result<KeySet, String> {
    match source {
        JwksSource::Inline(document) => KeySet::parse(document),
        JwksSource::Url(url) => KeySet::parse(&fetch(url).await?),
    }
}

async fn read_file(path: &str, what: &str) -> Result<String, String> {
    tokio::fs::read_to_string(path)
        .await
        .map_err(|e| format!("cannot read the {what} file {path}: {e}"))
}

async fn fetch(source: &JwksUrl) -> Result<Value, String> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30));
    let ca = match (&source.ca_pem, &source.ca_file) {
        (Some(pem), _) => Some(pem.clone()),
        (None, Some(path)) => Some(read_file(path, "CA bundle").await?),
        (None, None) => None,
    };
    if let Some(pem) = ca {
        let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
            .map_err(|e| format!("the JWKS CA bundle is not valid PEM: {e}"))?;
        if certs.is_empty() {
            return Err("the JWKS CA bundle holds no certificate".into());
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    let client = builder
        .build()
        .map_err(|e| format!("cannot build the JWKS HTTP client: {e}"))?;
    let bearer = match (&source.bearer_token, &source.bearer_token_file) {
        (Some(token), _) => Some(token.trim().to_string()),
        (None, Some(path)) => Some(read_file(path, "bearer token").await?.trim().to_string()),
        (None, None) => None,
    };
    let mut request = client
        .get(&source.url)
        .header("Accept", "application/jwk-set+json, application/json");
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    // reqwest's errors name the URL, never the headers: the bearer token stays out.
    let response = request
        .send()
        .await
        .map_err(|e| format!("cannot fetch the JWKS from {}: {e}", source.url))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("cannot read the JWKS from {}: {e}", source.url))?;
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body);
        let excerpt: String = text.chars().take(300).collect();
        return Err(format!(
            "GET {} answered HTTP {}: {excerpt} (a kube-apiserver wants a bearer token of a \
             user RBAC lets read /openid/v1/jwks, e.g. from `kubectl create token`)",
            source.url,
            status.as_u16()
        ));
    }
    serde_json::from_slice(&body)
        .map_err(|e| format!("the JWKS from {} is not JSON: {e}", source.url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rs256_signing_keys_are_kept() {
        let doc = serde_json::json!({"keys": [
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "ps", "alg": "PS256", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "sig", "use": "sig", "alg": "RS256", "n": "AQAB", "e": "AQAB"}
        ]});
        let set = KeySet::parse(&doc).expect("one key");
        assert_eq!(set.kids(), vec!["sig".to_string()]);
        assert!(set.get(Some("sig")).is_some());
        assert!(set.get(Some("ec")).is_none());
        // Without kid, the only key is used.
        assert!(set.get(None).is_some());
        assert!(KeySet::parse(&serde_json::json!({"keys": []})).is_err());
        assert!(KeySet::parse(&serde_json::json!({})).is_err());
    }
}
