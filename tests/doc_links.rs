//! Everything the documentation links to is in the repository: every relative link of
//! README.md, docs/*.md and the charts' READMEs names a file or directory of this checkout (not
//! one beside it), and a `#fragment` into a Markdown file names one of its headings.

use std::path::{Component, Path, PathBuf};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// The documents whose links are checked.
fn documents() -> Vec<PathBuf> {
    let repo = Path::new(REPO);
    let mut docs = vec![repo.join("README.md")];
    let mut in_docs: Vec<PathBuf> = std::fs::read_dir(repo.join("docs"))
        .expect("docs/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    in_docs.sort();
    docs.extend(in_docs);
    let mut charts = Vec::new();
    find_readmes(&repo.join("charts"), &mut charts);
    charts.sort();
    docs.extend(charts);
    docs
}

fn find_readmes(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("charts/") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            find_readmes(&path, out);
        } else if path.file_name().is_some_and(|n| n == "README.md") {
            out.push(path);
        }
    }
}

/// The Markdown text without fenced code blocks and inline code spans, where `](` means nothing.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            out.push('\n');
            continue;
        }
        if fenced {
            out.push('\n');
            continue;
        }
        let mut in_code = false;
        for c in line.chars() {
            if c == '`' {
                in_code = !in_code;
            } else if !in_code {
                out.push(c);
            }
        }
        out.push('\n');
    }
    out
}

/// The targets of inline links and images, `[text](target "title")`.
fn link_targets(text: &str) -> Vec<String> {
    let prose = prose(text);
    let mut targets = Vec::new();
    let mut rest = prose.as_str();
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let end = after.find([')', ' ', '\n']).unwrap_or(after.len());
        targets.push(after[..end].trim_matches(['<', '>']).to_string());
        rest = &after[end..];
    }
    targets
}

/// GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(markdown: &str) -> Vec<String> {
    let mut fenced = false;
    let mut found = Vec::new();
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            found.push(anchor(line.trim_start_matches('#')));
        }
    }
    found
}

/// `path` without `.` and `..`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// What is wrong with each relative link of `document` (whose text is `text`), if anything.
fn broken_links(repo: &Path, document: &Path, text: &str) -> Vec<String> {
    let dir = document.parent().unwrap_or(repo);
    let mut broken = Vec::new();
    for target in link_targets(text) {
        if target.is_empty()
            || target.contains("://")
            || target.starts_with("mailto:")
            || target.starts_with('#')
        {
            continue;
        }
        let (file, fragment) = match target.split_once('#') {
            Some((file, fragment)) => (file, Some(fragment)),
            None => (target.as_str(), None),
        };
        let resolved = normalize(&dir.join(file));
        if !resolved.starts_with(repo) {
            broken.push(format!("{target}: outside the repository"));
            continue;
        }
        if !resolved.exists() {
            broken.push(format!("{target}: no such file"));
            continue;
        }
        if let (Some(fragment), Some("md")) =
            (fragment, resolved.extension().and_then(|e| e.to_str()))
        {
            let markdown = std::fs::read_to_string(&resolved).unwrap_or_default();
            if !anchors(&markdown).iter().any(|a| a == fragment) {
                broken.push(format!("{target}: no heading #{fragment}"));
            }
        }
    }
    broken
}

#[test]
fn every_relative_link_resolves_inside_the_repository() {
    let repo = normalize(Path::new(REPO));
    let documents = documents();
    assert!(documents.len() >= 4, "{documents:?}");
    let mut broken = Vec::new();
    let mut checked = 0;
    for document in &documents {
        let text = std::fs::read_to_string(document).expect("readable document");
        checked += link_targets(&text).len();
        for problem in broken_links(&repo, document, &text) {
            broken.push(format!("{}: {problem}", document.display()));
        }
    }
    assert!(checked > 10, "only {checked} links found");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_checker_finds_what_is_broken() {
    let repo = normalize(Path::new(REPO));
    let readme = repo.join("README.md");
    let text = "See [the API](../shared/docs/hss-api.md), [gone](docs/nothing.md), \
                [bad anchor](docs/install.md#no-such-heading), [fine](docs/hss-api.md#errors), \
                [web](https://example.com), `[code](../outside.md)` and\n\
                ```\n[fenced](../outside.md)\n```\n";
    let broken = broken_links(&repo, &readme, text);
    assert_eq!(
        broken,
        [
            "../shared/docs/hss-api.md: outside the repository",
            "docs/nothing.md: no such file",
            "docs/install.md#no-such-heading: no heading #no-such-heading",
        ]
    );
    assert_eq!(
        anchor("Limits that shape the design"),
        "limits-that-shape-the-design"
    );
    assert_eq!(
        anchor(" `hostrisk-dev` demo, part 2!"),
        "hostrisk-dev-demo-part-2"
    );
}
