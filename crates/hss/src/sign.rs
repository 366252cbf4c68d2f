//! `SDK-HMAC-SHA256` request signing, byte-compatible with the official Huawei Cloud SDKs.
//!
//! The canonical forms below follow `huaweicloudsdkcore.signer.Signer` (Python) and
//! `core/auth/signer` (Go); `tests/sign_vectors.rs` pins them to vectors produced by the
//! official signer and `tests/sdk_crosscheck.rs` compares against it on generated requests.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The only algorithm the API gateway accepts for AK/SK.
pub const ALGORITHM: &str = "SDK-HMAC-SHA256";

/// Header carrying the signing time; always signed.
pub const SDK_DATE_HEADER: &str = "X-Sdk-Date";

/// `X-Sdk-Date` layout: basic ISO 8601, UTC, second precision.
pub const SDK_DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// SHA-256 of the empty body, the payload hash of every GET.
pub const EMPTY_BODY_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Percent-encodes like the SDKs (`urllib.parse.quote(s, safe='~')`): only the RFC 3986
/// unreserved characters stay literal, everything else is `%XX` of its UTF-8 bytes, upper-case.
/// A space becomes `%20`, never `+`.
pub fn percent_encode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() * 3);
    for &byte in raw.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push('%');
            out.push(HEX_UPPER[usize::from(byte >> 4)] as char);
            out.push(HEX_UPPER[usize::from(byte & 0x0f)] as char);
        }
    }
    out
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Decodes `%XX` escapes into bytes (lossy for invalid UTF-8, which only a tampered path has).
/// Malformed escapes are kept literally, as Python's `unquote` does.
pub fn percent_decode(encoded: &str) -> String {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The canonical query string, which is also what goes on the wire: every (key, value) pair
/// kept (repeated keys included), sorted by raw key then raw value (byte order of the
/// unencoded strings), written `enc(key)=enc(value)` and joined by `&`.
pub fn canonical_query<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    let mut sorted: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .collect();
    sorted.sort_unstable();
    let mut out = String::new();
    for (i, (key, value)) in sorted.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&percent_encode(key));
        out.push('=');
        out.push_str(&percent_encode(value));
    }
    out
}

/// Splits a wire query string back into raw (key, value) pairs. `+` is kept literally: the
/// SDKs never emit it for a space, so a `+` on the wire is a literal plus sign.
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| match part.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(part), String::new()),
        })
        .collect()
}

/// The canonical URI: each path segment decoded then re-encoded, with a trailing `/`
/// (only in the canonical string; the request path itself has none).
pub fn canonical_uri(wire_path: &str) -> String {
    let mut uri = wire_path
        .split('/')
        .map(|segment| percent_encode(&percent_decode(segment)))
        .collect::<Vec<_>>()
        .join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

/// What the signature covers. `headers` are the headers to sign, as sent; names containing
/// `_` are skipped like the SDKs do (gateways drop such headers).
#[derive(Debug, Clone)]
pub struct SigningRequest<'a> {
    pub method: &'a str,
    /// The path as sent on the wire (already percent-encoded), without query.
    pub wire_path: &'a str,
    /// The query as sent on the wire, which must be [`canonical_query`] of its pairs.
    pub canonical_query: &'a str,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// The intermediate strings and the resulting header, all public so tests can pin each step.
#[derive(Clone, PartialEq, Eq)]
pub struct SignatureParts {
    pub signed_headers: String,
    pub canonical_request: String,
    pub string_to_sign: String,
    /// Lower-case hex HMAC-SHA256.
    pub signature: String,
    /// The full `Authorization` header value.
    pub authorization: String,
}

impl std::fmt::Debug for SignatureParts {
    // A signature is a credential for fifteen minutes: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureParts")
            .field("signed_headers", &self.signed_headers)
            .finish_non_exhaustive()
    }
}

/// Lower-case, sorted, `;`-joined names of the headers that will be signed.
pub fn signed_header_names(headers: &[(String, String)]) -> Vec<String> {
    let mut names: Vec<String> = headers
        .iter()
        .map(|(name, _)| name.to_ascii_lowercase())
        .filter(|name| !name.contains('_'))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Builds the canonical request exactly as the SDK signer does.
pub fn canonical_request(request: &SigningRequest<'_>, signed_names: &[String]) -> String {
    let mut canonical_headers = String::new();
    for name in signed_names {
        let value = request
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .unwrap_or_default();
        canonical_headers.push_str(name);
        canonical_headers.push(':');
        canonical_headers.push_str(value);
        canonical_headers.push('\n');
    }
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        request.method.to_ascii_uppercase(),
        canonical_uri(request.wire_path),
        request.canonical_query,
        canonical_headers,
        signed_names.join(";"),
        sha256_hex(request.body)
    )
}

