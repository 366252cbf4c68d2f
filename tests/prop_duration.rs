//! Property tests for the interval parser (issue 6, "Bad input").

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

    /// A sum of `<n><unit>` groups parses to the sum of its parts.
    #[test]
    fn sums_of_units_parse_to_their_total(
        groups in proptest::collection::vec((0u64..100_000, prop_oneof![Just(('s', 1u64)), Just(('m', 60)), Just(('h', 3600))]), 1..6),
    ) {
        let text: String = groups.iter().map(|(n, (unit, _))| format!("{n}{unit}")).collect();
        let total: u64 = groups.iter().map(|(n, (_, secs))| n * secs).sum();
        prop_assert_eq!(parse_duration("f", &text), Ok(Duration::from_secs(total)));
    }

    #[test]
    fn format_then_parse_round_trips(secs in 0u64..=9_223_372_036) {
        let d = Duration::from_secs(secs);
        prop_assert_eq!(parse_duration("f", &format_duration(d)), Ok(d));
    }
}
