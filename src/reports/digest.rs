//! A stable digest of a report's content (FNV-1a, 64 bits): the same bytes give the same digest
//! in every process and version, so a restarted operator recognises what it wrote before.
//! Not a security boundary: it only decides whether to write.

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hasher = Fnv64::default();
    hasher.feed(bytes);
    hasher.0
}

/// FNV-1a as an `io::Write`, so a value can be serialised straight into it.
pub struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Self(OFFSET)
    }
}

impl Fnv64 {
    fn feed(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(PRIME);
        }
    }

    pub fn value(&self) -> u64 {
        self.0
    }
}

/// A digest as the report's annotation holds it: 16 hex digits.
pub fn to_hex(digest: u64) -> String {
    format!("{digest:016x}")
}

/// The digest an annotation holds, if it is one.
pub fn from_hex(text: &str) -> Option<u64> {
    (text.len() == 16)
        .then(|| u64::from_str_radix(text, 16).ok())
        .flatten()
}

impl std::io::Write for Fnv64 {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.feed(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(
            from_hex(&to_hex(0xaf63_dc4c_8601_ec8c)),
            Some(0xaf63_dc4c_8601_ec8c)
        );
        assert_eq!(from_hex("not a digest"), None);
    }
}
