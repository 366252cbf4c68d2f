//! The one error type of the HSS layer. Each variant carries the `X-Request-Id` when the
//! service sent one, prints a message a person can act on, and has a short CamelCase
//! [`HssError::reason`] for conditions and metric labels.

use std::time::Duration;

/// Formats `; request id X` when there is one.
struct RequestIdSuffix<'a>(&'a Option<String>);

impl std::fmt::Display for RequestIdSuffix<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(id) => write!(f, " (request id {id})"),
            None => Ok(()),
        }
    }
}

/// Formats `code: message` as far as they are known.
struct CodeAndMessage<'a>(&'a Option<String>, &'a Option<String>);

impl std::fmt::Display for CodeAndMessage<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.0, self.1) {
            (Some(code), Some(msg)) => write!(f, "{code}: {msg}"),
            (Some(code), None) => f.write_str(code),
            (None, Some(msg)) => f.write_str(msg),
            (None, None) => f.write_str("no error body"),
        }
    }
}

/// The credential kind involved in an authentication failure, to point at the right fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    AkSk,
    Token,
    Iam,
}

impl AuthKind {
    fn hint(self) -> &'static str {
        match self {
            Self::AkSk => "check accessKey/secretKey (and securityToken for temporary keys) in the Secret, and the clock of this machine",
            Self::Token => "the static auth token is invalid or expired: provide a new authToken",
            Self::Iam => "check username/password/domainName in the Secret and that the user may access the project",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HssError {
    /// 401 from HSS: bad keys, bad signature, expired or invalid token.
    #[error("HSS rejected the credentials ({}): {}{}", CodeAndMessage(code, message), auth.hint(), RequestIdSuffix(request_id))]
    Authentication {
        auth: AuthKind,
        code: Option<String>,
        message: Option<String>,
        request_id: Option<String>,
    },
    /// 429: the per-credential quota (5 calls/min) or the API quota is exhausted.
    #[error("HSS throttled the call ({}){}: lower the call rate for this credential or poll less often{}",
        CodeAndMessage(code, message),
        retry_after.map(|d| format!(", retry after {}s", d.as_secs())).unwrap_or_default(),
        RequestIdSuffix(request_id))]
    Throttled {
        retry_after: Option<Duration>,
        code: Option<String>,
        message: Option<String>,
        request_id: Option<String>,
    },
    /// 403: project unavailable, HSS not enabled, or the user lacks HSS permissions.
    #[error("HSS refused access ({}): check that the project id is right, HSS is enabled for it and the user has HSS read permissions{}", CodeAndMessage(code, message), RequestIdSuffix(request_id))]
    Forbidden {
        code: Option<String>,
        message: Option<String>,
        request_id: Option<String>,
    },
    /// 400: a parameter the service does not accept (ids too long, bad enterprise project).
    #[error(
        "HSS rejected the request as invalid ({}): check the host ids and enterprise project id{}",
        CodeAndMessage(code, message),
        RequestIdSuffix(request_id)
    )]
    BadRequest {
        code: Option<String>,
        message: Option<String>,
        request_id: Option<String>,
    },
    /// 404: no such API at this endpoint (wrong endpoint or path prefix).
    #[error("HSS answered 404 ({}): the endpoint does not serve ListHostsRisk, check the region or endpoint URL{}", CodeAndMessage(code, message), RequestIdSuffix(request_id))]
    NotFound {
        code: Option<String>,
        message: Option<String>,
        request_id: Option<String>,
    },
    /// 5xx after all retries.
    #[error("HSS is failing (HTTP {status}, {}): the service or a proxy in front of it is unavailable, it will be retried later{}", CodeAndMessage(code, message), RequestIdSuffix(request_id))]
    Server {
        status: u16,
        code: Option<String>,
        message: Option<String>,
        request_id: Option<String>,
    },
    /// Any other status (3xx redirects are not followed: signed headers stay with their host).
    #[error(
        "HSS answered an unexpected HTTP {status} ({}): check the endpoint URL{}",
        CodeAndMessage(code, message),
        RequestIdSuffix(request_id)
    )]
    UnexpectedStatus {
        status: u16,
        code: Option<String>,
        message: Option<String>,
        request_id: Option<String>,
    },
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
        RequestIdSuffix(request_id)
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
        CodeAndMessage(code, message),
        if status.is_some_and(|s| matches!(s, 400 | 401 | 403)) { "; check username/password/domainName and the project id" } else { "" },
        RequestIdSuffix(request_id))]
    Iam {
        endpoint: String,
        status: Option<u16>,
        code: Option<String>,
        message: Option<String>,
        request_id: Option<String>,
    },
}

impl HssError {
    /// A short CamelCase label for conditions and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Authentication { .. } => "InvalidCredentials",
            Self::Throttled { .. } => "Throttled",
            Self::Forbidden { .. } => "Forbidden",
            Self::BadRequest { .. } => "BadRequest",
            Self::NotFound { .. } => "ApiNotFound",
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
            _ => false,
        }
    }

    /// True when the credentials themselves were refused (by HSS or by IAM), or are unusable.
    pub fn is_authentication(&self) -> bool {
        self.reason() == "InvalidCredentials"
    }

    /// The `X-Request-Id` of the failed answer, when there is one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Authentication { request_id, .. }
            | Self::Throttled { request_id, .. }
            | Self::Forbidden { request_id, .. }
            | Self::BadRequest { request_id, .. }
            | Self::NotFound { request_id, .. }
            | Self::Server { request_id, .. }
            | Self::UnexpectedStatus { request_id, .. }
            | Self::Decode { request_id, .. }
            | Self::Iam { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// The gateway or service error code (`APIGW.0301`, `HSS.0001`), when there is one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Authentication { code, .. }
            | Self::Throttled { code, .. }
            | Self::Forbidden { code, .. }
            | Self::BadRequest { code, .. }
            | Self::NotFound { code, .. }
            | Self::Server { code, .. }
            | Self::UnexpectedStatus { code, .. }
            | Self::Iam { code, .. } => code.as_deref(),
            _ => None,
        }
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
            code: Some("APIGW.0301".into()),
            message: Some("Incorrect IAM authentication information".into()),
            request_id: Some("req-1".into()),
        };
        let text = err.to_string();
        assert!(text.contains("APIGW.0301"), "{text}");
        assert!(text.contains("accessKey/secretKey"), "{text}");
        assert!(text.contains("req-1"), "{text}");
        assert_eq!(err.reason(), "InvalidCredentials");
        assert!(!err.is_retryable());
        let throttled = HssError::Throttled {
            retry_after: Some(Duration::from_secs(7)),
            code: None,
            message: None,
            request_id: None,
        };
        assert!(throttled.to_string().contains("retry after 7s"));
        assert!(throttled.is_retryable());
    }

    #[test]
    fn iam_reasons_split_credentials_from_outages() {
        let iam = |status| HssError::Iam {
            endpoint: "https://iam.example".into(),
            status,
            code: None,
            message: None,
            request_id: None,
        };
        assert_eq!(iam(Some(401)).reason(), "InvalidCredentials");
        assert!(!iam(Some(401)).is_retryable());
        assert_eq!(iam(Some(503)).reason(), "IamUnavailable");
        assert!(iam(None).is_retryable());
    }
}