/// Signs `request` with the secret key. `sdk_date` must equal the `X-Sdk-Date` header value.
pub fn sign(
    access_key: &str,
    secret_key: &[u8],
    sdk_date: &str,
    request: &SigningRequest<'_>,
) -> SignatureParts {
    let signed_names = signed_header_names(request.headers);
    let canonical_request = canonical_request(request, &signed_names);
    let string_to_sign = format!(
        "{ALGORITHM}\n{sdk_date}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let signature = hmac_sha256_hex(secret_key, string_to_sign.as_bytes());
    let signed_headers = signed_names.join(";");
    let authorization = format!(
        "{ALGORITHM} Access={access_key}, SignedHeaders={signed_headers}, Signature={signature}"
    );
    SignatureParts {
        signed_headers,
        canonical_request,
        string_to_sign,
        signature,
        authorization,
    }
}

/// The fields of an `Authorization: SDK-HMAC-SHA256 ...` header, for verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationHeader {
    pub access_key: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

/// Parses an `Authorization` header value; `None` when it is not an SDK-HMAC-SHA256 header.
pub fn parse_authorization(value: &str) -> Option<AuthorizationHeader> {
    let rest = value.strip_prefix(ALGORITHM)?.trim_start();
    let mut access_key = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let (key, val) = part.trim().split_once('=')?;
        match key {
            "Access" => access_key = Some(val.to_string()),
            "SignedHeaders" => {
                signed_headers = Some(val.split(';').map(str::to_string).collect::<Vec<_>>())
            }
            "Signature" => signature = Some(val.to_string()),
            _ => return None,
        }
    }
    Some(AuthorizationHeader {
        access_key: access_key?,
        signed_headers: signed_headers?,
        signature: signature?,
    })
}

/// Recomputes the signature a client should have sent for the given signed header names,
/// as the gateway does. Returns the expected lower-case hex signature.
pub fn expected_signature(
    secret_key: &[u8],
    sdk_date: &str,
    request: &SigningRequest<'_>,
    signed_names: &[String],
) -> String {
    let canonical_request = canonical_request(request, signed_names);
    let string_to_sign = format!(
        "{ALGORITHM}\n{sdk_date}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    hmac_sha256_hex(secret_key, string_to_sign.as_bytes())
}

/// Constant-time comparison, so a verifier does not leak how many signature bytes matched.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac_sha256_hex(key: &[u8], data: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC-SHA256 accepts keys of any length"),
    };
    mac.update(data);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_python_quote_with_tilde_safe() {
        assert_eq!(
            percent_encode("a b+c/d,e&f=g%h~i"),
            "a%20b%2Bc%2Fd%2Ce%26f%3Dg%25h~i"
        );
        assert_eq!(percent_encode("ß"), "%C3%9F");
        assert_eq!(percent_encode("safe-._~AZaz09"), "safe-._~AZaz09");
    }

    #[test]
    fn decode_inverts_encode_and_keeps_malformed_escapes() {
        for raw in ["web server 01", "db/primary+1", "ünï", "%", "a%2", "%zz"] {
            assert_eq!(percent_decode(&percent_encode(raw)), raw);
        }
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%41%42"), "AB");
    }

    #[test]
    fn sorts_on_raw_values_not_encoded_ones() {
        let q = canonical_query(&[("host_id_list", "x/y"), ("host_id_list", "x.y")]);
        assert_eq!(q, "host_id_list=x.y&host_id_list=x%2Fy");
    }

    #[test]
    fn canonical_uri_adds_trailing_slash_once() {
        assert_eq!(canonical_uri("/v5/p/hosts"), "/v5/p/hosts/");
        assert_eq!(canonical_uri("/v5/p/hosts/"), "/v5/p/hosts/");
        assert_eq!(canonical_uri("/v5/a%20b/x"), "/v5/a%20b/x/");
    }

    #[test]
    fn authorization_round_trips() {
        let headers = vec![
            ("Host".to_string(), "example.com".to_string()),
            ("X-Sdk-Date".to_string(), "20240102T030405Z".to_string()),
        ];
        let req = SigningRequest {
            method: "GET",
            wire_path: "/v5/p/x",
            canonical_query: "a=b",
            headers: &headers,
            body: b"",
        };
        let parts = sign("AK", b"SK", "20240102T030405Z", &req);
        let parsed = parse_authorization(&parts.authorization).expect("parses");
        assert_eq!(parsed.access_key, "AK");
        assert_eq!(parsed.signed_headers, vec!["host", "x-sdk-date"]);
        let expected = expected_signature(b"SK", "20240102T030405Z", &req, &parsed.signed_headers);
        assert!(constant_time_eq(&expected, &parsed.signature));
        assert!(!format!("{parts:?}").contains(&parts.signature));
    }
}
