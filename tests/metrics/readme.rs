//! The README's "Metrics" table lists every family a scrape can show, with its Prometheus type and
//! exactly the labels its series carry (per-host series with the flag, a node-backed host included),
//! and nothing that is not exported.

use std::collections::{BTreeMap, BTreeSet};

use hostrisk_operator::metrics::{ExpositionFormat, Metrics, MetricsOptions};

use super::support::{exercise_everything, two_host_snapshot};

/// `family -> (type, labels)` of the README table.
fn documented() -> BTreeMap<String, (String, BTreeSet<String>)> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let section = readme
        .split("\n## Metrics\n")
        .nth(1)
        .expect("a Metrics section")
        .split("\n## ")
        .next()
        .expect("section");
    let mut out = BTreeMap::new();
    for row in section.lines().filter(|l| l.starts_with("| `hostrisk_")) {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        let names = cells[0].split(", ").map(|n| n.trim_matches('`').to_owned());
        let labels: BTreeSet<String> = cells[2]
            .split(", ")
            .map(|l| l.trim_matches('`').to_owned())
            .filter(|l| !l.is_empty())
            .collect();
        for name in names {
            out.insert(name, (cells[1].to_owned(), labels.clone()));
        }
    }
    out
}

/// `family -> (type, labels)` of a scrape in Prometheus text (histograms by their base name).
fn exported(text: &str) -> BTreeMap<String, (String, BTreeSet<String>)> {
    let mut out: BTreeMap<String, (String, BTreeSet<String>)> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("name type");
            out.insert(name.to_owned(), (kind.to_owned(), BTreeSet::new()));
        } else if !line.starts_with('#') && !line.is_empty() {
            let name_end = line.find(['{', ' ']).expect("sample");
            let name = &line[..name_end];
            let family = out
                .keys()
                .filter(|f| name.starts_with(f.as_str()))
                .max_by_key(|f| f.len())
                .cloned()
                .expect("a sample of a typed family");
            if let Some(labels) = line[name_end..].strip_prefix('{') {
                let labels = labels.split('}').next().expect("}");
                for pair in labels.split("\",") {
                    let key = pair.split('=').next().expect("key");
                    if key != "le" {
                        out.get_mut(&family)
                            .expect("family")
                            .1
                            .insert(key.to_owned());
                    }
                }
            }
        }
    }
    out
}

#[test]
fn the_readme_documents_every_family_with_its_type_and_labels() {
    let metrics = Metrics::new(MetricsOptions { per_host: true });
    exercise_everything(&metrics);
    let mut nodes = two_host_snapshot();
    nodes.hosts[0].node = Some("worker-1".into());
    metrics.set_watch_gauges("platform", "nodes", &nodes);
    let text = metrics
        .encode_as(ExpositionFormat::PrometheusText)
        .expect("encode");
    let exported = exported(&text);
    let documented = documented();
    assert_eq!(
        exported.keys().collect::<Vec<_>>(),
        documented.keys().collect::<Vec<_>>(),
        "families: exported vs README"
    );
    for (family, (kind, labels)) in &exported {
        assert_eq!(&documented[family].0, kind, "{family}: type");
        assert_eq!(&documented[family].1, labels, "{family}: labels");
    }
}
