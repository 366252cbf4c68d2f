//! Field errors as `k8s.io/apimachinery/pkg/util/validation/field` makes them, and the 422
//! `Invalid` Status `apierrors.NewInvalid` builds from a list of them.
//!
//! copies: `Error.ErrorBody()`: `<Type string>[: <bad value>][: <detail>]`, where Required,
//! Forbidden, TooLong and Internal never print the value, strings are Go-quoted (`%q`),
//! numbers and booleans printed plainly (`%v`), maps and lists the Go `%#v` way, and null as
//! `"null"`. `NewInvalid`: message `<Kind>.<group> "<name>" is invalid: <errors>` (one error
//! plain, several as `[a, b]`, identical messages once), `details {name, group, kind: <Kind>,
//! causes: [{reason: <ErrorType>, message: <body>, field}]}`.

use serde_json::{json, Value};

use super::super::status::ApiError;

/// `field.ErrorType`: the `reason` of a Status cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// `FieldValueRequired`
    Required,
    /// `FieldValueDuplicate`
    Duplicate,
    /// `FieldValueInvalid`
    Invalid,
    /// `FieldValueNotSupported`
    NotSupported,
    /// `FieldValueForbidden`
    Forbidden,
    /// `FieldValueTooLong`
    TooLong,
    /// `FieldValueTooMany`
    TooMany,
    /// `FieldValueTypeInvalid`
    TypeInvalid,
}

impl ErrorType {
    /// The cause `reason`.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Required => "FieldValueRequired",
            Self::Duplicate => "FieldValueDuplicate",
            Self::Invalid => "FieldValueInvalid",
            Self::NotSupported => "FieldValueNotSupported",
            Self::Forbidden => "FieldValueForbidden",
            Self::TooLong => "FieldValueTooLong",
            Self::TooMany => "FieldValueTooMany",
            Self::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    fn text(self) -> &'static str {
        match self {
            Self::Required => "Required value",
            Self::Duplicate => "Duplicate value",
            Self::Invalid | Self::TypeInvalid => "Invalid value",
            Self::NotSupported => "Unsupported value",
            Self::Forbidden => "Forbidden",
            Self::TooLong => "Too long",
            Self::TooMany => "Too many",
        }
    }

    /// Whether this error keeps CEL rules from running (apiextensions' `hasBlockingErr`).
    pub fn blocks_cel(self) -> bool {
        matches!(
            self,
            Self::NotSupported | Self::Required | Self::TooLong | Self::TooMany | Self::TypeInvalid
        )
    }
}

/// A bad value as Go prints it in an error body.
#[derive(Debug, Clone, PartialEq)]
pub enum BadValue {
    /// Not printed (`omitValue`).
    Omit,
    /// A JSON value, printed the way Go prints the unstructured value.
    Json(Value),
    /// Printed verbatim (e.g. a Go struct's `%#v`).
    Raw(String),
}

/// One field error.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// Type.
    pub kind: ErrorType,
    /// Field path, e.g. `spec.results[0].result`; `<nil>` for the whole object.
    pub field: String,
    /// Bad value.
    pub value: BadValue,
    /// Detail.
    pub detail: String,
}

impl FieldError {
    fn new(kind: ErrorType, field: &str, value: BadValue, detail: impl Into<String>) -> Self {
        Self {
            kind,
            field: field.to_string(),
            value,
            detail: detail.into(),
        }
    }

    /// `field.Required`
    pub fn required(field: &str, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Required, field, BadValue::Omit, detail)
    }

    /// `field.Invalid`
    pub fn invalid(field: &str, value: Value, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Invalid, field, BadValue::Json(value), detail)
    }

    /// `field.TypeInvalid`
    pub fn type_invalid(field: &str, value: Value, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::TypeInvalid, field, BadValue::Json(value), detail)
    }

    /// `field.NotSupported`: detail `supported values: "a", "b"`.
    pub fn not_supported(field: &str, value: Value, supported: &[String]) -> Self {
        let detail = if supported.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = supported.iter().map(|s| go_quote(s)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(
            ErrorType::NotSupported,
            field,
            BadValue::Json(value),
            detail,
        )
    }

    /// `field.Forbidden`
    pub fn forbidden(field: &str, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Forbidden, field, BadValue::Omit, detail)
    }

    /// `field.Duplicate`
    pub fn duplicate(field: &str, value: BadValue) -> Self {
        Self::new(ErrorType::Duplicate, field, value, "")
    }

    /// `field.TooLongMaxLength`, as CRD schema validation reports `maxLength`.
    pub fn too_long(field: &str, value: Value, max: i64) -> Self {
        let detail = if max >= 0 {
            format!("may not be longer than {max}")
        } else {
            "value is too long".to_string()
        };
        Self::new(ErrorType::TooLong, field, BadValue::Json(value), detail)
    }

    /// `field.TooMany`
    pub fn too_many(field: &str, actual: i64, max: i64) -> Self {
        let detail = if max >= 0 {
            format!("must have at most {max} items")
        } else {
            "has too many items".to_string()
        };
        let value = if actual >= 0 {
            BadValue::Json(json!(actual))
        } else {
            BadValue::Omit
        };
        Self::new(ErrorType::TooMany, field, value, detail)
    }

    /// `ErrorBody()`: the message without the field.
    pub fn body(&self) -> String {
        let mut s = self.kind.text().to_string();
        let prints_value = !matches!(
            self.kind,
            ErrorType::Required | ErrorType::Forbidden | ErrorType::TooLong
        );
        if prints_value {
            match &self.value {
                BadValue::Omit => {}
                BadValue::Json(v) => {
                    s.push_str(": ");
                    s.push_str(&go_value(v));
                }
                BadValue::Raw(r) => {
                    s.push_str(": ");
                    s.push_str(r);
                }
            }
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }

    /// `Error()`: `<field>: <body>`.
    pub fn message(&self) -> String {
        format!("{}: {}", self.field, self.body())
    }
}

