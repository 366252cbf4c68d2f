//! Label and field selectors, parsed from the `labelSelector` / `fieldSelector` query parameters.
//!
//! copies: label selector grammar of `k8s.io/apimachinery/pkg/labels`: `k`, `!k`, `k=v`,
//! `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, terms joined by `,`, all must match.
//! `!=` and `notin` also match objects without the label.
//! Field selectors: `metadata.name`, `metadata.namespace` for every type (plus `type` for
//! Secrets) with `=`, `==`, `!=`; any other field answers 400 "field label not supported".

use serde_json::Value;

use super::status::ApiError;

#[derive(Debug, Clone, PartialEq)]
enum LabelTerm {
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

/// A parsed label selector (empty: matches everything).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LabelSelector(Vec<LabelTerm>);

/// Splits on commas that are not inside parentheses.
fn split_terms(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out.into_iter()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

fn parse_set(s: &str) -> Option<Vec<String>> {
    let inner = s.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(inner.split(',').map(|v| v.trim().to_string()).collect())
}

impl LabelSelector {
    /// Parses a selector; errors answer 400 like the real server.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        let bad = || {
            ApiError::bad_request(format!(
                "unable to parse requirement: invalid label selector: {s:?}"
            ))
        };
        let mut terms = Vec::new();
        for t in split_terms(s) {
            let term = if let Some(k) = t.strip_prefix('!') {
                LabelTerm::NotExists(k.trim().to_string())
            } else if let Some((k, v)) = t.split_once("!=") {
                LabelTerm::NotIn(k.trim().to_string(), vec![v.trim().to_string()])
            } else if let Some((k, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
                LabelTerm::In(k.trim().to_string(), vec![v.trim().to_string()])
            } else if let Some((k, rest)) = t.split_once(" notin ") {
                LabelTerm::NotIn(k.trim().to_string(), parse_set(rest).ok_or_else(bad)?)
            } else if let Some((k, rest)) = t.split_once(" in ") {
                LabelTerm::In(k.trim().to_string(), parse_set(rest).ok_or_else(bad)?)
            } else if t.contains(' ') || t.contains('(') {
                return Err(bad());
            } else {
                LabelTerm::Exists(t)
            };
            terms.push(term);
        }
        Ok(Self(terms))
    }

    /// Whether the object's `metadata.labels` satisfy every term.
    pub fn matches(&self, obj: &Value) -> bool {
        let label = |k: &str| {
            obj.pointer("/metadata/labels")
                .and_then(|l| l.get(k))
                .and_then(Value::as_str)
        };
        self.0.iter().all(|t| match t {
            LabelTerm::Exists(k) => label(k).is_some(),
            LabelTerm::NotExists(k) => label(k).is_none(),
            LabelTerm::In(k, vs) => label(k).is_some_and(|v| vs.iter().any(|x| x == v)),
            LabelTerm::NotIn(k, vs) => label(k).is_none_or(|v| vs.iter().all(|x| x != v)),
        })
    }

    /// Whether the selector has no terms.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq)]
struct FieldTerm {
    path: &'static str,
    value: String,
    equal: bool,
}

/// A parsed field selector.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FieldSelector(Vec<FieldTerm>);

impl FieldSelector {
    /// Parses a selector for the given resource plural.
    pub fn parse(s: &str, plural: &str) -> Result<Self, ApiError> {
        let mut terms = Vec::new();
        for t in split_terms(s) {
            let (field, value, equal) = if let Some((f, v)) = t.split_once("!=") {
                (f, v, false)
            } else if let Some((f, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
                (f, v, true)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{s}'; can't understand '{t}'"
                )));
            };
            let path = match field.trim() {
                "metadata.name" => "/metadata/name",
                "metadata.namespace" => "/metadata/namespace",
                "type" if plural == "secrets" => "/type",
                other => {
                    return Err(ApiError::bad_request(format!(
                        "field label not supported: {other}"
                    )))
                }
            };
            terms.push(FieldTerm {
                path,
                value: value.trim().to_string(),
                equal,
            });
        }
        Ok(Self(terms))
    }

    /// Whether the object satisfies every term (missing fields compare as "").
    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|t| {
            let v = obj.pointer(t.path).and_then(Value::as_str).unwrap_or("");
            (v == t.value) == t.equal
        })
    }

    /// Whether the selector has no terms.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Both selectors of a list or watch request.
#[derive(Debug, Clone, Default)]
pub struct Selectors {
    /// Label selector.
    pub labels: LabelSelector,
    /// Field selector.
    pub fields: FieldSelector,
}

impl Selectors {
    /// Whether an object matches both.
    pub fn matches(&self, obj: &Value) -> bool {
        self.labels.matches(obj) && self.fields.matches(obj)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selector_terms() {
        let o = json!({"metadata": {"labels": {"app": "a", "tier": "web"}}});
        let m = |s: &str| LabelSelector::parse(s).map(|sel| sel.matches(&o));
        assert_eq!(m("app=a"), Ok(true));
        assert_eq!(m("app==b"), Ok(false));
        assert_eq!(m("app!=b,tier"), Ok(true));
        assert_eq!(m("!tier"), Ok(false));
        assert_eq!(m("tier in (db, web)"), Ok(true));
        assert_eq!(m("tier notin (db,web)"), Ok(false));
        assert_eq!(m("missing notin (x)"), Ok(true));
        assert!(m("tier in db").is_err());
    }

    #[test]
    fn field_selector_rejects_unknown_fields() {
        let o = json!({"metadata": {"name": "n", "namespace": "d"}});
        let s = FieldSelector::parse("metadata.name=n,metadata.namespace!=x", "secrets")
            .map(|f| f.matches(&o));
        assert_eq!(s, Ok(true));
        assert_eq!(
            FieldSelector::parse("spec.x=1", "leases")
                .map(|_| ())
                .map_err(|e| e.code),
            Err(400)
        );
    }
}
