//! The simulated hosts: a deterministic fleet drawn from a seed, plus explicit hosts.
//!
//! The value sets come from hss-api.md "The call" (`HostRiskResponseInfo`); the mix and the
//! consistency rules below are this simulator's model of a plausible fleet, not documented
//! figures:
//! - most agents `online`, some `offline`, a few `not_installed` / `install_failed` /
//!   `installing`;
//! - an installed agent (online/offline) has `install_result_code = install_succeed`; a failed
//!   install carries one of the failure codes; not installed / installing carry none;
//! - without a working agent: edition `hss.version.null`, protection `closed`,
//!   `detect_result = undetected` and every count 0;
//! - protection `closed` on an installed agent also means edition `hss.version.null` (turning
//!   protection off releases the edition quota) and no detection;
//! - `clean` means vulnerability = baseline = intrusion = 0, `risk` means at least one > 0,
//!   `scanning` keeps the previous scan's counts, `undetected` has zeros.
//!
//! Each host belongs to one enterprise project: about three in four to the default `"0"`,
//! the rest to two projects whose ids derive from the seed ([`enterprise_projects_for_seed`]).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use hostrisk_hss::model::{
    AgentStatus, DetectResult, HostRisk, HssEdition, InstallResultCode, ProtectStatus,
};

/// How the generated part of the fleet is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetSpec {
    /// Number of generated hosts (explicit hosts come on top).
    pub hosts: usize,
    /// Same seed, same fleet.
    pub seed: u64,
}

impl Default for FleetSpec {
    fn default() -> Self {
        Self { hosts: 50, seed: 1 }
    }
}

/// Protect status a freshly generated installed host gets; exists so demo hosts agree with
/// the generator's rules (protection opened whenever an edition is set).
pub(crate) fn protect_for(edition: &HssEdition) -> ProtectStatus {
    if *edition == HssEdition::Null {
        ProtectStatus::Closed
    } else {
        ProtectStatus::Opened
    }
}

/// One simulated host: the exact record the service returns for it plus the enterprise
/// project it belongs to (which the real answer does not carry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimHost {
    /// Enterprise project of the host; `"0"` is the default one.
    #[serde(default = "default_enterprise_project")]
    pub enterprise_project_id: String,
    /// What `ListHostsRisk` answers for this host, field for field (`host_id` always set).
    #[serde(flatten)]
    pub risk: HostRisk,
}

fn default_enterprise_project() -> String {
    "0".to_string()
}

impl SimHost {
    /// A host whose agent was installed (online or offline). `counts` are
    /// `[asset, vulnerability, baseline, intrusion]`.
    pub fn installed(
        host_id: &str,
        enterprise_project_id: &str,
        agent_status: AgentStatus,
        edition: HssEdition,
        detect_result: DetectResult,
        counts: [u64; 4],
    ) -> Self {
        let [asset, vulnerability, baseline, intrusion] = counts;
        Self {
            enterprise_project_id: enterprise_project_id.to_string(),
            risk: HostRisk {
                host_id: Some(host_id.to_string()),
                agent_status: Some(agent_status),
                install_result_code: Some(InstallResultCode::InstallSucceed),
                protect_status: Some(protect_for(&edition)),
                version: Some(edition),
                detect_result: Some(detect_result),
                asset: Some(asset),
                vulnerability: Some(vulnerability),
                baseline: Some(baseline),
                intrusion: Some(intrusion),
            },
        }
    }

    /// A host without a working agent (`not_installed`, `installing`, `install_failed`).
    pub fn without_agent(
        host_id: &str,
        enterprise_project_id: &str,
        agent_status: AgentStatus,
        install_result_code: Option<InstallResultCode>,
    ) -> Self {
        Self {
            enterprise_project_id: enterprise_project_id.to_string(),
            risk: HostRisk {
                host_id: Some(host_id.to_string()),
                agent_status: Some(agent_status),
                install_result_code,
                version: Some(HssEdition::Null),
                protect_status: Some(ProtectStatus::Closed),
                detect_result: Some(DetectResult::Undetected),
                asset: Some(0),
                vulnerability: Some(0),
                baseline: Some(0),
                intrusion: Some(0),
            },
        }
    }

