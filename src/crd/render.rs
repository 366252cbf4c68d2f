//! The CRD manifest, as `hostrisk-operator crd` prints it and `crds/hostriskwatch.yaml` stores it.

use kube::CustomResourceExt;

use super::spec::HostRiskWatch;

/// The CustomResourceDefinition of `HostRiskWatch` as YAML (one document, trailing newline).
pub fn crd_yaml() -> String {
    // Serializing a derived CRD cannot fail: it is plain data with string keys.
    match serde_yaml::to_string(&HostRiskWatch::crd()) {
        Ok(yaml) => yaml,
        Err(err) => unreachable!("CRD serializes to YAML: {err}"),
    }
}
