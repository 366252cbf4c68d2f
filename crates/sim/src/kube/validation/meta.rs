//! Object metadata validation every write goes through.
//!
//! copies: `ValidateObjectMeta` (apimachinery `api/validation/objectmeta.go`) for what the
//! stand-in's callers meet: the name must be a DNS-1123 subdomain (a label for Namespaces),
//! label keys qualified names and values valid label values (at most 63 characters, no
//! spaces), annotation keys qualified names and all annotations together at most 256 KiB,
//! finalizers qualified names, owner references complete (apiVersion with a version, kind, name,
//! uid) with at most one controller. Messages as the real validators word them, with the field
//! `metadata.labels` / `metadata.annotations` for every key or value (not per key), as the real
//! server reports them.

use serde_json::{json, Value};

use super::field::FieldError;

const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const QUALIFIED_NAME_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

fn alnum(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

fn dns1123_label(s: &str) -> bool {
    s.len() <= 63 && dns1123_label_chars(s)
}

/// The label pattern alone: a subdomain's regex repeats it without the 63-character cap, which
/// applies to the whole name only (253).
fn dns1123_label_chars(s: &str) -> bool {
    let lower = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !s.is_empty()
        && s.chars().all(|c| lower(c) || c == '-')
        && s.starts_with(lower)
        && s.ends_with(lower)
}

/// `IsDNS1123Subdomain` messages (empty: valid).
pub fn dns1123_subdomain(s: &str) -> Vec<String> {
    let mut msgs = Vec::new();
    if s.len() > 253 {
        msgs.push("must be no more than 253 characters".to_string());
    }
    if s.is_empty() || !s.split('.').all(dns1123_label_chars) {
        msgs.push(DNS1123_SUBDOMAIN_MSG.to_string());
    }
    msgs
}

fn name_part(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| alnum(c) || matches!(c, '-' | '_' | '.'))
        && s.starts_with(alnum)
        && s.ends_with(alnum)
}

/// `IsQualifiedName` messages (empty: valid).
pub fn qualified_name(s: &str) -> Vec<String> {
    let parts: Vec<&str> = s.split('/').collect();
    let (prefix, name) = match parts.as_slice() {
        [name] => (None, *name),
        [prefix, name] => (Some(*prefix), *name),
        _ => {
            return vec![format!("a qualified name {QUALIFIED_NAME_MSG_FULL} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")]
        }
    };
    let mut msgs = Vec::new();
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            msgs.push("prefix part must be non-empty".to_string());
        } else {
            msgs.extend(
                dns1123_subdomain(prefix)
                    .into_iter()
                    .map(|m| format!("prefix part {m}")),
            );
        }
    }
    if name.is_empty() {
        msgs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        msgs.push("name part must be no more than 63 characters".to_string());
    }
    if !name.is_empty() && !name_part(name) {
        msgs.push(QUALIFIED_NAME_MSG.to_string());
    }
    msgs
}

const QUALIFIED_NAME_MSG_FULL: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

/// `IsValidLabelValue` messages (empty: valid).
pub fn label_value(s: &str) -> Vec<String> {
    let mut msgs = Vec::new();
    if s.len() > 63 {
        msgs.push("must be no more than 63 characters".to_string());
    }
    if !s.is_empty() && !name_part(s) {
        msgs.push(LABEL_VALUE_MSG.to_string());
    }
    msgs
}

fn string_map<'a>(obj: &'a Value, field: &str) -> Vec<(&'a String, &'a Value)> {
    obj.pointer(&format!("/metadata/{field}"))
        .and_then(Value::as_object)
        .map(|m| m.iter().collect())
        .unwrap_or_default()
}