    /// The host id (empty only for a hand-built record without one).
    pub fn host_id(&self) -> &str {
        self.risk.host_id.as_deref().unwrap_or_default()
    }
}

/// The two non-default enterprise projects of a generated fleet.
pub fn enterprise_projects_for_seed(seed: u64) -> [String; 2] {
    // A separate stream, so the project ids do not depend on the number of hosts.
    let mut rng = StdRng::seed_from_u64(seed ^ 0x0e9e_0e9e_0e9e_0e9e);
    [uuid_like(&mut rng), uuid_like(&mut rng)]
}

/// Draws the generated fleet. Same spec, same hosts, in the same order.
pub fn generate_fleet(spec: FleetSpec) -> Vec<SimHost> {
    let [ep_a, ep_b] = enterprise_projects_for_seed(spec.seed);
    let mut rng = StdRng::seed_from_u64(spec.seed);
    (0..spec.hosts)
        .map(|_| {
            let host_id = uuid_like(&mut rng);
            let ep = match rng.random_range(0..100) {
                0..75 => "0",
                75..90 => ep_a.as_str(),
                _ => ep_b.as_str(),
            };
            draw_host(&mut rng, &host_id, ep)
        })
        .collect()
}

fn draw_host(rng: &mut StdRng, host_id: &str, ep: &str) -> SimHost {
    let agent = match rng.random_range(0..100) {
        0..72 => AgentStatus::Online,
        72..86 => AgentStatus::Offline,
        86..92 => AgentStatus::NotInstalled,
        92..96 => AgentStatus::InstallFailed,
        _ => AgentStatus::Installing,
    };
    match agent {
        AgentStatus::NotInstalled | AgentStatus::Installing => {
            SimHost::without_agent(host_id, ep, agent, None)
        }
        AgentStatus::InstallFailed => {
            let code = FAILURE_CODES[rng.random_range(0..FAILURE_CODES.len())].clone();
            SimHost::without_agent(host_id, ep, agent, Some(code))
        }
        _ => draw_installed(rng, host_id, ep, agent),
    }
}

const FAILURE_CODES: [InstallResultCode; 6] = [
    InstallResultCode::NetworkAccessTimeout,
    InstallResultCode::InvalidPort,
    InstallResultCode::AuthFailed,
    InstallResultCode::PermissionDenied,
    InstallResultCode::PackageUnavailable,
    InstallResultCode::OsTypeNotSupport,
];

fn draw_installed(rng: &mut StdRng, host_id: &str, ep: &str, agent: AgentStatus) -> SimHost {
    // Protection is on for ~93% of online hosts and ~80% of offline ones.
    let protected = rng.random_bool(if agent == AgentStatus::Online {
        0.93
    } else {
        0.8
    });
    let edition = if protected {
        match rng.random_range(0..100) {
            0..30 => HssEdition::Basic,
            30..65 => HssEdition::Enterprise,
            65..90 => HssEdition::Premium,
            90..95 => HssEdition::Advanced,
            95..98 => HssEdition::Wtp,
            _ => HssEdition::ContainerEnterprise,
        }
    } else {
        HssEdition::Null
    };
    let asset = if protected {
        rng.random_range(20..400)
    } else {
        0
    };
    let detect = if !protected {
        DetectResult::Undetected
    } else {
        match rng.random_range(0..100) {
            0..45 => DetectResult::Clean,
            45..85 => DetectResult::Risk,
            85..95 => DetectResult::Scanning,
            _ => DetectResult::Undetected,
        }
    };
    let counts = match detect {
        DetectResult::Risk => risk_counts(rng),
        DetectResult::Scanning => [
            rng.random_range(0..6),
            rng.random_range(0..4),
            rng.random_range(0..2),
        ],
        _ => [0, 0, 0],
    };
    SimHost::installed(
        host_id,
        ep,
        agent,
        edition,
        detect,
        [asset, counts[0], counts[1], counts[2]],
    )
}

/// Vulnerability, baseline and intrusion counts of a host at risk: at least one is positive.
fn risk_counts(rng: &mut StdRng) -> [u64; 3] {
    let mut counts = [
        rng.random_range(0..25),
        rng.random_range(0..12),
        if rng.random_bool(0.2) {
            rng.random_range(1..4)
        } else {
            0
        },
    ];
    if counts.iter().all(|&c| c == 0) {
        counts[rng.random_range(0..2)] = 1;
    }
    counts
}

