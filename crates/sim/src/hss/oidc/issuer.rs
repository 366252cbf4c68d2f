//! A stand-in OpenID Connect issuer for tests and demos: one RSA key, its JWKS, and RS256
//! JWTs shaped like Kubernetes ServiceAccount tokens (what the TokenRequest API returns).

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::super::SimError;

/// `system:serviceaccount:<namespace>:<name>`, the `sub` of a ServiceAccount token.
pub fn service_account_subject(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// An issuer with a freshly generated 2048-bit RSA key. Key generation takes a moment: make
/// one per test binary and share it.
pub struct TestIssuer {
    issuer: String,
    kid: String,
    key: EncodingKey,
    jwk: Value,
}

impl std::fmt::Debug for TestIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestIssuer")
            .field("issuer", &self.issuer)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl TestIssuer {
    pub fn generate(issuer: impl Into<String>) -> Result<Self, SimError> {
        let failed =
            |what: &str, e: &dyn std::fmt::Display| SimError::Issuer(format!("cannot {what}: {e}"));
        let private = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
            .map_err(|e| failed("generate an RSA key", &e))?;
        let der = private
            .to_pkcs1_der()
            .map_err(|e| failed("encode the RSA key", &e))?;
        let key = EncodingKey::from_rsa_der(der.as_bytes());
        let n = private.n().to_bytes_be();
        let e = private.e().to_bytes_be();
        // Like the kube-apiserver: the kid is derived from the public key, so it is stable
        // for the key and differs between keys.
        let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest(&n)[..16]);
        let jwk = json!({
            "use": "sig",
            "kty": "RSA",
            "kid": kid,
            "alg": "RS256",
            "n": URL_SAFE_NO_PAD.encode(&n),
            "e": URL_SAFE_NO_PAD.encode(&e),
        });
        Ok(Self {
            issuer: issuer.into(),
            kid,
            key,
            jwk,
        })
    }

    /// The `iss` of the tokens.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The `kid` of the key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// `{"keys": [<the key>]}`, as a kube-apiserver serves at `/openid/v1/jwks`.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk.clone()] })
    }

    /// An RS256 JWT of `claims` whose header names this issuer's `kid`.
    pub fn sign(&self, claims: &Value) -> Result<String, SimError> {
        self.sign_with_kid(claims, Some(&self.kid))
    }

    /// An RS256 JWT of `claims` with `kid` (or none) in its header: for tests of key lookup.
    pub fn sign_with_kid(&self, claims: &Value, kid: Option<&str>) -> Result<String, SimError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = kid.map(str::to_string);
        encode(&header, claims, &self.key)
            .map_err(|e| SimError::Issuer(format!("cannot sign a token: {e}")))
    }

    /// The claims of a ServiceAccount token (`iss`, `sub`, `aud`, `exp`, `iat`, `nbf` and the
    /// `kubernetes.io` object) valid for `ttl` from now. Edit them to make bad tokens.
    pub fn service_account_claims(
        &self,
        namespace: &str,
        name: &str,
        audience: &str,
        ttl: Duration,
    ) -> Value {
        let now = jiff::Timestamp::now().as_second();
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2);
        json!({
            "iss": self.issuer,
            "sub": service_account_subject(namespace, name),
            "aud": [audience],
            "iat": now,
            "nbf": now,
            "exp": now.saturating_add(ttl),
            "kubernetes.io": {
                "namespace": namespace,
                "serviceaccount": {"name": name, "uid": format!("{:032x}", rand::random::<u128>())},
            },
        })
    }

    /// A signed ServiceAccount token (see [`TestIssuer::service_account_claims`]).
    pub fn service_account_token(
        &self,
        namespace: &str,
        name: &str,
        audience: &str,
        ttl: Duration,
    ) -> Result<String, SimError> {
        self.sign(&self.service_account_claims(namespace, name, audience, ttl))
    }
}
