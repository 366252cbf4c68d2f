//! `x-kubernetes-validations` (CEL) rules of CRD schemas, evaluated with kube's port of the API
//! server's CEL libraries (`kube::core::cel`, the same engine the operator's schema tests use).
//!
//! copies: apiextensions' CEL validator as the custom-resource strategy runs it: only when the
//! OpenAPI validation found no blocking error (else one `<nil>: Invalid value: "null": some
//! validation rules were not checked because the object was invalid; correct the existing
//! errors to complete validation`); transition rules (`oldSelf`) only on update; a failed rule
//! is `field.Invalid(<path>, <schema type>, <message>)`, or Forbidden / Required / Duplicate
//! when the rule names that `reason`; `fieldPath` extends the path; defaults are applied before.
//!
//! Not copied: the cost budget; rules kube's port cannot compile or evaluate (an unsupported
//! function) are skipped with a warning instead of being run — the real server would run them.

use kube::core::cel::{CompiledSchema, ErrorKind, RootContext, Validator};
use serde_json::{json, Value};

use super::field::{BadValue, FieldError};
use super::schema_at;

/// The rules of one version's schema, compiled once per CRD revision.
pub struct Rules {
    compiled: CompiledSchema,
    any: bool,
}

impl std::fmt::Debug for Rules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rules").field("any", &self.any).finish()
    }
}

fn has_rules(schema: &Value) -> bool {
    match schema {
        Value::Object(m) => m.contains_key("x-kubernetes-validations") || m.values().any(has_rules),
        Value::Array(a) => a.iter().any(has_rules),
        _ => false,
    }
}

impl Rules {
    /// Compiles every rule of `schema`.
    pub fn compile(schema: &Value) -> Self {
        Self {
            any: has_rules(schema),
            compiled: kube::core::cel::compile_schema(schema),
        }
    }

    /// Whether the schema has any rule.
    pub fn any(&self) -> bool {
        self.any
    }

    /// Runs the rules on `obj` (and `old` on update); returns the failures as field errors.
    pub fn validate(
        &self,
        schema: &Value,
        obj: &Value,
        old: Option<&Value>,
        root: &RootContext,
    ) -> Vec<FieldError> {
        let Err(failures) =
            Validator::new().validate_compiled_with_context(&self.compiled, obj, old, Some(root))
        else {
            return Vec::new();
        };
        let mut errors = Vec::new();
        for f in failures {
            match f.kind {
                ErrorKind::ValidationFailure => {}
                ErrorKind::EvaluationError => {}
                _ => {
                    tracing::warn!(rule = %f.rule, message = %f.message, "stand-in apiserver skips a CEL rule it cannot evaluate");
                    continue;
                }
            }
            let path = f.field_path.trim_start_matches('.').to_string();
            let path = if path.is_empty() {
                "<nil>".to_string()
            } else {
                path
            };
            let schema_type = schema_at(schema, &path)
                .and_then(|s| s.get("type"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            errors.push(match f.reason.as_deref() {
                Some("FieldValueForbidden") => FieldError::forbidden(&path, f.message),
                Some("FieldValueRequired") => FieldError::required(&path, f.message),
                Some("FieldValueDuplicate") => {
                    FieldError::duplicate(&path, BadValue::Json(json!(schema_type)))
                }
                _ => FieldError::invalid(&path, json!(schema_type), f.message),
            });
        }
        errors
    }
}

/// The error that stands for the rules not run.
pub fn not_checked() -> FieldError {
    FieldError::invalid(
        "<nil>",
        Value::Null,
        "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
    )
}
