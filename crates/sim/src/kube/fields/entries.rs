//! `metadata.managedFields` entries and their JSON.
//!
//! copies: one entry per manager, operation (`Apply` / `Update`), subresource and, for `Update`,
//! apiVersion; entries sorted Apply before Update, then by time, manager, apiVersion,
//! subresource; entries owning nothing are not written.

use serde_json::{json, Value};

use super::set::FieldSet;

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// `manager`
    pub manager: String,
    /// `Apply` or `Update`
    pub operation: String,
    /// `apiVersion`
    pub api_version: String,
    /// `time`
    pub time: Option<String>,
    /// `subresource` ("" for the main resource)
    pub subresource: String,
    /// `fieldsV1`
    pub set: FieldSet,
}

impl Entry {
    pub fn is(&self, manager: &str, operation: &str, subresource: &str, api_version: &str) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource == subresource
            && (operation == "Apply" || self.api_version == api_version)
    }
}

/// Reads `metadata.managedFields`; Err when malformed.
pub fn decode(obj: &Value) -> Result<Vec<Entry>, ()> {
    let Some(list) = obj.pointer("/metadata/managedFields") else {
        return Ok(Vec::new());
    };
    let Some(list) = list.as_array() else {
        return if list.is_null() {
            Ok(Vec::new())
        } else {
            Err(())
        };
    };
    let mut out = Vec::new();
    for e in list {
        let text = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_string);
        let set = match e.get("fieldsV1") {
            Some(v) => FieldSet::from_fields_v1(v).ok_or(())?,
            None => FieldSet::default(),
        };
        out.push(Entry {
            manager: text("manager").ok_or(())?,
            operation: text("operation")
                .filter(|o| o == "Apply" || o == "Update")
                .ok_or(())?,
            api_version: text("apiVersion").unwrap_or_default(),
            time: text("time"),
            subresource: text("subresource").unwrap_or_default(),
            set,
        });
    }
    Ok(out)
}

/// Writes `entries` as `metadata.managedFields` (sorted; empty ones dropped; none: removed).
pub fn encode(mut entries: Vec<Entry>, obj: &mut Value) {
    entries.retain(|e| !e.set.is_empty());
    entries.sort_by(|a, b| {
        (
            &a.operation,
            &a.time,
            &a.manager,
            &a.api_version,
            &a.subresource,
        )
            .cmp(&(
                &b.operation,
                &b.time,
                &b.manager,
                &b.api_version,
                &b.subresource,
            ))
    });
    let list: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut v = json!({"manager": e.manager, "operation": e.operation, "apiVersion": e.api_version,
                "fieldsType": "FieldsV1", "fieldsV1": e.set.to_fields_v1()});
            if let Some(t) = &e.time {
                v["time"] = json!(t);
            }
            if !e.subresource.is_empty() {
                v["subresource"] = json!(e.subresource);
            }
            v
        })
        .collect();
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if list.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(list));
        }
    }
}
