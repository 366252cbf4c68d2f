//! Error answers in the gateway's shape (hss-api.md "Errors"): a JSON body
//! `{"error_code", "error_msg", "request_id"}` plus the `X-Request-Id` header, which the
//! request-id middleware adds to every answer.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use hostrisk_hss::model::ApiErrorBody;

/// The request id of the current request, set by the middleware in [`super::server`].
#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub String);

impl RequestId {
    /// 32 random lower-case hex characters, the shape of the gateway's request ids.
    pub(crate) fn random() -> Self {
        Self(format!("{:032x}", rand::random::<u128>()))
    }
}

/// An error answer about to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiFailure {
    pub status: StatusCode,
    pub code: &'static str,
    pub msg: String,
}

impl ApiFailure {
    pub(crate) fn new(status: StatusCode, code: &'static str, msg: impl Into<String>) -> Self {
        Self {
            status,
            code,
            msg: msg.into(),
        }
    }

    /// `APIGW.0301` (401): bad credentials or signature.
    pub(crate) fn bad_credentials(detail: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "APIGW.0301",
            format!("Incorrect IAM authentication information: {detail}"),
        )
    }

    /// `APIGW.0307` (401): token expired.
    pub(crate) fn token_expired() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "APIGW.0307",
            "The token must be updated.",
        )
    }

    /// `APIGW.0310` (403): the project is not available to this credential.
    pub(crate) fn project_unavailable(detail: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "APIGW.0310",
            format!("The project is unavailable: {detail}"),
        )
    }

    /// `APIGW.0308` (429): throttled.
    pub(crate) fn throttled(per_minute: u32) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "APIGW.0308",
            format!(
                "The throttling threshold has been reached: policy user over ratelimit, limit:{per_minute}, time:1 minute"
            ),
        )
    }

    /// `HSS.0001` (400): bad parameter.
    pub(crate) fn bad_parameter(detail: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "HSS.0001",
            format!("Invalid parameter: {detail}"),
        )
    }

    /// `APIGW.0101` (404): no such API.
    pub(crate) fn no_such_api() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "APIGW.0101",
            "The API does not exist or has not been published in the environment",
        )
    }

    /// The error body with the request id filled in.
    pub(crate) fn body(&self, request_id: &RequestId) -> ApiErrorBody {
        ApiErrorBody {
            error_code: Some(self.code.to_string()),
            error_msg: Some(self.msg.clone()),
            request_id: Some(request_id.0.clone()),
        }
    }

    pub(crate) fn into_response(self, request_id: &RequestId) -> Response {
        json_response(self.status, &self.body(request_id))
    }
}

/// A JSON answer; serializing our own plain structs cannot fail, but if it ever did the
/// client still gets a 500 rather than a panic.
pub(crate) fn json_response<T: serde::Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => bytes_response(status, body),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// A JSON-typed answer with the given bytes as body (which fault injection may have broken).
pub(crate) fn bytes_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    response
}
