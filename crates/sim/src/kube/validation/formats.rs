//! The string formats apiextensions validates in CRD schemas.
//!
//! copies: apiextensions-apiserver `validation/formats.go` (`supportedVersionedFormats`):
//! bsonobjectid, uri, email, hostname, ipv4, ipv6, cidr, mac, uuid, uuid3, uuid4, uuid5,
//! isbn, isbn10, isbn13, creditcard, ssn, hexcolor, rgbcolor, byte, password, date, duration,
//! datetime (`date-time`; names are compared without `-`). Every other format (`int32`,
//! `int64`, `float`, `double`, ...) is stripped from the schema and never checked.
//! The checks follow kube-openapi's strfmt; isbn*, creditcard and ssn are not checked here
//! (documented gap: they always pass).

use std::net::{Ipv4Addr, Ipv6Addr};

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `YYYY-MM-DD` with a real calendar date.
fn date(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    if parts.len() != 3 || parts[0].len() != 4 || parts[1].len() != 2 || parts[2].len() != 2 {
        return false;
    }
    if !parts.iter().all(|p| all_digits(p)) {
        return false;
    }
    let (y, m, d): (i32, u32, u32) = (
        parts[0].parse().unwrap_or(0),
        parts[1].parse().unwrap_or(0),
        parts[2].parse().unwrap_or(0),
    );
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// strfmt `IsDateTime`: a date, `T` (either case), `hh:mm:ss[.frac]` and `Z` or `±hh:mm`.
fn date_time(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    let Some((d, t)) = lower.split_once('t') else {
        return false;
    };
    if !date(d) || t.len() < 9 {
        return false;
    }
    let b = t.as_bytes();
    let two = |i: usize| {
        b.get(i..i + 2)
            .is_some_and(|x| x.iter().all(u8::is_ascii_digit))
    };
    if !(two(0) && b[2] == b':' && two(3) && b[5] == b':' && two(6)) {
        return false;
    }
    if &t[0..2] > "23" || &t[3..5] > "59" || &t[6..8] > "59" {
        return false;
    }
    let mut rest = &t[8..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return false;
        }
        rest = &frac[digits..];
    }
    if rest == "z" {
        return true;
    }
    let zb = rest.as_bytes();
    zb.len() == 6
        && (zb[0] == b'+' || zb[0] == b'-')
        && zb[1..3].iter().all(u8::is_ascii_digit)
        && zb[3] == b':'
        && zb[4..6].iter().all(u8::is_ascii_digit)
}

fn uuid(s: &str, version: Option<char>) -> bool {
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    let dashes_ok =
        s.len() == 32 || (s.len() == 36 && [8, 13, 18, 23].iter().all(|&i| &s[i..i + 1] == "-"));
    if !dashes_ok || hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return false;
    }
    match version {
        None => true,
        Some(v) => {
            let h = hex.to_ascii_lowercase();
            h.as_bytes()[12] as char == v
                && (v == '3' || matches!(h.as_bytes()[16], b'8' | b'9' | b'a' | b'b'))
        }
    }
}

fn hostname(s: &str) -> bool {
    if s.is_empty() || s.len() > 255 {
        return false;
    }
    s.trim_end_matches('.').split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    })
}

fn cidr(s: &str) -> bool {
    let Some((ip, bits)) = s.split_once('/') else {
        return false;
    };
    let Ok(bits) = bits.parse::<u8>() else {
        return false;
    };
    (ip.parse::<Ipv4Addr>().is_ok() && bits <= 32)
        || (ip.parse::<Ipv6Addr>().is_ok() && bits <= 128)
}

fn mac(s: &str) -> bool {
    let groups: Vec<&str> = s.split([':', '-']).collect();
    matches!(groups.len(), 6 | 8 | 20)
        && groups
            .iter()
            .all(|g| g.len() == 2 && g.chars().all(|c| c.is_ascii_hexdigit()))
}

