//! One problem with a spec, as code-side validation reports it (`crd::validation`, and the
//! node-backed half in `crd::selector`).

/// What kind of refusal a [`SpecError`] is; decides the condition reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecErrorKind {
    /// The spec breaks a schema rule (reason `InvalidSpec`).
    Invalid,
    /// `spec.endpoint` is well-formed but this operator is not allowed to call it
    /// (reason `EndpointNotAllowed`).
    EndpointNotAllowed,
}

impl SpecErrorKind {
    /// The condition reason it shows as.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invalid => "InvalidSpec",
            Self::EndpointNotAllowed => "EndpointNotAllowed",
        }
    }
}

/// One problem with a spec: the field, what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SpecError {
    pub field: &'static str,
    pub message: String,
    pub kind: SpecErrorKind,
}

impl SpecError {
    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
            kind: SpecErrorKind::Invalid,
        }
    }
}
