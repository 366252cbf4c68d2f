//! The one compact host record: what HSS last said about a host, as the poller's host table
//! keeps it ([`HostData`]) and as a watch's status keeps and writes it ([`HostRecord`]: the
//! data with the host's id, when its data last changed and the Node it is).
//!
//! Everything per field is here: the wire answer becomes a record in [`HostData::from_risk`],
//! a record becomes the CRD's `HostStatus` in [`HostRecord::to_status`] (the one place the CRD
//! shape is made) and a status read back from the API becomes a record in
//! [`HostRecord::from_status`]. A new HSS field touches the wire model (`hostrisk_hss::model`),
//! this file and the CRD type (`crd::status::HostStatus`, plus the generated YAML).
//!
//! Sized for 100,000 hosts: known enum values are one-byte codes, counts 32-bit numbers without
//! `Option` padding, and what does not fit (unknown values, counts beyond `u32`) is boxed aside:
//! 32 bytes of data instead of the 208 of a `HostRisk`. Ids and Node names are shared
//! (`Arc<str>`) between the poller's table, the targets and every status that lists them.

use std::borrow::Cow;
use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::crd::schema::STATUS_VALUE_MAX_LEN;
use crate::crd::status::{HostStatus, StatusValue};
use crate::hss::model::{
    AgentStatus, DetectResult, HostRisk, HssEdition, InstallResultCode, OpenEnum, ProtectStatus,
};

/// A host id, shared by everything that holds one (one allocation per id, not per use).
pub type HostId = Arc<str>;

/// A Node's name, shared like [`HostId`].
pub type NodeName = Arc<str>;

/// The text values of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    AgentStatus,
    InstallResult,
    /// The HSS edition protecting the host (`version` on the wire and in the CRD).
    Edition,
    Protection,
    Detection,
}

/// The counts of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    Asset,
    Vulnerability,
    Baseline,
    Intrusion,
}

impl Count {
    pub const ALL: [Count; 4] = [
        Self::Asset,
        Self::Vulnerability,
        Self::Baseline,
        Self::Intrusion,
    ];
}

/// The values each text field takes, in [`Text`] order: a known value is stored as its index.
const VOCABULARIES: [&[&str]; 5] = [
    AgentStatus::KNOWN,
    InstallResultCode::KNOWN,
    HssEdition::KNOWN,
    ProtectStatus::KNOWN,
    DetectResult::KNOWN,
];

/// Code of an absent value.
const ABSENT: u8 = 0;
/// Code of a value this build does not know: the text is in `Overflow::unknown`.
const UNKNOWN: u8 = u8::MAX;
/// Bit of `present` set on the answer "HSS did not return this id".
const NOT_FOUND: u8 = 1 << 7;

/// What does not fit the compact form: the texts of unknown values and counts beyond `u32`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Overflow {
    unknown: [Option<Box<str>>; 5],
    counts: Option<[u64; 4]>,
}

/// What HSS said about one host, or that it did not return it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostData {
    /// Per [`Text`]: [`ABSENT`], 1 + the index in its vocabulary, or [`UNKNOWN`].
    codes: [u8; 5],
    /// Bit i < 4 set: `counts[i]` is present (per [`Count`]); [`NOT_FOUND`]: not returned.
    present: u8,
    counts: [u32; 4],
    /// `None` when every value is known and every count fits (the rule).
    overflow: Option<Box<Overflow>>,
}

impl HostData {
    /// The answer that HSS did not return the host.
    pub fn not_found() -> Self {
        Self {
            codes: [ABSENT; 5],
            present: NOT_FOUND,
            counts: [0; 4],
            overflow: None,
        }
    }

    /// The data of `risk` if HSS returned the host, else [`HostData::not_found`].
    pub fn of(risk: Option<&HostRisk>) -> Self {
        risk.map_or_else(Self::not_found, Self::from_risk)
    }

    /// The data of an answer from the wire.
    pub fn from_risk(risk: &HostRisk) -> Self {
        Self::from_values(
            [
                risk.agent_status.as_ref().map(OpenEnum::as_str),
                risk.install_result_code.as_ref().map(OpenEnum::as_str),
                risk.version.as_ref().map(OpenEnum::as_str),
                risk.protect_status.as_ref().map(OpenEnum::as_str),
                risk.detect_result.as_ref().map(OpenEnum::as_str),
            ],
            [
                risk.asset,
                risk.vulnerability,
                risk.baseline,
                risk.intrusion,
            ],
        )
    }

    fn from_values(texts: [Option<&str>; 5], values: [Option<u64>; 4]) -> Self {
        let mut unknown: [Option<Box<str>>; 5] = Default::default();
        let mut codes = [ABSENT; 5];
        for (i, text) in texts.into_iter().enumerate() {
            codes[i] = encode(VOCABULARIES[i], text, &mut unknown[i]);
        }
        let mut present = 0u8;
        let mut counts = [0u32; 4];
        let mut wide = [0u64; 4];
        let mut too_big = false;
        for (i, value) in values.into_iter().enumerate() {
            // The CRD holds counts as int64: a count is what it can hold, read back the same.
            if let Some(v) = value.map(|v| v.min(i64::MAX as u64)) {
                present |= 1 << i;
                wide[i] = v;
                match u32::try_from(v) {
                    Ok(narrow) => counts[i] = narrow,
                    Err(_) => too_big = true,
                }
            }
        }
        let overflow = (too_big || unknown.iter().any(Option::is_some)).then(|| {
            Box::new(Overflow {
                unknown,
                counts: too_big.then_some(wide),
            })
        });
        Self {
            codes,
            present,
            counts,
            overflow,
        }
    }

