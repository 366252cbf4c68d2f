//! Policy reports (OpenReports `Report`, or the older `wgpolicyk8s.io` `PolicyReport`): what a
//! watch's hosts look like as policy results, for Policy Reporter and every other consumer of
//! the policy-report API. Pure: from (watch identity, host entries with their Node names,
//! options) to the report object; the controller's report output writes it.
//!
//! - [`format`]: the two APIs and the operator's choices ([`ReportSettings`]);
//! - [`checks`]: the four checks per host and what every HSS state means for them;
//! - [`build`]: the report of one watch, bounded in size, with the digest of its content;
//! - [`model`]: the report object; [`names`]: its name, labels and annotations.

pub mod build;
pub mod checks;
pub mod digest;
pub mod format;
pub mod model;
pub mod names;

pub use build::{build_report, BuiltReport, ReportScope};
pub use checks::{evaluate, Check, Severity, Status, Verdict};
pub use format::{ReportFormat, ReportOptions, ReportSettings};
pub use model::PolicyReport;
