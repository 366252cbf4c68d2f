//! The wire: building the `ListHostsRisk` request exactly like the SDK, the reqwest client,
//! and turning HTTP answers into bodies or typed errors.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::config::ClientConfig;
use super::credentials::Secret;
use super::error::{AuthKind, ErrorBody, HssError};
use super::model::ApiErrorBody;
use super::retry::parse_retry_after;
use super::scope::Scope;
use super::sign::{canonical_query, sign, SigningRequest, SDK_DATE_FORMAT};

/// How the request proves who sends it.
pub enum RequestAuth<'a> {
    Sign {
        access_key: &'a str,
        secret_key: &'a Secret,
        security_token: Option<&'a Secret>,
    },
    Token(&'a Secret),
}

/// A request ready to send: the exact URL string and every header, in order.
#[derive(Clone)]
pub struct PreparedRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
}

/// Headers whose values are credentials; never printed.
const SECRET_HEADERS: &[&str] = &["authorization", "x-auth-token", "x-security-token"];

impl std::fmt::Debug for PreparedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                if SECRET_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                    (name.as_str(), "***")
                } else {
                    (name.as_str(), value.as_str())
                }
            })
            .collect();
        f.debug_struct("PreparedRequest")
            .field("url", &self.url)
            .field("headers", &headers)
            .finish()
    }
}

/// `X-Sdk-Date` for a timestamp.
pub fn sdk_date(now: jiff::Timestamp) -> String {
    now.strftime(SDK_DATE_FORMAT).to_string()
}

/// Builds `GET {endpoint}/v5/{project}/host-management/hosts-risk?{canonical query}` with the
/// SDK's headers, signed (AK/SK) or carrying `X-Auth-Token`. `ids` are sent as given.
pub fn prepare_hosts_risk_request(
    scope: &Scope,
    ids: &[String],
    auth: &RequestAuth<'_>,
    user_agent: &str,
    now: jiff::Timestamp,
) -> PreparedRequest {
    let mut pairs: Vec<(&str, &str)> = ids.iter().map(|id| ("host_id_list", id.as_str())).collect();
    if let Some(eps) = &scope.enterprise_project_id {
        pairs.push(("enterprise_project_id", eps.as_str()));
    }
    let query = canonical_query(&pairs);
    let path = scope.hosts_risk_path();
    let base = format!("{}://{}", scope.endpoint.scheme(), scope.authority());
    let url = if query.is_empty() {
        format!("{base}{path}")
    } else {
        format!("{base}{path}?{query}")
    };
    let mut headers = vec![
        ("Content-Type".to_string(), "application/json".to_string()),
        ("Host".to_string(), scope.authority()),
        ("User-Agent".to_string(), user_agent.to_string()),
        ("X-Project-Id".to_string(), scope.project_id.clone()),
    ];
    match auth {
        RequestAuth::Sign {
            access_key,
            secret_key,
            security_token,
        } => {
            let date = sdk_date(now);
            headers.push(("X-Sdk-Date".to_string(), date.clone()));
            if let Some(token) = security_token {
                headers.push(("X-Security-Token".to_string(), token.expose().to_string()));
            }
            let parts = sign(
                access_key,
                secret_key.expose().as_bytes(),
                &date,
                &SigningRequest {
                    method: "GET",
                    wire_path: &path,
                    canonical_query: &query,
                    headers: &headers,
                    body: b"",
                },
            );
            headers.push(("Authorization".to_string(), parts.authorization));
        }
        RequestAuth::Token(token) => {
            headers.push(("X-Auth-Token".to_string(), token.expose().to_string()));
        }
    }
    PreparedRequest { url, headers }
}

