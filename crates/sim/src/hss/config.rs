//! Start-up configuration of the simulator: the project, the fleet, the credentials it
//! accepts and the faults switched on from the first request.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::faults::Faults;
use super::fleet::{FleetSpec, SimHost};
use super::oidc::IdentityProviderConfig;
use hostrisk_hss::model::{AgentStatus, DetectResult, HssEdition, InstallResultCode};

/// Project id of the demo setup (32 lower-case hex characters, the shape of a real project id).
pub const DEMO_PROJECT_ID: &str = "0a1b2c3d4e5f40718293a4b5c6d7e8f9";
/// Project name of the demo setup; Huawei Cloud names a region's default project after the region.
pub const DEMO_PROJECT_NAME: &str = "cn-north-4";
/// A fake access key accepted by the demo setup (the real ones are 20 upper-case characters).
pub const DEMO_ACCESS_KEY: &str = "SIMDEMOACCESSKEY0001";
/// The fake secret key of [`DEMO_ACCESS_KEY`].
pub const DEMO_SECRET_KEY: &str = "simDemoSecretKey0000000000000000000000000";
/// A fake temporary access key, usable only with [`DEMO_SECURITY_TOKEN`].
pub const DEMO_TEMP_ACCESS_KEY: &str = "SIMDEMOTEMPACCESSKEY";
/// The fake secret key of [`DEMO_TEMP_ACCESS_KEY`].
pub const DEMO_TEMP_SECRET_KEY: &str = "simDemoTemporarySecretKey000000000000000";
/// The security token that must accompany [`DEMO_TEMP_ACCESS_KEY`].
pub const DEMO_SECURITY_TOKEN: &str = "simDemoSecurityToken-temporary-credential";
/// A static X-Auth-Token accepted for [`DEMO_PROJECT_ID`]; it never expires.
pub const DEMO_STATIC_TOKEN: &str = "sim-demo-static-token";
/// IAM user of the demo setup.
pub const DEMO_IAM_USER: &str = "sim-demo-user";
/// Password of [`DEMO_IAM_USER`].
pub const DEMO_IAM_PASSWORD: &str = "sim-demo-password";
/// Account (domain) name of [`DEMO_IAM_USER`].
pub const DEMO_IAM_DOMAIN: &str = "sim-demo-domain";
/// A non-default enterprise project holding some demo hosts.
pub const DEMO_ENTERPRISE_PROJECT_ID: &str = "5d3c1f0e-7a2b-4c9d-8e6f-0a1b2c3d4e5f";

/// An AK/SK pair the simulated gateway accepts. With `security_token` set it is a temporary
/// key: the gateway then requires a signed, matching `X-Security-Token` (hss-api.md,
/// "AK/SK signing" step 3).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKeyCredential {
    pub access_key: String,
    pub secret_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_token: Option<String>,
}

impl std::fmt::Debug for AccessKeyCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKeyCredential")
            .field("access_key", &self.access_key)
            .field("temporary", &self.security_token.is_some())
            .finish_non_exhaustive()
    }
}

/// A user IAM issues tokens to (password identity, hss-api.md "Authentication" 2).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IamUser {
    pub name: String,
    pub password: String,
    pub domain: String,
}

impl std::fmt::Debug for IamUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IamUser")
            .field("name", &self.name)
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

/// Everything [`super::HssSimulator::start`] needs.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The one project the fleet lives in.
    pub project_id: String,
    /// Its name, accepted by IAM in `scope.project.name`.
    pub project_name: String,
    pub fleet: FleetSpec,
    /// Hosts with known ids added to the generated fleet (they win on an id clash).
    pub explicit_hosts: Vec<SimHost>,
    pub access_keys: Vec<AccessKeyCredential>,
    /// Tokens accepted in `X-Auth-Token` for `project_id` that never expire.
    pub static_tokens: Vec<String>,
    pub iam_users: Vec<IamUser>,
    /// OpenID Connect identity providers for `POST /v3.0/OS-AUTH/id-token/tokens`; a JWKS
    /// given by URL is fetched once at start (a failure fails the start).
    pub identity_providers: Vec<IdentityProviderConfig>,
    /// Lifetime of tokens issued by `POST /v3/auth/tokens` and by the id-token exchange
    /// (real IAM: 24 h).
    pub token_ttl: Duration,
    /// Faults active from the start; change them later with [`super::HssSimulator::set_faults`].
    pub faults: Faults,
}

