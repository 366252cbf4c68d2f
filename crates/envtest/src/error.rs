//! One error type, whose messages say what to fix: a test that cannot start its control plane
//! fails with this text, so it must be enough to act on without re-running anything.

use std::path::PathBuf;

/// Why the control plane could not be started, used or read.
#[derive(Debug, thiserror::Error)]
pub enum EnvtestError {
    /// `KUBEBUILDER_ASSETS` is set but does not hold usable binaries.
    #[error("KUBEBUILDER_ASSETS={dir}: {problem} (it must name a directory with the kube-apiserver and etcd binaries, e.g. `setup-envtest use 1.30.x -p path`)")]
    Assets { dir: PathBuf, problem: String },

    /// A file-system or process operation failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },

    /// Certificates or keys could not be generated.
    #[error("generating the control plane's PKI: {0}")]
    Pki(String),

    /// A process ended before the control plane was ready.
    #[error("{component} exited during start ({status}); last lines of its log {log}:\n{tail}")]
    Exited {
        component: &'static str,
        status: String,
        log: PathBuf,
        tail: String,
    },

    /// `/readyz` did not answer `ok` in time.
    #[error("kube-apiserver not ready after {seconds} s (last answer: {last}); last lines of the logs:\n--- kube-apiserver ---\n{apiserver_tail}\n--- etcd ---\n{etcd_tail}")]
    NotReady {
        seconds: u64,
        last: String,
        apiserver_tail: String,
        etcd_tail: String,
    },

    /// Every attempt lost a port race.
    #[error("could not bind free loopback ports after {attempts} attempts: {last}")]
    Ports { attempts: u32, last: String },

    /// A kubeconfig could not be written or loaded.
    #[error("kubeconfig: {0}")]
    Kubeconfig(String),

    /// A request to the API server failed.
    #[error("{what}: {source}")]
    Kube {
        what: String,
        #[source]
        source: kube::Error,
    },

    /// A manifest could not be read or parsed.
    #[error("{0}")]
    Manifest(String),

    /// A wait ran out of time.
    #[error("timed out: {0}")]
    Timeout(String),

    /// `audit_events` on a control plane started without `audit_log: true`.
    #[error(
        "the audit log is off: start the control plane with Options {{ audit_log: true, .. }}"
    )]
    AuditLogOff,

    /// A line of the audit log is not an audit event.
    #[error("audit log line {line}: {message}")]
    AuditParse { line: usize, message: String },
}

impl EnvtestError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn kube(what: impl Into<String>, source: kube::Error) -> Self {
        Self::Kube {
            what: what.into(),
            source,
        }
    }
}