/// The reqwest client: rustls with the built-in roots plus an optional extra bundle,
/// verification always on, no redirects (signed headers must not follow to another host).
pub fn build_http_client(config: &ClientConfig) -> Result<reqwest::Client, HssError> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(config.connect_timeout)
        .timeout(config.request_timeout)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(pem) = &config.extra_ca_pem {
        let certs =
            reqwest::Certificate::from_pem_bundle(pem).map_err(|e| HssError::InvalidConfig {
                message: format!("the CA bundle is not valid PEM: {e}"),
            })?;
        if certs.is_empty() {
            return Err(HssError::InvalidConfig {
                message: "the CA bundle holds no certificate".into(),
            });
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().map_err(|e| HssError::InvalidConfig {
        message: format!("cannot build the HTTP client: {e}"),
    })
}

/// Converts prepared headers to a reqwest map, refusing any that is not a valid header value
/// (e.g. a secret with a newline) instead of sending something other than what was signed.
pub fn header_map(headers: &[(String, String)]) -> Result<HeaderMap, HssError> {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let header_name =
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| HssError::InvalidConfig {
                message: format!("invalid header name {name}"),
            })?;
        let mut header_value =
            HeaderValue::from_str(value).map_err(|_| HssError::InvalidCredentials {
                message: format!(
                    "the value of header {name} contains characters HTTP does not allow"
                ),
            })?;
        if SECRET_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            header_value.set_sensitive(true);
        }
        map.append(header_name, header_value);
    }
    Ok(map)
}

/// A successful answer: its body and request id.
#[derive(Debug)]
pub struct RawAnswer {
    pub status: u16,
    pub body: bytes::Bytes,
    pub request_id: Option<String>,
}

/// Maps a reqwest failure to `Timeout` or `Transport`, naming only scheme and authority.
pub fn transport_error(target: &str, err: &reqwest::Error) -> HssError {
    // The source chain says what failed (DNS, refused, TLS); the URL would add the query only.
    let mut message = error_kind(err).to_string();
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source = inner.source();
    }
    if err.is_timeout() {
        HssError::Timeout {
            target: target.to_string(),
            message,
        }
    } else if is_certificate_error(err) {
        HssError::TlsVerification {
            target: target.to_string(),
            message,
        }
    } else {
        HssError::Transport {
            target: target.to_string(),
            message,
        }
    }
}

/// True when rustls refused the peer's certificate somewhere down the source chain. An
/// `io::Error` hides the error it wraps from `source()` (it returns that error's source), so
/// it is opened with `get_ref`.
fn is_certificate_error(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(err);
    while let Some(error) = current {
        if let Some(tls) = error.downcast_ref::<rustls::Error>() {
            if matches!(
                tls,
                rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
            ) {
                return true;
            }
        }
        if let Some(wrapped) = error
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            if is_certificate_error(wrapped) {
                return true;
            }
        }
        current = error.source();
    }
    false
}

/// What failed, without the URL reqwest would print (it holds the whole query).
fn error_kind(err: &reqwest::Error) -> &'static str {
    if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "connection failed"
    } else if err.is_body() || err.is_decode() {
        "reading the answer failed"
    } else {
        "request failed"
    }
}

/// `X-Request-Id` of an answer (header first, the JSON body's `request_id` as fallback later).
pub fn request_id_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Turns a non-2xx HSS answer into its typed error.
pub fn hss_error_from(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    auth: AuthKind,
    now: jiff::Timestamp,
) -> HssError {
    let parsed: ApiErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let request_id = request_id_of(headers).or(parsed.request_id);
    let body = ErrorBody {
        code: parsed.error_code,
        message: parsed.error_msg,
        request_id,
    };
    match status {
        401 => HssError::Authentication { auth, body },
        429 => HssError::Throttled {
            retry_after: headers
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, now)),
            body,
        },
        403 => HssError::Forbidden(body),
        400 => HssError::BadRequest(body),
        404 => HssError::NotFound(body),
        500..=599 => HssError::Server { status, body },
        _ => HssError::UnexpectedStatus { status, body },
    }
}

/// Sends a prepared GET and returns the 2xx body, or the typed error.
pub async fn send_get(
    http: &reqwest::Client,
    prepared: &PreparedRequest,
    target: &str,
    auth: AuthKind,
) -> Result<RawAnswer, HssError> {
    let headers = header_map(&prepared.headers)?;
    let response = http
        .get(prepared.url.as_str())
        .headers(headers)
        .send()
        .await
        .map_err(|e| transport_error(target, &e))?;
    let status = response.status().as_u16();
    let response_headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map_err(|e| transport_error(target, &e))?;
    if (200..300).contains(&status) {
        Ok(RawAnswer {
            status,
            body,
            request_id: request_id_of(&response_headers),
        })
    } else {
        Err(hss_error_from(
            status,
            &response_headers,
            &body,
            auth,
            jiff::Timestamp::now(),
        ))
    }
}
