//! The ECS server id of a Node, from its `spec.providerID` or from a label or annotation value.
//!
//! Huawei Cloud's cloud provider (kubernetes-sigs/cloud-provider-huaweicloud) sets
//! `huaweicloud:///<server id>` (its `InstanceID` is `/<id>`, prefixed with `huaweicloud://`;
//! it accepts exactly `^huaweicloud:///([^/]+)$`). Its earlier releases wrote and read
//! `huaweicloud://<id>`, and both take a providerID without `://` as the bare id (the `/<id>`
//! form of kubernetes/kubernetes#85731 included). Anything with another scheme belongs to
//! another cloud (`aws:///...`, `kind://...`), and a Huawei one with more path segments is not a
//! form the provider writes: neither is guessed at.

use crate::crd::schema::HOST_ID_MAX_LEN;

/// The scheme of Huawei Cloud's cloud provider.
pub const HUAWEICLOUD_SCHEME: &str = "huaweicloud://";

/// Why no host id could be derived (a CamelCase reason and a message for status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    pub reason: &'static str,
    pub message: String,
}

impl Unresolved {
    pub fn new(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }
}

/// Reasons a selected Node is not watched.
pub mod reason {
    /// `spec.providerID` is empty (the cloud controller manager has not initialised the Node).
    pub const NO_PROVIDER_ID: &str = "NoProviderId";
    /// `spec.providerID` names another cloud provider.
    pub const FOREIGN_PROVIDER_ID: &str = "ForeignProviderId";
    /// `spec.providerID` is a Huawei Cloud one in no form the provider writes.
    pub const MALFORMED_PROVIDER_ID: &str = "MalformedProviderId";
    /// The Node lacks the label `spec.nodeHostIdFrom.label` names.
    pub const LABEL_MISSING: &str = "LabelMissing";
    /// The Node lacks the annotation `spec.nodeHostIdFrom.annotation` names.
    pub const ANNOTATION_MISSING: &str = "AnnotationMissing";
    /// The label or annotation value is no usable host id.
    pub const INVALID_HOST_ID: &str = "InvalidHostId";
    /// Another selected Node (first by name) has the same host id.
    pub const DUPLICATE_HOST_ID: &str = "DuplicateHostId";
    /// The watch already covers 1000 hosts.
    pub const HOST_LIMIT_EXCEEDED: &str = "HostLimitExceeded";
}

/// Shown values are cut, so a message stays within its bound whatever a Node carries.
fn shown(value: &str) -> String {
    const SHOWN: usize = 100;
    if value.chars().count() <= SHOWN {
        value.to_string()
    } else {
        let mut cut: String = value.chars().take(SHOWN).collect();
        cut.push('…');
        cut
    }
}

/// A host id as HSS takes it: 1 to 64 printable ASCII characters, no `/` or whitespace.
pub fn is_host_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= HOST_ID_MAX_LEN
        && id.bytes().all(|b| b.is_ascii_graphic() && b != b'/')
}

/// The ECS server id in a Node's `spec.providerID`.
pub fn host_id_from_provider_id(provider_id: &str) -> Result<String, Unresolved> {
    let text = provider_id.trim();
    if text.is_empty() {
        return Err(Unresolved::new(
            reason::NO_PROVIDER_ID,
            "spec.providerID is empty: the cloud controller manager has not initialised the Node yet, or set spec.nodeHostIdFrom",
        ));
    }
    let malformed = || {
        Unresolved::new(
            reason::MALFORMED_PROVIDER_ID,
            format!(
                "spec.providerID {:?} is not huaweicloud:///<ECS server id>, huaweicloud://<id> or a bare id",
                shown(text)
            ),
        )
    };
    let id = match text.split_once("://") {
        Some((scheme, rest)) if format!("{scheme}://") == HUAWEICLOUD_SCHEME => {
            // `huaweicloud:///<id>` (the current contract) or `huaweicloud://<id>` (earlier).
            rest.strip_prefix('/').unwrap_or(rest)
        }
        Some(_) => {
            return Err(Unresolved::new(
                reason::FOREIGN_PROVIDER_ID,
                format!(
                    "spec.providerID {:?} belongs to another cloud provider: this Node is no Huawei Cloud ECS server",
                    shown(text)
                ),
            ))
        }
        // A bare id, or `/<id>` (the provider's InstanceID without its prefix).
        None => text.strip_prefix('/').unwrap_or(text),
    };
    if is_host_id(id) {
        Ok(id.to_string())
    } else {
        Err(malformed())
    }
}

