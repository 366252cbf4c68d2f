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
//! Sized for 1,000,000 hosts: known enum values are one-byte codes, counts 16-bit numbers
//! without `Option` padding (a host's findings are counted in tens or hundreds), and what does
//! not fit (unknown values, counts beyond `u16`) is boxed aside: 16 bytes of data instead of the
//! 208 of a `HostRisk`, a 40-byte record. Ids and Node
//! names are shared (thin `ArcStr` pointers) between the poller's table, the targets and every
//! status that lists them.

use std::borrow::Cow;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::crd::schema::STATUS_VALUE_MAX_LEN;
use crate::crd::status::{HostStatus, StatusValue};
use crate::hss::model::{
    AgentStatus, DetectResult, HostRisk, HssEdition, InstallResultCode, OpenEnum, ProtectStatus,
};

/// A host id, shared by everything that holds one (one allocation per id, not per use): a
/// thin pointer (8 bytes, where an `Arc<str>` is 16) to its count, length and text, so every
/// record, target and table slot that refers to an id pays one word for it.
pub type HostId = arcstr::ArcStr;

/// A Node's name, shared like [`HostId`].
pub type NodeName = arcstr::ArcStr;

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
/// Code of a value this build does not know: the text is in `Wide::unknown`.
const UNKNOWN: u8 = u8::MAX;
/// Bit of `present` set on the answer "HSS did not return this id".
const NOT_FOUND: u8 = 1 << 7;

/// What HSS said about one host, or that it did not return it: 16 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostData(Repr);

