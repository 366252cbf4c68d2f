//! The one error type of the HSS layer. Each variant carries the `X-Request-Id` when the
//! service sent one, prints a message a person can act on, and has a short CamelCase
//! [`HssError::reason`] for conditions and metric labels.

use std::time::Duration;

use super::id_token_source::IdTokenError;

/// What an error answer of HSS, the API gateway or IAM says about itself: the error code
/// (`APIGW.0301`, `HSS.0001`), its message and the `X-Request-Id`, each as far as it was sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorBody {
    pub code: Option<String>,
    pub message: Option<String>,
    pub request_id: Option<String>,
}

impl ErrorBody {
    /// Formats `code: message` as far as they are known.
    fn code_and_message(&self) -> String {
        match (&self.code, &self.message) {
            (Some(code), Some(msg)) => format!("{code}: {msg}"),
            (Some(code), None) => code.clone(),
            (None, Some(msg)) => msg.clone(),
            (None, None) => "no error body".to_string(),
        }
    }

    /// Formats ` (request id X)` when there is one.
    fn request_id_suffix(&self) -> String {
        self.request_id
            .as_ref()
            .map(|id| format!(" (request id {id})"))
            .unwrap_or_default()
    }
}

/// The credential kind involved in an authentication failure, to point at the right fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    AkSk,
    Token,
    Iam,
    /// An IAM token obtained by exchanging an id token (workload identity).
    IdToken,
}

impl AuthKind {
    fn hint(self) -> &'static str {
        match self {
            Self::AkSk => "check accessKey/secretKey (and securityToken for temporary keys) in the Secret, and the clock of this machine",
            Self::Token => "the static auth token is invalid or expired: provide a new authToken",
            Self::Iam => "check username/password/domainName in the Secret and that the user may access the project",
            Self::IdToken => "the IAM token obtained with the id token was refused: check that the identity provider's conversion rules give the mapped user group access to the project",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HssError {
    /// 401 from HSS: bad keys, bad signature, expired or invalid token.
    #[error("HSS rejected the credentials ({}): {}{}", body.code_and_message(), auth.hint(), body.request_id_suffix())]
    Authentication { auth: AuthKind, body: ErrorBody },
    /// 429: the per-credential quota (5 calls/min) or the API quota is exhausted.
    #[error("HSS throttled the call ({}){}: lower the call rate for this credential or poll less often{}",
        body.code_and_message(),
        retry_after.map(|d| format!(", retry after {}s", d.as_secs())).unwrap_or_default(),
        body.request_id_suffix())]
    Throttled {
        retry_after: Option<Duration>,
        body: ErrorBody,
    },
    /// 403: project unavailable, HSS not enabled, or the user lacks HSS permissions.
    #[error("HSS refused access ({}): check that the project id is right, HSS is enabled for it and the user has HSS read permissions{}", .0.code_and_message(), .0.request_id_suffix())]
    Forbidden(ErrorBody),
    /// 400: a parameter the service does not accept (ids too long, bad enterprise project).
    #[error(
        "HSS rejected the request as invalid ({}): check the host ids and enterprise project id{}",
        .0.code_and_message(),
        .0.request_id_suffix()
    )]
    BadRequest(ErrorBody),
    /// 404: no such API at this endpoint (wrong endpoint or path prefix).
    #[error("HSS answered 404 ({}): the endpoint does not serve ListHostsRisk, check the region or endpoint URL{}", .0.code_and_message(), .0.request_id_suffix())]
    NotFound(ErrorBody),
    /// 5xx after all retries.
    #[error("HSS is failing (HTTP {status}, {}): the service or a proxy in front of it is unavailable, it will be retried later{}", body.code_and_message(), body.request_id_suffix())]
    Server { status: u16, body: ErrorBody },
    /// Any other status (3xx redirects are not followed: signed headers stay with their host).
    #[error(
        "HSS answered an unexpected HTTP {status} ({}): check the endpoint URL{}",
        body.code_and_message(),
        body.request_id_suffix()
    )]
    UnexpectedStatus { status: u16, body: ErrorBody },
    /// Connection refused, DNS, TLS, reset: nothing usable came back.
    #[error(
        "cannot reach {target}: {message}: check the endpoint, DNS, network policy and CA bundle"
    )]
    Transport { target: String, message: String },
    /// The endpoint's certificate did not verify (unknown CA, another host name, expired).
    /// Retrying cannot help, and verification cannot be turned off.
    #[error(
        "TLS verification of {target} failed: {message}: if the endpoint uses a private CA, give \
         its PEM bundle (--ca-bundle); verification cannot be turned off"
    )]
    TlsVerification { target: String, message: String },
    /// Connect or request timeout.
    #[error("{target} did not answer in time: {message}")]
    Timeout { target: String, message: String },
    /// A 2xx whose body is not the documented JSON.
    #[error(
        "HSS answer could not be decoded: {message}{}",
        request_id.as_ref().map(|id| format!(" (request id {id})")).unwrap_or_default()
    )]
    Decode {
        message: String,
        request_id: Option<String>,
    },
    /// Local problem with the endpoint, project or enterprise project.
    #[error("invalid HSS scope: {message}")]
    InvalidScope { message: String },
    /// Local problem with the credentials (missing or empty parts).
    #[error("invalid credentials: {message}")]
    InvalidCredentials { message: String },
    /// Local problem with the client configuration (CA bundle, timeouts).
    #[error("invalid HSS client configuration: {message}")]
    InvalidConfig { message: String },
    /// Getting an IAM token failed (`status` is `None` when IAM could not be reached).
    #[error("IAM token request to {endpoint} failed{}: {}{}{}",
        status.map(|s| format!(" with HTTP {s}")).unwrap_or_default(),
        body.code_and_message(),
        if status.is_some_and(|s| matches!(s, 400 | 401 | 403)) { "; check username/password/domainName and the project id" } else { "" },
        body.request_id_suffix())]
    Iam {
        endpoint: String,
        status: Option<u16>,
        body: ErrorBody,
    },
    /// IAM refused to exchange an id token (a 4xx answer other than 408/429). Never retried:
    /// the same token would be refused again, and the fix is in IAM's or the cluster's
    /// configuration. Boxed: the error type stays small on every `Result` of the crate.
    #[error("{0}")]
    IdentityExchangeRefused(Box<RefusedExchange>),
    /// The id token source could not produce a token (for the operator: the ServiceAccount
    /// is missing, the audience is not allowed, the API server refused the TokenRequest).
    #[error("cannot get an id token for {subject}: {error}")]
    IdTokenSource {
        subject: String,
        error: IdTokenError,
    },
}

