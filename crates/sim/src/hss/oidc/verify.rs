//! Verifying an id token against an identity provider, in the order IAM would have to: the
//! provider exists and is enabled, the JWT is RS256 and signed by a key of the provider's
//! JWKS named by its `kid`, `iss` is the provider's issuer, `aud` holds its client id,
//! `exp` / `nbf` hold (with [`LEEWAY_SECONDS`]), and a conversion rule maps `sub`.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, decode_header, Algorithm, Validation};
use serde::Deserialize;

use super::config::IdentityProviderConfig;
use super::jwks::KeySet;

/// Clock skew tolerated on `exp` and `nbf`: small, so an expired token is refused promptly.
pub const LEEWAY_SECONDS: i64 = 30;

/// A provider with its keys resolved (fetched once when it was configured).
#[derive(Clone)]
pub(crate) struct ResolvedIdp {
    pub config: IdentityProviderConfig,
    pub keys: KeySet,
}

/// Why an exchange was refused; [`ExchangeRefusal::as_str`] keys the
/// `id_token_refusals` counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeRefusal {
    /// No usable body, no `X-Idp-Id`, or a scope other than one project.
    MalformedRequest,
    /// The scope names another project than the simulator's.
    UnknownProject,
    UnknownIdentityProvider,
    IdentityProviderDisabled,
    /// Not a JWT (three base64url parts with JSON header and claims).
    MalformedToken,
    /// `alg` other than RS256.
    UnsupportedAlgorithm,
    /// No key of the JWKS has the token's `kid`.
    UnknownKeyId,
    BadSignature,
    WrongIssuer,
    WrongAudience,
    /// `sub`, `iss`, `aud` or `exp` is missing.
    MissingClaim,
    Expired,
    NotYetValid,
    /// No conversion rule matches `sub`.
    UnmappedSubject,
}

impl ExchangeRefusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MalformedRequest => "malformed_request",
            Self::UnknownProject => "unknown_project",
            Self::UnknownIdentityProvider => "unknown_identity_provider",
            Self::IdentityProviderDisabled => "identity_provider_disabled",
            Self::MalformedToken => "malformed_token",
            Self::UnsupportedAlgorithm => "unsupported_algorithm",
            Self::UnknownKeyId => "unknown_kid",
            Self::BadSignature => "bad_signature",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::MissingClaim => "missing_claim",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::UnmappedSubject => "unmapped_subject",
        }
    }

    /// The HTTP status IAM answers with (see the module doc of `exchange` for the choice).
    pub fn status(self) -> u16 {
        match self {
            Self::MalformedRequest | Self::UnknownProject => 400,
            Self::UnknownIdentityProvider => 404,
            Self::IdentityProviderDisabled | Self::UnmappedSubject => 403,
            Self::MalformedToken
            | Self::UnsupportedAlgorithm
            | Self::UnknownKeyId
            | Self::BadSignature
            | Self::WrongIssuer
            | Self::WrongAudience
            | Self::MissingClaim
            | Self::Expired
            | Self::NotYetValid => 401,
        }
    }
}

/// A refusal and the message IAM answers with (never containing the token).
#[derive(Debug, Clone)]
pub(crate) struct Refused {
    pub kind: ExchangeRefusal,
    pub message: String,
}

pub(crate) fn refused(kind: ExchangeRefusal, message: impl Into<String>) -> Refused {
    Refused {
        kind,
        message: message.into(),
    }
}

/// Who a verified token is.
#[derive(Debug, Clone)]
pub(crate) struct Verified {
    pub subject: String,
    pub user: String,
    pub group: String,
}

/// Optional fields: jsonwebtoken deserializes the claims before it checks the required
/// ones, and a missing claim should be reported as such, not as a malformed token.
#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    exp: Option<f64>,
    #[serde(default)]
    nbf: Option<f64>,
}

