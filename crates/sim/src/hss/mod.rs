//! A simulator of Huawei Cloud HSS `ListHostsRisk` and of the IAM token API, behaving like
//! the real services as documented in docs/hss-api.md, for tests, demos and users' own scripts.
//!
//! - `GET /v5/{project_id}/host-management/hosts-risk` ([`server`]): AK/SK signatures and
//!   tokens verified like the API gateway ([`auth`]), data from a seeded fleet ([`fleet`]).
//! - `POST /v3/auth/tokens` (module `iam`) on the same address, so [`HssSimulator::iam_url`] equals
//!   [`HssSimulator::base_url`].
//! - `POST /v3.0/OS-AUTH/id-token/tokens` ([`oidc`]): OpenID Connect id tokens (Kubernetes
//!   ServiceAccount tokens) verified against configured identity providers and exchanged
//!   for IAM tokens.
//! - Faults ([`Faults`]): quota, latency, 5xx, malformed or truncated bodies, clock offset,
//!   token expiry; switchable at start, through the admin API ([`admin`]) and from Rust.
//! - Every answer carries `X-Request-Id`; errors carry the gateway's error body (module `errors`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), hostrisk_sim::hss::SimError> {
//! use hostrisk_sim::hss::{HssSimulator, SimConfig};
//! let sim = HssSimulator::start(SimConfig::default()).await?;
//! println!("HSS at {}", sim.base_url());
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

pub mod admin;
pub mod auth;
pub mod config;
pub mod counters;
mod errors;
pub mod faults;
pub mod fleet;
mod iam;
mod merge_patch;
pub mod oidc;
pub mod server;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use config::{
    AccessKeyCredential, IamUser, SimConfig, DEMO_ACCESS_KEY, DEMO_ENTERPRISE_PROJECT_ID,
    DEMO_IAM_DOMAIN, DEMO_IAM_PASSWORD, DEMO_IAM_USER, DEMO_PROJECT_ID, DEMO_PROJECT_NAME,
    DEMO_SECRET_KEY, DEMO_SECURITY_TOKEN, DEMO_STATIC_TOKEN, DEMO_TEMP_ACCESS_KEY,
    DEMO_TEMP_SECRET_KEY,
};
pub use counters::SimCounters;
pub use faults::{Faults, DEFAULT_QUOTA_PER_MINUTE};
pub use fleet::FleetSpec;
pub use fleet::{enterprise_projects_for_seed, generate_fleet, SimHost};
pub use oidc::{
    service_account_subject, ConversionRule, ExchangeRefusal, IdentityProviderConfig, JwksSource,
    JwksUrl, TestIssuer,
};

use state::{lock, SimState};

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid simulator configuration: {0}")]
    Config(String),
    /// The test issuer could not make a key or a token.
    #[error("test issuer: {0}")]
    Issuer(String),
}

