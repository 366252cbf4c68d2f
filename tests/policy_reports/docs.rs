//! The policy names, categories and rules are an interface: the docs page's table and the README
//! say exactly what the code does, so neither can change silently.

use hostrisk_operator::reports::Check;

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).expect(path)
}

#[test]
fn the_docs_table_and_the_readme_name_every_policy_as_the_code_does() {
    let page = read("docs/policy-reports.md");
    let readme = read("README.md");
    let rows: Vec<&str> = page
        .lines()
        .filter(|line| line.starts_with("| `hss-"))
        .collect();
    assert_eq!(rows.len(), Check::ALL.len(), "one row per check: {rows:#?}");
    for (check, row) in Check::ALL.iter().zip(&rows) {
        let start = format!(
            "| `{}` | {} | `{}` |",
            check.policy(),
            check.category(),
            check.rule()
        );
        assert!(row.starts_with(&start), "{row}\nshould start with\n{start}");
        assert!(
            readme.contains(&format!("`{}`", check.policy())),
            "README lacks {}",
            check.policy()
        );
    }
    for reason in [
        "Written",
        "Pending",
        "Suspended",
        "ApiNotInstalled",
        "Forbidden",
        "WriteFailed",
    ] {
        assert!(
            page.contains(&format!("| `{reason}` |")),
            "docs: ReportsWritten reason {reason}"
        );
    }
}