/// A value has one representation (wide only when it must be), so equal data compare equal.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Repr {
    /// Every value known and every count within `u16` (the rule).
    Compact {
        /// Per [`Text`]: [`ABSENT`] or 1 + the index in its vocabulary.
        codes: [u8; 5],
        /// Bit i < 4 set: `counts[i]` is present (per [`Count`]); [`NOT_FOUND`]: not returned.
        present: u8,
        counts: [u16; 4],
    },
    /// A value this build does not know, or a count beyond `u16`: boxed aside.
    Wide(Box<Wide>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Wide {
    /// As in [`Repr::Compact`], with [`UNKNOWN`] for a value whose text is in `unknown`.
    codes: [u8; 5],
    present: u8,
    unknown: [Option<Box<str>>; 5],
    counts: [u64; 4],
}

impl HostData {
    /// The answer that HSS did not return the host.
    pub fn not_found() -> Self {
        Self(Repr::Compact {
            codes: [ABSENT; 5],
            present: NOT_FOUND,
            counts: [0; 4],
        })
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
        let mut counts = [0u16; 4];
        let mut wide = [0u64; 4];
        let mut too_big = false;
        for (i, value) in values.into_iter().enumerate() {
            // The CRD holds counts as int64: a count is what it can hold, read back the same.
            if let Some(v) = value.map(|v| v.min(i64::MAX as u64)) {
                present |= 1 << i;
                wide[i] = v;
                match u16::try_from(v) {
                    Ok(narrow) => counts[i] = narrow,
                    Err(_) => too_big = true,
                }
            }
        }
        if too_big || unknown.iter().any(Option::is_some) {
            Self(Repr::Wide(Box::new(Wide {
                codes,
                present,
                unknown,
                counts: wide,
            })))
        } else {
            Self(Repr::Compact {
                codes,
                present,
                counts,
            })
        }
    }

    fn codes(&self) -> &[u8; 5] {
        match &self.0 {
            Repr::Compact { codes, .. } => codes,
            Repr::Wide(wide) => &wide.codes,
        }
    }

    fn present(&self) -> u8 {
        match &self.0 {
            Repr::Compact { present, .. } => *present,
            Repr::Wide(wide) => wide.present,
        }
    }

    fn unknown(&self, i: usize) -> Option<&str> {
        match &self.0 {
            Repr::Compact { .. } => None,
            Repr::Wide(wide) => wide.unknown[i].as_deref(),
        }
    }

    /// False for [`HostData::not_found`].
    pub fn is_found(&self) -> bool {
        self.present() & NOT_FOUND == 0
    }

    /// A text value: `'static` when the vocabulary knows it.
    pub fn text(&self, field: Text) -> Option<&str> {
        let i = field as usize;
        match self.codes()[i] {
            ABSENT => None,
            UNKNOWN => self.unknown(i),
            code => VOCABULARIES[i].get(usize::from(code) - 1).copied(),
        }
    }

    /// A text value as the CRD holds it: borrowed from the vocabulary when known.
    fn status_value(&self, field: Text) -> Option<StatusValue> {
        let i = field as usize;
        match self.codes()[i] {
            ABSENT => None,
            UNKNOWN => Some(Cow::Owned(self.unknown(i)?.to_string())),
            code => VOCABULARIES[i]
                .get(usize::from(code) - 1)
                .map(|known| Cow::Borrowed(*known)),
        }
    }

    pub fn count(&self, field: Count) -> Option<u64> {
        let i = field as usize;
        (self.present() & (1 << i) != 0).then(|| match &self.0 {
            Repr::Compact { counts, .. } => u64::from(counts[i]),
            Repr::Wide(wide) => wide.counts[i],
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
        Self::from_fields(
            id,
            host.node_name.as_deref(),
            host.found,
            [
                host.agent_status.as_deref(),
                host.install_result_code.as_deref(),
                host.version.as_deref(),
                host.protect_status.as_deref(),
                host.detect_result.as_deref(),
            ],
            [
                host.asset,
                host.vulnerability,
                host.baseline,
                host.intrusion,
            ],
            host.last_change_time.as_ref().map(|t| t.0),
        )
    }

    /// The record of an entry decoded from an API response ([`HostEntry`]).
    pub(crate) fn from_entry(entry: &HostEntry<'_>) -> Self {
        Self::from_fields(
            HostId::from(&*entry.host_id.0),
            entry.node_name.as_ref().map(|n| &*n.0),
            entry.found,
            [
                entry.agent_status.as_ref().map(|t| &*t.0),
                entry.install_result_code.as_ref().map(|t| &*t.0),
                entry.version.as_ref().map(|t| &*t.0),
                entry.protect_status.as_ref().map(|t| &*t.0),
                entry.detect_result.as_ref().map(|t| &*t.0),
            ],
            [
                entry.asset,
                entry.vulnerability,
                entry.baseline,
                entry.intrusion,
            ],
            entry.last_change_time.as_ref().map(|t| t.0),
        )
    }

    fn from_fields(
        id: HostId,
        node: Option<&str>,
        found: bool,
        texts: [Option<&str>; 5],
        counts: [Option<i64>; 4],
        last_change: Option<Timestamp>,
    ) -> Self {
        let data = if found {
            let count = |value: Option<i64>| value.map(|v| u64::try_from(v).unwrap_or(0));
            HostData::from_values(texts, counts.map(count))
        } else {
            HostData::not_found()
        };
        let mut record = Self::new(id, data);
        record.node = node.map(NodeName::from);
        record.set_last_change(last_change);
        record
    }
}

/// An entry of `status.hosts` as an API response holds it, its text borrowed from the response
/// where it can be: what a watch's kept status is seeded from, without a `HostStatus` with its
/// strings in between. The fields and their names are those of `HostStatus`.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HostEntry<'a> {
    #[serde(borrow)]
    host_id: Piece<'a>,
    #[serde(borrow, default)]
    node_name: Option<Piece<'a>>,
    found: bool,
    #[serde(borrow, default)]
    agent_status: Option<Piece<'a>>,
    #[serde(borrow, default)]
    install_result_code: Option<Piece<'a>>,
    #[serde(borrow, default)]
    version: Option<Piece<'a>>,
    #[serde(borrow, default)]
    protect_status: Option<Piece<'a>>,
    #[serde(borrow, default)]
    detect_result: Option<Piece<'a>>,
    #[serde(default)]
    asset: Option<i64>,
    #[serde(default)]
    vulnerability: Option<i64>,
    #[serde(default)]
    baseline: Option<i64>,
    #[serde(default)]
    intrusion: Option<i64>,
    #[serde(default)]
    last_change_time: Option<Time>,
}

/// A string of a response: borrowed unless it had escapes to undo.
#[derive(Debug)]
struct Piece<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Piece<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Piece<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                v: &'de str,
            ) -> Result<Self::Value, E> {
                Ok(Piece(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Piece(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Piece(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(Visit(std::marker::PhantomData))
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
