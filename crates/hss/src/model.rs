//! The `ListHostsRisk` response model. Every field is optional (as in the Go SDK) and enum
//! values the service adds later are kept as `Other(..)` instead of failing the whole answer.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What every HSS string enum offers: its known wire values, and a lossless way from and to
/// the wire (an unknown value becomes `Other`). Lets a cache keep a known value as its index.
pub trait OpenEnum: Sized {
    /// Every value this build knows, in declaration order.
    const KNOWN: &'static [&'static str];
    fn as_str(&self) -> &str;
    fn from_wire(value: &str) -> Self;
    /// The wire value of a known variant as a `'static` string; `None` for `Other`.
    fn known_str(&self) -> Option<&'static str>;
}

/// Declares a string enum whose unknown values are kept verbatim in `Other`.
macro_rules! open_string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($variant,)+
            /// A value this build does not know yet, kept as the service sent it.
            Other(String),
        }

        impl $name {
            /// Every value this build knows, in declaration order.
            pub const KNOWN: &'static [&'static str] = &[$($wire),+];

            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)+
                    Self::Other(value) => value,
                }
            }

            /// The wire value of a known variant (`None` for [`Self::Other`]), as a `'static`
            /// string that copies of it can borrow.
            pub fn known_str(&self) -> Option<&'static str> {
                match self {
                    $(Self::$variant => Some($wire),)+
                    Self::Other(_) => None,
                }
            }

            pub fn from_wire(value: &str) -> Self {
                match value {
                    $($wire => Self::$variant,)+
                    other => Self::Other(other.to_string()),
                }
            }
        }

        impl OpenEnum for $name {
            const KNOWN: &'static [&'static str] = &[$($wire),+];

            fn as_str(&self) -> &str {
                $name::as_str(self)
            }

            fn from_wire(value: &str) -> Self {
                $name::from_wire(value)
            }

            fn known_str(&self) -> Option<&'static str> {
                $name::known_str(self)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                Ok(Self::from_wire(&value))
            }
        }
    };
}

open_string_enum!(
    /// `agent_status`.
    AgentStatus {
        NotInstalled => "not_installed",
        Online => "online",
        Offline => "offline",
        InstallFailed => "install_failed",
        Installing => "installing",
    }
);

open_string_enum!(
    /// `install_result_code`.
    InstallResultCode {
        InstallSucceed => "install_succeed",
        NetworkAccessTimeout => "network_access_timeout",
        InvalidPort => "invalid_port",
        AuthFailed => "auth_failed",
        PermissionDenied => "permission_denied",
        NoAvailableVpc => "no_available_vpc",
        InstallException => "install_exception",
        InvalidParam => "invalid_param",
        InstallFailed => "install_failed",
        PackageUnavailable => "package_unavailable",
        OsTypeNotSupport => "os_type_not_support",
        OsArchNotSupport => "os_arch_not_support",
    }
);

open_string_enum!(
    /// `version`: the HSS edition protecting the host.
    HssEdition {
        Null => "hss.version.null",
        Basic => "hss.version.basic",
        Advanced => "hss.version.advanced",
        Enterprise => "hss.version.enterprise",
        Premium => "hss.version.premium",
        Wtp => "hss.version.wtp",
        ContainerEnterprise => "hss.version.container.enterprise",
    }
);

open_string_enum!(
    /// `protect_status`.
    ProtectStatus {
        Closed => "closed",
        Opened => "opened",
    }
);

open_string_enum!(
    /// `detect_result`.
    DetectResult {
        Undetected => "undetected",
        Clean => "clean",
        Risk => "risk",
        Scanning => "scanning",
    }
);

/// One `HostRiskResponseInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostRisk {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_status: Option<AgentStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_result_code: Option<InstallResultCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<HssEdition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protect_status: Option<ProtectStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detect_result: Option<DetectResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vulnerability: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intrusion: Option<u64>,
}

/// The 200 body of `ListHostsRisk`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListHostsRiskResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_num: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_list: Option<Vec<HostRisk>>,
}

/// The error body every Huawei Cloud API gateway answer carries on failure.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_msg: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// What one logical query (all chunks of it) found, keyed by the ids that were asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostsRiskResult {
    /// Answers for requested ids, keyed by the requested id.
    pub hosts: std::collections::BTreeMap<String, HostRisk>,
    /// Requested ids the service did not return (unknown, deleted, or in another enterprise project).
    pub not_found: std::collections::BTreeSet<String>,
    /// `X-Request-Id` of every HSS call that made up this result, in call order.
    pub request_ids: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_enum_values_are_kept() {
        let body = r#"{"total_num":1,"data_list":[{"host_id":"h","agent_status":"hibernating",
            "version":"hss.version.quantum","protect_status":"opened","asset":3}]}"#;
        let parsed: ListHostsRiskResponse = serde_json::from_str(body).expect("decodes");
        let host = &parsed.data_list.expect("list")[0];
        assert_eq!(
            host.agent_status,
            Some(AgentStatus::Other("hibernating".into()))
        );
        assert_eq!(
            host.version,
            Some(HssEdition::Other("hss.version.quantum".into()))
        );
        assert_eq!(host.protect_status, Some(ProtectStatus::Opened));
        assert_eq!(host.asset, Some(3));
        assert_eq!(host.intrusion, None);
        let round = serde_json::to_value(host).expect("encodes");
        assert_eq!(round["agent_status"], "hibernating");
    }

    #[test]
    fn empty_object_decodes() {
        let parsed: ListHostsRiskResponse = serde_json::from_str("{}").expect("decodes");
        assert_eq!(parsed, ListHostsRiskResponse::default());
    }

    #[test]
    fn negative_counts_are_rejected() {
        assert!(serde_json::from_str::<HostRisk>(r#"{"asset":-1}"#).is_err());
    }
}
