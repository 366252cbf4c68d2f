//! The names, labels and annotations that tie a report to its watch.

/// `metadata.name` of a watch's report: this prefix and the watch's name.
pub const NAME_PREFIX: &str = "hostrisk-";

/// Label naming the watch (its name, shortened when longer than a label value may be).
pub const WATCH_LABEL: &str = "hostrisk.io/watch";
/// `app.kubernetes.io/managed-by`: which reports are this operator's.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "hostrisk-operator";
/// The `source` of every result (and of OpenReports reports): Policy Reporter's grouping.
pub const SOURCE: &str = "hostrisk-operator";

/// Digest of everything the report says, to skip writing what is already stored.
pub const DIGEST_ANNOTATION: &str = "hostrisk.io/report-digest";
/// The statuses listed (both APIs; OpenReports also in `configuration.limits.statusFilter`).
pub const LISTED_ANNOTATION: &str = "hostrisk.io/results-listed";
/// How many results `maxResults` left out, when it did.
pub const OMITTED_ANNOTATION: &str = "hostrisk.io/results-omitted";

/// The label selector of every report this operator wrote.
pub fn managed_selector() -> String {
    format!("{MANAGED_BY_LABEL}={MANAGED_BY},{WATCH_LABEL}")
}

/// Longest object name (a DNS subdomain) and label value.
const NAME_MAX: usize = 253;
const LABEL_VALUE_MAX: usize = 63;

/// The name of the report of watch `watch`: [`NAME_PREFIX`] and the name, or, past 253
/// characters, the name cut and a digest of the whole name (the same every time).
pub fn report_name(watch: &str) -> String {
    shortened(NAME_PREFIX, watch, NAME_MAX)
}

/// The value of [`WATCH_LABEL`]: the watch's name, or past 63 characters the name cut and a
/// digest of the whole name.
pub fn watch_label(watch: &str) -> String {
    shortened("", watch, LABEL_VALUE_MAX)
}

/// `prefix` + `name` when it fits `max`, else `prefix` + the start of `name` (ending in a letter
/// or digit) + `-` + 10 hex digits of the name's digest. Names of watches are DNS subdomains:
/// lower-case letters, digits, `-` and `.`, so byte cuts are char boundaries.
fn shortened(prefix: &str, name: &str, max: usize) -> String {
    if prefix.len() + name.len() <= max {
        return format!("{prefix}{name}");
    }
    let digest = format!("{:016x}", super::digest::fnv1a64(name.as_bytes()));
    let room = max - prefix.len() - 1 - 10;
    let mut cut = name.get(..room).unwrap_or(name);
    cut = cut.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
    format!("{prefix}{cut}-{}", &digest[..10])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_kept_and_long_ones_cut_with_a_digest() {
        assert_eq!(report_name("web-tier"), "hostrisk-web-tier");
        assert_eq!(watch_label("web-tier"), "web-tier");
        let long = format!("{}.{}", "a".repeat(200), "b".repeat(52));
        assert_eq!(long.len(), 253);
        let name = report_name(&long);
        assert_eq!(name.len(), 253);
        assert!(name.starts_with("hostrisk-aaaa"), "{name}");
        assert_eq!(name, report_name(&long), "the same every time");
        let other = format!("{}.{}", "a".repeat(200), "c".repeat(52));
        assert_ne!(
            report_name(&other),
            name,
            "names differing at the end differ"
        );
        let label = watch_label(&long);
        assert!(label.len() <= 63, "{label}");
        // A cut that would end in `.` or `-` ends in a letter before the digest's dash.
        let dotted = format!("{}.{}", "x".repeat(51), "y".repeat(60));
        let label = watch_label(&dotted);
        assert!(!label.contains(".-"), "{label}");
        assert!(label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'));
        assert!(label.ends_with(|c: char| c.is_ascii_alphanumeric()));
    }
}
