//! Credentials of the CLI from the environment, with the variable names of the official SDKs.

use url::Url;

use crate::hss::credential_fields::{credentials_from_fields, Field};
use crate::hss::{Credentials, ErrorBody, HssError};

const TOKEN_VAR: &str = "HOSTRISK_AUTH_TOKEN";

/// The variable each credentials field is read from.
fn variable(field: Field) -> &'static str {
    match field {
        Field::AccessKey => "HUAWEICLOUD_SDK_AK",
        Field::SecretKey => "HUAWEICLOUD_SDK_SK",
        Field::SecurityToken => "HUAWEICLOUD_SDK_SECURITY_TOKEN",
        Field::AuthToken => TOKEN_VAR,
        Field::Username => "HOSTRISK_IAM_USERNAME",
        Field::Password => "HOSTRISK_IAM_PASSWORD",
        Field::DomainName => "HOSTRISK_IAM_DOMAIN",
    }
}

/// The environment does not hold exactly one usable kind of credentials; the message names the
/// variables to set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EnvCredentialsError(pub String);

/// Exactly one kind of credentials from the environment (empty variables count as unset).
pub fn credentials_from_env(
    env: &dyn Fn(&str) -> Option<String>,
    iam_endpoint: Option<Url>,
) -> Result<Credentials, EnvCredentialsError> {
    credentials_from_fields(
        |field| env(variable(field)).filter(|v| !v.is_empty()).map(Ok),
        || {
            iam_endpoint.ok_or_else(|| {
                "IAM credentials need an IAM endpoint: give --region or --iam-endpoint".to_string()
            })
        },
    )
    .map_err(|error| EnvCredentialsError(error.describe("the environment", variable)))
}

/// Where the project id of the CLI comes from, for messages.
const PROJECT_ID_SOURCES: &str = "--project-id or HUAWEICLOUD_SDK_PROJECT_ID";

/// The message for credentials from the environment that HSS or IAM refused, naming the
/// variables the user set; `None` for any other error. The library's own messages speak of the
/// Secret's keys, which mean nothing to someone who exported variables.
pub fn refused_message(error: &HssError, credentials: &Credentials) -> Option<String> {
    if matches!(credentials, Credentials::IdToken { .. }) {
        // Never read from the environment: the library's message stands.
        return None;
    }
    let set = variables_set(credentials);
    let message = match error {
        HssError::Authentication { body, .. } => {
            let fix = match credentials {
                Credentials::AkSk {
                    security_token: None,
                    ..
                } => format!(
                    "check {set} (temporary keys also need HUAWEICLOUD_SDK_SECURITY_TOKEN) and \
                     the clock of this machine"
                ),
                Credentials::AkSk { .. } => format!(
                    "check {set} (all three from one temporary key) and the clock of this machine"
                ),
                Credentials::Token(_) => {
                    format!("the token in {set} is invalid or expired: set a new one")
                }
                Credentials::Iam { .. } => format!(
                    "check {set}, and that the user may access the project ({PROJECT_ID_SOURCES})"
                ),
                Credentials::IdToken { .. } => return None,
            };
            format!(
                "HSS rejected the credentials from the environment ({}): {fix}{}",
                code_and_message(body),
                request_id_suffix(body)
            )
        }
        HssError::Iam {
            endpoint,
            status: Some(status @ (400 | 401 | 403)),
            body,
        } => format!(
            "IAM at {endpoint} refused the login (HTTP {status}, {}): check {set}, and the project \
             id ({PROJECT_ID_SOURCES}){}",
            code_and_message(body),
            request_id_suffix(body)
        ),
        HssError::Forbidden(body) => format!(
            "HSS refused access ({}): check the project id ({PROJECT_ID_SOURCES}), that HSS is \
             enabled for it, and that the user of {set} has HSS read permissions{}",
            code_and_message(body),
            request_id_suffix(body)
        ),
        _ => return None,
    };
    Some(message)
}

