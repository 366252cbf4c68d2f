//! Property tests for the query canonicaliser and signer (issue 6, "Bad input").

use hostrisk_hss::sign::{
    canonical_query, canonical_uri, parse_authorization, parse_query, percent_decode,
    percent_encode,
};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Output holds only RFC 3986 unreserved characters and upper-case `%XX` escapes.
    #[test]
    fn percent_encode_emits_only_unreserved_and_upper_hex(raw in any::<String>()) {
        let encoded = percent_encode(&raw);
        let bytes = encoded.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b == b'%' {
                prop_assert!(i + 2 < bytes.len(), "{encoded}");
                let hex = &bytes[i + 1..i + 3];
                prop_assert!(hex.iter().all(|h| h.is_ascii_digit() || (b'A'..=b'F').contains(h)), "{encoded}");
                i += 3;
            } else {
                prop_assert!(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'), "{encoded}");
                i += 1;
            }
        }
    }

    #[test]
    fn percent_decode_inverts_encode(raw in any::<String>()) {
        prop_assert_eq!(percent_decode(&percent_encode(&raw)), raw);
    }

    /// Any permutation of the pairs gives the same canonical query, and it parses back to the
    /// pairs sorted by (key, value).
    #[test]
    fn canonical_query_is_order_independent_and_round_trips(
        pairs in proptest::collection::vec((any::<String>(), any::<String>()), 0..8),
        seed in any::<u64>(),
    ) {
        let canonical = canonical_query(&pairs);
        let mut shuffled = pairs.clone();
        let n = shuffled.len();
        if n > 1 {
            for i in 0..n {
                let j = (seed.wrapping_mul(i as u64 + 7) % n as u64) as usize;
                shuffled.swap(i, j);
            }
        }
        prop_assert_eq!(canonical_query(&shuffled), canonical.clone());
        let mut sorted = pairs;
        sorted.sort();
        prop_assert_eq!(parse_query(&canonical), sorted);
    }

    #[test]
    fn parse_authorization_and_canonical_uri_never_panic(raw in any::<String>()) {
        let _ = parse_authorization(&raw);
        let _ = canonical_query(&parse_query(&raw));
        prop_assert!(canonical_uri(&raw).ends_with('/'));
    }
}
