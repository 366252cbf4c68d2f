//! Property tests for the duration parser (issue 6, "Bad input"; grammar of issue 14).

use std::time::Duration;

use hostrisk_operator::crd::duration::{format_duration, parse_duration};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Any string: no panic, and an error always starts with the field it came from.
    #[test]
    fn never_panics_and_errors_name_the_field(value in any::<String>()) {
        if let Err(err) = parse_duration("spec.interval", &value) {
            prop_assert!(err.to_string().starts_with("spec.interval"), "{err}");
        }
    }

    /// `[<h>h][<m>m][<s>s]` (largest unit first, each at most once) parses to its total.
    #[test]
    fn ordered_parts_parse_to_their_total(
        hours in proptest::option::of(0u64..100_000),
        minutes in proptest::option::of(0u64..100_000),
        seconds in proptest::option::of(0u64..100_000),
    ) {
        prop_assume!(hours.is_some() || minutes.is_some() || seconds.is_some());
        let mut text = String::new();
        for (amount, unit) in [(hours, 'h'), (minutes, 'm'), (seconds, 's')] {
            if let Some(amount) = amount {
                text.push_str(&format!("{amount}{unit}"));
            }
        }
        let total = hours.unwrap_or(0) * 3600 + minutes.unwrap_or(0) * 60 + seconds.unwrap_or(0);
        prop_assert_eq!(parse_duration("f", &text), Ok(Duration::from_secs(total)));
    }

    /// Two parts out of order (or the same unit twice) are refused, never summed.
    #[test]
    fn out_of_order_or_repeated_units_are_refused(
        first in 0u64..1000,
        second in 0u64..1000,
        units in prop_oneof![Just(('m', 'h')), Just(('s', 'm')), Just(('s', 'h')), Just(('h', 'h')), Just(('m', 'm')), Just(('s', 's'))],
    ) {
        let text = format!("{first}{}{second}{}", units.0, units.1);
        prop_assert!(parse_duration("f", &text).is_err(), "{}", text);
    }

    #[test]
    fn format_then_parse_round_trips(secs in 0u64..=9_223_372_036) {
        let d = Duration::from_secs(secs);
        prop_assert_eq!(parse_duration("f", &format_duration(d)), Ok(d));
    }
}
