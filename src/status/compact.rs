//! How answers are kept in memory (the poller's host table, the statuses the controller
//! remembers): known enum values as one-byte codes, counts as 32-bit numbers without `Option`
//! padding, and what does not fit (unknown values, counts beyond `u32`) boxed aside. 32 bytes
//! instead of the 208 of a [`HostRisk`], and the answer "not found" needs no `Option` around it.

use crate::hss::model::{
    AgentStatus, DetectResult, HostRisk, HssEdition, InstallResultCode, OpenEnum, ProtectStatus,
};

/// Code of an absent value.
const ABSENT: u8 = 0;
/// Code of a value this build does not know: the text is in `unknown`.
const UNKNOWN: u8 = u8::MAX;

/// Bit of `present` set on the answer "HSS did not return this id".
const NOT_FOUND: u8 = 1 << 7;

/// What does not fit the compact form: the texts of unknown values and counts beyond `u32`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Overflow {
    unknown: [Option<Box<str>>; 5],
    counts: Option<[u64; 4]>,
}

/// A [`HostRisk`] without its `host_id` (the table key holds the id: the client keys an answer by
/// the `host_id` it carries, so the two are the same), or the answer that HSS did not return it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactRisk {
    /// agent status, install result, edition, protection, detection: [`ABSENT`], 1 + the index
    /// in the enum's `KNOWN`, or [`UNKNOWN`].
    codes: [u8; 5],
    /// Bit i < 4 set: `counts[i]` is present (asset, vulnerability, baseline, intrusion);
    /// [`NOT_FOUND`]: the host was not returned.
    present: u8,
    counts: [u32; 4],
    /// `None` when every value is known and every count fits (the rule).
    overflow: Option<Box<Overflow>>,
}

impl CompactRisk {
    /// The answer that HSS did not return the host.
    pub fn not_found() -> Self {
        Self {
            codes: [ABSENT; 5],
            present: NOT_FOUND,
            counts: [0; 4],
            overflow: None,
        }
    }

    /// False for [`CompactRisk::not_found`].
    pub fn is_found(&self) -> bool {
        self.present & NOT_FOUND == 0
    }

    /// The compact answer for `risk` if HSS returned the host, else [`CompactRisk::not_found`].
    pub fn of(risk: Option<&HostRisk>) -> Self {
        risk.map_or_else(Self::not_found, Self::new)
    }

    /// The answer again: `None` when the host was not found.
    pub fn found(&self, host_id: &str) -> Option<HostRisk> {
        self.is_found().then(|| self.risk(host_id))
    }

