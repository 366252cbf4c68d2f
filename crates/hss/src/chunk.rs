//! Pure helpers of a chunked query: id de-duplication and merging answers by requested id.

use std::collections::HashSet;

use super::error::HssError;
use super::model::{HostsRiskResult, ListHostsRiskResponse};
use super::transport::RawAnswer;

/// Ids with duplicates removed, first occurrence kept, order preserved.
pub fn dedup_ids<S: AsRef<str>>(ids: &[S]) -> Vec<String> {
    let mut seen = HashSet::with_capacity(ids.len());
    ids.iter()
        .map(AsRef::as_ref)
        .filter(|id| seen.insert(*id))
        .map(str::to_string)
        .collect()
}

/// Folds one answer into `result`: items are matched to `requested` ids on `host_id`; items
/// for ids not asked for (or without id) are ignored; requested ids without an item become
/// not found.
pub fn merge_answer(
    result: &mut HostsRiskResult,
    requested: &[String],
    answer: ListHostsRiskResponse,
    request_id: Option<String>,
) {
    let wanted: HashSet<&str> = requested.iter().map(String::as_str).collect();
    for item in answer.data_list.unwrap_or_default() {
        match item.host_id.as_deref() {
            Some(id) if wanted.contains(id) => {
                if !result.hosts.contains_key(id) {
                    result.hosts.insert(id.to_string(), item);
                }
            }
            other => tracing::debug!(
                host_id = other.unwrap_or("<absent>"),
                "ignoring an item for a host that was not requested"
            ),
        }
    }
    for id in requested {
        if !result.hosts.contains_key(id) {
            result.not_found.insert(id.clone());
        }
    }
    result.request_ids.extend(request_id);
}

/// Decodes a 2xx body and folds it into a one-chunk result.
pub(crate) fn decode(answer: RawAnswer, ids: &[String]) -> Result<HostsRiskResult, HssError> {
    let parsed: ListHostsRiskResponse =
        serde_json::from_slice(&answer.body).map_err(|e| HssError::Decode {
            message: format!("{e} (HTTP {}, {} bytes)", answer.status, answer.body.len()),
            request_id: answer.request_id.clone(),
        })?;
    let mut result = HostsRiskResult::default();
    merge_answer(&mut result, ids, parsed, answer.request_id);
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::HostRisk;

    #[test]
    fn dedup_keeps_first_seen_order() {
        assert_eq!(dedup_ids(&["b", "a", "b", "c", "a"]), vec!["b", "a", "c"]);
    }

    #[test]
    fn merge_matches_on_host_id_and_reports_missing() {
        let requested = vec!["h1".to_string(), "h2".to_string(), "h3".to_string()];
        let item = |id: Option<&str>, asset| HostRisk {
            host_id: id.map(str::to_string),
            asset: Some(asset),
            ..HostRisk::default()
        };
        let answer = ListHostsRiskResponse {
            total_num: Some(4),
            data_list: Some(vec![
                item(Some("h2"), 2),
                item(Some("stranger"), 9),
                item(None, 8),
                item(Some("h1"), 1),
                item(Some("h1"), 7),
            ]),
        };
        let mut result = HostsRiskResult::default();
        merge_answer(&mut result, &requested, answer, Some("r1".into()));
        assert_eq!(result.hosts.len(), 2);
        assert_eq!(result.hosts["h1"].asset, Some(1));
        assert_eq!(result.hosts["h2"].asset, Some(2));
        assert_eq!(result.not_found.iter().collect::<Vec<_>>(), vec!["h3"]);
        assert_eq!(result.request_ids, vec!["r1"]);
    }
}
