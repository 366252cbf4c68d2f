//! `policyReports`: the RBAC on the report kinds is rendered only when they are on (or when the
//! operator is to remove its reports after they were switched off), and exactly what the
//! operator does with them; the values become its flags.

use std::collections::BTreeSet;

use hostrisk_operator::cli::run::RunArgs;
use hostrisk_operator::reports::{ReportFormat, ReportSettings};

use super::rbac::{allow_list, operator_grants, policy_report_grants, Grant, Scope};
use super::render::{removed_by_upgrade, render, value_sets};

fn report_grants(set: &str) -> BTreeSet<Grant> {
    operator_grants(&render(set))
        .into_iter()
        .filter(|g| {
            matches!(g.api_group.as_str(), "openreports.io" | "wgpolicyk8s.io")
                || g.resource_name.as_deref().is_some_and(|n| {
                    n.ends_with(".openreports.io") || n.ends_with(".wgpolicyk8s.io")
                })
        })
        .collect()
}

/// The settings the rendered Deployment's args give the operator.
fn settings(set: &str) -> ReportSettings {
    use clap::{FromArgMatches, Subcommand};
    #[derive(Debug, clap::Parser)]
    enum Binary {
        Run(RunArgs),
    }
    let argv = std::iter::once("hostrisk-operator".to_string()).chain(render(set).args());
    let command = Binary::augment_subcommands(clap::Command::new("hostrisk-operator"));
    let matches = command.try_get_matches_from(argv).expect("args parse");
    let Binary::Run(args) = Binary::from_arg_matches(&matches).expect("run args");
    args.controller_settings().expect("settings").policy_reports
}

#[test]
fn no_report_rbac_and_no_flag_unless_policy_reports_are_on_or_cleaned_up() {
    for set in value_sets() {
        let grants = report_grants(&set);
        let enabled = set.starts_with("policy-reports");
        assert_eq!(!grants.is_empty(), enabled, "{set}: {grants:#?}");
        let args: Vec<String> = render(&set)
            .args()
            .into_iter()
            .filter(|a| a.starts_with("--policy-reports"))
            .collect();
        assert_eq!(!args.is_empty(), enabled, "{set}: {args:?}");
        if !enabled {
            assert_eq!(settings(&set), ReportSettings::default(), "{set}");
        }
    }
}

#[test]
fn openreports_cluster_wide_grants_exactly_what_the_operator_does() {
    let mut expected = allow_list(&[Scope::Cluster], false, false);
    expected.extend(policy_report_grants(&[Scope::Cluster], Some("openreports")));
    assert_eq!(operator_grants(&render("policy-reports")), expected);
    assert_eq!(
        settings("policy-reports"),
        ReportSettings {
            format: Some(ReportFormat::OpenReports),
            max_results: 700,
            include_passing: false,
            cleanup: true,
        }
    );
}

#[test]
fn wgpolicyk8s_in_watch_namespaces_grants_there_and_reads_only_its_crd_cluster_wide() {
    let teams = [
        Scope::Namespace("team-a".into()),
        Scope::Namespace("team-b".into()),
    ];
    let mut expected = allow_list(&teams, false, false);
    expected.extend(policy_report_grants(&teams, Some("wgpolicyk8s")));
    let grants = operator_grants(&render("policy-reports-namespaced"));
    assert_eq!(grants, expected);
    let cluster_wide: Vec<_> = grants
        .iter()
        .filter(|g| g.scope == Scope::Cluster)
        .map(|g| (g.verb.as_str(), g.resource_name.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        cluster_wide,
        [
            ("get", "hostriskwatches.hostrisk.io"),
            ("list", "policyreports.wgpolicyk8s.io"),
            ("watch", "policyreports.wgpolicyk8s.io"),
        ],
        "nothing cluster-wide but reading the two CRDs"
    );
    assert_eq!(
        settings("policy-reports-namespaced"),
        ReportSettings {
            format: Some(ReportFormat::WgPolicyK8s),
            max_results: 1000,
            include_passing: true,
            cleanup: true,
        }
    );
}

#[test]
fn switched_off_with_cleanup_the_operator_may_only_list_and_delete_reports() {
    let mut expected = allow_list(&[Scope::Cluster], false, false);
    expected.extend(policy_report_grants(&[Scope::Cluster], None));
    assert_eq!(operator_grants(&render("policy-reports-cleanup")), expected);
    let settings = settings("policy-reports-cleanup");
    assert_eq!(settings.format, None, "a bare YAML off is off");
    assert!(settings.cleanup);
    assert_eq!(settings.formats_to_remove(), ReportFormat::ALL);
}

/// What a `helm upgrade` that switches reports off deletes: with `cleanupWhenOff` only the CRD
/// rule's objects (list and delete on the kinds stay, for the operator's clean-up), without it
/// every object of the report RBAC.
#[test]
fn switching_reports_off_by_upgrade_deletes_the_report_rbac_objects() {
    let deleted = |from: &str, to: &str| -> BTreeSet<String> {
        removed_by_upgrade(&render(from).rbac_documents(), &render(to).rbac_documents())
            .iter()
            .map(|o| {
                format!(
                    "{} {}",
                    o["kind"].as_str().unwrap(),
                    o["metadata"]["name"].as_str().unwrap()
                )
            })
            .collect()
    };
    let crd_rule = [
        "ClusterRole hostrisk-operator-policy-report-crd",
        "ClusterRoleBinding hostrisk-operator-policy-report-crd",
    ];
    let kinds = [
        "ClusterRole hostrisk-operator-policy-reports",
        "ClusterRoleBinding hostrisk-operator-policy-reports",
    ];
    assert_eq!(
        deleted("policy-reports", "policy-reports-cleanup"),
        crd_rule.map(String::from).into()
    );
    assert_eq!(
        deleted("policy-reports", "defaults"),
        crd_rule
            .into_iter()
            .chain(kinds)
            .map(String::from)
            .collect()
    );
    assert!(deleted("defaults", "policy-reports").is_empty());
}

/// The values snippet in `examples/` renders and turns reports on.
#[test]
fn the_example_values_turn_openreports_on() {
    let file = super::render::repo().join("examples/policy-reports-values.yaml");
    let stream = super::render::run_script(&["render", "-f", file.to_str().expect("utf-8")])
        .unwrap_or_else(|e| panic!("the example does not render: {e}"));
    let rendered = super::render::parse_stream("example", &stream);
    let args = rendered.args();
    assert!(
        args.contains(&"--policy-reports=openreports".to_string()),
        "{args:?}"
    );
    assert!(
        args.contains(&"--policy-reports-max-results=700".to_string()),
        "{args:?}"
    );
}
