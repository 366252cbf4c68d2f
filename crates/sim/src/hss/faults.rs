//! Faults the simulator can inject, switchable at start ([`super::SimConfig::faults`]), at run
//! time through `GET/PUT/PATCH /_sim/faults`, and from Rust ([`super::HssSimulator::set_faults`]).

use serde::{Deserialize, Serialize};

/// The documented per-user quota of the HSS API (hss-api.md "Limits that shape the design").
pub const DEFAULT_QUOTA_PER_MINUTE: u32 = 5;

/// The switchable faults. Every field has a default, so a JSON document may name only some.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Accepted `ListHostsRisk` calls per credential identity in any sliding 60 s window;
    /// the next one gets 429 `APIGW.0308` (hss-api.md "Errors" and "Limits"). 0 = unlimited.
    pub quota_per_minute: u32,
    /// `Retry-After` seconds sent with a 429. Whether the real gateway sends this header is
    /// not documented (hss-api.md says clients honour it "when present"), so it is off by default.
    pub retry_after_seconds: Option<u64>,
    /// Added to every HSS and IAM answer before it is sent.
    pub latency_ms: u64,
    /// Share (0.0-1.0) of authenticated, admitted HSS calls answered 500 or 503 with an
    /// error body instead of data.
    pub error_rate: f64,
    /// Share of successful HSS answers whose body is not JSON at all (status 200).
    pub malformed_rate: f64,
    /// Share of successful HSS answers whose JSON body is cut off half-way (status 200,
    /// `Content-Length` matching the shortened body).
    pub truncated_rate: f64,
    /// Seconds added to the simulator's clock; shifts both the `X-Sdk-Date` skew check and
    /// token expiry (a large positive offset expires every IAM token).
    pub clock_offset_seconds: i64,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            quota_per_minute: DEFAULT_QUOTA_PER_MINUTE,
            retry_after_seconds: None,
            latency_ms: 0,
            error_rate: 0.0,
            malformed_rate: 0.0,
            truncated_rate: 0.0,
            clock_offset_seconds: 0,
        }
    }
}

impl Faults {
    /// No faults at all and no quota: for load tests and tests that make many calls.
    pub fn none() -> Self {
        Self {
            quota_per_minute: 0,
            ..Self::default()
        }
    }

    /// Rejects rates outside 0.0-1.0 (and NaN).
    pub fn validate(&self) -> Result<(), String> {
        for (name, rate) in [
            ("error_rate", self.error_rate),
            ("malformed_rate", self.malformed_rate),
            ("truncated_rate", self.truncated_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be between 0.0 and 1.0, got {rate}"));
            }
        }
        Ok(())
    }
}

/// What to do with a successful answer's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFault {
    Malformed,
    Truncated,
}

/// Draws whether this call fails with a 5xx, by `error_rate`.
pub(crate) fn draw_server_error(faults: &Faults) -> Option<u16> {
    use rand::Rng;
    let mut rng = rand::rng();
    (faults.error_rate > 0.0 && rng.random_bool(faults.error_rate)).then(|| {
        if rng.random_bool(0.5) {
            500
        } else {
            503
        }
    })
}

/// Draws a body fault for a successful answer: malformed first, then truncated.
pub(crate) fn draw_body_fault(faults: &Faults) -> Option<BodyFault> {
    use rand::Rng;
    let mut rng = rand::rng();
    if faults.malformed_rate > 0.0 && rng.random_bool(faults.malformed_rate) {
        Some(BodyFault::Malformed)
    } else if faults.truncated_rate > 0.0 && rng.random_bool(faults.truncated_rate) {
        Some(BodyFault::Truncated)
    } else {
        None
    }
}

/// Applies a body fault to a serialized JSON answer.
pub(crate) fn corrupt(body: Vec<u8>, fault: BodyFault) -> Vec<u8> {
    match fault {
        // What a misbehaving proxy in front of the service sends: an HTML page under a 200.
        BodyFault::Malformed => {
            b"<html><body><h1>200 OK</h1>upstream answered garbage</body></html>".to_vec()
        }
        BodyFault::Truncated => {
            let mut body = body;
            body.truncate(body.len() / 2);
            body
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_json_keeps_other_defaults() {
        let faults: Faults = serde_json::from_str(r#"{"latency_ms": 20}"#).expect("decodes");
        assert_eq!(faults.latency_ms, 20);
        assert_eq!(faults.quota_per_minute, DEFAULT_QUOTA_PER_MINUTE);
        assert!(serde_json::from_str::<Faults>(r#"{"latency": 20}"#).is_err());
    }

    #[test]
    fn rates_are_validated() {
        let bad = Faults {
            error_rate: 1.5,
            ..Faults::default()
        };
        assert!(bad.validate().is_err());
        let nan = Faults {
            truncated_rate: f64::NAN,
            ..Faults::default()
        };
        assert!(nan.validate().is_err());
        assert!(Faults::none().validate().is_ok());
    }

    #[test]
    fn certain_rates_always_fire_and_zero_never() {
        let all = Faults {
            error_rate: 1.0,
            malformed_rate: 1.0,
            ..Faults::default()
        };
        let none = Faults::default();
        for _ in 0..100 {
            assert!(matches!(draw_server_error(&all), Some(500 | 503)));
            assert_eq!(draw_body_fault(&all), Some(BodyFault::Malformed));
            assert_eq!(draw_server_error(&none), None);
            assert_eq!(draw_body_fault(&none), None);
        }
    }

    #[test]
    fn corrupted_bodies_do_not_parse() {
        let body = br#"{"total_num":1,"data_list":[{"host_id":"a"}]}"#.to_vec();
        for fault in [BodyFault::Malformed, BodyFault::Truncated] {
            let out = corrupt(body.clone(), fault);
            assert!(serde_json::from_slice::<serde_json::Value>(&out).is_err());
        }
        assert!(body.starts_with(&corrupt(body.clone(), BodyFault::Truncated)));
    }
}
