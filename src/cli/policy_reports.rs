//! `run`'s policy-report flags (`--policy-reports*`), flattened into `RunArgs`.

use crate::reports::format::{DEFAULT_MAX_RESULTS, MAX_RESULTS_LIMIT};
use crate::reports::{ReportFormat, ReportSettings};

/// The values of `--policy-reports`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PolicyReportsFlag {
    /// openreports.io/v1alpha1 Report (Policy Reporter 3.2 and newer).
    Openreports,
    /// wgpolicyk8s.io/v1alpha2 PolicyReport (Kyverno's CRD, older Policy Reporter).
    Wgpolicyk8s,
    /// No reports.
    Off,
}

#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct PolicyReportArgs {
    /// Write a policy report per HostRiskWatch, in its namespace: openreports, wgpolicyk8s or
    /// off. Needs list, watch, create, patch and delete on that kind, and list/watch on its CRD.
    #[arg(
        long = "policy-reports",
        env = "HOSTRISK_POLICY_REPORTS",
        value_enum,
        default_value_t = PolicyReportsFlag::Off
    )]
    pub format: PolicyReportsFlag,

    /// Results a report lists at most, most urgent first (its summary counts them all).
    #[arg(
        long = "policy-reports-max-results",
        env = "HOSTRISK_POLICY_REPORTS_MAX_RESULTS",
        default_value_t = DEFAULT_MAX_RESULTS,
        value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_RESULTS_LIMIT))
    )]
    pub max_results: u32,

    /// List passing and skipped results too (by default only fail, error and warn).
    #[arg(
        long = "policy-reports-include-passing",
        env = "HOSTRISK_POLICY_REPORTS_INCLUDE_PASSING",
        default_value_t = false
    )]
    pub include_passing: bool,

    /// At start, remove the reports this operator wrote in the formats it does not write now
    /// (both with --policy-reports off). Needs list and delete on them.
    #[arg(
        long = "policy-reports-cleanup",
        env = "HOSTRISK_POLICY_REPORTS_CLEANUP",
        default_value_t = false
    )]
    pub cleanup: bool,
}

impl PolicyReportsFlag {
    /// The format named; `None` for off.
    pub fn format(self) -> Option<ReportFormat> {
        match self {
            Self::Openreports => Some(ReportFormat::OpenReports),
            Self::Wgpolicyk8s => Some(ReportFormat::WgPolicyK8s),
            Self::Off => None,
        }
    }
}

impl PolicyReportArgs {
    pub fn settings(&self) -> ReportSettings {
        ReportSettings {
            format: self.format.format(),
            max_results: self.max_results,
            include_passing: self.include_passing,
            cleanup: self.cleanup,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Harness {
        #[command(flatten)]
        args: PolicyReportArgs,
    }

    fn settings(args: &[&str]) -> Result<ReportSettings, clap::Error> {
        let mut all = vec!["run"];
        all.extend_from_slice(args);
        Harness::try_parse_from(all).map(|h| h.args.settings())
    }

    #[test]
    fn off_by_default_and_each_format_by_name() {
        assert_eq!(settings(&[]).unwrap(), ReportSettings::default());
        let open = settings(&["--policy-reports", "openreports"]).unwrap();
        assert_eq!(open.format, Some(ReportFormat::OpenReports));
        assert_eq!(open.formats_to_remove(), Vec::<ReportFormat>::new());
        let wg = settings(&["--policy-reports=wgpolicyk8s", "--policy-reports-cleanup"]).unwrap();
        assert_eq!(wg.format, Some(ReportFormat::WgPolicyK8s));
        assert_eq!(wg.formats_to_remove(), [ReportFormat::OpenReports]);
        let off = settings(&["--policy-reports", "off", "--policy-reports-cleanup"]).unwrap();
        assert_eq!(off.formats_to_remove(), ReportFormat::ALL);
        assert!(settings(&["--policy-reports", "both"]).is_err());
    }

    #[test]
    fn max_results_is_bounded() {
        let s = settings(&["--policy-reports-max-results", "1000"]).unwrap();
        assert_eq!(s.max_results, 1000);
        assert!(settings(&["--policy-reports-max-results", "0"]).is_err());
        assert!(settings(&["--policy-reports-max-results", "1001"]).is_err());
        assert_eq!(settings(&[]).unwrap().max_results, DEFAULT_MAX_RESULTS);
    }
}
