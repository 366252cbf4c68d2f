//! The policy-report CRDs exactly as their projects publish them (`testdata/policy-reports/`,
//! Apache-2.0, see its README), for tests: installed into the stand-in with
//! [`StandinApiServer::install_policy_report_crds`], or into a real kube-apiserver from
//! [`dir`] (e.g. `hostrisk_envtest::apply_crds(&client, &policy_reports::dir())`).
//!
//! The stand-in validates, prunes and defaults these reports with the CRDs' own per-version
//! OpenAPI schemas, so a report it accepts is accepted by a real API server too.

use std::path::PathBuf;

use super::server::{StandinApiServer, StandinError};

/// One of the two policy-report APIs a producer writes (one at a time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyReportApi {
    /// `openreports.io/v1alpha1` `Report` (namespaced) and `ClusterReport`.
    OpenReports,
    /// `wgpolicyk8s.io/v1alpha2` `PolicyReport` (namespaced) and `ClusterPolicyReport` (served
    /// at v1alpha1, v1alpha2 and v1beta1; stored at v1beta1).
    WgPolicyK8s,
}

/// A CRD file of the test data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrdFile {
    /// File name in [`dir`].
    pub file: &'static str,
    /// The CRD's `metadata.name`.
    pub name: &'static str,
    /// The file's text.
    pub yaml: &'static str,
}

/// Every file of the test data, README first (for the byte-identity check against the copy
/// the project shares).
pub const FILES: [(&str, &str); 5] = [
    (
        "README.md",
        include_str!("../../testdata/policy-reports/README.md"),
    ),
    (OPENREPORTS[0].file, OPENREPORTS[0].yaml),
    (OPENREPORTS[1].file, OPENREPORTS[1].yaml),
    (WGPOLICYK8S[0].file, WGPOLICYK8S[0].yaml),
    (WGPOLICYK8S[1].file, WGPOLICYK8S[1].yaml),
];

const OPENREPORTS: [CrdFile; 2] = [
    CrdFile {
        file: "openreports.io_reports.yaml",
        name: "reports.openreports.io",
        yaml: include_str!("../../testdata/policy-reports/openreports.io_reports.yaml"),
    },
    CrdFile {
        file: "openreports.io_clusterreports.yaml",
        name: "clusterreports.openreports.io",
        yaml: include_str!("../../testdata/policy-reports/openreports.io_clusterreports.yaml"),
    },
];

const WGPOLICYK8S: [CrdFile; 2] = [
    CrdFile {
        file: "wgpolicyk8s.io_v1alpha2_policyreports.yaml",
        name: "policyreports.wgpolicyk8s.io",
        yaml: include_str!(
            "../../testdata/policy-reports/wgpolicyk8s.io_v1alpha2_policyreports.yaml"
        ),
    },
    CrdFile {
        file: "wgpolicyk8s.io_v1alpha2_clusterpolicyreports.yaml",
        name: "clusterpolicyreports.wgpolicyk8s.io",
        yaml: include_str!(
            "../../testdata/policy-reports/wgpolicyk8s.io_v1alpha2_clusterpolicyreports.yaml"
        ),
    },
];

impl PolicyReportApi {
    /// The namespaced and the cluster-scoped CRD of this API.
    pub fn crds(self) -> &'static [CrdFile; 2] {
        match self {
            Self::OpenReports => &OPENREPORTS,
            Self::WgPolicyK8s => &WGPOLICYK8S,
        }
    }
}

/// The directory holding the CRD files (for tools that read files, such as envtest's
/// `apply_crds`).
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/policy-reports")
}

impl StandinApiServer {
    /// Installs both CRDs of `api` (server-side apply, as `kubectl apply --server-side` would),
    /// at any time: discovery and the resource endpoints follow at once, as on a real server
    /// once the CRD is `Established`. Returns the CRD names.
    pub async fn install_policy_report_crds(
        &self,
        api: PolicyReportApi,
    ) -> Result<Vec<String>, StandinError> {
        for crd in api.crds() {
            self.apply_yaml_documents(crd.yaml).await?;
        }
        Ok(api.crds().iter().map(|c| c.name.to_string()).collect())
    }
}
