//! Node validation (`ValidateNode`, `ValidateNodeUpdate` of pkg/apis/core/validation) for what
//! the stand-in's Nodes carry.
//!
//! copies:
//! - taints: key a qualified name, value a label value, effect one of `NoSchedule`,
//!   `PreferNoSchedule`, `NoExecute` (Required when empty), unique by key and effect
//!   (`Duplicate value: ...: taints must be unique by key and effect pair`). The real validator
//!   reports these under `metadata.taints[i]` (it is handed the metadata path), and so does the
//!   stand-in;
//! - `spec.providerID` and `spec.podCIDRs` may only change from empty (Forbidden);
//! - `status.addresses` may not hold the same address twice.
//!
//! Not validated, as on a real server: `status.conditions` (any type and status are stored).

use serde_json::{json, Value};

use super::field::{BadValue, FieldError};
use super::meta::{label_value, qualified_name};

const EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

fn taints(node: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(taints) = node.pointer("/spec/taints").and_then(Value::as_array) else {
        return errors;
    };
    let mut seen: Vec<(String, String)> = Vec::new();
    for (i, taint) in taints.iter().enumerate() {
        let path = format!("metadata.taints[{i}]");
        let key = taint.get("key").and_then(Value::as_str).unwrap_or("");
        for m in qualified_name(key) {
            errors.push(FieldError::invalid(&format!("{path}.key"), json!(key), m));
        }
        let value = taint.get("value").and_then(Value::as_str).unwrap_or("");
        let value_msgs = label_value(value);
        if !value_msgs.is_empty() {
            errors.push(FieldError::invalid(
                &format!("{path}.value"),
                json!(value),
                value_msgs.join(";"),
            ));
        }
        let effect = taint.get("effect").and_then(Value::as_str).unwrap_or("");
        if effect.is_empty() {
            errors.push(FieldError::required(&format!("{path}.effect"), ""));
        } else if !EFFECTS.contains(&effect) {
            let supported: Vec<String> = EFFECTS.iter().map(|e| e.to_string()).collect();
            errors.push(FieldError::not_supported(
                &format!("{path}.effect"),
                json!(effect),
                &supported,
            ));
        }
        let pair = (key.to_string(), effect.to_string());
        if seen.contains(&pair) {
            let mut e = FieldError::duplicate(
                &path,
                BadValue::Raw(format!(
                    "core.Taint{{Key:{}, Value:{}, Effect:{}, TimeAdded:(*v1.Time)(nil)}}",
                    super::field::go_quote(key),
                    super::field::go_quote(value),
                    super::field::go_quote(effect)
                )),
            );
            e.detail = "taints must be unique by key and effect pair".into();
            errors.push(e);
            continue;
        }
        seen.push(pair);
    }
    errors
}

/// copies: the Node strategies: `ValidateNode` on create; `ValidateNode` + `ValidateNodeUpdate`
/// on a main-resource update (so taint errors come twice, as causes; the message shows them
/// once); `ValidateNodeUpdate` alone through `/status`.
pub fn validate(node: &Value, old: Option<&Value>, via_status: bool) -> Vec<FieldError> {
    let mut errors = if via_status { Vec::new() } else { taints(node) };
    let Some(old) = old else {
        return errors;
    };
    errors.extend(taints(node));
    let text = |v: &Value, p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let (before, after) = (
        text(old, "/spec/providerID"),
        text(node, "/spec/providerID"),
    );
    if !before.is_empty() && before != after {
        errors.push(FieldError::forbidden(
            "spec.providerID",
            "node updates may not change providerID except from \"\" to valid",
        ));
    }
    let cidrs = |v: &Value| v.pointer("/spec/podCIDRs").cloned().unwrap_or(Value::Null);
    let old_cidrs = cidrs(old);
    if old_cidrs.as_array().is_some_and(|a| !a.is_empty()) && old_cidrs != cidrs(node) {
        errors.push(FieldError::forbidden(
            "spec.podCIDRs",
            "node updates may not change podCIDR except from \"\" to valid",
        ));
    }
    if let Some(addresses) = node.pointer("/status/addresses").and_then(Value::as_array) {
        for (i, a) in addresses.iter().enumerate() {
            if addresses[..i].contains(a) {
                errors.push(FieldError::duplicate(
                    &format!("status.addresses[{i}]"),
                    BadValue::Raw(format!(
                        "core.NodeAddress{{Type:{}, Address:{}}}",
                        super::field::go_quote(a.get("type").and_then(Value::as_str).unwrap_or("")),
                        super::field::go_quote(
                            a.get("address").and_then(Value::as_str).unwrap_or("")
                        )
                    )),
                ));
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taints_are_checked_under_metadata_like_the_real_validator() {
        let node = json!({"spec": {"taints": [
            {"key": "hostrisk.io/unprotected", "effect": "NoSchedule"},
            {"key": "hostrisk.io/unprotected", "effect": "NoSchedule"},
            {"key": "bad key", "effect": "Sometimes"},
            {"key": "k"}
        ]}});
        let errs: Vec<String> = validate(&node, None, false)
            .iter()
            .map(FieldError::message)
            .collect();
        assert_eq!(errs[0], "metadata.taints[1]: Duplicate value: core.Taint{Key:\"hostrisk.io/unprotected\", Value:\"\", Effect:\"NoSchedule\", TimeAdded:(*v1.Time)(nil)}: taints must be unique by key and effect pair");
        assert!(errs[1].starts_with("metadata.taints[2].key: Invalid value: \"bad key\""));
        assert_eq!(errs[2], "metadata.taints[2].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"");
        assert_eq!(errs[3], "metadata.taints[3].effect: Required value");
    }
}