/// The variables behind `credentials`, as set: `A and B`, `A, B and C`.
fn variables_set(credentials: &Credentials) -> String {
    let fields: &[Field] = match credentials {
        Credentials::AkSk {
            security_token: None,
            ..
        } => &[Field::AccessKey, Field::SecretKey],
        Credentials::AkSk { .. } => &[Field::AccessKey, Field::SecretKey, Field::SecurityToken],
        Credentials::Token(_) => &[Field::AuthToken],
        Credentials::Iam { .. } => &[Field::Username, Field::Password, Field::DomainName],
        Credentials::IdToken { .. } => &[],
    };
    let names: Vec<&str> = fields.iter().map(|f| variable(*f)).collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Every variable the CLI reads credentials or the project id from; `hostrisk-dev query` says
/// when it ignores them.
pub const VARIABLES: [&str; 8] = [
    "HUAWEICLOUD_SDK_PROJECT_ID",
    "HUAWEICLOUD_SDK_AK",
    "HUAWEICLOUD_SDK_SK",
    "HUAWEICLOUD_SDK_SECURITY_TOKEN",
    TOKEN_VAR,
    "HOSTRISK_IAM_USERNAME",
    "HOSTRISK_IAM_PASSWORD",
    "HOSTRISK_IAM_DOMAIN",
];

fn code_and_message(body: &ErrorBody) -> String {
    match (&body.code, &body.message) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.clone(),
        (None, Some(message)) => message.clone(),
        (None, None) => "no error body".to_string(),
    }
}

fn request_id_suffix(body: &ErrorBody) -> String {
    body.request_id
        .as_ref()
        .map(|id| format!(" (request id {id})"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::exit;
    use crate::hss::Secret;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn refusals_name_the_variables_not_the_secret() {
        let body = ErrorBody {
            code: Some("APIGW.0301".into()),
            message: Some("Incorrect IAM authentication information".into()),
            request_id: Some("req-9".into()),
        };
        let refused = HssError::Authentication {
            auth: crate::hss::AuthKind::AkSk,
            body: body.clone(),
        };
        let aksk = Credentials::ak_sk("AK", "SK");
        let text = refused_message(&refused, &aksk).expect("a refusal");
        assert!(
            text.contains("HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK"),
            "{text}"
        );
        assert!(
            text.contains("APIGW.0301") && text.contains("request id req-9"),
            "{text}"
        );
        assert!(!text.contains("Secret"), "{text}");
        let token = Credentials::Token(Secret::new("t".to_string()));
        let text = refused_message(&refused, &token).expect("a refusal");
        assert!(text.contains("the token in HOSTRISK_AUTH_TOKEN"), "{text}");
        let iam_refused = HssError::Iam {
            endpoint: "https://iam.example/".into(),
            status: Some(401),
            body,
        };
        let iam = Credentials::Iam {
            username: "u".into(),
            password: Secret::new("p".to_string()),
            domain_name: "d".into(),
            iam_endpoint: Url::parse("https://iam.example").expect("url"),
        };
        let text = refused_message(&iam_refused, &iam).expect("a refusal");
        assert!(
            text.contains("HOSTRISK_IAM_USERNAME, HOSTRISK_IAM_PASSWORD and HOSTRISK_IAM_DOMAIN"),
            "{text}"
        );
        assert!(
            !text.contains("Secret") && !text.contains("domainName"),
            "{text}"
        );
        let other = HssError::Timeout {
            target: "t".into(),
            message: "m".into(),
        };
        assert_eq!(refused_message(&other, &aksk), None);
    }

    #[test]
    fn exactly_one_kind_of_credentials() {
        let none = credentials_from_env(&env_of(&[]), None).expect_err("none");
        assert!(none.to_string().contains("HUAWEICLOUD_SDK_AK"));
        assert_eq!(
            crate::cli::query::QueryError::from(none).exit_code(),
            exit::USAGE
        );
        let both = credentials_from_env(
            &env_of(&[
                ("HUAWEICLOUD_SDK_AK", "a"),
                ("HUAWEICLOUD_SDK_SK", "s"),
                ("HOSTRISK_AUTH_TOKEN", "t"),
            ]),
            None,
        )
        .expect_err("both");
        assert!(both.to_string().contains("several kinds"));
        let half = credentials_from_env(&env_of(&[("HUAWEICLOUD_SDK_AK", "a")]), None);
        assert!(half.is_err());
        let temp = credentials_from_env(
            &env_of(&[
                ("HUAWEICLOUD_SDK_AK", "a"),
                ("HUAWEICLOUD_SDK_SK", "s"),
                ("HUAWEICLOUD_SDK_SECURITY_TOKEN", "st"),
            ]),
            None,
        )
        .expect("temporary keys");
        assert!(matches!(
            temp,
            Credentials::AkSk {
                security_token: Some(_),
                ..
            }
        ));
        let iam_env = env_of(&[
            ("HOSTRISK_IAM_USERNAME", "u"),
            ("HOSTRISK_IAM_PASSWORD", "p"),
            ("HOSTRISK_IAM_DOMAIN", "d"),
        ]);
        assert!(credentials_from_env(&iam_env, None).is_err());
        let iam = Url::parse("https://iam.example").expect("url");
        assert!(matches!(
            credentials_from_env(&iam_env, Some(iam)),
            Ok(Credentials::Iam { .. })
        ));
    }
}