/// The host id in a label or annotation value (`what`: `label <key>` / `annotation <key>`).
pub fn host_id_from_value(what: &str, value: &str) -> Result<String, Unresolved> {
    let id = value.trim();
    if is_host_id(id) {
        Ok(id.to_string())
    } else {
        Err(Unresolved::new(
            reason::INVALID_HOST_ID,
            format!(
                "{what} is {:?}, not an ECS server id (1 to {HOST_ID_MAX_LEN} characters without spaces or '/')",
                shown(value)
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "5c4d0f3a-2f7e-4a51-9c1b-0e2f8a7b6c5d";

    #[test]
    fn every_form_huawei_clouds_provider_writes_or_accepts_gives_the_server_id() {
        for provider_id in [
            format!("huaweicloud:///{ID}"),
            format!("huaweicloud://{ID}"),
            ID.to_string(),
            format!("/{ID}"),
            format!("  huaweicloud:///{ID}\n"),
        ] {
            assert_eq!(
                host_id_from_provider_id(&provider_id).as_deref(),
                Ok(ID),
                "{provider_id:?}"
            );
        }
    }

    #[test]
    fn other_clouds_empty_and_malformed_ids_say_why() {
        let table = [
            ("", reason::NO_PROVIDER_ID),
            ("   ", reason::NO_PROVIDER_ID),
            (
                "aws:///eu-west-1a/i-0123456789abcdef0",
                reason::FOREIGN_PROVIDER_ID,
            ),
            (
                "kind://docker/kind/kind-worker",
                reason::FOREIGN_PROVIDER_ID,
            ),
            ("openstack:///7b9cf879", reason::FOREIGN_PROVIDER_ID),
            ("huaweicloud:///", reason::MALFORMED_PROVIDER_ID),
            ("huaweicloud://", reason::MALFORMED_PROVIDER_ID),
            ("huaweicloud:///az-1/server", reason::MALFORMED_PROVIDER_ID),
            ("huaweicloud:////server", reason::MALFORMED_PROVIDER_ID),
            ("has space", reason::MALFORMED_PROVIDER_ID),
        ];
        for (provider_id, expected) in table {
            let error = host_id_from_provider_id(provider_id).expect_err(provider_id);
            assert_eq!(error.reason, expected, "{provider_id:?}: {}", error.message);
        }
        let long = format!("huaweicloud:///{}", "a".repeat(65));
        assert_eq!(
            host_id_from_provider_id(&long).map_err(|e| e.reason),
            Err(reason::MALFORMED_PROVIDER_ID)
        );
        assert_eq!(
            host_id_from_provider_id(&format!("huaweicloud:///{}", "a".repeat(64))),
            Ok("a".repeat(64))
        );
    }

    #[test]
    fn messages_name_the_value_but_stay_bounded() {
        let huge = format!("aws:///{}", "x".repeat(10_000));
        let error = host_id_from_provider_id(&huge).expect_err("foreign");
        assert!(error.message.contains("aws:///xxx"), "{}", error.message);
        assert!(error.message.len() < 300, "{}", error.message.len());
    }

    #[test]
    fn label_and_annotation_values_are_ids_or_refused() {
        assert_eq!(host_id_from_value("label ecs", ID).as_deref(), Ok(ID));
        let error = host_id_from_value("label ecs", "").expect_err("empty");
        assert_eq!(error.reason, reason::INVALID_HOST_ID);
        assert!(error.message.starts_with("label ecs is \"\""));
        assert!(host_id_from_value("annotation a", &"x".repeat(65)).is_err());
    }
}
