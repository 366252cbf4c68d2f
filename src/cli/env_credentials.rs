//! Credentials of the CLI from the environment, with the variable names of the official SDKs.

use url::Url;

use crate::hss::{Credentials, Secret};

const AKSK_VARS: &str = "HUAWEICLOUD_SDK_AK + HUAWEICLOUD_SDK_SK";
const TOKEN_VAR: &str = "HOSTRISK_AUTH_TOKEN";
const IAM_VARS: &str = "HOSTRISK_IAM_USERNAME + HOSTRISK_IAM_PASSWORD + HOSTRISK_IAM_DOMAIN";

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
    let get = |name: &str| env(name).filter(|v| !v.is_empty());
    let ak = get("HUAWEICLOUD_SDK_AK");
    let sk = get("HUAWEICLOUD_SDK_SK");
    let security_token = get("HUAWEICLOUD_SDK_SECURITY_TOKEN");
    let token = get(TOKEN_VAR);
    let username = get("HOSTRISK_IAM_USERNAME");
    let password = get("HOSTRISK_IAM_PASSWORD");
    let domain = get("HOSTRISK_IAM_DOMAIN");
    let aksk_any = ak.is_some() || sk.is_some() || security_token.is_some();
    let iam_any = username.is_some() || password.is_some() || domain.is_some();
    let kinds = [aksk_any, token.is_some(), iam_any]
        .iter()
        .filter(|k| **k)
        .count();
    if kinds == 0 {
        return Err(EnvCredentialsError(format!(
            "no credentials in the environment: set {AKSK_VARS} (+ HUAWEICLOUD_SDK_SECURITY_TOKEN), \
             or {TOKEN_VAR}, or {IAM_VARS}"
        )));
    }
    if kinds > 1 {
        return Err(EnvCredentialsError(format!(
            "several kinds of credentials in the environment: set only one of {AKSK_VARS}, \
             {TOKEN_VAR}, or {IAM_VARS}"
        )));
    }
    if aksk_any {
        return match (ak, sk) {
            (Some(ak), Some(sk)) => Ok(Credentials::AkSk {
                access_key: ak,
                secret_key: Secret::new(sk),
                security_token: security_token.map(Secret::new),
            }),
            _ => Err(EnvCredentialsError(format!(
                "incomplete access keys: {AKSK_VARS} must both be set"
            ))),
        };
    }
    if let Some(token) = token {
        return Ok(Credentials::Token(Secret::new(token)));
    }
    match (username, password, domain) {
        (Some(username), Some(password), Some(domain_name)) => {
            let iam_endpoint = iam_endpoint.ok_or_else(|| {
                EnvCredentialsError(
                    "IAM credentials need an IAM endpoint: give --region or --iam-endpoint"
                        .to_string(),
                )
            })?;
            Ok(Credentials::Iam {
                username,
                password: Secret::new(password),
                domain_name,
                iam_endpoint,
            })
        }
        _ => Err(EnvCredentialsError(format!(
            "incomplete IAM credentials: {IAM_VARS} must all be set"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::exit;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
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
