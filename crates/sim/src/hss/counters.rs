//! What the simulator has seen and done, read through `GET /_sim/counters` or
//! [`super::HssSimulator::counters`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A snapshot of the counters. Credential identities are `ak:{access key}`,
/// `token:{user}@{domain}` (IAM password tokens), `idtoken:{identity provider}/{user}`
/// (exchanged id tokens) and `static-token:{index}`; never a secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimCounters {
    /// Every HSS and IAM request received (admin requests excluded).
    pub total_requests: u64,
    /// `ListHostsRisk` requests received, authenticated or not.
    pub hss_requests: u64,
    /// Authenticated `ListHostsRisk` calls per credential identity (throttled ones included).
    pub calls_by_identity: BTreeMap<String, u64>,
    /// 429 answers sent, in total and per identity.
    pub throttled: u64,
    pub throttled_by_identity: BTreeMap<String, u64>,
    /// 401/403 answers sent by the gateway checks, keyed by error code.
    pub auth_failures: BTreeMap<String, u64>,
    /// Faults injected, keyed by kind: `server_error_500`, `server_error_503`, `malformed`,
    /// `truncated`.
    pub errors_injected: BTreeMap<String, u64>,
    /// Tokens issued by `POST /v3/auth/tokens`, and refused token requests.
    pub iam_tokens_issued: u64,
    pub iam_failures: u64,
    /// Tokens issued by the id-token exchange (`POST /v3.0/OS-AUTH/id-token/tokens`), and
    /// refused exchanges keyed by reason ([`super::oidc::ExchangeRefusal::as_str`]:
    /// `bad_signature`, `unmapped_subject`, ...).
    #[serde(default)]
    pub id_token_exchanges: u64,
    #[serde(default)]
    pub id_token_refusals: BTreeMap<String, u64>,
    /// Successful `ListHostsRisk` answers (including ones whose body was then corrupted).
    pub hss_successes: u64,
    /// `host_id_list` values received in answered calls (duplicates included), and the
    /// longest list seen in one call: lets a client test check its chunking.
    pub host_ids_requested: u64,
    pub largest_host_id_list: u64,
}

impl SimCounters {
    pub(crate) fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
        *map.entry(key.to_string()).or_default() += 1;
    }

    /// Calls made by one credential identity.
    pub fn calls_by(&self, identity: &str) -> u64 {
        self.calls_by_identity.get(identity).copied().unwrap_or(0)
    }

    /// Exchanges refused for one reason ([`super::oidc::ExchangeRefusal::as_str`]).
    pub fn refusals(&self, reason: &str) -> u64 {
        self.id_token_refusals.get(reason).copied().unwrap_or(0)
    }

    /// Every exchange refused so far, whatever the reason.
    pub fn total_refusals(&self) -> u64 {
        self.id_token_refusals.values().sum()
    }

    /// Faults of one kind injected so far.
    pub fn injected(&self, kind: &str) -> u64 {
        self.errors_injected.get(kind).copied().unwrap_or(0)
    }
}
