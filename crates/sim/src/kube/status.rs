//! Error answers in the shape of the real apiserver's `metav1.Status`.
//!
//! copies: every failure answer of kube-apiserver is a JSON `Status` object
//! (`kind: Status`, `apiVersion: v1`, `status: Failure`, `message`, `reason`,
//! `details`, `code`) with the HTTP status code equal to `code`; kube's client
//! decodes it into `kube::core::Status` / `kube::Error::Api`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// A failed request, answered as a `metav1.Status` body.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status code, also written to `.code`.
    pub code: u16,
    /// `metav1.StatusReason`, e.g. `NotFound`, `Conflict`.
    pub reason: &'static str,
    /// Human readable message.
    pub message: String,
    /// `metav1.StatusDetails`, or `Value::Null` to leave it out.
    pub details: Value,
    /// A `Retry-After` header (seconds).
    pub retry_after: Option<u32>,
}

/// Identifies the object an error is about, for `Status.details`.
pub struct Subject<'a> {
    /// API group ("" for core).
    pub group: &'a str,
    /// Resource plural (the real server reports the resource in `details.kind`).
    pub plural: &'a str,
    /// Object name.
    pub name: &'a str,
}

impl Subject<'_> {
    /// `secrets` or `hostriskwatches.hostrisk.io`, the way the apiserver prints a group resource.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    fn details(&self) -> Value {
        let mut d = json!({ "name": self.name, "kind": self.plural });
        if !self.group.is_empty() {
            d["group"] = json!(self.group);
        }
        d
    }
}

impl ApiError {
    /// A Status with the given code, reason and message and no details.
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: Value::Null,
            retry_after: None,
        }
    }

    /// copies: `NotFound` 404, message `secrets "x" not found`.
    pub fn not_found(s: &Subject<'_>) -> Self {
        let mut e = Self::new(
            404,
            "NotFound",
            format!("{} \"{}\" not found", s.qualified(), s.name),
        );
        e.details = s.details();
        e
    }

    /// copies: `AlreadyExists` 409, message `secrets "x" already exists`.
    pub fn already_exists(s: &Subject<'_>) -> Self {
        let mut e = Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{}\" already exists", s.qualified(), s.name),
        );
        e.details = s.details();
        e
    }

    /// copies: `Conflict` 409 from optimistic concurrency, with the apiserver's exact message.
    pub fn conflict(s: &Subject<'_>) -> Self {
        let mut e = Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply your changes to the latest version and try again",
                s.qualified(),
                s.name
            ),
        );
        e.details = s.details();
        e
    }

    /// copies: `BadRequest` 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// copies: `Expired` 410, used for compacted resource versions and continue tokens.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// copies: `UnsupportedMediaType` 415 for patch types a resource does not accept.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(415, "UnsupportedMediaType", message)
    }

    /// Not a real-server answer: the stand-in refuses something it does not implement,
    /// with HTTP 501 and a message starting "not implemented by the stand-in apiserver".
    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self::new(
            501,
            "InternalError",
            format!(
                "not implemented by the stand-in apiserver: {}",
                message.into()
            ),
        )
    }

    /// copies: the 429 of API Priority and Fairness (and max-in-flight) when a request is
    /// rejected: `Retry-After` and a plain-text body, not a Status (see `into_response`).
    pub fn too_many_requests(retry_after_seconds: u32) -> Self {
        let mut e = Self::new(
            429,
            "TooManyRequests",
            "Too many requests, please try again later.",
        );
        e.retry_after = Some(retry_after_seconds);
        e
    }

    /// copies: 503 `ServiceUnavailable`.
    pub fn unavailable() -> Self {
        Self::new(
            503,
            "ServiceUnavailable",
            "the server is currently unable to handle the request",
        )
    }

    /// The `metav1.Status` JSON body.
    pub fn to_status(&self) -> Value {
        let mut v = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "code": self.code,
        });
        // copies: `StatusReasonUnknown` is "" and left out.
        if !self.reason.is_empty() {
            v["reason"] = json!(self.reason);
        }
        if !self.details.is_null() {
            v["details"] = self.details.clone();
        }
        v
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if self.code == 429 {
            // copies: `http.Error(w, "Too many requests, please try again later.", 429)`.
            return (
                code,
                [
                    ("content-type", "text/plain; charset=utf-8".to_string()),
                    ("x-content-type-options", "nosniff".to_string()),
                    ("retry-after", self.retry_after.unwrap_or(1).to_string()),
                ],
                format!("{}\n", self.message),
            )
                .into_response();
        }
        (
            code,
            [("content-type", "application/json")],
            self.to_status().to_string(),
        )
            .into_response()
    }
}

/// JSON response with the given status code.
pub fn json_response(code: StatusCode, body: &Value) -> Response {
    (
        code,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}
