//! Credentials from named fields, whatever holds them (a Kubernetes Secret's data, the CLI's
//! environment): exactly one kind of credentials, complete, usable. The holder names the fields
//! (`accessKey`, `HUAWEICLOUD_SDK_AK`, ...) and reads their values; the rules and the messages
//! are the same for every holder.

use url::Url;

use super::credentials::{Credentials, Secret};

/// A field credentials are made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    AccessKey,
    SecretKey,
    SecurityToken,
    AuthToken,
    Username,
    Password,
    DomainName,
}

/// A kind of credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Access keys, permanent or (with a security token) temporary.
    AccessKeys,
    /// A static IAM token.
    Token,
    /// An IAM user's password.
    Password,
}

impl Kind {
    const ALL: [Kind; 3] = [Self::AccessKeys, Self::Token, Self::Password];

    /// Every field of the kind.
    fn fields(self) -> &'static [Field] {
        match self {
            Self::AccessKeys => &[Field::AccessKey, Field::SecretKey, Field::SecurityToken],
            Self::Token => &[Field::AuthToken],
            Self::Password => &[Field::Username, Field::Password, Field::DomainName],
        }
    }

    /// The fields the kind cannot do without.
    fn required(self) -> &'static [Field] {
        match self {
            Self::AccessKeys => &[Field::AccessKey, Field::SecretKey],
            other => other.fields(),
        }
    }
}

/// Why a holder's fields do not make credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldsError {
    /// No field of any kind.
    NoCredentials,
    /// Fields of more than one kind.
    SeveralKinds(Vec<Kind>),
    /// A kind without all its required fields.
    Incomplete { kind: Kind, missing: Vec<Field> },
    /// A field is there but its value cannot be used (`why`: "is empty", ...).
    Unusable { field: Field, why: &'static str },
    /// Password credentials and no IAM endpoint to log in at (the caller's message).
    NoIamEndpoint(String),
    /// The credentials cannot work ([`Credentials::validate`]'s message).
    Invalid(String),
}