fn base64(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    s.len().is_multiple_of(4)
        && s.len() - body.len() <= 2
        && body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/')
}

/// Go `time.ParseDuration` (`1h30m`, `1.5s`, `300ms`, `-2h`) or strfmt's `3 days` form.
fn duration(s: &str) -> bool {
    let go = {
        let mut rest = s.strip_prefix(['-', '+']).unwrap_or(s);
        if rest == "0" {
            true
        } else {
            let mut ok = !rest.is_empty();
            while ok && !rest.is_empty() {
                let num = rest
                    .bytes()
                    .take_while(|b| b.is_ascii_digit() || *b == b'.')
                    .count();
                let unit_len = rest[num..]
                    .bytes()
                    .take_while(|b| !(b.is_ascii_digit() || *b == b'.'))
                    .count();
                let unit = &rest[num..num + unit_len];
                ok = num > 0 && matches!(unit, "ns" | "us" | "µs" | "μs" | "ms" | "s" | "m" | "h");
                rest = &rest[num + unit_len..];
            }
            ok
        }
    };
    let scala = {
        let (n, unit) = s.trim().split_once(' ').unwrap_or((s, ""));
        all_digits(n.trim())
            && matches!(
                unit.trim().trim_end_matches('s'),
                "n" | "ns"
                    | "nano"
                    | "nanosecond"
                    | "u"
                    | "us"
                    | "micro"
                    | "microsecond"
                    | "ms"
                    | "milli"
                    | "millisecond"
                    | "s"
                    | "sec"
                    | "second"
                    | "m"
                    | "min"
                    | "minute"
                    | "h"
                    | "hr"
                    | "hour"
                    | "d"
                    | "day"
                    | "w"
                    | "wk"
                    | "week"
            )
    };
    go || scala
}

/// Whether `value` is valid for `format`; formats apiextensions does not check always pass.
pub fn valid(format: &str, value: &str) -> bool {
    match format.replace('-', "").as_str() {
        "datetime" => date_time(value),
        "date" => date(value),
        "uuid" => uuid(value, None),
        "uuid3" => uuid(value, Some('3')),
        "uuid4" => uuid(value, Some('4')),
        "uuid5" => uuid(value, Some('5')),
        "ipv4" => value.parse::<Ipv4Addr>().is_ok(),
        "ipv6" => value.parse::<Ipv6Addr>().is_ok(),
        "cidr" => cidr(value),
        "mac" => mac(value),
        "hostname" => hostname(value),
        "byte" => base64(value),
        "duration" => duration(value),
        "uri" => url::Url::parse(value).is_ok(),
        "email" => value
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty()),
        "bsonobjectid" => value.len() == 24 && value.chars().all(|c| c.is_ascii_hexdigit()),
        "hexcolor" => {
            let h = value.strip_prefix('#').unwrap_or(value);
            matches!(h.len(), 3 | 6) && h.chars().all(|c| c.is_ascii_hexdigit())
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::valid;

    #[test]
    fn formats() {
        assert!(valid("date-time", "2024-02-29T23:59:59.123+01:00"));
        assert!(valid("date-time", "2024-02-29t23:59:59z"));
        assert!(!valid("date-time", "2023-02-29T00:00:00Z"));
        assert!(
            !valid("date-time", "2024-01-01T00:00:00"),
            "a zone is required"
        );
        assert!(!valid("date-time", "2024-01-01 00:00:00Z"));
        assert!(valid("uuid", "5c4d0f3a-2f7e-4a51-9c1b-0e2f8a7b6c5d"));
        assert!(!valid("uuid", "5c4d0f3a"));
        assert!(
            valid("duration", "1h30m") && valid("duration", "3 days") && !valid("duration", "soon")
        );
        assert!(
            valid("int32", "anything"),
            "numeric formats are not checked"
        );
        assert!(valid("cidr", "10.0.0.0/8") && !valid("cidr", "10.0.0.0"));
        assert!(valid("byte", "aGk=") && !valid("byte", "a"));
    }
}
