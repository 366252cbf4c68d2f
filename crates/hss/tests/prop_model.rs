//! Property tests for the `ListHostsRisk` response parser (issue 6, "Bad input").

use hostrisk_hss::model::{AgentStatus, HostRisk, ListHostsRiskResponse};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Arbitrary bytes: an error or a value, never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = serde_json::from_slice::<ListHostsRiskResponse>(&body);
        let _ = serde_json::from_slice::<HostRisk>(&body);
    }

    /// A string the build does not know decodes as `Other` and serializes back verbatim.
    #[test]
    fn unknown_enum_strings_round_trip_as_other(value in any::<String>()) {
        prop_assume!(!AgentStatus::KNOWN.contains(&value.as_str()));
        let json = serde_json::json!({ "agent_status": value });
        let host: HostRisk = serde_json::from_value(json.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(host.agent_status.clone(), Some(AgentStatus::Other(value)));
        prop_assert_eq!(serde_json::to_value(&host).map_err(|e| TestCaseError::fail(e.to_string()))?, json);
    }
}
