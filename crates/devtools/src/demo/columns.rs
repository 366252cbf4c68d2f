//! The CRD's `additionalPrinterColumns`, evaluated the way the API server's table converter does
//! for `kubectl get`: each column's JSONPath is run against the object, `date` columns show the
//! age of the timestamp (`HumanDuration`), missing values show as an empty cell.
//!
//! Only the JSONPath forms printer columns use are supported: `.field`, `[n]`, `[*]` and
//! `[?(@.a.b=="value")]` / `!=`. Anything else is reported as an error rather than guessed.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::Value;

/// One printer column of the CRD version being shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterColumn {
    pub name: String,
    /// OpenAPI type of the column: `string`, `integer`, `number`, `boolean` or `date`.
    pub type_: String,
    pub json_path: String,
    /// 0 for the default view, higher for `-o wide`.
    pub priority: i32,
}

impl PrinterColumn {
    /// The header as kubectl prints it, upper case; spaces become dashes so every header is one
    /// word (`AT-RISK`), which keeps the table readable by `awk` like kubectl's.
    pub fn header(&self) -> String {
        self.name.to_uppercase().replace(' ', "-")
    }
}

/// A JSONPath the evaluator does not understand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported JSONPath {path:?}: {reason}")]
pub struct PathError {
    pub path: String,
    pub reason: String,
}

/// The priority-0 printer columns of `version` in `crd`, in declaration order.
pub fn default_columns(crd: &CustomResourceDefinition, version: &str) -> Vec<PrinterColumn> {
    crd.spec
        .versions
        .iter()
        .filter(|v| v.name == version)
        .flat_map(|v| v.additional_printer_columns.iter().flatten())
        .filter(|c| c.priority.unwrap_or(0) == 0)
        .map(|c| PrinterColumn {
            name: c.name.clone(),
            type_: c.type_.clone(),
            json_path: c.json_path.clone(),
            priority: c.priority.unwrap_or(0),
        })
        .collect()
}

/// The column's value in `object`: `None` when the path finds nothing, the values joined with
/// `,` when it finds several.
pub fn raw_value(column: &PrinterColumn, object: &Value) -> Result<Option<String>, PathError> {
    let found = evaluate(&column.json_path, object)?;
    let texts: Vec<String> = found
        .iter()
        .filter(|v| !v.is_null())
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    Ok((!texts.is_empty()).then(|| texts.join(",")))
}

/// The text of a cell: dates as an age relative to `now`, everything else as found.
pub fn display_value(column: &PrinterColumn, raw: Option<&str>, now: Timestamp) -> String {
    match raw {
        None => String::new(),
        Some(text) if column.type_ == "date" => match text.parse::<Timestamp>() {
            Ok(at) => human_duration(now.duration_since(at)),
            Err(_) => text.to_string(),
        },
        Some(text) => text.to_string(),
    }
}

/// kubectl's `HumanDuration` (k8s.io/apimachinery/pkg/util/duration): `45s`, `3m12s`, `25m`,
/// `2h5m`, `30h`, `3d4h`, `90d`, `2y10d`.
pub fn human_duration(elapsed: jiff::SignedDuration) -> String {
    let seconds = elapsed.as_secs();
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    let d = Duration::from_secs(u64::try_from(seconds).unwrap_or(0));
    let s = d.as_secs();
    let (m, h, days) = (s / 60, s / 3600, s / 86_400);
    match () {
        _ if s < 120 => format!("{s}s"),
        _ if m < 10 => match s % 60 {
            0 => format!("{m}m"),
            rest => format!("{m}m{rest}s"),
        },
        _ if m < 180 => format!("{m}m"),
        _ if h < 8 => match m % 60 {
            0 => format!("{h}h"),
            rest => format!("{h}h{rest}m"),
        },
        _ if h < 48 => format!("{h}h"),
        _ if h < 24 * 8 => match h % 24 {
            0 => format!("{days}d"),
            rest => format!("{days}d{rest}h"),
        },
        _ if h < 24 * 365 * 2 => format!("{days}d"),
        _ if h < 24 * 365 * 8 => match days % 365 {
            0 => format!("{}y", days / 365),
            rest => format!("{}y{rest}d", days / 365),
        },
        _ => format!("{}y", days / 365),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(usize),
    All,
    Filter {
        path: Vec<String>,
        equal: bool,
        literal: Value,
    },
}

/// Every value `path` selects in `root`.
pub fn evaluate(path: &str, root: &Value) -> Result<Vec<Value>, PathError> {
    let steps = parse(path)?;
    let mut current = vec![root.clone()];
    for step in &steps {
        current = current.iter().flat_map(|node| apply(step, node)).collect();
    }
    Ok(current)
}

fn apply(step: &Step, node: &Value) -> Vec<Value> {
    match (step, node) {
        (Step::Field(name), Value::Object(map)) => map.get(name).cloned().into_iter().collect(),
        (Step::Index(i), Value::Array(items)) => items.get(*i).cloned().into_iter().collect(),
        (Step::All, Value::Array(items)) => items.clone(),
        (Step::All, Value::Object(map)) => map.values().cloned().collect(),
        (
            Step::Filter {
                path,
                equal,
                literal,
            },
            Value::Array(items),
        ) => items
            .iter()
            .filter(|item| {
                let found = path.iter().try_fold(*item, |v, key| v.get(key));
                (found == Some(literal)) == *equal
            })
            .cloned()
            .collect(),
        _ => Vec::new(),
    }
}

fn parse(path: &str) -> Result<Vec<Step>, PathError> {
    let fail = |reason: &str| PathError {
        path: path.to_string(),
        reason: reason.to_string(),
    };
    let text = path.trim();
    let text = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .unwrap_or(text);
    let text = text.strip_prefix('$').unwrap_or(text);
    let mut steps = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let name = &after[..end];
            if name.is_empty() {
                return Err(fail("empty field name"));
            }
            steps.push(Step::Field(name.to_string()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = closing_bracket(after).ok_or_else(|| fail("unclosed '['"))?;
            steps.push(parse_bracket(&after[..end]).map_err(|reason| fail(&reason))?);
            rest = &after[end + 1..];
        } else {
            return Err(fail("expected '.' or '['"));
        }
    }
    Ok(steps)
}

/// Index of the `]` closing a bracket whose content starts `text`, skipping quoted strings.
fn closing_bracket(text: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, ']') => return Some(i),
            _ => {}
        }
    }
    None
}