/// Go's `strconv.Quote` for the characters that matter here.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A number the way Go's `%v` prints an unstructured int64 or float64.
fn go_number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    if f.fract() == 0.0 && f.abs() < 1e21 {
        format!("{f:.0}")
    } else if f.abs() >= 1e21 {
        let s = format!("{f:e}");
        // Go: 1e+21
        s.replace('e', "e+").replace("e+-", "e-")
    } else {
        f.to_string()
    }
}

/// A bad value the way `ErrorBody` prints an unstructured value.
pub fn go_value(v: &Value) -> String {
    match v {
        Value::Null => "\"null\"".to_string(),
        Value::String(s) => go_quote(s),
        Value::Number(n) => go_number(n),
        Value::Bool(b) => b.to_string(),
        other => go_sharp_v(other),
    }
}

/// Go's `%#v` of an unstructured value (`map[string]interface {}{...}`, `[]interface {}{...}`).
pub fn go_sharp_v(v: &Value) -> String {
    match v {
        Value::Null => "interface {}(nil)".to_string(),
        Value::String(s) => go_quote(s),
        Value::Number(n) => go_number(n),
        Value::Bool(b) => b.to_string(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(go_sharp_v).collect();
            format!("[]interface {{}}{{{}}}", parts.join(", "))
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", go_quote(k), go_sharp_v(&map[k.as_str()])))
                .collect();
            format!("map[string]interface {{}}{{{}}}", parts.join(", "))
        }
    }
}

/// copies: `apierrors.NewInvalid(GroupKind{group, kind}, name, errors)`.
pub fn invalid(group: &str, kind: &str, name: &str, errors: &[FieldError]) -> ApiError {
    let qualified = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    let mut seen = Vec::new();
    for e in errors {
        let m = e.message();
        if !seen.contains(&m) {
            seen.push(m);
        }
    }
    let message = match seen.len() {
        0 => format!("{qualified} {} is invalid", go_quote(name)),
        1 => format!("{qualified} {} is invalid: {}", go_quote(name), seen[0]),
        _ => format!(
            "{qualified} {} is invalid: [{}]",
            go_quote(name),
            seen.join(", ")
        ),
    };
    let causes: Vec<Value> = errors
        .iter()
        .map(|e| json!({"reason": e.kind.reason(), "message": e.body(), "field": e.field}))
        .collect();
    let mut details = json!({"name": name, "kind": kind, "causes": causes});
    if !group.is_empty() {
        details["group"] = json!(group);
    }
    let mut e = ApiError::new(422, "Invalid", message);
    e.details = details;
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_print_values_like_go() {
        let enum_err = FieldError::not_supported(
            "results[0].result",
            json!("bogus"),
            &["pass".into(), "fail".into()],
        );
        assert_eq!(
            enum_err.message(),
            "results[0].result: Unsupported value: \"bogus\": supported values: \"pass\", \"fail\""
        );
        assert_eq!(
            FieldError::required("spec.projectId", "").message(),
            "spec.projectId: Required value"
        );
        assert_eq!(
            FieldError::too_many("spec.hostIds", 3, 2).body(),
            "Too many: 3: must have at most 2 items"
        );
        assert_eq!(
            FieldError::too_long("spec.x", json!("abcdef"), 5).body(),
            "Too long: may not be longer than 5"
        );
        assert_eq!(
            FieldError::type_invalid(
                "spec.n",
                json!("string"),
                "spec.n in body must be of type integer: \"string\""
            )
            .message(),
            "spec.n: Invalid value: \"string\": spec.n in body must be of type integer: \"string\""
        );
        assert_eq!(go_value(&json!(1.5)), "1.5");
        assert_eq!(go_value(&json!(3.0)), "3");
        assert_eq!(
            go_sharp_v(&json!({"type": "Ready"})),
            "map[string]interface {}{\"type\":\"Ready\"}"
        );
    }

    #[test]
    fn invalid_status_names_the_kind_and_lists_causes() {
        let errs = [
            FieldError::required("spec.a", ""),
            FieldError::required("spec.a", ""),
            FieldError::invalid("spec.b", json!(0), "must be positive"),
        ];
        let e = invalid("hostrisk.io", "HostRiskWatch", "w", &errs);
        assert_eq!(e.code, 422);
        assert_eq!(
            e.message,
            "HostRiskWatch.hostrisk.io \"w\" is invalid: [spec.a: Required value, spec.b: Invalid value: 0: must be positive]"
        );
        assert_eq!(e.details["kind"], "HostRiskWatch");
        assert_eq!(e.details["causes"].as_array().map(Vec::len), Some(3));
        assert_eq!(e.details["causes"][2]["reason"], "FieldValueInvalid");
    }
}
