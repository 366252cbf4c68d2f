//! The operator's own `/metrics`, as a Prometheus server would scrape it from outside the
//! process, reduced to what the benchmark measures a separate operator process by: HSS calls,
//! status writes, the poller's groups (watches, hosts, whether a full sweep ended) and every
//! watch's last successful poll.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Ids per `ListHostsRisk` call: a group's minimum calls per sweep is its hosts over this.
const IDS_PER_CALL: u64 = 100;
/// Longest wait for one scrape (connect, encode, transfer).
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(30);

/// One poller group as its gauges show it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupFigures {
    pub watches: u64,
    pub hosts: u64,
    /// `poller_sweep_duration_seconds` is exported: the group finished a full sweep.
    pub swept: bool,
}

/// What one scrape said.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OperatorMetrics {
    /// `hostrisk_hss_requests_total{operation="list_hosts_risk"}`, every outcome and code.
    pub list_calls: u64,
    /// `hostrisk_status_writes_total`.
    pub status_writes: u64,
    pub groups: BTreeMap<String, GroupFigures>,
    /// `hostrisk_watch_last_success_timestamp_seconds` of every watch that has one (Unix
    /// seconds of the data of its last successful poll).
    pub last_success: Vec<f64>,
    /// Size of the exposition text.
    pub bytes: u64,
}

impl OperatorMetrics {
    /// Reads Prometheus text (0.0.4) or OpenMetrics.
    pub fn parse(text: &str) -> Self {
        let mut metrics = OperatorMetrics {
            bytes: text.len() as u64,
            ..OperatorMetrics::default()
        };
        for sample in text.lines().filter_map(Sample::parse) {
            let group = || sample.label("group").unwrap_or_default().to_string();
            match sample.name {
                "hostrisk_hss_requests_total"
                    if sample.label("operation") == Some("list_hosts_risk") =>
                {
                    metrics.list_calls += whole(sample.value);
                }
                "hostrisk_status_writes_total" => metrics.status_writes += whole(sample.value),
                "hostrisk_poller_watches" => {
                    metrics.groups.entry(group()).or_default().watches += whole(sample.value);
                }
                "hostrisk_poller_hosts" => {
                    metrics.groups.entry(group()).or_default().hosts += whole(sample.value);
                }
                "hostrisk_poller_sweep_duration_seconds" => {
                    metrics.groups.entry(group()).or_default().swept = true;
                }
                "hostrisk_watch_last_success_timestamp_seconds" => {
                    metrics.last_success.push(sample.value);
                }
                _ => {}
            }
        }
        metrics
    }

    /// Watches registered with the poller, over every group.
    pub fn poller_watches(&self) -> u64 {
        self.groups.values().map(|g| g.watches).sum()
    }

    /// The fewest calls that refresh every watch once: each group's hosts in calls of 100.
    pub fn min_calls(&self) -> u64 {
        self.groups
            .values()
            .map(|g| g.hosts.div_ceil(IDS_PER_CALL))
            .sum()
    }

    /// At least `watches` registered and every group with watches done with a full sweep.
    pub fn swept(&self, watches: u64) -> bool {
        self.poller_watches() >= watches
            && self.groups.values().any(|g| g.watches > 0)
            && self
                .groups
                .values()
                .filter(|g| g.watches > 0)
                .all(|g| g.swept)
    }

    /// Watches whose last successful poll fetched data at `since` (Unix seconds) or later.
    pub fn polled_since(&self, since: f64) -> u64 {
        self.last_success.iter().filter(|&&t| t >= since).count() as u64
    }

    /// The oldest data among the watches polled at `since` or later: when the sweep that
    /// refreshed them made its first call.
    pub fn first_poll_since(&self, since: f64) -> Option<f64> {
        self.last_success
            .iter()
            .copied()
            .filter(|&t| t >= since)
            .min_by(f64::total_cmp)
    }
}

fn whole(value: f64) -> u64 {
    if value.is_finite() && value > 0.0 {
        value.round() as u64
    } else {
        0
    }
}

/// One sample line: `name{labels} value [timestamp]`.
#[derive(Debug, PartialEq)]
struct Sample<'a> {
    name: &'a str,
    labels: &'a str,
    value: f64,
}

impl<'a> Sample<'a> {
    fn parse(line: &'a str) -> Option<Self> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let (name, labels, rest) = match line.find(['{', ' ']) {
            Some(at) if line[at..].starts_with('{') => {
                let close = at + line[at..].rfind('}')?;
                (&line[..at], &line[at + 1..close], &line[close + 1..])
            }
            Some(at) => (&line[..at], "", &line[at..]),
            None => return None,
        };
        let value = rest.split_whitespace().next()?.parse().ok()?;
        Some(Sample {
            name,
            labels,
            value,
        })
    }