fn parse_bracket(inner: &str) -> Result<Step, String> {
    let inner = inner.trim();
    if inner == "*" {
        return Ok(Step::All);
    }
    if let Ok(i) = inner.parse::<usize>() {
        return Ok(Step::Index(i));
    }
    let Some(expr) = inner
        .strip_prefix("?(")
        .and_then(|e| e.strip_suffix(')'))
        .map(str::trim)
    else {
        return Err(format!("unsupported bracket [{inner}]"));
    };
    let (lhs, rhs, equal) = match (expr.split_once("=="), expr.split_once("!=")) {
        (Some((l, r)), _) => (l, r, true),
        (None, Some((l, r))) => (l, r, false),
        _ => return Err(format!("unsupported filter {expr:?}: only == and !=")),
    };
    let field_path = lhs
        .trim()
        .strip_prefix("@.")
        .ok_or_else(|| format!("filter must start with @.: {expr:?}"))?;
    let rhs = rhs.trim();
    let literal = if let Some(s) = rhs
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .or_else(|| rhs.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')))
    {
        Value::String(s.to_string())
    } else {
        serde_json::from_str(rhs).map_err(|_| format!("unsupported literal {rhs:?}"))?
    };
    Ok(Step::Filter {
        path: field_path.split('.').map(str::to_string).collect(),
        equal,
        literal,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn column(path: &str, type_: &str) -> PrinterColumn {
        PrinterColumn {
            name: "X".into(),
            type_: type_.into(),
            json_path: path.into(),
            priority: 0,
        }
    }

    #[test]
    fn condition_filter_picks_the_ready_status() {
        let obj = json!({"status": {"conditions": [
            {"type": "CredentialsValid", "status": "False"},
            {"type": "Ready", "status": "True"},
        ]}});
        let col = column(r#".status.conditions[?(@.type=="Ready")].status"#, "string");
        assert_eq!(raw_value(&col, &obj).unwrap().as_deref(), Some("True"));
        let col = column(r#".status.conditions[?(@.type!="Ready")].status"#, "string");
        assert_eq!(raw_value(&col, &obj).unwrap().as_deref(), Some("False"));
    }

    #[test]
    fn missing_values_are_none_and_numbers_print_plainly() {
        let obj = json!({"status": {"summary": {"detectRisk": 2}}, "items": [1, 2]});
        let risk = column(".status.summary.detectRisk", "integer");
        assert_eq!(raw_value(&risk, &obj).unwrap().as_deref(), Some("2"));
        let missing = column(".status.summary.agentOffline", "integer");
        assert_eq!(raw_value(&missing, &obj).unwrap(), None);
        assert_eq!(display_value(&missing, None, Timestamp::now()), "");
        let all = column(".items[*]", "integer");
        assert_eq!(raw_value(&all, &obj).unwrap().as_deref(), Some("1,2"));
        let second = column("{.items[1]}", "integer");
        assert_eq!(raw_value(&second, &obj).unwrap().as_deref(), Some("2"));
    }

    #[test]
    fn unsupported_paths_are_errors() {
        for path in ["status", ".a[1:2]", ".a[?(@.x>1)]", ".a[", ".a..b"] {
            assert!(evaluate(path, &json!({})).is_err(), "{path}");
        }
    }

    #[test]
    fn dates_show_kubectl_ages() {
        let col = column(".metadata.creationTimestamp", "date");
        let now: Timestamp = "2026-01-01T12:00:00Z".parse().unwrap();
        assert_eq!(
            display_value(&col, Some("2026-01-01T11:59:15Z"), now),
            "45s"
        );
        assert_eq!(
            display_value(&col, Some("2026-01-01T11:56:48Z"), now),
            "3m12s"
        );
        assert_eq!(display_value(&col, Some("not a date"), now), "not a date");
    }

    #[test]
    fn human_duration_matches_apimachinery_thresholds() {
        let cases = [
            (0, "0s"),
            (119, "119s"),
            (120, "2m"),
            (192, "3m12s"),
            (600, "10m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 300, "3h5m"),
            (30 * 3600, "30h"),
            (3 * 86_400 + 4 * 3600, "3d4h"),
            (90 * 86_400, "90d"),
            (2 * 365 * 86_400 + 10 * 86_400, "2y10d"),
            (9 * 365 * 86_400, "9y"),
        ];
        for (secs, want) in cases {
            assert_eq!(
                human_duration(jiff::SignedDuration::from_secs(secs)),
                want,
                "{secs}"
            );
        }
        assert_eq!(
            human_duration(jiff::SignedDuration::from_secs(-5)),
            "<invalid>"
        );
    }

    #[test]
    fn headers_are_upper_case_single_words() {
        let mut col = column(".x", "string");
        col.name = "At Risk".into();
        assert_eq!(col.header(), "AT-RISK");
    }
}
