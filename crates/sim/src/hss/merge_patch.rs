//! JSON merge patch (RFC 7386), as the admin endpoints apply it to hosts, faults and identity
//! providers.

use serde_json::Value;

/// JSON merge patch (RFC 7386) of `patch` onto `current`, read back as `T`.
pub(crate) fn merge_into<T>(current: &T, patch: &Value) -> Result<T, String>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let mut value = serde_json::to_value(current).map_err(|e| e.to_string())?;
    merge(&mut value, patch);
    serde_json::from_value(value).map_err(|e| e.to_string())
}

fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    merge(target.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hss::faults::Faults;
    use crate::hss::fleet::SimHost;

    #[test]
    fn merge_patch_changes_removes_and_keeps() {
        let host = &crate::hss::config::SimConfig::demo_hosts()[0];
        let patch = serde_json::json!({"agent_status": "offline", "intrusion": null});
        let changed: SimHost = merge_into(host, &patch).expect("merges");
        assert_eq!(changed.risk.agent_status.expect("set").as_str(), "offline");
        assert_eq!(changed.risk.intrusion, None);
        assert_eq!(changed.risk.asset, host.risk.asset);
        assert!(merge_into::<Faults>(&Faults::default(), &serde_json::json!({"x": 1})).is_err());
    }
}
