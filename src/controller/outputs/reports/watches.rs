//! The report output's state per watch: what its last decision was (the outcome the
//! `ReportsWritten` condition shows) and the digest of the content it was about. Entries are
//! made when the watch table takes a watch up and dropped when it lets it go; reconciles change
//! them only through the table (`WatchView::while_present`).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::crd::WatchKey;
use crate::reports::ReportFormat;
use crate::status::conditions::ConditionStatus;
use crate::status::{ConditionType, ConditionUpdate, Reason};

use super::stored::CrdState;

/// What became of a watch's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The stored report says what the status says; `omitted` results were left out by
    /// `maxResults`.
    Written { omitted: u64 },
    /// The watch is suspended, and its report removed.
    Removed,
    /// No poll answered yet: nothing to report.
    NoData,
    /// The report kind is not served.
    NotInstalled,
    /// The API server refused the report or did not take it.
    Failed { reason: Reason, message: Box<str> },
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Kept {
    pub outcome: Option<Outcome>,
    /// The content `outcome` is about: not sent again until it changes, or until what the
    /// output watches changes. `None` after a failure worth retrying.
    pub digest: Option<u64>,
}

impl Kept {
    /// Nothing changed since `digest` was decided on: the store holds it (`stored`), or it was
    /// refused for good.
    pub fn settled(&self, stored: Option<Option<u64>>) -> bool {
        match (&self.outcome, self.digest) {
            (_, None) | (None, _) => false,
            (Some(Outcome::Written { .. }), Some(digest)) => stored == Some(Some(digest)),
            (Some(_), Some(_)) => true,
        }
    }
}

#[derive(Default)]
pub struct WatchStates {
    kept: Mutex<HashMap<WatchKey, Kept>>,
}

impl WatchStates {
    fn lock(&self) -> MutexGuard<'_, HashMap<WatchKey, Kept>> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn began(&self, key: WatchKey) {
        self.lock().entry(key).or_default();
    }

    pub fn forget(&self, key: &WatchKey) {
        self.lock().remove(key);
    }

    pub fn get(&self, key: &WatchKey) -> Kept {
        self.lock().get(key).cloned().unwrap_or_default()
    }

    pub fn knows(&self, key: &WatchKey) -> bool {
        self.lock().contains_key(key)
    }

    /// Records a decision for a watch the caller made sure is held.
    pub fn set(&self, key: &WatchKey, kept: Kept) {
        if let Some(entry) = self.lock().get_mut(key) {
            *entry = kept;
        }
    }

    /// Every watch held; with `retry`, refused content is no longer settled (something that
    /// decides whether it can be written changed).
    pub fn all(&self, retry: bool) -> Vec<WatchKey> {
        let mut kept = self.lock();
        if retry {
            for entry in kept.values_mut() {
                if !matches!(entry.outcome, Some(Outcome::Written { .. })) {
                    entry.digest = None;
                }
            }
        }
        kept.keys().cloned().collect()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

/// The `ReportsWritten` condition of a watch whose report is `report`, given what the CRD
/// watch says and the watch's last outcome.
pub fn report_condition(
    format: ReportFormat,
    crd: &CrdState,
    report: &str,
    outcome: Option<&Outcome>,
) -> ConditionUpdate {
    let kind = format.kind();
    let set = |status, reason, message: String| {
        ConditionUpdate::set(ConditionType::ReportsWritten, status, reason, message)
    };
    let not_installed = || {
        set(
            ConditionStatus::False,
            Reason::ApiNotInstalled,
            format!(
                "the {format} API is not installed (no CustomResourceDefinition {}): install it \
                 and {kind} {report} is written, without a restart",
                format.crd_name()
            ),
        )
    };
    if *crd == CrdState::Missing {
        return not_installed();
    }
    match outcome {
        None | Some(Outcome::NoData) => ConditionUpdate::keep_or(
            ConditionType::ReportsWritten,
            ConditionStatus::Unknown,
            Reason::Pending,
            format!("{kind} {report} is written once HSS has answered for the watch"),
        ),
        Some(Outcome::Written { omitted: 0 }) => set(
            ConditionStatus::True,
            Reason::Written,
            format!("{kind} {report} is up to date"),
        ),
        Some(Outcome::Written { omitted }) => set(
            ConditionStatus::True,
            Reason::Written,
            format!(
                "{kind} {report} is up to date; {omitted} results beyond its maxResults are \
                 counted in its summary only"
            ),
        ),
        Some(Outcome::Removed) => set(
            ConditionStatus::False,
            Reason::Suspended,
            format!("the watch is suspended: its {kind} {report} is removed"),
        ),
        Some(Outcome::NotInstalled) => not_installed(),
        Some(Outcome::Failed { reason, message }) => {
            set(ConditionStatus::False, *reason, message.to_string())
        }
    }
}

/// Whether `conditions` already say what `update` would write.
pub fn already_says(
    conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    update: &ConditionUpdate,
) -> bool {
    let stored = crate::status::conditions::find(conditions, update.type_());
    match update {
        ConditionUpdate::KeepOr(_) => stored.is_some(),
        ConditionUpdate::Set(desired) => stored.is_some_and(|c| {
            c.status == desired.status.as_str()
                && c.reason == desired.reason.as_str()
                && c.message == desired.message
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_content_stays_settled_until_a_retry_is_asked_for() {
        let states = WatchStates::default();
        let key = WatchKey::new("ns", "w");
        states.began(key.clone());
        let refused = Kept {
            outcome: Some(Outcome::Failed {
                reason: Reason::Forbidden,
                message: "no".into(),
            }),
            digest: Some(7),
        };
        states.set(&key, refused.clone());
        assert!(states.get(&key).settled(None));
        let written = Kept {
            outcome: Some(Outcome::Written { omitted: 0 }),
            digest: Some(7),
        };
        assert!(written.settled(Some(Some(7))));
        assert!(!written.settled(Some(Some(8))), "stored content differs");
        assert!(!written.settled(None), "the report is gone");
        assert_eq!(states.all(true), vec![key.clone()]);
        assert!(!states.get(&key).settled(None), "retried after the change");
        states.forget(&key);
        states.set(&key, refused);
        assert!(states.is_empty(), "no entry for a watch not held");
    }

    #[test]
    fn the_condition_follows_the_crd_then_the_outcome() {
        let format = ReportFormat::OpenReports;
        let missing = report_condition(format, &CrdState::Missing, "hostrisk-w", None);
        let ConditionUpdate::Set(missing) = missing else {
            panic!("set")
        };
        assert_eq!(missing.reason, Reason::ApiNotInstalled);
        assert!(
            missing.message.contains("reports.openreports.io"),
            "{}",
            missing.message
        );
        let pending = report_condition(format, &CrdState::Served, "hostrisk-w", None);
        assert!(matches!(pending, ConditionUpdate::KeepOr(_)));
        let written = Outcome::Written { omitted: 0 };
        let ConditionUpdate::Set(ok) =
            report_condition(format, &CrdState::Served, "hostrisk-w", Some(&written))
        else {
            panic!("set")
        };
        assert_eq!(
            (ok.status, ok.reason, ok.message.as_str()),
            (
                ConditionStatus::True,
                Reason::Written,
                "Report hostrisk-w is up to date"
            )
        );
    }
}
