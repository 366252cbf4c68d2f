//! The simulator's shared state, behind short-lived std mutexes (never held across `.await`).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::time::Instant;

use super::config::{AccessKeyCredential, IamUser, SimConfig};
use super::counters::SimCounters;
use super::faults::Faults;
use super::fleet::{generate_fleet, SimHost};
use super::oidc::verify::ResolvedIdp;

/// A token issued by the simulated IAM.
#[derive(Debug, Clone)]
pub(crate) struct IssuedToken {
    /// `token:{user}@{domain}` (password login) or `idtoken:{identity provider}/{user}`
    /// (id-token exchange).
    pub identity: String,
    pub project_id: String,
    pub expires_at: Timestamp,
}

pub(crate) struct SimState {
    pub project_id: String,
    pub project_name: String,
    pub access_keys: Vec<AccessKeyCredential>,
    pub static_tokens: Vec<String>,
    pub iam_users: Vec<IamUser>,
    pub token_ttl: Mutex<Duration>,
    pub hosts: Mutex<BTreeMap<String, SimHost>>,
    pub faults: Mutex<Faults>,
    pub counters: Mutex<SimCounters>,
    pub tokens: Mutex<HashMap<String, IssuedToken>>,
    /// OpenID Connect identity providers by id, with their keys resolved.
    pub identity_providers: Mutex<BTreeMap<String, ResolvedIdp>>,
    /// Accepted calls per identity in the last 60 s (sliding window).
    pub quota_windows: Mutex<HashMap<String, VecDeque<Instant>>>,
    /// The id tokens presented to the exchange, newest last (at most
    /// [`RECEIVED_ID_TOKENS_KEPT`]): tests prove with them that no minted JWT leaks.
    pub received_id_tokens: Mutex<VecDeque<String>>,
}

/// How many presented id tokens the simulator remembers.
pub(crate) const RECEIVED_ID_TOKENS_KEPT: usize = 256;

/// Locks a mutex, recovering the data if a panicking thread poisoned it (the state stays
/// usable; every update is a single assignment or insert).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl SimState {
    /// Waits the configured answer latency, if any (every endpoint of the simulator).
    pub(crate) async fn apply_latency(&self) {
        let latency = self.faults().latency_ms;
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
    }

    /// `identity_providers`: those of `config`, already resolved (their JWKS may have had to
    /// be fetched).
    pub(crate) fn new(config: &SimConfig, identity_providers: Vec<ResolvedIdp>) -> Self {
        let mut hosts = BTreeMap::new();
        for host in generate_fleet(config.fleet)
            .into_iter()
            .chain(config.explicit_hosts.iter().cloned())
        {
            hosts.insert(host.host_id().to_string(), host);
        }
        Self {
            project_id: config.project_id.clone(),
            project_name: config.project_name.clone(),
            access_keys: config.access_keys.clone(),
            static_tokens: config.static_tokens.clone(),
            iam_users: config.iam_users.clone(),
            token_ttl: Mutex::new(config.token_ttl),
            hosts: Mutex::new(hosts),
            faults: Mutex::new(config.faults.clone()),
            counters: Mutex::new(SimCounters::default()),
            tokens: Mutex::new(HashMap::new()),
            identity_providers: Mutex::new(
                identity_providers
                    .into_iter()
                    .map(|idp| (idp.config.id.clone(), idp))
                    .collect(),
            ),
            quota_windows: Mutex::new(HashMap::new()),
            received_id_tokens: Mutex::new(VecDeque::new()),
        }
    }

    pub(crate) fn faults(&self) -> Faults {
        lock(&self.faults).clone()
    }

    /// The simulator's clock: real time plus the configured offset.
    pub(crate) fn now(&self) -> Timestamp {
        let offset = SignedDuration::from_secs(self.faults().clock_offset_seconds);
        let now = Timestamp::now();
        now.checked_add(offset).unwrap_or(now)
    }

    pub(crate) fn count(&self, update: impl FnOnce(&mut SimCounters)) {
        update(&mut lock(&self.counters));
    }

    /// Admits one call for `identity` under a limit of `per_minute` accepted calls in any
    /// sliding 60 s window (0 = unlimited). Refused calls do not enter the window, so a
    /// client that waits is admitted again once its oldest accepted call is 60 s old.
    pub(crate) fn admit(&self, identity: &str, per_minute: u32) -> bool {
        if per_minute == 0 {
            return true;
        }
        let now = Instant::now();
        let mut windows = lock(&self.quota_windows);
        let window = windows.entry(identity.to_string()).or_default();
        while window
            .front()
            .is_some_and(|&t| now.duration_since(t) >= Duration::from_secs(60))
        {
            window.pop_front();
        }
        if window.len() >= per_minute as usize {
            return false;
        }
        window.push_back(now);
        true
    }

    /// Remembers an id token presented to the exchange (the oldest goes beyond the limit).
    pub(crate) fn record_id_token(&self, token: &str) {
        let mut received = lock(&self.received_id_tokens);
        if received.len() >= RECEIVED_ID_TOKENS_KEPT {
            received.pop_front();
        }
        received.push_back(token.to_string());
    }

    /// Marks every IAM token issued so far as expired.
    pub(crate) fn expire_tokens(&self) -> usize {
        let now = self.now();
        let mut tokens = lock(&self.tokens);
        for token in tokens.values_mut() {
            token.expires_at = token.expires_at.min(now);
        }
        tokens.len()
    }
}