/// What IAM said when it refused an id-token exchange ([`HssError::IdentityExchangeRefused`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("IAM at {endpoint} refused to exchange the id token of {subject} with identity provider {identity_provider_id} (HTTP {status}, {}): check that the identity provider exists and is enabled, that its client id is the token audience, that its issuer and signing keys are the cluster's ServiceAccount issuer and JWKS (kubectl get --raw /openid/v1/jwks), and that a conversion rule maps {subject} to a user group with access to the project{}",
    body.code_and_message(),
    body.request_id_suffix())]
pub struct RefusedExchange {
    /// `scheme://authority` of the IAM endpoint.
    pub endpoint: String,
    pub identity_provider_id: String,
    pub subject: String,
    /// The HTTP status (400, 401, 403, 404...).
    pub status: u16,
    pub body: ErrorBody,
}

impl HssError {
    /// A short CamelCase label for conditions and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Authentication { .. } => "InvalidCredentials",
            Self::Throttled { .. } => "Throttled",
            Self::Forbidden(_) => "Forbidden",
            Self::BadRequest(_) => "BadRequest",
            Self::NotFound(_) => "ApiNotFound",
            Self::Server { .. } | Self::Transport { .. } => "ApiUnavailable",
            Self::UnexpectedStatus { .. } => "UnexpectedResponse",
            Self::Timeout { .. } => "Timeout",
            Self::TlsVerification { .. } => "TlsVerificationFailed",
            Self::Decode { .. } => "DecodeError",
            Self::InvalidScope { .. } => "InvalidScope",
            Self::InvalidCredentials { .. } => "InvalidCredentials",
            Self::InvalidConfig { .. } => "InvalidConfig",
            Self::Iam { status, .. } => match status {
                Some(400 | 401 | 403) => "InvalidCredentials",
                _ => "IamUnavailable",
            },
            Self::IdentityExchangeRefused(_) => "IdentityExchangeRefused",
            Self::IdTokenSource { error, .. } => error.reason,
        }
    }

    /// True for failures a later attempt may not hit: 429, 5xx, transport, timeout, and IAM
    /// being unreachable or failing with 429/5xx. Never for a 401.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Throttled { .. }
            | Self::Server { .. }
            | Self::Transport { .. }
            | Self::Timeout { .. } => true,
            Self::Iam { status, .. } => status.is_none_or(|s| s == 429 || s >= 500),
            Self::IdTokenSource { error, .. } => error.retryable,
            _ => false,
        }
    }

    /// True when the credentials themselves were refused (by HSS or by IAM), or are unusable:
    /// what turns `CredentialsValid` False. An id token source failure counts unless it is
    /// transient (an unreachable API server says nothing about the credentials).
    pub fn is_authentication(&self) -> bool {
        match self {
            Self::IdentityExchangeRefused(_) => true,
            Self::IdTokenSource { error, .. } => !error.retryable,
            other => other.reason() == "InvalidCredentials",
        }
    }

    /// What the error answer said about itself, when there was an answer with a body.
    pub fn body(&self) -> Option<&ErrorBody> {
        match self {
            Self::Authentication { body, .. }
            | Self::Throttled { body, .. }
            | Self::Server { body, .. }
            | Self::UnexpectedStatus { body, .. }
            | Self::Iam { body, .. }
            | Self::Forbidden(body)
            | Self::BadRequest(body)
            | Self::NotFound(body) => Some(body),
            Self::IdentityExchangeRefused(refused) => Some(&refused.body),
            _ => None,
        }
    }

    /// The `X-Request-Id` of the failed answer, when there is one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Decode { request_id, .. } => request_id.as_deref(),
            other => other.body()?.request_id.as_deref(),
        }
    }

    /// The gateway or service error code (`APIGW.0301`, `HSS.0001`), when there is one.
    pub fn code(&self) -> Option<&str> {
        self.body()?.code.as_deref()
    }
}

