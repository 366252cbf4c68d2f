//! Patch bodies: JSON merge patch and JSON patch (strategic merge patch is smp.rs, server-side
//! apply fields/).

use serde_json::{json, Value};

use super::resources::ResourceType;
use super::status::ApiError;

/// The patch types of the `Content-Type` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// `application/merge-patch+json`
    Merge,
    /// `application/json-patch+json`
    Json,
    /// `application/strategic-merge-patch+json`
    Strategic,
    /// `application/apply-patch+yaml`
    Apply,
}

impl PatchKind {
    /// copies: any other content type answers 415 UnsupportedMediaType.
    pub fn from_content_type(ct: &str, rt: &ResourceType) -> Result<Self, ApiError> {
        let kind = match ct.split(';').next().unwrap_or("").trim() {
            "application/merge-patch+json" => Self::Merge,
            "application/json-patch+json" => Self::Json,
            "application/strategic-merge-patch+json" => Self::Strategic,
            "application/apply-patch+yaml" => Self::Apply,
            _ => return Err(unsupported(ct, rt)),
        };
        // copies: custom resources do not accept strategic merge patch (415).
        if kind == Self::Strategic && rt.custom {
            return Err(unsupported(ct, rt));
        }
        Ok(kind)
    }
}

fn unsupported(_ct: &str, rt: &ResourceType) -> ApiError {
    let mut types = vec![
        "application/json-patch+json",
        "application/merge-patch+json",
    ];
    if !rt.custom {
        types.push("application/strategic-merge-patch+json");
    }
    types.push("application/apply-patch+yaml");
    ApiError::unsupported_media_type(format!(
        "the body of the request was in an unknown format - accepted media types include: {}",
        types.join(", ")
    ))
}

/// copies: RFC 7386 JSON merge patch exactly (objects merge recursively, `null` deletes,
/// everything else replaces, including arrays).
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    if let Value::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

fn pointer_tokens(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| format!("invalid JSON pointer: {path}"))?;
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn missing(op: &str, path: &str) -> String {
    format!("{op} operation does not apply: doc is missing path: \"{path}\": missing value")
}

fn parent_mut<'a>(
    doc: &'a mut Value,
    tokens: &[String],
    op: &str,
    path: &str,
) -> Result<&'a mut Value, String> {
    let mut cur = doc;
    for t in tokens {
        cur = match cur {
            Value::Object(m) => m.get_mut(t),
            Value::Array(a) => t.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| missing(op, path))?;
    }
    Ok(cur)
}

fn json_add(doc: &mut Value, path: &str, value: Value, op: &str) -> Result<(), String> {
    let tokens = pointer_tokens(path)?;
    let Some((last, parents)) = tokens.split_last() else {
        *doc = value;
        return Ok(());
    };
    match parent_mut(doc, parents, op, path)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
        }
        Value::Array(a) => {
            let idx = if last == "-" {
                a.len()
            } else {
                last.parse()
                    .map_err(|_| format!("Unable to access invalid index: {last}"))?
            };
            if idx > a.len() {
                return Err(format!("Unable to access invalid index: {idx}"));
            }
            a.insert(idx, value);
        }
        _ => return Err(missing(op, path)),
    }
    Ok(())
}

fn json_remove(doc: &mut Value, path: &str, op: &str) -> Result<Value, String> {
    let tokens = pointer_tokens(path)?;
    let (last, parents) = tokens.split_last().ok_or_else(|| missing(op, path))?;
    match parent_mut(doc, parents, op, path)? {
        Value::Object(m) => m.remove(last).ok_or_else(|| missing(op, path)),
        Value::Array(a) => {
            let idx: usize = last.parse().map_err(|_| missing(op, path))?;
            if idx < a.len() {
                Ok(a.remove(idx))
            } else {
                Err(missing(op, path))
            }
        }
        _ => Err(missing(op, path)),
    }
}

/// copies: RFC 6902 JSON patch (`add`, `remove`, `replace`, `move`, `copy`, `test`) with
/// evanphx/json-patch's messages; the first failing operation fails the whole patch.
pub fn json_patch(doc: &mut Value, patch: &Value) -> Result<(), String> {
    let ops = patch
        .as_array()
        .ok_or_else(|| "json patch must be an array".to_string())?;
    for op in ops {
        let path = op.get("path").and_then(Value::as_str).unwrap_or("");
        let value = op.get("value").cloned().unwrap_or(Value::Null);
        match op.get("op").and_then(Value::as_str).unwrap_or("") {
            "add" => json_add(doc, path, value, "add")?,
            "remove" => {
                json_remove(doc, path, "remove")?;
            }
            "replace" => {
                json_remove(doc, path, "replace")?;
                json_add(doc, path, value, "replace")?;
            }
            "move" => {
                let from = op.get("from").and_then(Value::as_str).unwrap_or("");
                let v = json_remove(doc, from, "move")?;
                json_add(doc, path, v, "move")?;
            }
            "copy" => {
                let from = op.get("from").and_then(Value::as_str).unwrap_or("");
                let v = doc
                    .pointer(from)
                    .cloned()
                    .ok_or_else(|| missing("copy", from))?;
                json_add(doc, path, v, "copy")?;
            }
            "test" => {
                if doc.pointer(path) != Some(&value) {
                    return Err(format!("testing value {path} failed: test failed"));
                }
            }
            other => return Err(format!("Unexpected kind: {other}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_rfc7386_examples() {
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (
                json!({"a":{"b":"c"}}),
                json!({"a":{"b":"d","c":null}}),
                json!({"a":{"b":"d"}}),
            ),
            (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
            (json!(["a", "b"]), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
            (
                json!({}),
                json!({"a":{"bb":{"ccc":null}}}),
                json!({"a":{"bb":{}}}),
            ),
        ];
        for (mut t, p, want) in cases {
            merge_patch(&mut t, &p);
            assert_eq!(t, want);
        }
    }

    #[test]
    fn json_patch_ops() {
        let mut d = json!({"a": [1, 2], "b": {"c": 1}});
        let p = json!([
            {"op": "add", "path": "/a/-", "value": 3},
            {"op": "replace", "path": "/b/c", "value": 2},
            {"op": "move", "from": "/b", "path": "/m"},
            {"op": "test", "path": "/m/c", "value": 2},
            {"op": "remove", "path": "/a/0"}
        ]);
        json_patch(&mut d, &p).unwrap();
        assert_eq!(d, json!({"a": [2, 3], "m": {"c": 2}}));
        assert!(json_patch(&mut d, &json!([{"op": "remove", "path": "/zz"}])).is_err());
    }
}
