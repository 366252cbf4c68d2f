//! The one duration grammar of the operator, Kubernetes/Go style: `90s`, `10m`, `1h`, `1h30m`,
//! `1h30m15s`. Used for `spec.interval`, every duration flag of both binaries and the chart's
//! values; the CRD's `pattern` ([`DURATION_PATTERN`]) and the chart schema spell the same grammar
//! as a regular expression, and `tests/chart/durations.txt` lists the cases all of them must agree
//! on.
//!
//! Decided: whole seconds only, so no `ms` (nothing the operator times needs less than a second,
//! and a sub-second interval would only hammer HSS); no `d` (Go and Kubernetes have none, and a
//! day is not always 24 h); units in descending order, each at most once, so every value has one
//! obvious reading (`30m1h` and `1m1m` are refused rather than summed). Every value this accepts
//! is also a valid Go `time.ParseDuration` input, which is what CEL's `duration()` uses.

use std::time::Duration;

/// The grammar as a regular expression (Go RE2 and Rust `regex` read it alike). It also matches
/// the empty string: schemas pair it with `minLength: 1`, the parser refuses `""` itself.
pub const DURATION_PATTERN: &str = "^([0-9]+h)?([0-9]+m)?([0-9]+s)?$";

/// What to write instead, shown in every syntax error.
const SYNTAX_HINT: &str = "write whole numbers with units h, m, s, largest first and each at most \
                           once, such as 90s, 10m or 1h30m";

/// The largest duration Go (and so Kubernetes and CEL) can represent, in whole seconds.
const MAX_SECONDS: u64 = (i64::MAX as u64) / 1_000_000_000;

/// Why a duration string was refused. Every variant names the field it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("{field} is empty: write a duration such as 90s, 10m or 1h30m")]
    Empty { field: String },
    #[error("{field} `{value}` is not a duration: {hint}", hint = syntax_hint(value))]
    Syntax { field: String, value: String },
    #[error(
        "{field} `{value}` is too long a duration: write at most 2562047h (the largest duration Kubernetes accepts), such as 1h or 24h"
    )]
    Overflow { field: String, value: String },
}

/// The fix for a refused value; common mistakes get a pointed one.
fn syntax_hint(value: &str) -> String {
    let pointed = if value.ends_with("ms") || value.ends_with("us") || value.ends_with("ns") {
        Some("durations are whole seconds, so no ms, us or ns")
    } else if value.ends_with('d') || value.ends_with('w') {
        Some("there is no unit for days or weeks: write hours, such as 24h")
    } else if !value.is_empty() && value.chars().all(|c| c.is_ascii_digit()) {
        Some("a bare number has no unit: add one, such as 30s")
    } else {
        None
    };
    match pointed {
        Some(pointed) => format!("{pointed}; {SYNTAX_HINT}"),
        None => SYNTAX_HINT.to_string(),
    }
}

/// Parses `value` (the content of `field`, named in errors) as `[<n>h][<n>m][<n>s]`, at least
/// one part present.
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
    // Units in the only order allowed; each part found moves past its unit, so a repeated or
    // out-of-order unit finds no place left and is refused.
    const UNITS: [(char, u64); 3] = [('h', 3600), ('m', 60), ('s', 1)];
    let mut next_unit = 0;
    let mut total: u64 = 0;
    let mut rest = value;
    while !rest.is_empty() {
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(syntax)?;
        if digits_end == 0 {
            return Err(syntax());
        }
        let (digits, after) = rest.split_at(digits_end);
        let unit = after.chars().next().ok_or_else(syntax)?;
        let offset = UNITS[next_unit..]
            .iter()
            .position(|(u, _)| *u == unit)
            .ok_or_else(syntax)?;
        let unit_seconds = UNITS[next_unit + offset].1;
        next_unit += offset + 1;
        // Leading zeros are fine (`007m`); only the value's size can overflow.
        let amount = digits
            .bytes()
            .try_fold(0u64, |n, digit| {
                n.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
            })
            .ok_or_else(overflow)?;
        let seconds = amount.checked_mul(unit_seconds).ok_or_else(overflow)?;
        total = total.checked_add(seconds).ok_or_else(overflow)?;
        rest = &after[unit.len_utf8()..];
    }
    // Go's time.Duration (what CEL uses) tops out near 292 years; refuse what it would refuse.
    if total > MAX_SECONDS {
        return Err(overflow());
    }
    Ok(Duration::from_secs(total))
}

/// A clap `value_parser` for duration flags: the same grammar, the message without a field name
/// (clap already names the flag).
pub fn parse_duration_flag(value: &str) -> Result<Duration, String> {
    parse_duration("value", value).map_err(|e| e.to_string())
}

/// Formats whole seconds as the shortest `XhYmZs` form (`10m`, `1h30m`, `45s`, `0s`), which
/// [`parse_duration`] reads back; sub-second parts are dropped.
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
        assert_eq!(parse("1h5s"), Ok(Duration::from_secs(3605)));
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
        assert_eq!(parse("007m"), Ok(Duration::from_secs(420)));
        assert_eq!(
            parse("0000000000000000000000001s"),
            Ok(Duration::from_secs(1))
        );
    }

    #[test]
    fn rejects_malformed_values_naming_the_field() {
        for bad in [
            "10",
            "m",
            "1h30",
            "1.5h",
            "-1m",
            "1 m",
            "1d",
            "1M",
            "1ms",
            "h1",
            "1hh",
            " 1m",
            "30m1h",
            "1s1m",
            "1m1m",
            "1h1h",
            "1h30m10s5",
            "١m",
        ] {
            let err = parse(bad).expect_err(bad);
            assert!(
                matches!(err, DurationError::Syntax { .. }),
                "{bad}: {err:?}"
            );
            assert!(err.to_string().starts_with("spec.interval `"), "{err}");
            assert!(
                err.to_string().contains("such as 90s, 10m or 1h30m"),
                "{err}"
            );
        }
        assert_eq!(
            parse(""),
            Err(DurationError::Empty {
                field: "spec.interval".into()
            })
        );
    }

    #[test]
    fn common_mistakes_get_a_pointed_hint() {
        let text = |v: &str| parse(v).expect_err(v).to_string();
        assert!(text("500ms").contains("whole seconds"), "{}", text("500ms"));
        assert!(text("1d").contains("such as 24h"), "{}", text("1d"));
        assert!(text("10").contains("add one"), "{}", text("10"));
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

    #[test]
    fn flag_parser_uses_the_same_grammar() {
        assert_eq!(parse_duration_flag("1h30m"), Ok(Duration::from_secs(5400)));
        let error = parse_duration_flag("30m1h").expect_err("out of order");
        assert!(
            error.starts_with("value `30m1h` is not a duration"),
            "{error}"
        );
    }
}
