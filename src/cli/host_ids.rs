//! The host ids of a `query`: `--host-id` values and `--hosts-file` lines, held to the rule of
//! `spec.hostIds` (1 to 64 characters), so an id the CRD would refuse is refused here too rather
//! than silently dropped or sent.

use std::path::Path;

use crate::crd::schema::HOST_ID_MAX_LEN;
use crate::crd::validation::is_valid_host_id;
use crate::hss::dedup_ids;

/// Why the ids cannot be used; the message names where the bad id came from and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HostIdError(pub String);

/// `--host-id` values then `--hosts-file` lines (trimmed), duplicates removed, first order kept.
pub fn collect_host_ids(
    given: &[String],
    hosts_file: Option<&Path>,
) -> Result<Vec<String>, HostIdError> {
    let mut ids = Vec::new();
    for value in given {
        ids.push(checked(value.trim(), || format!("--host-id {value:?}"))?);
    }
    if let Some(path) = hosts_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            HostIdError(format!(
                "cannot read --hosts-file {}: {e}: give the path of a readable file with one host id per line",
                path.display()
            ))
        })?;
        for (line, id) in parse_hosts_file(&text) {
            ids.push(checked(&id, || {
                format!("--hosts-file {} line {line}", path.display())
            })?);
        }
    }
    if ids.is_empty() {
        return Err(HostIdError(
            "no host ids: give --host-id ID (repeatable) or --hosts-file FILE".to_string(),
        ));
    }
    Ok(dedup_ids(&ids))
}

fn checked(id: &str, origin: impl Fn() -> String) -> Result<String, HostIdError> {
    if is_valid_host_id(id) {
        return Ok(id.to_string());
    }
    let problem = if id.is_empty() {
        "is empty".to_string()
    } else {
        format!("is {} characters long", id.chars().count())
    };
    Err(HostIdError(format!(
        "{}: the host id {problem}; host ids are 1 to {HOST_ID_MAX_LEN} characters, as in \
         spec.hostIds: use the ids HSS shows (ECS server ids)",
        origin()
    )))
}

/// `(line number, id)` for each id line; blank lines and `#` comments (whole line or
/// trailing) are skipped.
pub fn parse_hosts_file(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.split('#').next().unwrap_or_default().trim()))
        .filter(|(_, line)| !line.is_empty())
        .map(|(n, line)| (n, line.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(given: &[&str]) -> Result<Vec<String>, HostIdError> {
        let given: Vec<String> = given.iter().map(|s| s.to_string()).collect();
        collect_host_ids(&given, None)
    }

    #[test]
    fn hosts_file_skips_comments_and_blanks() {
        let ids = parse_hosts_file("# fleet\nh1\n\n  h2  # web\n#h3\nh1\n");
        let ids: Vec<(usize, &str)> = ids.iter().map(|(n, id)| (*n, id.as_str())).collect();
        assert_eq!(ids, vec![(2, "h1"), (4, "h2"), (6, "h1")]);
    }

    #[test]
    fn ids_follow_the_crd_bounds() {
        assert_eq!(
            ids(&["h1", " h2 ", "h1"]),
            Ok(vec!["h1".into(), "h2".into()])
        );
        let longest = "x".repeat(HOST_ID_MAX_LEN);
        assert!(ids(&[&longest]).is_ok());
        let empty = ids(&["h1", ""]).expect_err("empty");
        assert!(
            empty.0.starts_with("--host-id \"\": the host id is empty"),
            "{empty}"
        );
        let long = ids(&[&"x".repeat(HOST_ID_MAX_LEN + 1)]).expect_err("too long");
        assert!(long.0.contains("is 65 characters long"), "{long}");
        assert!(long.0.contains("1 to 64 characters"), "{long}");
        // Characters, not bytes, like the schema's maxLength.
        assert!(ids(&[&"é".repeat(HOST_ID_MAX_LEN)]).is_ok());
        assert!(ids(&[]).is_err());
    }

    #[test]
    fn a_bad_file_line_is_named() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("hosts.txt");
        std::fs::write(&path, format!("h1\n\n{}\n", "y".repeat(70))).expect("write");
        let error = collect_host_ids(&[], Some(&path)).expect_err("long id");
        assert!(error.0.contains("hosts.txt line 3"), "{error}");
    }
}