    pub fn new(risk: &HostRisk) -> Self {
        let mut unknown: [Option<Box<str>>; 5] = Default::default();
        let codes = [
            encode(risk.agent_status.as_ref(), &mut unknown[0]),
            encode(risk.install_result_code.as_ref(), &mut unknown[1]),
            encode(risk.version.as_ref(), &mut unknown[2]),
            encode(risk.protect_status.as_ref(), &mut unknown[3]),
            encode(risk.detect_result.as_ref(), &mut unknown[4]),
        ];
        let values = [
            risk.asset,
            risk.vulnerability,
            risk.baseline,
            risk.intrusion,
        ];
        let mut present = 0u8;
        let mut counts = [0u32; 4];
        let mut wide = [0u64; 4];
        let mut too_big = false;
        for (i, value) in values.into_iter().enumerate() {
            if let Some(v) = value {
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

    /// The answer for `host_id` again, as the service sent it.
    pub fn risk(&self, host_id: &str) -> HostRisk {
        let wide = self.overflow.as_ref().and_then(|o| o.counts);
        let count = |i: usize| {
            (self.present & (1 << i) != 0).then(|| wide.map_or(u64::from(self.counts[i]), |w| w[i]))
        };
        HostRisk {
            host_id: Some(host_id.to_string()),
            agent_status: self.decode::<AgentStatus>(0),
            install_result_code: self.decode::<InstallResultCode>(1),
            version: self.decode::<HssEdition>(2),
            protect_status: self.decode::<ProtectStatus>(3),
            detect_result: self.decode::<DetectResult>(4),
            asset: count(0),
            vulnerability: count(1),
            baseline: count(2),
            intrusion: count(3),
        }
    }

    fn decode<T: OpenEnum>(&self, field: usize) -> Option<T> {
        match self.codes[field] {
            ABSENT => None,
            UNKNOWN => {
                let text = self.overflow.as_ref()?.unknown[field].as_deref()?;
                Some(T::from_wire(text))
            }
            code => T::KNOWN
                .get(usize::from(code) - 1)
                .map(|wire| T::from_wire(wire)),
        }
    }
}

fn encode<T: OpenEnum>(value: Option<&T>, unknown: &mut Option<Box<str>>) -> u8 {
    let Some(value) = value else {
        return ABSENT;
    };
    let text = value.as_str();
    match T::KNOWN.iter().position(|wire| *wire == text) {
        // The enums have a handful of values; an index that would not fit is kept as text.
        Some(index) if index + 1 < usize::from(UNKNOWN) => (index + 1) as u8,
        _ => {
            *unknown = Some(text.into());
            UNKNOWN
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_known_value() -> Vec<HostRisk> {
        let longest = [
            AgentStatus::KNOWN.len(),
            InstallResultCode::KNOWN.len(),
            HssEdition::KNOWN.len(),
            ProtectStatus::KNOWN.len(),
            DetectResult::KNOWN.len(),
        ]
        .into_iter()
        .max()
        .unwrap_or(0);
        fn pick(known: &'static [&'static str], i: usize) -> &'static str {
            known[i % known.len()]
        }
        (0..longest)
            .map(|i| HostRisk {
                host_id: Some("h-1".into()),
                agent_status: Some(AgentStatus::from_wire(pick(AgentStatus::KNOWN, i))),
                install_result_code: Some(InstallResultCode::from_wire(pick(
                    InstallResultCode::KNOWN,
                    i,
                ))),
                version: Some(HssEdition::from_wire(pick(HssEdition::KNOWN, i))),
                protect_status: Some(ProtectStatus::from_wire(pick(ProtectStatus::KNOWN, i))),
                detect_result: Some(DetectResult::from_wire(pick(DetectResult::KNOWN, i))),
                asset: Some(i as u64),
                vulnerability: Some(u64::MAX),
                baseline: Some(0),
                intrusion: None,
            })
            .collect()
    }

    #[test]
    fn known_values_round_trip_and_only_what_does_not_fit_is_boxed() {
        for risk in every_known_value() {
            let compact = CompactRisk::new(&risk);
            assert_eq!(compact.risk("h-1"), risk);
            // Every value is known: only the count beyond u32 goes aside.
            assert!(compact
                .overflow
                .as_ref()
                .is_some_and(|o| o.counts.is_some() && o.unknown.iter().all(Option::is_none)));
            let small = HostRisk {
                vulnerability: Some(u64::from(u32::MAX)),
                ..risk
            };
            let compact = CompactRisk::new(&small);
            assert!(compact.overflow.is_none(), "{compact:?}");
            assert_eq!(compact.risk("h-1"), small);
        }
    }

    #[test]
    fn absent_and_unknown_values_round_trip() {
        let risk = HostRisk {
            host_id: Some("h-1".into()),
            agent_status: Some(AgentStatus::Other("hibernating".into())),
            detect_result: Some(DetectResult::Other(String::new())),
            intrusion: Some(7),
            ..HostRisk::default()
        };
        let compact = CompactRisk::new(&risk);
        assert!(compact.overflow.is_some());
        assert_eq!(compact.risk("h-1"), risk);
        let bare = HostRisk {
            host_id: Some("h-2".into()),
            ..HostRisk::default()
        };
        assert_eq!(CompactRisk::new(&bare).risk("h-2"), bare);
    }

    #[test]
    fn the_host_id_comes_from_the_key() {
        let risk = HostRisk {
            host_id: Some("h-1".into()),
            ..HostRisk::default()
        };
        assert_eq!(
            CompactRisk::new(&risk).risk("h-1").host_id.as_deref(),
            Some("h-1")
        );
    }

    #[test]
    fn it_is_small_and_not_found_is_an_answer_too() {
        assert!(std::mem::size_of::<CompactRisk>() <= 32);
        let gone = CompactRisk::not_found();
        assert!(!gone.is_found());
        assert_eq!(gone.found("h-1"), None);
        let risk = HostRisk {
            host_id: Some("h-1".into()),
            asset: Some(3),
            ..HostRisk::default()
        };
        assert_eq!(CompactRisk::of(Some(&risk)).found("h-1"), Some(risk));
        assert!(CompactRisk::new(&HostRisk::default()).is_found());
    }
}
