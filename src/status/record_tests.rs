use super::*;

fn every_known_value() -> Vec<HostRisk> {
    let longest = VOCABULARIES.iter().map(|v| v.len()).max().unwrap_or(0);
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

/// The status entry HSS's answer `risk` should make, written out field by field.
fn expected_entry(id: &str, risk: &HostRisk) -> HostStatus {
    let text = |value: Option<&str>| value.map(|v| Cow::Owned(v.to_string()));
    let count = |value: Option<u64>| value.map(|v| i64::try_from(v).unwrap_or(i64::MAX));
    HostStatus {
        host_id: id.to_string(),
        node_name: None,
        found: true,
        agent_status: text(risk.agent_status.as_ref().map(|v| v.as_str())),
        install_result_code: text(risk.install_result_code.as_ref().map(|v| v.as_str())),
        version: text(risk.version.as_ref().map(|v| v.as_str())),
        protect_status: text(risk.protect_status.as_ref().map(|v| v.as_str())),
        detect_result: text(risk.detect_result.as_ref().map(|v| v.as_str())),
        asset: count(risk.asset),
        vulnerability: count(risk.vulnerability),
        baseline: count(risk.baseline),
        intrusion: count(risk.intrusion),
        last_change_time: None,
    }
}

fn record(risk: &HostRisk) -> HostRecord {
    HostRecord::new(HostId::from("h-1"), HostData::from_risk(risk))
}

#[test]
fn known_values_become_status_entries_and_only_what_does_not_fit_is_boxed() {
    for risk in every_known_value() {
        let data = HostData::from_risk(&risk);
        assert_eq!(record(&risk).to_status(), expected_entry("h-1", &risk));
        // Every value is known: only the count beyond u16 goes aside.
        assert!(matches!(&data.0, Repr::Wide(wide) if wide.unknown.iter().all(Option::is_none)));
        let small = HostRisk {
            vulnerability: Some(u64::from(u16::MAX)),
            ..risk.clone()
        };
        let data = HostData::from_risk(&small);
        assert!(matches!(data.0, Repr::Compact { .. }), "{data:?}");
        assert_eq!(record(&small).to_status(), expected_entry("h-1", &small));
        let middling = HostRisk {
            vulnerability: Some(u64::from(u16::MAX) + 1),
            ..risk
        };
        let data = HostData::from_risk(&middling);
        assert!(matches!(data.0, Repr::Wide(_)), "{data:?}");
        assert_eq!(data.count(Count::Vulnerability), Some(65_536));
        assert_eq!(
            record(&middling).to_status(),
            expected_entry("h-1", &middling)
        );
    }
}

#[test]
fn known_values_borrow_the_vocabulary() {
    let risk = &every_known_value()[0];
    let entry = record(risk).to_status();
    assert!(matches!(entry.agent_status, Some(Cow::Borrowed(_))));
    assert!(matches!(entry.version, Some(Cow::Borrowed(_))));
}

#[test]
fn absent_unknown_and_long_values() {
    let risk = HostRisk {
        host_id: Some("h-1".into()),
        agent_status: Some(AgentStatus::Other("hibernating".into())),
        detect_result: Some(DetectResult::Other(String::new())),
        intrusion: Some(7),
        ..HostRisk::default()
    };
    let data = HostData::from_risk(&risk);
    assert!(matches!(data.0, Repr::Wide(_)));
    assert_eq!(data.text(Text::AgentStatus), Some("hibernating"));
    assert_eq!(data.text(Text::Detection), Some(""));
    assert_eq!(data.text(Text::Protection), None);
    assert_eq!(data.count(Count::Intrusion), Some(7));
    assert_eq!(data.count(Count::Asset), None);
    assert_eq!(record(&risk).to_status(), expected_entry("h-1", &risk));
    let long = HostRisk {
        agent_status: Some(AgentStatus::Other("x".repeat(200))),
        ..HostRisk::default()
    };
    let entry = record(&long).to_status();
    assert_eq!(
        entry.agent_status.as_deref().map(str::len),
        Some(STATUS_VALUE_MAX_LEN)
    );
    let bare = HostData::from_risk(&HostRisk::default());
    assert!(bare.is_found());
    assert_eq!(
        HostRecord::new("h-2".into(), bare).to_status(),
        expected_entry("h-2", &HostRisk::default())
    );
}

#[test]
fn not_found_is_an_answer_too() {
    let gone = HostData::not_found();
    assert!(!gone.is_found());
    assert_eq!(HostData::of(None), gone);
    let entry = HostRecord::new("h-1".into(), gone).to_status();
    assert_eq!(
        entry,
        HostStatus {
            host_id: "h-1".into(),
            found: false,
            ..HostStatus::default()
        }
    );
}

#[test]
fn a_status_entry_reads_back_into_the_same_record() {
    let mut records: Vec<HostRecord> = every_known_value().iter().map(record).collect();
    let mut odd = record(&HostRisk {
        agent_status: Some(AgentStatus::Other("hibernating".into())),
        detect_result: Some(DetectResult::Other(String::new())),
        ..HostRisk::default()
    });
    odd.node = Some("worker-1".into());
    odd.set_last_change(Some(Timestamp::from_second(1_700_000_000).expect("time")));
    records.push(odd);
    records.push(HostRecord::new("gone-1".into(), HostData::not_found()));
    for original in records {
        let entry = original.to_status();
        let back = HostRecord::from_status(&entry, original.id.clone());
        assert_eq!(back, original);
        assert_eq!(back.to_status(), entry);
    }
}

#[test]
fn records_are_small() {
    assert!(std::mem::size_of::<HostData>() <= 16);
    assert!(
        std::mem::size_of::<HostRecord>() <= 40,
        "{}",
        std::mem::size_of::<HostRecord>()
    );
    assert!(std::mem::size_of::<HostRecord>() * 3 < std::mem::size_of::<HostStatus>());
}
