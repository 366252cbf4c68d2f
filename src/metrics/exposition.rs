//! The two text formats `/metrics` can answer in, and how a scraper's `Accept` header picks one.
//!
//! prometheus-client 0.26 has two text encoders over the same registry:
//! - OpenMetrics 1.0 (`encoding::text`): `# TYPE hostrisk_reconciles counter` with samples
//!   `hostrisk_reconciles_total`, `# UNIT` lines, `# TYPE hostrisk_build info`, and a final
//!   `# EOF`. Prometheus >= 2.5 asks for it first in its `Accept` header.
//! - Prometheus text 0.0.4 (`encoding::prometheus_text`): counters typed under their `_total`
//!   name, info metrics as gauges, no `# UNIT` and no `# EOF`. Scrapers that only speak the
//!   classic format choke on the OpenMetrics `info` type and `# EOF`; this one they parse.
//!
//! Like Go's client_golang, OpenMetrics is served only when the scraper asks for it; anything
//! else (no header, `*/*`, `text/plain`) gets Prometheus text 0.0.4.

use prometheus_client::encoding::{
    prometheus_text, text, DescriptorEncoder, EncodeLabelSet, EncodeMetric,
};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::TypedMetric;
use prometheus_client::registry::{Registry, Unit};

/// Content type of an OpenMetrics 1.0 answer.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Content type of a Prometheus text 0.0.4 answer.
pub const PROMETHEUS_TEXT_CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpositionFormat {
    OpenMetrics,
    PrometheusText,
}

impl ExpositionFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            ExpositionFormat::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
            ExpositionFormat::PrometheusText => PROMETHEUS_TEXT_CONTENT_TYPE,
        }
    }

    /// Picks the format for an `Accept` header value: OpenMetrics when the header lists
    /// `application/openmetrics-text` with a q-value at least as high as any other range it
    /// lists, Prometheus text otherwise.
    pub fn negotiate(accept: Option<&str>) -> Self {
        let Some(accept) = accept else {
            return ExpositionFormat::PrometheusText;
        };
        let mut openmetrics_q: Option<f32> = None;
        let mut other_q: f32 = 0.0;
        for range in accept.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|v| v.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if media == "application/openmetrics-text" {
                openmetrics_q = Some(openmetrics_q.map_or(q, |prev| prev.max(q)));
            } else {
                other_q = other_q.max(q);
            }
        }
        match openmetrics_q {
            Some(q) if q > 0.0 && q >= other_q => ExpositionFormat::OpenMetrics,
            _ => ExpositionFormat::PrometheusText,
        }
    }

    pub(crate) fn encode(self, registry: &Registry) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        self.encode_into(registry, &mut out)?;
        Ok(out)
    }

    /// Writes the text of `registry` into `out` as it goes (`/metrics` streams it in chunks).
    pub(crate) fn encode_into<W: std::fmt::Write>(
        self,
        registry: &Registry,
        out: &mut W,
    ) -> Result<(), std::fmt::Error> {
        match self {
            ExpositionFormat::OpenMetrics => text::encode(out, registry),
            ExpositionFormat::PrometheusText => prometheus_text::encode(out, registry),
        }
    }
}

/// Writes `family` under `name` unless it has no series (as the registry does with the
/// families registered in it).
pub(crate) fn encode_family<S, M>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    family: &Family<S, M>,
) -> Result<(), std::fmt::Error>
where
    S: Clone + std::hash::Hash + Eq + EncodeLabelSet + std::fmt::Debug,
    M: EncodeMetric + TypedMetric + std::fmt::Debug,
{
    if family.is_empty() {
        return Ok(());
    }
    let metric = encoder.encode_descriptor(name, help, unit, family.metric_type())?;
    family.encode(metric)
}

#[cfg(test)]
mod tests {
    use super::ExpositionFormat::{OpenMetrics, PrometheusText};
    use super::*;

    #[test]
    fn prometheus_server_accept_header_gets_openmetrics() {
        // The header Prometheus 2.x/3.x sends by default.
        let accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                      version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(ExpositionFormat::negotiate(Some(accept)), OpenMetrics);
    }

    #[test]
    fn plain_scrapers_get_prometheus_text() {
        assert_eq!(ExpositionFormat::negotiate(None), PrometheusText);
        assert_eq!(ExpositionFormat::negotiate(Some("*/*")), PrometheusText);
        assert_eq!(
            ExpositionFormat::negotiate(Some("text/plain;version=0.0.4")),
            PrometheusText
        );
        assert_eq!(
            ExpositionFormat::negotiate(Some(
                "text/plain;version=0.0.4,application/openmetrics-text;q=0.5"
            )),
            PrometheusText
        );
        assert_eq!(
            ExpositionFormat::negotiate(Some("application/openmetrics-text;q=0")),
            PrometheusText
        );
    }
}
