//! The API gateway's authentication of `ListHostsRisk` calls: AK/SK signatures and tokens.
//!
//! Behaviour copied from hss-api.md "Authentication" and "Errors":
//! - `Authorization: SDK-HMAC-SHA256 Access=.., SignedHeaders=.., Signature=..` is checked
//!   first; without it, `X-Auth-Token` is checked; with neither the call is refused.
//! - The access key must be known; `x-sdk-date` and `host` must be among the signed headers
//!   (step 3); the date must be within 15 minutes of the simulator's clock (step 1).
//! - The signature is recomputed the way the gateway does: the exact wire path (canonical
//!   URI, step 4), the canonical form of the query pairs *as received* (step 6: so a client
//!   that sends an unsorted query but signed its canonical form still verifies, while a pair
//!   added, removed or changed after signing breaks the signature), each signed header's
//!   value as received (step 7), and the body hash (step 8). The comparison is constant-time.
//! - Temporary keys (with a security token) require `X-Security-Token` signed and equal to
//!   the token issued with the key (step 3).
//! - Every failure is 401 `APIGW.0301`; a date too far off is also `APIGW.0301`, because
//!   hss-api.md documents no separate code for it (the message says what was wrong).
//! - `X-Project-Id`, when sent, must name the project in the path, else 403 `APIGW.0310`
//!   ("project unavailable", the documented 403 of the gateway). A project-scoped IAM token
//!   used on another project gets the same 403.
//! - IAM tokens expire (`token.expires_at`); an expired one gets 401 `APIGW.0307`; an unknown
//!   one 401 `APIGW.0301`. Static tokens from the configuration never expire.
//!
//! The simulated gateway never locks a key after repeated failures (hss-api.md warns the real
//! one may): clients must not depend on that either way.

use axum::http::HeaderMap;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::SignedDuration;

use super::errors::ApiFailure;
use super::state::{lock, SimState};
use hostrisk_hss::sign::{
    canonical_query, constant_time_eq, expected_signature, parse_authorization, parse_query,
    SigningRequest, ALGORITHM, SDK_DATE_FORMAT,
};

/// Largest accepted distance between `X-Sdk-Date` and the gateway clock.
pub const MAX_DATE_SKEW: SignedDuration = SignedDuration::from_secs(15 * 60);

/// The request as it arrived, with everything the signature covers.
pub(crate) struct WireRequest<'a> {
    pub method: &'a str,
    pub wire_path: &'a str,
    pub raw_query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    /// The project id from the path, decoded.
    pub project_id: &'a str,
    /// The request URI's authority, which stands in for `Host` when the request carried it
    /// there instead of in a header (HTTP/2 `:authority`).
    pub authority: Option<&'a str>,
}

/// Who made an authenticated call; the key of quotas and counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity(pub String);

pub(crate) fn authenticate(
    state: &SimState,
    request: &WireRequest<'_>,
) -> Result<Identity, ApiFailure> {
    let authorization = header_str(request.headers, "authorization")?;
    let identity = match authorization {
        Some(value) if value.starts_with(ALGORITHM) => verify_signature(state, request, value)?,
        Some(_) => {
            return Err(ApiFailure::bad_credentials(
                "the Authorization header is not SDK-HMAC-SHA256",
            ))
        }
        None => match header_str(request.headers, "x-auth-token")? {
            Some(token) => verify_token(state, request.project_id, token)?,
            None => {
                return Err(ApiFailure::bad_credentials(
                    "neither an Authorization nor an X-Auth-Token header was sent",
                ))
            }
        },
    };
    if let Some(project) = header_str(request.headers, "x-project-id")? {
        if project != request.project_id {
            return Err(ApiFailure::project_unavailable(
                "X-Project-Id does not match the project in the URL",
            ));
        }
    }
    Ok(identity)
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, ApiFailure> {
    match headers.get(name) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(Some)
            .map_err(|_| ApiFailure::bad_credentials(&format!("header {name} is not ASCII"))),
    }
}