/// A running simulator. Dropping it stops the server too (without waiting).
pub struct HssSimulator {
    state: Arc<SimState>,
    addr: SocketAddr,
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for HssSimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HssSimulator")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl HssSimulator {
    /// Binds `config.listen` and serves until [`HssSimulator::shutdown`] or drop.
    pub async fn start(config: SimConfig) -> Result<Self, SimError> {
        config.faults.validate().map_err(SimError::Config)?;
        if config.project_id.is_empty() {
            return Err(SimError::Config("project_id must not be empty".into()));
        }
        let mut identity_providers = Vec::with_capacity(config.identity_providers.len());
        for idp in &config.identity_providers {
            identity_providers.push(oidc::resolve(idp.clone()).await.map_err(SimError::Config)?);
        }
        let state = Arc::new(SimState::new(&config, identity_providers));
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| SimError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: config.listen,
            source,
        })?;
        let shutdown = CancellationToken::new();
        let app = server::router(Arc::clone(&state));
        let stop = shutdown.clone();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "HSS simulator stopped serving");
            }
        });
        tracing::info!(%addr, hosts = lock(&state.hosts).len(), "HSS simulator listening");
        Ok(Self {
            state,
            addr,
            shutdown,
            task: Some(task),
        })
    }

    /// The socket address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://{addr}/`, the HSS endpoint to give a client.
    pub fn base_url(&self) -> url::Url {
        // An `http://ip:port/` string always parses.
        url::Url::parse(&format!("http://{}/", self.addr))
            .unwrap_or_else(|_| unreachable!("a socket address forms a valid URL"))
    }

    /// The IAM endpoint: the same server.
    pub fn iam_url(&self) -> url::Url {
        self.base_url()
    }

    /// The project the fleet lives in.
    pub fn project_id(&self) -> &str {
        &self.state.project_id
    }

    /// Creates or replaces a host (keyed by its `host_id`).
    pub fn set_host(&self, host: SimHost) {
        lock(&self.state.hosts).insert(host.host_id().to_string(), host);
    }

    /// Changes a host in place; returns false when there is no such host.
    pub fn update_host(&self, host_id: &str, change: impl FnOnce(&mut SimHost)) -> bool {
        match lock(&self.state.hosts).get_mut(host_id) {
            Some(host) => {
                change(host);
                host.risk.host_id = Some(host_id.to_string());
                true
            }
            None => false,
        }
    }

    pub fn remove_host(&self, host_id: &str) -> Option<SimHost> {
        lock(&self.state.hosts).remove(host_id)
    }

    pub fn host(&self, host_id: &str) -> Option<SimHost> {
        lock(&self.state.hosts).get(host_id).cloned()
    }

    /// Every host, ordered by id.
    pub fn hosts(&self) -> Vec<SimHost> {
        lock(&self.state.hosts).values().cloned().collect()
    }

    /// Ids of every host, ordered.
    pub fn host_ids(&self) -> Vec<String> {
        lock(&self.state.hosts).keys().cloned().collect()
    }

    pub fn counters(&self) -> SimCounters {
        lock(&self.state.counters).clone()
    }

    pub fn reset_counters(&self) {
        *lock(&self.state.counters) = SimCounters::default();
    }

    pub fn faults(&self) -> Faults {
        self.state.faults()
    }

    /// Switches faults for the following requests; rejects rates outside 0.0-1.0.
    pub fn set_faults(&self, faults: Faults) -> Result<(), SimError> {
        faults.validate().map_err(SimError::Config)?;
        *lock(&self.state.faults) = faults;
        Ok(())
    }

    /// Changes one or more faults in place.
    pub fn update_faults(&self, change: impl FnOnce(&mut Faults)) -> Result<(), SimError> {
        let mut faults = self.faults();
        change(&mut faults);
        self.set_faults(faults)
    }

    /// Lifetime of tokens issued from now on.
    pub fn set_token_ttl(&self, ttl: Duration) {
        *lock(&self.state.token_ttl) = ttl;
    }

    /// Creates or replaces an identity provider, fetching its JWKS when given by URL.
    pub async fn set_identity_provider(
        &self,
        config: IdentityProviderConfig,
    ) -> Result<(), SimError> {
        let resolved = oidc::resolve(config).await.map_err(SimError::Config)?;
        lock(&self.state.identity_providers).insert(resolved.config.id.clone(), resolved);
        Ok(())
    }

    /// Enables or disables an identity provider; false when there is no such provider.
    pub fn set_identity_provider_enabled(&self, id: &str, enabled: bool) -> bool {
        match lock(&self.state.identity_providers).get_mut(id) {
            Some(idp) => {
                idp.config.enabled = enabled;
                true
            }
            None => false,
        }
    }

    pub fn remove_identity_provider(&self, id: &str) -> Option<IdentityProviderConfig> {
        lock(&self.state.identity_providers)
            .remove(id)
            .map(|idp| idp.config)
    }

    /// Every identity provider's configuration, ordered by id.
    pub fn identity_providers(&self) -> Vec<IdentityProviderConfig> {
        lock(&self.state.identity_providers)
            .values()
            .map(|idp| idp.config.clone())
            .collect()
    }

    /// The id tokens (JWTs) presented to `POST /v3.0/OS-AUTH/id-token/tokens`, accepted or
    /// refused, oldest first (the last 256): what a secret-hygiene test searches logs for.
    pub fn received_id_tokens(&self) -> Vec<String> {
        lock(&self.state.received_id_tokens)
            .iter()
            .cloned()
            .collect()
    }

    /// The IAM tokens issued so far to identities starting with `identity_prefix`
    /// (`idtoken:{identity provider}/` for exchanged id tokens, `token:` for password logins).
    pub fn issued_tokens(&self, identity_prefix: &str) -> Vec<String> {
        let mut tokens: Vec<String> = lock(&self.state.tokens)
            .iter()
            .filter(|(_, issued)| issued.identity.starts_with(identity_prefix))
            .map(|(token, _)| token.clone())
            .collect();
        tokens.sort();
        tokens
    }

    /// Expires every IAM token issued so far (new ones are valid); returns how many.
    pub fn expire_tokens(&self) -> usize {
        self.state.expire_tokens()
    }

    /// Stops serving and waits for the server task to end.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            if let Err(error) = task.await {
                tracing::warn!(%error, "HSS simulator task ended abnormally");
            }
        }
    }
}

impl Drop for HssSimulator {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