impl FieldsError {
    /// The message for `holder` (`Secret "creds"`, `the environment`), naming the fields as
    /// `name` does; never a value.
    pub fn describe(&self, holder: &str, name: impl Fn(Field) -> &'static str) -> String {
        let names = |fields: &[Field], separator: &str| {
            fields
                .iter()
                .map(|f| name(*f))
                .collect::<Vec<_>>()
                .join(separator)
        };
        match self {
            Self::NoCredentials => format!(
                "{holder} holds no credentials: set {} and {} (+ {}), or {}, or {}, {} and {}",
                name(Field::AccessKey),
                name(Field::SecretKey),
                name(Field::SecurityToken),
                name(Field::AuthToken),
                name(Field::Username),
                name(Field::Password),
                name(Field::DomainName),
            ),
            Self::SeveralKinds(kinds) => format!(
                "{holder} holds several kinds of credentials ({}): keep exactly one",
                kinds
                    .iter()
                    .map(|k| names(k.required(), "/"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
            Self::Incomplete { kind, missing } => format!(
                "{holder} lacks {} (needed with {})",
                names(missing, ", "),
                names(kind.required(), " + ")
            ),
            Self::Unusable { field, why } => format!("{holder}: {} {why}", name(*field)),
            Self::NoIamEndpoint(message) => message.clone(),
            Self::Invalid(message) => format!("{holder}: {message}"),
        }
    }
}

/// Exactly one kind of credentials from the fields `value` reads: `None` for a field that is
/// not there, `Some(Err(why))` for one whose value cannot be used. `iam_endpoint` is asked only
/// for password credentials.
pub fn credentials_from_fields(
    value: impl Fn(Field) -> Option<Result<String, &'static str>>,
    iam_endpoint: impl FnOnce() -> Result<Url, String>,
) -> Result<Credentials, FieldsError> {
    let has = |field: Field| value(field).is_some();
    let kinds: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|kind| kind.fields().iter().any(|f| has(*f)))
        .collect();
    let kind = match kinds.as_slice() {
        [] => return Err(FieldsError::NoCredentials),
        [kind] => *kind,
        _ => return Err(FieldsError::SeveralKinds(kinds)),
    };
    let missing: Vec<Field> = kind
        .required()
        .iter()
        .copied()
        .filter(|f| !has(*f))
        .collect();
    if !missing.is_empty() {
        return Err(FieldsError::Incomplete { kind, missing });
    }
    let read = |field: Field| match value(field) {
        Some(Ok(text)) => Ok(text),
        Some(Err(why)) => Err(FieldsError::Unusable { field, why }),
        None => Err(FieldsError::Incomplete {
            kind,
            missing: vec![field],
        }),
    };
    let credentials = match kind {
        Kind::AccessKeys => Credentials::AkSk {
            access_key: read(Field::AccessKey)?,
            secret_key: Secret::new(read(Field::SecretKey)?),
            security_token: match has(Field::SecurityToken) {
                true => Some(Secret::new(read(Field::SecurityToken)?)),
                false => None,
            },
        },
        Kind::Token => Credentials::Token(Secret::new(read(Field::AuthToken)?)),
        Kind::Password => Credentials::Iam {
            username: read(Field::Username)?,
            password: Secret::new(read(Field::Password)?),
            domain_name: read(Field::DomainName)?,
            iam_endpoint: iam_endpoint().map_err(FieldsError::NoIamEndpoint)?,
        },
    };
    credentials.validate().map_err(FieldsError::Invalid)?;
    Ok(credentials)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(field: Field) -> &'static str {
        match field {
            Field::AccessKey => "ak",
            Field::SecretKey => "sk",
            Field::SecurityToken => "st",
            Field::AuthToken => "token",
            Field::Username => "user",
            Field::Password => "pass",
            Field::DomainName => "domain",
        }
    }

    fn from(pairs: &[(Field, &str)]) -> Result<Credentials, FieldsError> {
        credentials_from_fields(
            |field| {
                pairs.iter().find(|(f, _)| *f == field).map(|(_, v)| {
                    if v.is_empty() {
                        Err("is empty")
                    } else {
                        Ok(v.to_string())
                    }
                })
            },
            || Url::parse("https://iam.example").map_err(|e| e.to_string()),
        )
    }

    #[test]
    fn each_kind() {
        assert_eq!(
            from(&[(Field::AccessKey, "AK"), (Field::SecretKey, "SK")]),
            Ok(Credentials::ak_sk("AK", "SK"))
        );
        assert_eq!(
            from(&[
                (Field::AccessKey, "AK"),
                (Field::SecretKey, "SK"),
                (Field::SecurityToken, "T")
            ]),
            Ok(Credentials::temporary_ak_sk("AK", "SK", "T"))
        );
        assert_eq!(
            from(&[(Field::AuthToken, "tok")]),
            Ok(Credentials::Token(Secret::new("tok")))
        );
        assert!(matches!(
            from(&[
                (Field::Username, "u"),
                (Field::Password, "p"),
                (Field::DomainName, "d")
            ]),
            Ok(Credentials::Iam { .. })
        ));
    }

    #[test]
    fn exactly_one_kind_complete_and_usable() {
        let none = from(&[]).unwrap_err();
        assert_eq!(none, FieldsError::NoCredentials);
        assert!(none
            .describe("the holder", name)
            .contains("ak and sk (+ st)"));
        let both = from(&[
            (Field::AccessKey, "a"),
            (Field::SecretKey, "s"),
            (Field::AuthToken, "t"),
        ])
        .unwrap_err();
        assert_eq!(
            both.describe("the holder", name),
            "the holder holds several kinds of credentials (ak/sk and token): keep exactly one"
        );
        let half = from(&[(Field::AccessKey, "AKVALUE")]).unwrap_err();
        assert_eq!(
            half.describe("the holder", name),
            "the holder lacks sk (needed with ak + sk)"
        );
        let partial = from(&[(Field::Username, "u"), (Field::Password, "SECRETPW")]).unwrap_err();
        assert!(matches!(partial, FieldsError::Incomplete { .. }));
        assert!(!partial.describe("h", name).contains("SECRETPW"));
        let empty = from(&[(Field::AccessKey, "a"), (Field::SecretKey, "")]).unwrap_err();
        assert_eq!(
            empty.describe("the holder", name),
            "the holder: sk is empty"
        );
    }

    #[test]
    fn password_credentials_need_an_iam_endpoint() {
        let refused = credentials_from_fields(
            |field| match field {
                Field::Username | Field::Password | Field::DomainName => Some(Ok("x".into())),
                _ => None,
            },
            || Err("no IAM endpoint here".to_string()),
        )
        .unwrap_err();
        assert_eq!(
            refused,
            FieldsError::NoIamEndpoint("no IAM endpoint here".into())
        );
        assert_eq!(refused.describe("h", name), "no IAM endpoint here");
    }
}