/// A random UUID (version 4 layout), the shape of an ECS server id.
fn uuid_like(rng: &mut StdRng) -> String {
    let mut bytes: [u8; 16] = rng.random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet(hosts: usize, seed: u64) -> Vec<SimHost> {
        generate_fleet(FleetSpec { hosts, seed })
    }

    #[test]
    fn same_seed_same_fleet_other_seed_other_fleet() {
        assert_eq!(fleet(40, 7), fleet(40, 7));
        assert_ne!(fleet(40, 7), fleet(40, 8));
        // Growing the fleet keeps the first hosts.
        assert_eq!(fleet(10, 7)[..], fleet(40, 7)[..10]);
    }

    #[test]
    fn ids_are_unique_uuid_shaped() {
        let hosts = fleet(1000, 3);
        let ids: std::collections::BTreeSet<_> = hosts.iter().map(SimHost::host_id).collect();
        assert_eq!(ids.len(), 1000);
        for id in ids {
            assert_eq!(id.len(), 36);
            assert_eq!(id.matches('-').count(), 4);
            assert!(id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
        }
    }

    #[test]
    fn mix_is_realistic() {
        let hosts = fleet(2000, 11);
        let count = |f: &dyn Fn(&SimHost) -> bool| hosts.iter().filter(|h| f(h)).count();
        let online = count(&|h| h.risk.agent_status == Some(AgentStatus::Online));
        let offline = count(&|h| h.risk.agent_status == Some(AgentStatus::Offline));
        assert!((1300..1600).contains(&online), "online {online}");
        assert!((180..400).contains(&offline), "offline {offline}");
        for status in [
            AgentStatus::NotInstalled,
            AgentStatus::InstallFailed,
            AgentStatus::Installing,
        ] {
            let n = count(&|h| h.risk.agent_status.as_ref() == Some(&status));
            assert!((20..200).contains(&n), "{status}: {n}");
        }
        let default_ep = count(&|h| h.enterprise_project_id == "0");
        assert!(
            (1350..1650).contains(&default_ep),
            "default ep {default_ep}"
        );
        let [a, b] = enterprise_projects_for_seed(11);
        assert!(count(&|h| h.enterprise_project_id == a) > 100);
        assert!(count(&|h| h.enterprise_project_id == b) > 100);
        for edition in [
            HssEdition::Basic,
            HssEdition::Enterprise,
            HssEdition::Premium,
        ] {
            assert!(count(&|h| h.risk.version.as_ref() == Some(&edition)) > 200);
        }
        for detect in [
            DetectResult::Risk,
            DetectResult::Clean,
            DetectResult::Scanning,
        ] {
            assert!(count(&|h| h.risk.detect_result.as_ref() == Some(&detect)) > 50);
        }
    }

    #[test]
    fn every_host_is_consistent() {
        for host in fleet(3000, 5) {
            let r = &host.risk;
            let agent = r.agent_status.clone().expect("agent status");
            let worries = [r.vulnerability, r.baseline, r.intrusion].map(|c| c.expect("count"));
            let installed = matches!(agent, AgentStatus::Online | AgentStatus::Offline);
            if installed {
                assert_eq!(
                    r.install_result_code,
                    Some(InstallResultCode::InstallSucceed)
                );
            } else {
                assert_eq!(r.version, Some(HssEdition::Null));
                assert_eq!(r.protect_status, Some(ProtectStatus::Closed));
                assert_eq!(r.detect_result, Some(DetectResult::Undetected));
                assert_eq!(r.asset, Some(0));
            }
            assert_eq!(
                r.install_result_code.is_some(),
                installed || agent == AgentStatus::InstallFailed,
                "{agent}"
            );
            if r.protect_status == Some(ProtectStatus::Closed) {
                assert_eq!(r.version, Some(HssEdition::Null));
                assert_eq!(r.detect_result, Some(DetectResult::Undetected));
            }
            match r.detect_result.clone().expect("detect") {
                DetectResult::Clean | DetectResult::Undetected => {
                    assert_eq!(worries, [0, 0, 0])
                }
                DetectResult::Risk => assert!(worries.iter().any(|&c| c > 0)),
                _ => {}
            }
        }
    }
}
