//! The lines printed before the table: what runs where, what was applied, what each watch is for.

use super::manifests::names;
use super::setup::DemoWorld;
use super::table::Style;

/// What each watch demonstrates, in table order.
pub const WATCH_ROLES: [(&str, &str); 3] = [
    (
        names::WEB,
        "access key + secret key; three demo hosts and one id HSS does not know",
    ),
    (
        names::DATA,
        "static token; three generated hosts and one whose agent install failed",
    ),
    (
        names::BATCH,
        "temporary key whose Secret lacks secretKey until the script adds it",
    ),
];

/// The banner, one entry per line.
pub fn banner_lines(world: &DemoWorld, style: Style) -> Vec<String> {
    let mut lines = vec![
        style.bold("hostrisk-dev demo"),
        format!(
            "  HSS simulator            {}  ({} hosts, quota {} calls/min per credential)",
            world.endpoint,
            world.hss.host_ids().len(),
            world.hss.faults().quota_per_minute
        ),
        format!(
            "  Kubernetes API stand-in  {}  (in memory; the operator uses a real kube::Client)",
            world.kube.url()
        ),
    ];
    for (i, (kind, objects)) in group_by_kind(&world.applied).into_iter().enumerate() {
        let label = if i == 0 { "applied" } else { "" };
        lines.push(format!("  {label:<24} {kind} {}", objects.join(", ")));
    }
    for (name, role) in WATCH_ROLES {
        lines.push(format!("  {:<24} {}", name, style.dim(role)));
    }
    lines.push(style.dim(
        "  Rows come from a watch on hostriskwatches over HTTP, like `kubectl get hrw -A -w`; a row is \
         printed when one of its columns changes.",
    ));
    lines.push(String::new());
    lines
}

/// `["Secret a/x", "Secret a/y", "Namespace a"]` -> `[("Secret", ["a/x", "a/y"]), ("Namespace", ["a"])]`,
/// kinds in order of first appearance.
fn group_by_kind(applied: &[String]) -> Vec<(String, Vec<String>)> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for entry in applied {
        let (kind, object) = entry.split_once(' ').unwrap_or((entry.as_str(), ""));
        match groups.iter_mut().find(|(k, _)| k == kind) {
            Some((_, objects)) => objects.push(object.to_string()),
            None => groups.push((kind.to_string(), vec![object.to_string()])),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applied_objects_are_grouped_by_kind_in_order() {
        let applied = [
            "CustomResourceDefinition hostriskwatches.hostrisk.io",
            "Namespace security",
            "Secret security/a",
            "Secret security/b",
        ]
        .map(String::from);
        assert_eq!(
            group_by_kind(&applied),
            vec![
                (
                    "CustomResourceDefinition".to_string(),
                    vec!["hostriskwatches.hostrisk.io".to_string()]
                ),
                ("Namespace".to_string(), vec!["security".to_string()]),
                (
                    "Secret".to_string(),
                    vec!["security/a".to_string(), "security/b".to_string()]
                ),
            ]
        );
    }
}