    /// False for [`HostData::not_found`].
    pub fn is_found(&self) -> bool {
        self.present & NOT_FOUND == 0
    }

    /// A text value: `'static` when the vocabulary knows it.
    pub fn text(&self, field: Text) -> Option<&str> {
        let i = field as usize;
        match self.codes[i] {
            ABSENT => None,
            UNKNOWN => self.overflow.as_ref()?.unknown[i].as_deref(),
            code => VOCABULARIES[i].get(usize::from(code) - 1).copied(),
        }
    }

    /// A text value as the CRD holds it: borrowed from the vocabulary when known.
    fn status_value(&self, field: Text) -> Option<StatusValue> {
        let i = field as usize;
        match self.codes[i] {
            ABSENT => None,
            UNKNOWN => Some(Cow::Owned(
                self.overflow.as_ref()?.unknown[i].as_deref()?.to_string(),
            )),
            code => VOCABULARIES[i]
                .get(usize::from(code) - 1)
                .map(|known| Cow::Borrowed(*known)),
        }
    }

    pub fn count(&self, field: Count) -> Option<u64> {
        let i = field as usize;
        (self.present & (1 << i) != 0).then(|| {
            self.overflow
                .as_ref()
                .and_then(|o| o.counts)
                .map_or(u64::from(self.counts[i]), |wide| wide[i])
        })
    }
}

/// The code of `text` in `vocabulary`; an unknown value goes to `unknown`, cut to what the CRD
/// keeps.
fn encode(vocabulary: &[&str], text: Option<&str>, unknown: &mut Option<Box<str>>) -> u8 {
    let Some(text) = text else {
        return ABSENT;
    };
    match vocabulary.iter().position(|known| *known == text) {
        // The vocabularies have a handful of values; an index that would not fit is text.
        Some(index) if index + 1 < usize::from(UNKNOWN) => (index + 1) as u8,
        _ => {
            *unknown = Some(text.chars().take(STATUS_VALUE_MAX_LEN).collect());
            UNKNOWN
        }
    }
}

/// `HostRecord::last_change` of an entry without `lastChangeTime`.
const NEVER: i64 = i64::MIN;

/// One host of a watch's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRecord {
    pub id: HostId,
    pub data: HostData,
    /// Unix seconds of when this host's data last changed as the watch saw it, or [`NEVER`]
    /// (Kubernetes keeps times to the second, and so does this).
    last_change: i64,
    /// The Node this host is (node-backed watches).
    pub node: Option<NodeName>,
}

impl HostRecord {
    /// A record of `data` for `id`, without change time or Node.
    pub fn new(id: HostId, data: HostData) -> Self {
        Self {
            id,
            data,
            last_change: NEVER,
            node: None,
        }
    }

    pub fn last_change(&self) -> Option<Timestamp> {
        (self.last_change != NEVER)
            .then(|| Timestamp::from_second(self.last_change).ok())
            .flatten()
    }

    pub fn set_last_change(&mut self, at: Option<Timestamp>) {
        self.last_change = at.map_or(NEVER, |t| t.as_second());
    }

    /// The same host with the same data and Node, whenever it changed.
    pub fn same_but_change_time(&self, other: &HostRecord) -> bool {
        self.id == other.id && self.data == other.data && self.node == other.node
    }

    /// The entry of `status.hosts`.
    pub fn to_status(&self) -> HostStatus {
        let data = &self.data;
        let count = |field| {
            data.count(field)
                .map(|v| i64::try_from(v).unwrap_or(i64::MAX))
        };
        HostStatus {
            host_id: self.id.to_string(),
            node_name: self.node.as_deref().map(str::to_string),
            found: data.is_found(),
            agent_status: data.status_value(Text::AgentStatus),
            install_result_code: data.status_value(Text::InstallResult),
            version: data.status_value(Text::Edition),
            protect_status: data.status_value(Text::Protection),
            detect_result: data.status_value(Text::Detection),
            asset: count(Count::Asset),
            vulnerability: count(Count::Vulnerability),
            baseline: count(Count::Baseline),
            intrusion: count(Count::Intrusion),
            last_change_time: self.last_change().map(Time),
        }
    }

    /// The record of an entry read back from the API, its id given shared.
    pub fn from_status(host: &HostStatus, id: HostId) -> Self {
        let data = if host.found {
            let count = |value: Option<i64>| value.map(|v| u64::try_from(v).unwrap_or(0));
            HostData::from_values(
                [
                    host.agent_status.as_deref(),
                    host.install_result_code.as_deref(),
                    host.version.as_deref(),
                    host.protect_status.as_deref(),
                    host.detect_result.as_deref(),
                ],
                [
                    count(host.asset),
                    count(host.vulnerability),
                    count(host.baseline),
                    count(host.intrusion),
                ],
            )
        } else {
            HostData::not_found()
        };
        let mut record = Self::new(id, data);
        record.node = host.node_name.as_deref().map(NodeName::from);
        record.set_last_change(host.last_change_time.as_ref().map(|t| t.0));
        record
    }
}

/// The records of status entries, each with an id of its own (none shared with a kept status):
/// for what reads a stored status once, such as the metrics seeded from it, and for tests.
pub(crate) fn records_of(hosts: &[HostStatus]) -> Vec<HostRecord> {
    hosts
        .iter()
        .map(|h| HostRecord::from_status(h, h.host_id.as_str().into()))
        .collect()
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
