//! What status says about the poll interval a watch actually gets.
//!
//! HSS allows a few calls a minute per credential. When the shared poller cannot refresh a
//! watch as often as `spec.interval` asks, the watch says so: `status.effectiveInterval` shows
//! the interval it gets and `Ready` keeps `True` (the data is real and refreshed, only less
//! often) with reason `QuotaLimited`. A lagging but fresh watch is not unhealthy, so neither
//! kstatus nor Argo CD should mark it degraded or progressing.
//!
//! The measured interval moves a little with every refresh. To keep idle refreshes free of
//! writes, the shown value is rounded and only replaced when the measurement leaves a band
//! around it, and "limited" has hysteresis.

use std::time::Duration;

use super::conditions::{stored, ConditionType, Reason};
use crate::crd::duration::{format_duration, parse_duration};
use crate::crd::status::HostRiskWatchStatus;

/// The quota does not meet the target when the achieved interval exceeds it by more than this
/// share (10 %, the jitter of per-watch scheduling).
pub const LIMITED_ABOVE: f64 = 1.10;
/// Once limited, a watch counts as limited until the achieved interval falls under this share
/// of the target, so a value hovering around the threshold does not flap.
pub const RECOVERED_BELOW: f64 = 1.05;
/// A shown effective interval is kept while the achieved one stays within this share of it.
pub const SHOWN_TOLERANCE: f64 = 0.10;

/// The interval part of a status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntervalReport {
    /// `status.effectiveInterval`.
    pub effective: String,
    /// True when the quota cannot meet the target: `Ready` says `QuotaLimited`.
    pub limited: bool,
}

/// Rounds a measured interval for display: seconds under 2 minutes, 10 s under an hour, whole
/// minutes above.
pub fn rounded(interval: Duration) -> Duration {
    let secs = interval.as_secs_f64();
    let step = if secs < 120.0 {
        1.0
    } else if secs < 3600.0 {
        10.0
    } else {
        60.0
    };
    Duration::from_secs_f64(((secs / step).round() * step).max(1.0))
}

/// Whether the previous status said the quota limited the interval.
pub fn previously_limited(previous: Option<&HostRiskWatchStatus>) -> bool {
    previous
        .and_then(|p| stored(&p.conditions, ConditionType::Ready))
        .is_some_and(|(_, reason)| reason == Reason::QuotaLimited)
}

/// The effective interval to show and whether the quota limits the watch.
///
/// `target` is the interval in force (`spec.interval` or the default); `achieved` the smoothed
/// time between the watch's last complete refreshes, when the poller measured one.
pub fn interval_report(
    target: Duration,
    achieved: Option<Duration>,
    previous: Option<&HostRiskWatchStatus>,
) -> IntervalReport {
    let was_limited = previously_limited(previous);
    let threshold = if was_limited {
        RECOVERED_BELOW
    } else {
        LIMITED_ABOVE
    };
    let Some(achieved) = achieved.filter(|a| *a > target.mul_f64(threshold)) else {
        return IntervalReport {
            effective: format_duration(target),
            limited: false,
        };
    };
    let shown_before = previous
        .filter(|_| was_limited)
        .and_then(|p| p.effective_interval.as_deref())
        .and_then(|text| {
            parse_duration("status.effectiveInterval", text)
                .ok()
                .map(|d| (text, d))
        });
    if let Some((text, shown)) = shown_before {
        let band = shown.mul_f64(SHOWN_TOLERANCE);
        if achieved.abs_diff(shown) <= band {
            return IntervalReport {
                effective: text.to_string(),
                limited: true,
            };
        }
    }
    IntervalReport {
        effective: format_duration(rounded(achieved)),
        limited: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn status(effective: &str, ready_reason: &str) -> HostRiskWatchStatus {
        HostRiskWatchStatus {
            effective_interval: Some(effective.into()),
            conditions: vec![Condition {
                type_: "Ready".into(),
                status: "True".into(),
                reason: ready_reason.into(),
                message: String::new(),
                observed_generation: Some(1),
                last_transition_time: Time(jiff::Timestamp::UNIX_EPOCH),
            }],
            ..Default::default()
        }
    }

    #[test]
    fn target_met_or_unmeasured_shows_the_target() {
        let met = interval_report(secs(60), Some(secs(65)), None);
        assert_eq!(met.effective, "1m");
        assert!(!met.limited);
        let unmeasured = interval_report(secs(60), None, None);
        assert_eq!(unmeasured.effective, "1m");
        assert!(!unmeasured.limited);
    }

    #[test]
    fn a_slower_interval_than_asked_is_shown_rounded() {
        let report = interval_report(secs(60), Some(Duration::from_millis(100_400)), None);
        assert_eq!(report.effective, "1m40s");
        assert!(report.limited);
        let long = interval_report(secs(600), Some(secs(754)), None);
        assert_eq!(long.effective, "12m30s");
    }

    #[test]
    fn small_moves_keep_the_shown_value_so_idle_refreshes_write_nothing() {
        let previous = status("1m40s", "QuotaLimited");
        for achieved in [92, 100, 109] {
            let report = interval_report(secs(60), Some(secs(achieved)), Some(&previous));
            assert_eq!(report.effective, "1m40s", "{achieved}s");
            assert!(report.limited);
        }
        let moved = interval_report(secs(60), Some(secs(130)), Some(&previous));
        assert_eq!(moved.effective, "2m10s");
    }

    #[test]
    fn limited_has_hysteresis() {
        // 8 % over target: not limited when it was not, still limited when it was.
        let fresh = interval_report(secs(100), Some(secs(108)), Some(&status("1m40s", "Synced")));
        assert!(!fresh.limited);
        assert_eq!(fresh.effective, "1m40s");
        let sticky = interval_report(
            secs(100),
            Some(secs(108)),
            Some(&status("1m50s", "QuotaLimited")),
        );
        assert!(sticky.limited);
        assert_eq!(sticky.effective, "1m50s");
        let recovered = interval_report(
            secs(100),
            Some(secs(104)),
            Some(&status("1m50s", "QuotaLimited")),
        );
        assert!(!recovered.limited);
        assert_eq!(recovered.effective, "1m40s");
    }

    #[test]
    fn rounding_steps_grow_with_the_interval() {
        assert_eq!(rounded(Duration::from_millis(1_400)), secs(1));
        assert_eq!(rounded(Duration::from_millis(200)), secs(1));
        assert_eq!(rounded(secs(299)), secs(300));
        assert_eq!(rounded(secs(3_629)), secs(3_600));
    }
}