impl Default for SimConfig {
    /// The demo setup: loopback on a free port, 50 hosts from seed 1 plus
    /// [`SimConfig::demo_hosts`], the demo credentials, 24 h tokens, quota 5 calls a minute.
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            project_id: DEMO_PROJECT_ID.to_string(),
            project_name: DEMO_PROJECT_NAME.to_string(),
            fleet: FleetSpec::default(),
            explicit_hosts: Self::demo_hosts(),
            access_keys: vec![
                AccessKeyCredential {
                    access_key: DEMO_ACCESS_KEY.to_string(),
                    secret_key: DEMO_SECRET_KEY.to_string(),
                    security_token: None,
                },
                AccessKeyCredential {
                    access_key: DEMO_TEMP_ACCESS_KEY.to_string(),
                    secret_key: DEMO_TEMP_SECRET_KEY.to_string(),
                    security_token: Some(DEMO_SECURITY_TOKEN.to_string()),
                },
            ],
            static_tokens: vec![DEMO_STATIC_TOKEN.to_string()],
            iam_users: vec![IamUser {
                name: DEMO_IAM_USER.to_string(),
                password: DEMO_IAM_PASSWORD.to_string(),
                domain: DEMO_IAM_DOMAIN.to_string(),
            }],
            identity_providers: Vec::new(),
            token_ttl: Duration::from_secs(24 * 3600),
            faults: Faults::default(),
        }
    }
}

impl SimConfig {
    /// Five hosts with fixed, readable ids covering the interesting states; the last one
    /// lives in [`DEMO_ENTERPRISE_PROJECT_ID`].
    pub fn demo_hosts() -> Vec<SimHost> {
        vec![
            SimHost::installed(
                "demo-web-01",
                "0",
                AgentStatus::Online,
                HssEdition::Enterprise,
                DetectResult::Risk,
                [120, 3, 2, 0],
            ),
            SimHost::installed(
                "demo-db-01",
                "0",
                AgentStatus::Online,
                HssEdition::Premium,
                DetectResult::Clean,
                [210, 0, 0, 0],
            ),
            SimHost::installed(
                "demo-batch-01",
                "0",
                AgentStatus::Offline,
                HssEdition::Basic,
                DetectResult::Risk,
                [45, 7, 0, 1],
            ),
            SimHost::without_agent(
                "demo-new-01",
                "0",
                AgentStatus::InstallFailed,
                Some(InstallResultCode::NetworkAccessTimeout),
            ),
            SimHost::installed(
                "demo-ep-01",
                DEMO_ENTERPRISE_PROJECT_ID,
                AgentStatus::Online,
                HssEdition::Enterprise,
                DetectResult::Scanning,
                [80, 1, 0, 0],
            ),
        ]
    }

    /// A setup with the demo credentials but no generated hosts and no explicit hosts.
    pub fn empty() -> Self {
        Self {
            fleet: FleetSpec { hosts: 0, seed: 1 },
            explicit_hosts: Vec::new(),
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_serializes_like_the_service_plus_its_enterprise_project() {
        let host = &SimConfig::demo_hosts()[0];
        let json = serde_json::to_value(host).expect("encodes");
        assert_eq!(json["host_id"], "demo-web-01");
        assert_eq!(json["enterprise_project_id"], "0");
        assert_eq!(json["version"], "hss.version.enterprise");
        let back: SimHost = serde_json::from_value(json).expect("decodes");
        assert_eq!(&back, host);
    }
}
