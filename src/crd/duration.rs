//! Interval strings: `30s`, `5m`, `1h`, `1h30m`. A subset of Go's duration syntax, so the values
//! the schema's `pattern` admits are exactly those CEL's `duration()` and this parser accept.

use std::time::Duration;

/// Why a duration string was refused. Every variant names the field it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("{field} is empty: write a duration such as 30s, 5m, 1h or 1h30m")]
    Empty { field: String },
    #[error(
        "{field} `{value}` is not a duration: write one or more <number><s|m|h> groups such as 30s, 5m, 1h or 1h30m"
    )]
    Syntax { field: String, value: String },
    #[error(
        "{field} `{value}` is too long a duration: write at most 2562047h (the largest duration Kubernetes accepts), such as 1h or 24h"
    )]
    Overflow { field: String, value: String },
}

/// Parses `value` (the content of `field`, named in errors) as a sum of `<digits><s|m|h>` groups.
pub fn parse_duration(field: &str, value: &str) -> Result<Duration, DurationError> {
    let syntax = || DurationError::Syntax {
        field: field.to_string(),
        value: value.to_string(),
    };
    let overflow = || DurationError::Overflow {
        field: field.to_string(),
        value: value.to_string(),
    };
    if value.is_empty() {
        return Err(DurationError::Empty {
            field: field.to_string(),
        });
    }
    let mut total: u64 = 0;
    let mut digits: Option<u64> = None;
    for ch in value.chars() {
        if let Some(digit) = ch.to_digit(10) {
            let so_far = digits.unwrap_or(0);
            digits = Some(
                so_far
                    .checked_mul(10)
                    .and_then(|n| n.checked_add(u64::from(digit)))
                    .ok_or_else(overflow)?,
            );
            continue;
        }
        let unit_seconds = match ch {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return Err(syntax()),
        };
        let amount = digits.take().ok_or_else(syntax)?;
        let seconds = amount.checked_mul(unit_seconds).ok_or_else(overflow)?;
        total = total.checked_add(seconds).ok_or_else(overflow)?;
    }
    if digits.is_some() {
        // Trailing digits without a unit, e.g. `10` or `1h30`.
        return Err(syntax());
    }
    // Go's time.Duration (what CEL uses) tops out near 292 years; refuse what it would refuse.
    if total > (i64::MAX as u64) / 1_000_000_000 {
        return Err(overflow());
    }
    Ok(Duration::from_secs(total))
}

/// Formats whole seconds as the shortest `XhYmZs` form (`10m`, `1h30m`, `45s`, `0s`);
/// sub-second parts are dropped.
pub fn format_duration(duration: Duration) -> String {
    let total = duration.as_secs();
    if total == 0 {
        return "0s".to_string();
    }
    let (hours, minutes, seconds) = (total / 3600, (total % 3600) / 60, total % 60);
    let mut out = String::new();
    for (amount, unit) in [(hours, 'h'), (minutes, 'm'), (seconds, 's')] {
        if amount > 0 {
            out.push_str(&amount.to_string());
            out.push(unit);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Result<Duration, DurationError> {
        parse_duration("spec.interval", value)
    }

    #[test]
    fn parses_single_and_compound_units() {
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("1h0m5s"), Ok(Duration::from_secs(3605)));
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
        assert_eq!(parse("007m"), Ok(Duration::from_secs(420)));
    }

    #[test]
    fn rejects_malformed_values_naming_the_field() {
        for bad in [
            "10", "m", "1h30", "1.5h", "-1m", "1 m", "1d", "1M", "1ms", "h1", "1hh", " 1m",
        ] {
            let err = parse(bad).expect_err(bad);
            assert!(
                matches!(err, DurationError::Syntax { .. }),
                "{bad}: {err:?}"
            );
            assert!(err.to_string().starts_with("spec.interval `"), "{err}");
        }
        assert_eq!(
            parse(""),
            Err(DurationError::Empty {
                field: "spec.interval".into()
            })
        );
    }

    #[test]
    fn rejects_overflow() {
        assert!(matches!(
            parse("99999999999999999999999s"),
            Err(DurationError::Overflow { .. })
        ));
        assert!(matches!(
            parse("9999999999999h"),
            Err(DurationError::Overflow { .. })
        ));
        // Go's limit: 2562047h47m16s is the largest duration; one hour more is refused.
        assert!(parse("2562047h").is_ok());
        let err = parse("2562048h").expect_err("overflow");
        assert!(matches!(err, DurationError::Overflow { .. }));
        // Every user-facing error names the field and the fix.
        let text = err.to_string();
        assert!(text.starts_with("spec.interval"), "{text}");
        assert!(text.contains("write at most 2562047h"), "{text}");
    }

    #[test]
    fn formats_shortest_form_and_round_trips() {
        assert_eq!(format_duration(Duration::from_secs(600)), "10m");
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(3605)), "1h5s");
        assert_eq!(format_duration(Duration::from_millis(45_900)), "45s");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        for secs in [1, 59, 60, 61, 3599, 3600, 86_400, 90_061] {
            let d = Duration::from_secs(secs);
            assert_eq!(parse(&format_duration(d)), Ok(d));
        }
    }
}