/// Verifies `jwt` for `idp` at `now` (the simulator's clock, so a clock-offset fault also
/// moves token expiry).
pub(crate) fn verify(
    idp: &ResolvedIdp,
    jwt: &str,
    now: jiff::Timestamp,
) -> Result<Verified, Refused> {
    let config = &idp.config;
    if !config.enabled {
        return Err(refused(
            ExchangeRefusal::IdentityProviderDisabled,
            format!("The identity provider {} is disabled.", config.id),
        ));
    }
    let header = decode_header(jwt).map_err(|_| {
        refused(
            ExchangeRefusal::MalformedToken,
            "The id_token is not a valid JWT.",
        )
    })?;
    if header.alg != Algorithm::RS256 {
        return Err(refused(
            ExchangeRefusal::UnsupportedAlgorithm,
            format!(
                "The id_token algorithm {:?} is not supported, only RS256.",
                header.alg
            ),
        ));
    }
    let key = idp.keys.get(header.kid.as_deref()).ok_or_else(|| {
        refused(
            ExchangeRefusal::UnknownKeyId,
            format!(
                "No signing key of identity provider {} has the kid {:?} of the id_token.",
                config.id,
                header.kid.as_deref().unwrap_or("")
            ),
        )
    })?;
    let mut validation = Validation::new(Algorithm::RS256);
    // Time is checked below against the simulator's clock, not the host's.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.set_issuer(&[config.issuer.as_str()]);
    validation.set_audience(&[config.client_id.as_str()]);
    let claims = decode::<Claims>(jwt, key, &validation)
        .map_err(|e| claim_refusal(e.kind(), config))?
        .claims;
    let missing = |claim: &str| {
        refused(
            ExchangeRefusal::MissingClaim,
            format!("The id_token has no {claim} claim."),
        )
    };
    let sub = claims.sub.ok_or_else(|| missing("sub"))?;
    let exp = claims.exp.ok_or_else(|| missing("exp"))?;
    let now_s = now.as_second() as f64;
    if exp + (LEEWAY_SECONDS as f64) <= now_s {
        return Err(refused(
            ExchangeRefusal::Expired,
            "The id_token has expired.",
        ));
    }
    if claims
        .nbf
        .is_some_and(|nbf| nbf > now_s + LEEWAY_SECONDS as f64)
    {
        return Err(refused(
            ExchangeRefusal::NotYetValid,
            "The id_token is not valid yet (nbf is in the future).",
        ));
    }
    let rule = config.rule_for(&sub).ok_or_else(|| {
        refused(
            ExchangeRefusal::UnmappedSubject,
            format!(
                "No identity conversion rule of identity provider {} matches the subject {}.",
                config.id, sub
            ),
        )
    })?;
    Ok(Verified {
        user: rule.user.clone().unwrap_or_else(|| sub.clone()),
        group: rule.group.clone(),
        subject: sub,
    })
}

fn claim_refusal(kind: &ErrorKind, config: &IdentityProviderConfig) -> Refused {
    match kind {
        ErrorKind::InvalidSignature | ErrorKind::InvalidRsaKey(_) => refused(
            ExchangeRefusal::BadSignature,
            "The signature of the id_token could not be verified.",
        ),
        ErrorKind::InvalidAlgorithm => refused(
            ExchangeRefusal::UnsupportedAlgorithm,
            "The id_token algorithm is not supported, only RS256.",
        ),
        ErrorKind::InvalidIssuer => refused(
            ExchangeRefusal::WrongIssuer,
            format!(
                "The issuer of the id_token is not {} (identity provider {}).",
                config.issuer, config.id
            ),
        ),
        ErrorKind::InvalidAudience => refused(
            ExchangeRefusal::WrongAudience,
            format!(
                "The audience of the id_token does not contain the client id {} of identity provider {}.",
                config.client_id, config.id
            ),
        ),
        ErrorKind::MissingRequiredClaim(claim) => refused(
            ExchangeRefusal::MissingClaim,
            format!("The id_token has no {claim} claim."),
        ),
        _ => refused(
            ExchangeRefusal::MalformedToken,
            "The id_token is not a valid JWT.",
        ),
    }
}
