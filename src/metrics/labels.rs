//! Label sets and the bounded label values the public API accepts.
//!
//! Every label value that reaches a family comes either from a closed enum here or from a
//! bounded source (watch names, HSS enum strings, host ids behind the per-host flag), so the
//! number of series stays proportional to the number of watches.
//!
//! A watch's `namespace` and `name` are one allocation ([`WatchLabels`], a thin pointer) shared
//! by the watch's record and its per-host series; the per-watch series are written from the
//! record at scrape time ([`WatchSeriesLabels`]) and hold no label set of their own.

use std::sync::Arc;

use prometheus_client::encoding::{EncodeLabel, EncodeLabelSet, LabelSetEncoder};

/// How a reconcile ended, for `hostrisk_reconciles_total{result}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReconcileOutcome<'a> {
    Ok,
    /// A failed reconcile with a short CamelCase reason such as `HssThrottled` or
    /// `SecretNotFound` (see [`reason_label`] for how other strings are treated).
    Error(&'a str),
}

/// The class of one outbound HSS (or IAM) HTTP exchange (defined by the HSS client).
pub use hostrisk_hss::AttemptOutcome as HssOutcome;

/// Value of the `reason` label for anything that is not a short CamelCase word.
pub const OTHER_REASON: &str = "Other";

const MAX_REASON_LEN: usize = 64;

/// The `reason` label value for a reconcile error.
///
/// Reasons are meant to be a closed set of CamelCase words (an error enum's variant name).
/// A free-form string (an error message, an HSS error text) would create one series per
/// distinct message, so anything that is not `[A-Z][A-Za-z0-9]{0,63}` is counted as
/// [`OTHER_REASON`] instead.
pub fn reason_label(reason: &str) -> &str {
    let mut bytes = reason.bytes();
    let well_formed = reason.len() <= MAX_REASON_LEN
        && bytes.next().is_some_and(|b| b.is_ascii_uppercase())
        && bytes.all(|b| b.is_ascii_alphanumeric());
    if well_formed {
        reason
    } else {
        OTHER_REASON
    }
}

/// The `code` label value: the HTTP status, or `none` when no HTTP answer arrived.
pub(crate) fn code_label(code: Option<u16>) -> String {
    match code {
        Some(code) => code.to_string(),
        None => "none".to_owned(),
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ResultLabels {
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ReasonLabels {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct HssRequestLabels {
    pub operation: &'static str,
    pub outcome: &'static str,
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct OperationLabels {
    pub operation: &'static str,
}

/// The `namespace` and `name` labels of a watch's series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct WatchLabels(Arc<WatchName>);

#[derive(Debug, Hash, PartialEq, Eq, PartialOrd, Ord)]
struct WatchName {
    namespace: Box<str>,
    name: Box<str>,
}

impl WatchLabels {
    pub fn new(namespace: &str, name: &str) -> Self {
        Self(Arc::new(WatchName {
            namespace: namespace.into(),
            name: name.into(),
        }))
    }

    pub fn namespace(&self) -> &str {
        &self.0.namespace
    }

    pub fn name(&self) -> &str {
        &self.0.name
    }
}

impl EncodeLabelSet for WatchLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        ("namespace", self.namespace()).encode(encoder.encode_label())?;
        ("name", self.name()).encode(encoder.encode_label())
    }
}

/// The values `watch_snapshot` counts hosts by (agent status, protection, detection).
pub(crate) const AGENT_STATUSES: &[&str] = &["online", "offline", "not_installed", "other"];
pub(crate) const PROTECT_STATUSES: &[&str] = &["opened", "closed"];
pub(crate) const DETECT_RESULTS: &[&str] = &["risk", "clean", "scanning", "undetected"];

/// The labels of one per-watch series: the watch's, then up to two more.
pub(crate) struct WatchSeriesLabels<'a> {
    pub watch: &'a WatchLabels,
    pub more: &'a [(&'a str, &'a str)],
}

impl EncodeLabelSet for WatchSeriesLabels<'_> {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        self.watch.encode(encoder)?;
        for label in self.more {
            label.encode(encoder.encode_label())?;
        }
        Ok(())
    }
}

/// Writes `labels` in order, with `node` after `host_id` when there is one: per-host series of
/// node-backed watches name the Node (alerts print it), the others have no `node` label at all
/// rather than an empty one.
fn encode_with_node(
    encoder: &mut LabelSetEncoder,
    labels: &[(&str, &str)],
    node: Option<&str>,
) -> Result<(), std::fmt::Error> {
    for (key, value) in labels {
        (*key, *value).encode(encoder.encode_label())?;
        if *key == "host_id" {
            if let Some(node) = node {
                ("node", node).encode(encoder.encode_label())?;
            }
        }
    }
    Ok(())
}

/// The host of a per-host series.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub(crate) struct HostLabels {
    pub watch: WatchLabels,
    pub host_id: String,
    pub node: Option<String>,
}

impl HostLabels {
    /// The host's labels (`node` after `host_id` when there is one), then `more`.
    fn encode_with(
        &self,
        encoder: &mut LabelSetEncoder,
        more: &[(&str, &str)],
    ) -> Result<(), std::fmt::Error> {
        let mut labels = vec![
            ("namespace", self.watch.namespace()),
            ("name", self.watch.name()),
            ("host_id", self.host_id.as_str()),
        ];
        labels.extend_from_slice(more);
        encode_with_node(encoder, &labels, self.node.as_deref())
    }
}

impl EncodeLabelSet for HostLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        self.encode_with(encoder, &[])
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub(crate) struct HostRiskLabels {
    pub host: HostLabels,
    pub kind: &'static str,
}

impl EncodeLabelSet for HostRiskLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        self.host.encode_with(encoder, &[("kind", self.kind)])
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub(crate) struct HostStatusLabels {
    pub host: HostLabels,
    pub agent_status: String,
    pub protect_status: String,
    pub detect_result: String,
}

impl EncodeLabelSet for HostStatusLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        self.host.encode_with(
            encoder,
            &[
                ("agent_status", &self.agent_status),
                ("protect_status", &self.protect_status),
                ("detect_result", &self.detect_result),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_reasons_pass_through() {
        assert_eq!(reason_label("HssThrottled"), "HssThrottled");
        assert_eq!(reason_label("Kube409"), "Kube409");
    }

    #[test]
    fn free_form_reasons_collapse_to_other() {
        assert_eq!(reason_label(""), OTHER_REASON);
        assert_eq!(reason_label("secret not found"), OTHER_REASON);
        assert_eq!(reason_label("lowerCase"), OTHER_REASON);
        assert_eq!(reason_label("Bad\"Quote"), OTHER_REASON);
        assert_eq!(reason_label(&"A".repeat(65)), OTHER_REASON);
        assert_eq!(reason_label(&"A".repeat(64)), "A".repeat(64));
    }

    #[test]
    fn missing_http_code_is_none() {
        assert_eq!(code_label(Some(429)), "429");
        assert_eq!(code_label(None), "none");
    }
}
