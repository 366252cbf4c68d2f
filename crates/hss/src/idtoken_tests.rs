//! Unit tests of [`super`]: the request body, refusal statuses, and what id-token credentials
//! and errors print.

use std::sync::Arc;

use super::*;
use crate::credentials::Credentials;

const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";

/// Holds a token as a source would (a real one mints it on demand).
struct Holding(Secret);

impl IdTokenSource for Holding {
    fn id_token(&self) -> IdTokenFuture<'_> {
        Box::pin(async move { Ok(self.0.clone()) })
    }

    fn describe(&self) -> String {
        "serviceaccount team-a/reader audience=hss".into()
    }
}

fn credentials(holding: Secret) -> Credentials {
    Credentials::IdToken {
        source: Arc::new(Holding(holding)),
        identity_provider_id: "idp-1".into(),
        subject: "system:serviceaccount:team-a:reader".into(),
        iam_endpoint: Url::parse("https://iam.cn-north-4.myhuaweicloud.com").expect("url"),
    }
}

#[test]
fn credentials_and_errors_never_print_a_token() {
    let creds = credentials(Secret::new(JWT));
    let refused = HssError::IdentityExchangeRefused(Box::new(RefusedExchange {
        endpoint: "https://iam.example".into(),
        identity_provider_id: "idp-1".into(),
        subject: "system:serviceaccount:team-a:reader".into(),
        status: 401,
        body: crate::error::ErrorBody {
            code: Some("IAM.0004".into()),
            message: Some("The signature of the id_token could not be verified.".into()),
            request_id: Some("req-9".into()),
        },
    }));
    let source_error = IdTokenError::permanent("ServiceAccountNotFound", "no such account");
    let failed = HssError::IdTokenSource {
        subject: "system:serviceaccount:team-a:reader".into(),
        error: source_error.clone(),
    };
    let printed = format!(
        "{creds:?} {} {refused} {refused:?} {failed} {failed:?} {source_error} {source_error:?}",
        creds.identity()
    );
    assert!(!printed.contains(JWT), "{printed}");
    assert!(!printed.contains("eyJ"), "{printed}");
    assert!(printed.contains("serviceaccount team-a/reader audience=hss"));
    assert_eq!(
        creds.identity().as_str(),
        "idtoken:idp-1/system:serviceaccount:team-a:reader@iam.cn-north-4.myhuaweicloud.com"
    );
}

#[test]
fn equality_and_validation_of_id_token_credentials() {
    // Two sources with one description are the same credentials, whatever they hold.
    assert_eq!(credentials(Secret::new("a")), credentials(Secret::new("b")));
    let other_idp = match credentials(Secret::new("a")) {
        Credentials::IdToken {
            source,
            subject,
            iam_endpoint,
            ..
        } => Credentials::IdToken {
            source,
            identity_provider_id: "idp-2".into(),
            subject,
            iam_endpoint,
        },
        other => other,
    };
    assert_ne!(other_idp, credentials(Secret::new("a")));
    assert_ne!(
        other_idp.identity(),
        credentials(Secret::new("a")).identity()
    );
    assert!(credentials(Secret::new("a")).validate().is_ok());
    let bad = |idp: &str, subject: &str, iam: &str| Credentials::IdToken {
        source: Arc::new(Holding(Secret::new("a"))),
        identity_provider_id: idp.into(),
        subject: subject.into(),
        iam_endpoint: Url::parse(iam).expect("url"),
    };
    assert!(bad("", "s", "https://iam.example").validate().is_err());
    assert!(bad("idp\n1", "s", "https://iam.example")
        .validate()
        .is_err());
    assert!(bad("idp\u{7}", "s", "https://iam.example")
        .validate()
        .is_err());
    assert!(bad("idp", " ", "https://iam.example").validate().is_err());
    assert!(bad("idp", "s", "http://iam.example").validate().is_err());
}

#[test]
fn new_errors_have_their_reasons_and_retry_rules() {
    let refused = HssError::IdentityExchangeRefused(Box::new(RefusedExchange {
        endpoint: "https://iam.example".into(),
        identity_provider_id: "idp-1".into(),
        subject: "sub".into(),
        status: 403,
        body: crate::error::ErrorBody::default(),
    }));
    assert_eq!(refused.reason(), "IdentityExchangeRefused");
    assert!(!refused.is_retryable() && refused.is_authentication());
    let text = refused.to_string();
    assert!(
        text.contains("idp-1") && text.contains("conversion rule"),
        "{text}"
    );
    let missing = HssError::IdTokenSource {
        subject: "sub".into(),
        error: IdTokenError::permanent("ServiceAccountNotFound", "create it"),
    };
    assert_eq!(missing.reason(), "ServiceAccountNotFound");
    assert!(!missing.is_retryable() && missing.is_authentication());
    let flaky = HssError::IdTokenSource {
        subject: "sub".into(),
        error: IdTokenError::transient("TokenRequestFailed", "timeout"),
    };
    assert!(flaky.is_retryable() && !flaky.is_authentication());
}

#[test]
fn body_is_the_sdk_shape_scoped_to_the_project() {
    let body = exchange_body(&Secret::new("jwt"), "p1");
    assert_eq!(
        body,
        serde_json::json!({
            "auth": {"id_token": {"id": "jwt"}, "scope": {"project": {"id": "p1"}}}
        })
    );
}

#[test]
fn refusals_are_the_4xx_that_retrying_cannot_fix() {
    for status in [400, 401, 403, 404] {
        assert!(is_refusal(status), "{status}");
    }
    for status in [408, 429, 500, 503, 201] {
        assert!(!is_refusal(status), "{status}");
    }
}
