//! The lines printed before the table: what runs where, what was applied, what each watch is for.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::manifests::names;
use super::setup::DemoWorld;
use super::table::Style;

/// What each watch demonstrates, in table order.
pub const WATCH_ROLES: [(&str, &str); 5] = [
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
    (
        names::KEYLESS,
        "no Secret: a token of ServiceAccount hss-reader, exchanged at IAM",
    ),
    (
        names::WORKERS,
        "node-backed: the hosts of the worker Nodes, ids from spec.providerID; a Node of another \
         cloud is reported, the control plane left out. Sets HostSecurity* conditions on its \
         Nodes and taints at-risk ones (--node-taints at-risk --node-taint-after 0s \
         --node-taint-max 1)",
    ),
];

/// Continuation indent of a labelled line: under its value.
pub const LABEL_INDENT: usize = 27;
/// Continuation indent of a command line.
const COMMAND_INDENT: usize = 6;

/// Where to look at the running demo from outside.
#[derive(Debug, Clone)]
pub struct Access {
    /// Address of the controller's `/metrics`, `/livez` and `/readyz`.
    pub health: SocketAddr,
    /// Kubeconfig file of the API stand-in.
    pub kubeconfig: PathBuf,
    /// The file the operator's logs go to, when the caller set one up.
    pub log_file: Option<PathBuf>,
}

/// The banner: each line with the indent its continuation lines take when it is too wide.
pub fn banner_lines(world: &DemoWorld, access: &Access, style: Style) -> Vec<(String, usize)> {
    let mut lines: Vec<(String, usize)> = labelled_lines(world, access, style)
        .into_iter()
        .map(|line| (line, LABEL_INDENT))
        .collect();
    lines.push((
        style.dim("  While it runs, from another terminal:"),
        COMMAND_INDENT,
    ));
    for command in commands(access) {
        lines.push((format!("    {command}"), COMMAND_INDENT));
    }
    lines.push((
        style.dim(
            "  Rows come from a watch on hostriskwatches over HTTP, like `kubectl get hrw -A -w`; \
             a row is printed when one of its columns changes.",
        ),
        2,
    ));
    lines.push((String::new(), 0));
    lines
}

/// Commands that work against the demo's servers while it runs.
pub fn commands(access: &Access) -> Vec<String> {
    vec![
        format!(
            "KUBECONFIG={} kubectl get hrw -A",
            access.kubeconfig.display()
        ),
        format!(
            "KUBECONFIG={} kubectl get reports -A",
            access.kubeconfig.display()
        ),
        format!("curl -s http://{}/metrics | grep ^hostrisk_", access.health),
    ]
}

fn labelled_lines(world: &DemoWorld, access: &Access, style: Style) -> Vec<String> {
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
    lines.push(format!(
        "  IAM identity provider    {}: issuer {}, keys {}/openid/v1/jwks; \
         {} -> group {}",
        world.keyless.identity_provider_id,
        hostrisk_sim::kube::SERVICE_ACCOUNT_ISSUER,
        world.kube.url(),
        world.keyless.subject(),
        super::setup::KEYLESS_GROUP,
    ));
    for (i, (kind, objects)) in group_by_kind(&world.applied).into_iter().enumerate() {
        let label = if i == 0 { "applied" } else { "" };
        lines.push(format!("  {label:<24} {kind} {}", objects.join(", ")));
    }
    lines.push(format!(
        "  {:<24} http://{}/metrics, /livez, /readyz",
        "operator endpoints", access.health
    ));
    if let Some(log_file) = &access.log_file {
        lines.push(format!(
            "  {:<24} {}  {}",
            "operator logs",
            log_file.display(),
            style.dim("(--log-level sets what is logged; never between these lines)")
        ));
    }
    for (name, role) in WATCH_ROLES {
        lines.push(format!(
            "  {:<24} {}",
            format!("{}/{name}", names::NAMESPACE),
            style.dim(role)
        ));
    }
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
    fn commands_point_at_the_demo_servers() {
        let access = Access {
            health: "127.0.0.1:4321".parse().expect("addr"),
            kubeconfig: PathBuf::from("/tmp/demo/kubeconfig"),
            log_file: None,
        };
        assert_eq!(
            commands(&access),
            [
                "KUBECONFIG=/tmp/demo/kubeconfig kubectl get hrw -A",
                "KUBECONFIG=/tmp/demo/kubeconfig kubectl get reports -A",
                "curl -s http://127.0.0.1:4321/metrics | grep ^hostrisk_"
            ]
        );
    }

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
