//! The answer of an apply that conflicts with other managers.
//!
//! copies (k8s.io/apimachinery `util/managedfields/internal/conflict.go`): 409 `Conflict`,
//! message `Apply failed with 1 conflict: conflict with "m" using v1: .spec.x` (several: one
//! line per manager, sorted, `- <path>` per field), one `FieldManagerConflict` cause per field
//! with `conflict with "m"`; a manager is printed with its subresource and, for updates, the
//! apiVersion it used.

use serde_json::json;

use super::super::status::ApiError;
use super::entries::Entry;

impl Entry {
    /// copies: `printManager`.
    pub fn printed(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            s.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == "Update" {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }
}

/// How a refused apply is answered.
pub enum ApplyError {
    /// 409 with the conflicts.
    Conflict(ApiError),
    /// The configuration does not fit the schema (the message after the prefix).
    Typed(String),
}

pub fn conflict_error(conflicts: &[(Entry, Vec<String>)]) -> ApiError {
    let total: usize = conflicts.iter().map(|(_, p)| p.len()).sum();
    let mut causes = Vec::new();
    for (e, paths) in conflicts {
        for p in paths {
            causes.push(json!({"reason": "FieldManagerConflict", "message": format!("conflict with {}", e.printed()), "field": p}));
        }
    }
    let message = if total == 1 {
        let (e, paths) = &conflicts[0];
        format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            e.printed(),
            paths[0]
        )
    } else {
        let mut sorted: Vec<&(Entry, Vec<String>)> = conflicts.iter().collect();
        sorted.sort_by(|a, b| a.0.manager.cmp(&b.0.manager));
        let mut lines = Vec::new();
        for (e, paths) in sorted {
            lines.push(format!("conflicts with {}:", e.printed()));
            lines.extend(paths.iter().map(|p| format!("- {p}")));
        }
        format!("Apply failed with {total} conflicts: {}", lines.join("\n"))
    };
    let mut err = ApiError::new(409, "Conflict", message);
    err.details = json!({"causes": causes});
    err
}
