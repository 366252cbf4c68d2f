//! The API server's own record of every request, parsed.
//!
//! Why read the audit log rather than count requests in the test: the operator under test may
//! be another process with its own client, and only the API server sees every request with the
//! identity it authenticated and the answer it gave. Least-privilege tests ("zero 403s for the
//! operator") and leader tests ("no write from the old leader") are assertions over this log.

use std::path::Path;

use serde::Deserialize;

use crate::EnvtestError;

/// The authenticated user of a request.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct AuditUser {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub groups: Vec<String>,
}

/// The object a request was about.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AuditObjectRef {
    #[serde(default)]
    pub resource: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
    pub api_group: Option<String>,
}

/// The answer's status (`code` is the HTTP status).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct AuditResponseStatus {
    pub code: Option<u16>,
    pub reason: Option<String>,
    pub message: Option<String>,
}

/// One audit event (`audit.k8s.io/v1` Event) at stage `ResponseComplete`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    #[serde(default)]
    pub stage: String,
    #[serde(default)]
    pub verb: String,
    #[serde(default, rename = "requestURI")]
    pub request_uri: String,
    #[serde(default)]
    pub user: AuditUser,
    pub user_agent: Option<String>,
    pub object_ref: Option<AuditObjectRef>,
    pub response_status: Option<AuditResponseStatus>,
    pub request_received_timestamp: Option<String>,
}

impl AuditEvent {
    /// The HTTP status of the answer (0 when the log has none).
    pub fn code(&self) -> u16 {
        self.response_status
            .as_ref()
            .and_then(|s| s.code)
            .unwrap_or(0)
    }

    /// `resource` or `resource/subresource` (empty for non-resource URLs like `/readyz`).
    pub fn resource(&self) -> String {
        match &self.object_ref {
            Some(r) => match &r.subresource {
                Some(sub) if !sub.is_empty() => format!("{}/{sub}", r.resource),
                _ => r.resource.clone(),
            },
            None => String::new(),
        }
    }

    /// The namespace of the object, if any.
    pub fn namespace(&self) -> Option<&str> {
        self.object_ref
            .as_ref()
            .and_then(|r| r.namespace.as_deref())
    }

    /// The name of the object, if any.
    pub fn name(&self) -> Option<&str> {
        self.object_ref.as_ref().and_then(|r| r.name.as_deref())
    }

    /// The request's user name, e.g. `system:serviceaccount:NS:NAME`.
    pub fn username(&self) -> &str {
        &self.user.username
    }

    /// One line for failure messages: `user verb resource ns/name -> code (user agent)`.
    pub fn summary(&self) -> String {
        format!(
            "{} {} {} {}/{} -> {} ({})",
            self.user.username,
            self.verb,
            self.resource(),
            self.namespace().unwrap_or("-"),
            self.name().unwrap_or("-"),
            self.code(),
            self.user_agent.as_deref().unwrap_or("no user agent"),
        )
    }
}

/// The policy the control plane starts with when the audit log is on: every request at
/// Metadata level (who, what, answer; no bodies, so no Secret data), logged once when the
/// answer is complete.
pub(crate) const POLICY: &str = "apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted]
rules:
  - level: Metadata
";

/// Parses the JSON-lines audit log, keeping `ResponseComplete` events. A last line still being
/// written (no newline yet) is left for the next read.
pub(crate) fn read(path: &Path) -> Result<Vec<AuditEvent>, EnvtestError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(EnvtestError::io(format!("reading {}", path.display()), e)),
    };
    let complete = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => "",
    };
    let mut events = Vec::new();
    for (index, line) in complete.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let event: AuditEvent =
            serde_json::from_str(line).map_err(|e| EnvtestError::AuditParse {
                line: index + 1,
                message: e.to_string(),
            })?;
        if event.stage == "ResponseComplete" {
            events.push(event);
        }
    }
    Ok(events)
}