/// True when `code` is the API gateway code `number` under either prefix
/// (`APIGW.0307` and the older `APIG.0307` are the same error).
pub fn is_gateway_code(code: Option<&str>, number: &str) -> bool {
    code.and_then(|c| c.strip_prefix("APIGW.").or_else(|| c.strip_prefix("APIG.")))
        .is_some_and(|n| n == number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_codes_match_on_the_number() {
        assert!(is_gateway_code(Some("APIGW.0301"), "0301"));
        assert!(is_gateway_code(Some("APIG.0301"), "0301"));
        assert!(!is_gateway_code(Some("HSS.0301"), "0301"));
        assert!(!is_gateway_code(None, "0301"));
    }

    #[test]
    fn messages_name_the_fix_and_request_id() {
        let err = HssError::Authentication {
            auth: AuthKind::AkSk,
            body: ErrorBody {
                code: Some("APIGW.0301".into()),
                message: Some("Incorrect IAM authentication information".into()),
                request_id: Some("req-1".into()),
            },
        };
        let text = err.to_string();
        assert!(text.contains("APIGW.0301"), "{text}");
        assert!(text.contains("accessKey/secretKey"), "{text}");
        assert!(text.contains("req-1"), "{text}");
        assert_eq!(err.reason(), "InvalidCredentials");
        assert!(!err.is_retryable());
        let throttled = HssError::Throttled {
            retry_after: Some(Duration::from_secs(7)),
            body: ErrorBody::default(),
        };
        assert!(throttled.to_string().contains("retry after 7s"));
        assert!(throttled.is_retryable());
    }

    #[test]
    fn iam_reasons_split_credentials_from_outages() {
        let iam = |status| HssError::Iam {
            endpoint: "https://iam.example".into(),
            status,
            body: ErrorBody::default(),
        };
        assert_eq!(iam(Some(401)).reason(), "InvalidCredentials");
        assert!(!iam(Some(401)).is_retryable());
        assert_eq!(iam(Some(503)).reason(), "IamUnavailable");
        assert!(iam(None).is_retryable());
    }
}
