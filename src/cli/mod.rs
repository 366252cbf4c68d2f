//! The subcommands of the `hostrisk-operator` binary; `main.rs` only parses and dispatches.

pub mod env_credentials;
pub mod fail_on;
pub mod host_ids;
pub mod node_conditions;
pub mod output;
pub mod policy_reports;
pub mod query;
pub mod run;

/// Process exit codes of the CLI.
pub mod exit {
    pub const OK: u8 = 0;
    /// Bad flags, environment or input files.
    pub const USAGE: u8 = 2;
    /// Credentials refused (HSS 401, IAM login refused) or unusable.
    pub const AUTHENTICATION: u8 = 3;
    /// HSS kept answering 429 after the retries.
    pub const THROTTLED: u8 = 4;
    /// Any other API or transport failure.
    pub const API: u8 = 5;
    /// `query --fail-on`: the query worked and a host is in one of the states named.
    pub const HOSTS_FLAGGED: u8 = 6;
}
