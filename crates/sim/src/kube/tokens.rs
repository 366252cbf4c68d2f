//! ServiceAccount tokens, as a kube-apiserver issues and publishes them:
//! - `POST /api/v1/namespaces/{ns}/serviceaccounts/{name}/token` (TokenRequest) answers 201 with
//!   an RS256 JWT in `status.token`: `iss` the issuer, `sub`
//!   `system:serviceaccount:<ns>:<name>`, `aud` the requested audiences (default: the issuer,
//!   as the API server's `--api-audiences` default to `--service-account-issuer`), `exp`
//!   `expirationSeconds` ahead (default 3600, at least 600: the real server refuses less with
//!   422), `iat`, `nbf`, and the `kubernetes.io` object; 404 when the ServiceAccount does not
//!   exist.
//! - `GET /openid/v1/jwks` the key set and `GET /.well-known/openid-configuration` the
//!   discovery document.
//!
//! The key is generated on first use (a 2048-bit RSA key takes a moment).

use std::sync::OnceLock;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::status::{json_response, ApiError, Subject};
use super::store::{ObjKey, State};
use super::validation::field::{invalid, FieldError};
use crate::hss::oidc::TestIssuer;

/// The issuer of the stand-in's tokens (the real default of kubeadm and envtest clusters).
pub const ISSUER: &str = "https://kubernetes.default.svc";

const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;
const MIN_EXPIRATION_SECONDS: i64 = 600;

/// The stand-in's signing key, made on first use.
#[derive(Default)]
pub struct Signer {
    issuer: OnceLock<Result<TestIssuer, String>>,
}

impl Signer {
    fn issuer(&self) -> Result<&TestIssuer, ApiError> {
        self.issuer
            .get_or_init(|| TestIssuer::generate(ISSUER).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| ApiError::new(500, "InternalError", e.clone()))
    }

    /// The claims of a token this signer issued, if it verifies: RS256 with this key, `iss` the
    /// stand-in, `aud` holding the API server's audience (the issuer), not expired.
    pub fn verify(&self, token: &str) -> Option<Value> {
        let issuer = self.issuer().ok()?;
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.kid.as_deref() != Some(issuer.kid()) {
            return None;
        }
        let jwk = issuer.jwks()["keys"][0].clone();
        let key =
            jsonwebtoken::DecodingKey::from_rsa_components(jwk["n"].as_str()?, jwk["e"].as_str()?)
                .ok()?;
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[ISSUER]);
        jsonwebtoken::decode::<Value>(token, &key, &validation)
            .ok()
            .map(|d| d.claims)
    }

    /// `GET /openid/v1/jwks`.
    pub fn jwks(&self) -> Result<Response, ApiError> {
        Ok((
            StatusCode::OK,
            [("content-type", "application/jwk-set+json")],
            self.issuer()?.jwks().to_string(),
        )
            .into_response())
    }

    /// `GET /.well-known/openid-configuration`; `base` is the server's own URL.
    pub fn discovery(&self, base: &str) -> Result<Response, ApiError> {
        let issuer = self.issuer()?;
        Ok(json_response(
            StatusCode::OK,
            &json!({
                "issuer": issuer.issuer(),
                "jwks_uri": format!("{}/openid/v1/jwks", base.trim_end_matches('/')),
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }),
        ))
    }

    /// `POST .../serviceaccounts/{name}/token` with a TokenRequest `body`.
    pub fn token_request(
        &self,
        state: &State,
        namespace: &str,
        name: &str,
        body: &Value,
    ) -> Result<Response, ApiError> {
        let key = ObjKey {
            group: String::new(),
            plural: "serviceaccounts".to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        };
        let account = state.objects.get(&key).ok_or_else(|| {
            ApiError::not_found(&Subject {
                group: "",
                plural: "serviceaccounts",
                name,
            })
        })?;
        let issuer = self.issuer()?;
        let spec = body.get("spec").cloned().unwrap_or(Value::Null);
        let audiences: Vec<String> = match spec.get("audiences").and_then(Value::as_array) {
            Some(list) if !list.is_empty() => list
                .iter()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect(),
            _ => vec![issuer.issuer().to_string()],
        };
        let expiration = spec
            .get("expirationSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(DEFAULT_EXPIRATION_SECONDS);
        if expiration < MIN_EXPIRATION_SECONDS {
            return Err(invalid(
                "authentication.k8s.io",
                "TokenRequest",
                name,
                &[FieldError::invalid(
                    "spec.expirationSeconds",
                    json!(expiration),
                    "may not specify a duration less than 10 minutes",
                )],
            ));
        }
        let ttl = Duration::from_secs(u64::try_from(expiration).unwrap_or(0));
        let mut claims = issuer.service_account_claims(
            namespace,
            name,
            audiences.first().map_or("", |a| a),
            ttl,
        );
        claims["aud"] = json!(audiences);
        claims["jti"] = json!(format!("{:032x}", rand::random::<u128>()));
        if let Some(uid) = account.pointer("/metadata/uid") {
            claims["kubernetes.io"]["serviceaccount"]["uid"] = uid.clone();
        }
        let token = issuer
            .sign(&claims)
            .map_err(|e| ApiError::new(500, "InternalError", e.to_string()))?;
        let expires = jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::from_secs(expiration))
            .map(|t| t.to_string())
            .unwrap_or_default();
        Ok(json_response(
            StatusCode::CREATED,
            &json!({
                "kind": "TokenRequest",
                "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"audiences": audiences, "expirationSeconds": expiration},
                "status": {"token": token, "expirationTimestamp": expires},
            }),
        ))
    }
}