    /// The value of label `key` (label values here never hold quotes or commas).
    fn label(&self, key: &str) -> Option<&'a str> {
        self.labels.split(',').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k.trim() == key).then(|| v.trim().trim_matches('"'))
        })
    }
}

/// `GET /metrics` from `addr`; the body, or why there is none (not listening yet, an answer
/// other than 200).
pub async fn scrape(addr: SocketAddr) -> Result<String, String> {
    tokio::time::timeout(SCRAPE_TIMEOUT, get_metrics(addr))
        .await
        .map_err(|_| format!("no /metrics answer from {addr} in time"))?
}

async fn get_metrics(addr: SocketAddr) -> Result<String, String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connecting to {addr}: {e}"))?;
    // HTTP/1.0: the server closes the connection after the body, which is never chunked.
    let request = format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("asking {addr} for /metrics: {e}"))?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .map_err(|e| format!("reading /metrics of {addr}: {e}"))?;
    body_of(&String::from_utf8_lossy(&response))
}

fn body_of(response: &str) -> Result<String, String> {
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| "a /metrics answer without headers".to_string())?;
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(format!("/metrics answered {status:?}"));
    }
    Ok(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# HELP hostrisk_hss_requests_total Outbound HSS/IAM HTTP requests
# TYPE hostrisk_hss_requests_total counter
hostrisk_hss_requests_total{operation=\"list_hosts_risk\",outcome=\"ok\",code=\"200\"} 7
hostrisk_hss_requests_total{operation=\"list_hosts_risk\",outcome=\"throttled\",code=\"429\"} 2
hostrisk_hss_requests_total{operation=\"iam_token\",outcome=\"ok\",code=\"200\"} 1
hostrisk_status_writes_total 12
hostrisk_status_writes_skipped_total 40
hostrisk_poller_watches{group=\"a\"} 3
hostrisk_poller_hosts{group=\"a\"} 250
hostrisk_poller_sweep_duration_seconds{group=\"a\"} 1.5
hostrisk_poller_watches{group=\"b\"} 2
hostrisk_poller_hosts{group=\"b\"} 100
hostrisk_watch_last_success_timestamp_seconds{namespace=\"n\",name=\"w1\"} 1000.5
hostrisk_watch_last_success_timestamp_seconds{namespace=\"n\",name=\"w2\"} 990.0 1700000000
hostrisk_watch_last_success_timestamp_seconds{namespace=\"n\",name=\"w3\"} 1003.25
";

    #[test]
    fn the_figures_are_read_from_the_exposition() {
        let m = OperatorMetrics::parse(TEXT);
        assert_eq!(m.list_calls, 9, "every outcome of list_hosts_risk, no IAM");
        assert_eq!(m.status_writes, 12, "not the skipped ones");
        assert_eq!(m.poller_watches(), 5);
        assert_eq!(m.min_calls(), 3 + 1);
        assert_eq!(m.polled_since(1000.0), 2);
        assert_eq!(m.first_poll_since(1000.0), Some(1000.5));
        assert_eq!(m.first_poll_since(2000.0), None);
        assert_eq!(m.bytes, TEXT.len() as u64);
    }

    #[test]
    fn a_sweep_ends_when_every_group_with_watches_swept() {
        let mut m = OperatorMetrics::parse(TEXT);
        assert!(!m.swept(5), "group b has no sweep yet");
        if let Some(b) = m.groups.get_mut("b") {
            b.swept = true;
        }
        assert!(m.swept(5));
        assert!(!m.swept(6), "fewer watches registered than expected");
        assert!(!OperatorMetrics::default().swept(0), "no group yet");
    }

    #[test]
    fn sample_lines_are_split_into_name_labels_and_value() {
        assert_eq!(
            Sample::parse("a_total{x=\"1\",y=\"2\"} 3 17"),
            Some(Sample {
                name: "a_total",
                labels: "x=\"1\",y=\"2\"",
                value: 3.0
            })
        );
        assert_eq!(
            Sample::parse("b 4.5").map(|s| (s.name, s.value)),
            Some(("b", 4.5))
        );
        assert_eq!(Sample::parse("# TYPE b gauge"), None);
        assert_eq!(Sample::parse("c{x=\"1\"} NaNx"), None);
        let sample = Sample::parse("d{operation=\"list_hosts_risk\",code=\"200\"} 1");
        assert_eq!(
            sample.and_then(|s| s.label("code")),
            Some("200"),
            "a label after the first"
        );
    }

    #[test]
    fn only_a_200_answer_has_a_body() {
        assert_eq!(
            body_of("HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\na 1\n"),
            Ok("a 1\n".to_string())
        );
        assert!(body_of("HTTP/1.0 503 Service Unavailable\r\n\r\nno").is_err());
        assert!(body_of("garbage").is_err());
    }
}