/// `metadata.labels`, `metadata.annotations` and `metadata.finalizers` of any object.
pub fn validate_labels_annotations(obj: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (k, v) in string_map(obj, "labels") {
        for m in qualified_name(k) {
            errors.push(FieldError::invalid("metadata.labels", json!(k), m));
        }
        let value = v.as_str().unwrap_or_default();
        for m in label_value(value) {
            errors.push(FieldError::invalid("metadata.labels", json!(value), m));
        }
    }
    let mut total = 0;
    for (k, v) in string_map(obj, "annotations") {
        for m in qualified_name(&k.to_ascii_lowercase()) {
            errors.push(FieldError::invalid("metadata.annotations", json!(k), m));
        }
        total += k.len() + v.as_str().map_or(0, str::len);
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errors.push(FieldError::too_long(
            "metadata.annotations",
            json!(""),
            TOTAL_ANNOTATION_SIZE_LIMIT as i64,
        ));
    }
    errors.extend(owner_references(obj));
    if let Some(finalizers) = obj
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
    {
        for f in finalizers.iter().filter_map(Value::as_str) {
            for m in qualified_name(f) {
                errors.push(FieldError::invalid("metadata.finalizers", json!(f), m));
            }
        }
    }
    errors
}

/// copies: `ValidateOwnerReferences` (every error at `metadata.ownerReferences[.<field>]`, no
/// index, as the real validator reports them).
fn owner_references(obj: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(refs) = obj
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
    else {
        return errors;
    };
    let path = "metadata.ownerReferences";
    let mut controller: Option<String> = None;
    for r in refs {
        let text = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let api_version = text("apiVersion");
        let version = api_version.rsplit('/').next().unwrap_or("");
        for (field, value, empty, message) in [
            (
                "apiVersion",
                &api_version,
                version.is_empty(),
                "version must not be empty",
            ),
            (
                "kind",
                &text("kind"),
                text("kind").is_empty(),
                "kind must not be empty",
            ),
            (
                "name",
                &text("name"),
                text("name").is_empty(),
                "name must not be empty",
            ),
            (
                "uid",
                &text("uid"),
                text("uid").is_empty(),
                "uid must not be empty",
            ),
        ] {
            if empty {
                errors.push(FieldError::invalid(
                    &format!("{path}.{field}"),
                    json!(value),
                    message,
                ));
            }
        }
        if r.get("controller").and_then(Value::as_bool) == Some(true) {
            let this = format!("{}/{}", text("kind"), text("name"));
            match &controller {
                Some(first) => errors.push(FieldError::invalid(
                    path,
                    Value::Array(refs.clone()),
                    format!("Only one reference can have Controller set to true. Found \"true\" in references for {first} and {this}"),
                )),
                None => controller = Some(this),
            }
        }
    }
    errors
}

/// The name check of a create: DNS-1123 subdomain, or label for Namespaces.
pub fn validate_name(name: &str, label_only: bool) -> Vec<FieldError> {
    let msgs = if label_only {
        if dns1123_label(name) {
            Vec::new()
        } else if name.len() > 63 {
            vec!["must be no more than 63 characters".to_string()]
        } else {
            vec![DNS1123_LABEL_MSG.to_string()]
        }
    } else {
        dns1123_subdomain(name)
    };
    msgs.into_iter()
        .map(|m| FieldError::invalid("metadata.name", json!(name), m))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_qualified_names_and_short_values() {
        let long = "x".repeat(64);
        let obj = json!({"metadata": {"labels": {"app.kubernetes.io/name": "ok", "bad key": "v", "k": long}}});
        let errs: Vec<String> = validate_labels_annotations(&obj)
            .iter()
            .map(FieldError::message)
            .collect();
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[0]
            .starts_with("metadata.labels: Invalid value: \"bad key\": name part must consist"));
        assert_eq!(
            errs[1],
            format!(
                "metadata.labels: Invalid value: \"{long}\": must be no more than 63 characters"
            )
        );
        assert!(qualified_name("hostrisk.io/unprotected").is_empty());
        assert!(!qualified_name("Bad_Prefix/x").is_empty());
    }
}
