//! Workload identity in the simulated IAM: OpenID Connect identity providers (configured in
//! [`super::SimConfig`], through [`super::HssSimulator`] or the admin API under
//! `/_sim/identity-providers`) and the id-token exchange `POST /v3.0/OS-AUTH/id-token/tokens`
//! (`exchange`), plus [`TestIssuer`], a stand-in issuer that signs ServiceAccount-shaped
//! tokens for tests and demos.

pub(crate) mod admin;
pub mod config;
pub(crate) mod exchange;
pub mod issuer;
pub(crate) mod jwks;
pub mod verify;

pub use config::{ConversionRule, IdentityProviderConfig, JwksSource, JwksUrl};
pub use exchange::ID_TOKEN_TOKENS_PATH;
pub use issuer::{service_account_subject, TestIssuer};
pub use verify::{ExchangeRefusal, LEEWAY_SECONDS};

use verify::ResolvedIdp;

/// Checks `config` and resolves its keys (fetching them when they live at a URL).
pub(crate) async fn resolve(config: IdentityProviderConfig) -> Result<ResolvedIdp, String> {
    config.validate()?;
    let keys = jwks::resolve(&config.jwks)
        .await
        .map_err(|e| format!("identity provider {}: {e}", config.id))?;
    tracing::info!(
        identity_provider = %config.id,
        keys = keys.kids().len(),
        enabled = config.enabled,
        "simulated IAM identity provider configured"
    );
    Ok(ResolvedIdp { config, keys })
}
