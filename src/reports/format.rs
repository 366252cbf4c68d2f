//! The two policy-report APIs the operator writes, one at a time, and the operator-wide choices
//! about what a report lists.

/// A policy-report API: which kind is written, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReportFormat {
    /// `openreports.io/v1alpha1` `Report`: what Policy Reporter reads from its v3.2 on.
    OpenReports,
    /// `wgpolicyk8s.io/v1alpha2` `PolicyReport`: the older API most clusters have (Kyverno's).
    WgPolicyK8s,
}

impl ReportFormat {
    pub const ALL: [ReportFormat; 2] = [Self::OpenReports, Self::WgPolicyK8s];

    /// The value of `--policy-reports` and of the chart's `policyReports.format`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenReports => "openreports",
            Self::WgPolicyK8s => "wgpolicyk8s",
        }
    }

    pub fn group(self) -> &'static str {
        match self {
            Self::OpenReports => "openreports.io",
            Self::WgPolicyK8s => "wgpolicyk8s.io",
        }
    }

    pub fn version(self) -> &'static str {
        match self {
            Self::OpenReports => "v1alpha1",
            Self::WgPolicyK8s => "v1alpha2",
        }
    }

    pub fn api_version(self) -> String {
        format!("{}/{}", self.group(), self.version())
    }

    pub fn kind(self) -> &'static str {
        match self {
            Self::OpenReports => "Report",
            Self::WgPolicyK8s => "PolicyReport",
        }
    }

    pub fn plural(self) -> &'static str {
        match self {
            Self::OpenReports => "reports",
            Self::WgPolicyK8s => "policyreports",
        }
    }

    /// The kind as kube's dynamic API takes it.
    pub fn api_resource(self) -> kube::api::ApiResource {
        kube::api::ApiResource {
            group: self.group().to_string(),
            version: self.version().to_string(),
            api_version: self.api_version(),
            kind: self.kind().to_string(),
            plural: self.plural().to_string(),
        }
    }

    /// The name of the kind's CustomResourceDefinition.
    pub fn crd_name(self) -> String {
        format!("{}.{}", self.plural(), self.group())
    }

    /// Whether the kind has the report-level `source` and `configuration` fields. The
    /// `wgpolicyk8s.io/v1alpha2` schema has neither (it has `results[].source`): a server
    /// prunes them from a create and refuses them in a server-side apply, so they are never
    /// sent there.
    pub fn has_report_level_fields(self) -> bool {
        matches!(self, Self::OpenReports)
    }
}

impl std::fmt::Display for ReportFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{} {}", self.group(), self.version(), self.kind())
    }
}

/// Results listed by default: the worst case of 1,000 hosts with every value at its length cap
/// (64-character ids and values, 253-character Node names, 19-digit counts) and every check
/// failing stays under 1 MiB with managedFields (`reports::build` tests the figure).
pub const DEFAULT_MAX_RESULTS: u32 = 700;

/// The most results a report may list (`--policy-reports-max-results`): the same worst case
/// stays under etcd's 1.5 MiB request limit.
pub const MAX_RESULTS_LIMIT: u32 = 1000;

/// What every report lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportOptions {
    pub format: ReportFormat,
    /// Results listed at most; the summary counts them all.
    pub max_results: u32,
    /// List passing and skipped results too (by default only `fail`, `error` and `warn`).
    pub include_passing: bool,
}

impl ReportOptions {
    pub fn new(format: ReportFormat) -> Self {
        Self {
            format,
            max_results: DEFAULT_MAX_RESULTS,
            include_passing: false,
        }
    }
}

/// The operator's policy-report settings (`run --policy-reports*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportSettings {
    /// The API written to; `None`: no reports (`--policy-reports off`, the default).
    pub format: Option<ReportFormat>,
    pub max_results: u32,
    pub include_passing: bool,
    /// Remove, when the operator starts, the reports it wrote in the format(s) it does not
    /// write now: both when off (`--policy-reports-cleanup`; needs list and delete on them).
    pub cleanup: bool,
}

impl Default for ReportSettings {
    fn default() -> Self {
        Self {
            format: None,
            max_results: DEFAULT_MAX_RESULTS,
            include_passing: false,
            cleanup: false,
        }
    }
}

impl ReportSettings {
    /// The options of the reports written, if any are.
    pub fn options(&self) -> Option<ReportOptions> {
        self.format.map(|format| ReportOptions {
            format,
            max_results: self.max_results,
            include_passing: self.include_passing,
        })
    }

    /// The formats whose reports are removed at start (with [`ReportSettings::cleanup`]).
    pub fn formats_to_remove(&self) -> Vec<ReportFormat> {
        if !self.cleanup {
            return Vec::new();
        }
        ReportFormat::ALL
            .into_iter()
            .filter(|format| Some(*format) != self.format)
            .collect()
    }
}
