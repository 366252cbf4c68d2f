//! The one backoff of the project: exponential with full jitter, honouring `Retry-After`. The
//! client uses it between retries of one call; the operator uses the same type between failed
//! polls of a group and between failed reconciles, with a floor and the interval as the cap.

use std::time::Duration;

use rand::Rng;

/// Backoff ceilings double from `base` up to `max`; each delay is uniform in
/// `[floor, ceiling]` ("full jitter", so clients that failed together do not retry together),
/// and never shorter than what a throttling server asked for in `Retry-After` (bounded by
/// [`MAX_RETRY_AFTER`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    /// The shortest delay ever chosen, so full jitter cannot produce a tight loop (zero between
    /// the client's own retries, whose count is bounded).
    pub floor: Duration,
}

impl Backoff {
    /// The ceiling before attempt number `attempt` (1 = the first retry, or the first failure),
    /// never below `floor`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base
            .saturating_mul(factor)
            .min(self.max)
            .max(self.floor)
    }

    /// The delay before attempt number `attempt`: full jitter in `[floor, ceiling]` (the floor
    /// wins over `max`), but never shorter than `retry_after`.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let ceiling = self.ceiling(attempt);
        let floor = self.floor.min(ceiling);
        let jittered = if ceiling <= floor {
            ceiling
        } else {
            let span = (ceiling - floor).as_nanos().min(u64::MAX as u128) as u64;
            floor + Duration::from_nanos(rand::rng().random_range(0..=span))
        };
        match retry_after {
            Some(after) => jittered.max(after.min(MAX_RETRY_AFTER)),
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
            floor: Duration::ZERO,
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
    fn floor_and_cap_bound_every_delay() {
        let b = Backoff {
            base: Duration::from_secs(10),
            max: Duration::from_secs(60),
            floor: Duration::from_secs(1),
        };
        for _ in 0..500 {
            let first = b.delay(1, None);
            assert!(first >= Duration::from_secs(1) && first <= Duration::from_secs(10));
            assert!(b.delay(3, None) <= Duration::from_secs(40));
            let many = b.delay(30, None);
            assert!(many <= Duration::from_secs(60) && many >= Duration::from_secs(1));
        }
        // Full jitter: over many draws the delays spread over the whole range.
        let draws: Vec<_> = (0..500).map(|_| b.delay(10, None)).collect();
        assert!(draws.iter().any(|d| *d < Duration::from_secs(20)));
        assert!(draws.iter().any(|d| *d > Duration::from_secs(40)));
        // The floor wins over a cap below it: never a tight loop.
        let short = Backoff {
            max: Duration::from_millis(300),
            ..b
        };
        assert_eq!(short.delay(1, None), Duration::from_secs(1));
        // Retry-After wins over the backoff, bounded.
        assert_eq!(
            b.delay(1, Some(Duration::from_secs(90))),
            Duration::from_secs(90)
        );
        assert_eq!(b.delay(1, Some(Duration::MAX)), MAX_RETRY_AFTER);
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
