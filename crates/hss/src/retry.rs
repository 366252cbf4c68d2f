//! Backoff for retried HSS calls: exponential with full jitter, honouring `Retry-After`.

use std::time::Duration;

use rand::Rng;

/// Backoff ceilings double from `base` up to `max`; each sleep is uniform in `[0, ceiling]`
/// ("full jitter"), so clients that failed together do not retry together.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The ceiling before retry number `retry` (1 = first retry).
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// The sleep before retry number `retry`: full jitter, but never shorter than what the
    /// server asked for in `Retry-After`.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let ceiling = self.ceiling(retry);
        let jittered = if ceiling.is_zero() {
            Duration::ZERO
        } else {
            let nanos =
                rand::rng().random_range(0..=ceiling.as_nanos().min(u64::MAX as u128) as u64);
            Duration::from_nanos(nanos)
        };
        match retry_after {
            Some(after) => jittered.max(after),
            None => jittered,
        }
    }
}

/// The longest `Retry-After` honoured. The quota is per minute, so a longer wait says more about
/// a misbehaving gateway than about the quota; unbounded, one header could stop polling for
/// years (or overflow a deadline).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(15 * 60);

/// Parses `Retry-After`: delta seconds or an HTTP date (RFC 9110), relative to `now`, at most
/// [`MAX_RETRY_AFTER`]. A date in the past means "now"; anything unparsable is ignored.
pub fn parse_retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let value = value.trim();
    let wait = if let Ok(seconds) = value.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        let when = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
        let delta = when.as_millisecond() - now.as_millisecond();
        Duration::from_millis(u64::try_from(delta).unwrap_or(0))
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_and_cap() {
        let b = Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(10),
        };
        let c: Vec<u64> = (1..=6).map(|r| b.ceiling(r).as_secs()).collect();
        assert_eq!(c, vec![1, 2, 4, 8, 10, 10]);
        assert_eq!(b.ceiling(200), Duration::from_secs(10));
        for _ in 0..100 {
            assert!(b.delay(3, None) <= Duration::from_secs(4));
            assert!(b.delay(1, Some(Duration::from_secs(7))) >= Duration::from_secs(7));
        }
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now: jiff::Timestamp = "2024-01-02T03:04:05Z".parse().expect("ts");
        assert_eq!(parse_retry_after("12", now), Some(Duration::from_secs(12)));
        assert_eq!(
            parse_retry_after("Tue, 02 Jan 2024 03:04:35 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Tue, 02 Jan 2024 03:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(
            parse_retry_after("18446744073709551615", now),
            Some(MAX_RETRY_AFTER),
            "bounded"
        );
        assert_eq!(
            parse_retry_after("Fri, 01 Jan 9999 00:00:00 GMT", now),
            Some(MAX_RETRY_AFTER)
        );
    }
}