fn verify_signature(
    state: &SimState,
    request: &WireRequest<'_>,
    authorization: &str,
) -> Result<Identity, ApiFailure> {
    let parsed = parse_authorization(authorization)
        .ok_or_else(|| ApiFailure::bad_credentials("malformed Authorization header"))?;
    let credential = state
        .access_keys
        .iter()
        .find(|c| c.access_key == parsed.access_key)
        .ok_or_else(|| ApiFailure::bad_credentials("the access key does not exist"))?;
    for required in ["x-sdk-date", "host"] {
        if !parsed.signed_headers.iter().any(|h| h == required) {
            return Err(ApiFailure::bad_credentials(&format!(
                "{required} is not a signed header"
            )));
        }
    }
    let sdk_date = header_str(request.headers, "x-sdk-date")?
        .ok_or_else(|| ApiFailure::bad_credentials("X-Sdk-Date header not found"))?;
    check_date(state, sdk_date)?;
    if let Some(expected_token) = &credential.security_token {
        if !parsed
            .signed_headers
            .iter()
            .any(|h| h == "x-security-token")
        {
            return Err(ApiFailure::bad_credentials(
                "a temporary access key needs a signed X-Security-Token",
            ));
        }
        let sent = header_str(request.headers, "x-security-token")?.unwrap_or_default();
        if !constant_time_eq(sent, expected_token) {
            return Err(ApiFailure::bad_credentials(
                "the security token does not belong to the access key",
            ));
        }
    }
    let mut signed = Vec::with_capacity(parsed.signed_headers.len());
    for name in &parsed.signed_headers {
        let value = header_str(request.headers, name)?
            .or(if name == "host" {
                request.authority
            } else {
                None
            })
            .ok_or_else(|| {
                ApiFailure::bad_credentials(&format!("signed header {name} was not sent"))
            })?;
        signed.push((name.clone(), value.to_string()));
    }
    let canonical = canonical_query(&parse_query(request.raw_query));
    let signing = SigningRequest {
        method: request.method,
        wire_path: request.wire_path,
        canonical_query: &canonical,
        headers: &signed,
        body: request.body,
    };
    let expected = expected_signature(
        credential.secret_key.as_bytes(),
        sdk_date,
        &signing,
        &parsed.signed_headers,
    );
    if !constant_time_eq(&expected, &parsed.signature) {
        return Err(ApiFailure::bad_credentials(
            "verify aksk signature fail, please check your secret key and the signing process",
        ));
    }
    Ok(Identity(format!("ak:{}", credential.access_key)))
}

fn check_date(state: &SimState, sdk_date: &str) -> Result<(), ApiFailure> {
    let sent = DateTime::strptime(SDK_DATE_FORMAT, sdk_date)
        .ok()
        .and_then(|dt| dt.to_zoned(TimeZone::UTC).ok())
        .map(|zoned| zoned.timestamp())
        .ok_or_else(|| {
            ApiFailure::bad_credentials("X-Sdk-Date is not in the format YYYYMMDDTHHMMSSZ")
        })?;
    let skew = state.now().duration_since(sent).abs();
    if skew > MAX_DATE_SKEW {
        return Err(ApiFailure::bad_credentials(
            "X-Sdk-Date is more than 15 minutes away from the server time",
        ));
    }
    Ok(())
}

fn verify_token(state: &SimState, project_id: &str, token: &str) -> Result<Identity, ApiFailure> {
    if let Some(index) = state
        .static_tokens
        .iter()
        .position(|t| constant_time_eq(t, token))
    {
        if project_id != state.project_id {
            return Err(ApiFailure::project_unavailable(
                "the token is not scoped to this project",
            ));
        }
        return Ok(Identity(format!("static-token:{index}")));
    }
    let issued = lock(&state.tokens).get(token).cloned();
    let issued = issued.ok_or_else(|| ApiFailure::bad_credentials("verify token failed"))?;
    if state.now() >= issued.expires_at {
        return Err(ApiFailure::token_expired());
    }
    if issued.project_id != project_id {
        return Err(ApiFailure::project_unavailable(
            "the token is not scoped to this project",
        ));
    }
    Ok(Identity(issued.identity))
}
