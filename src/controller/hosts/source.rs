//! The interface of a host source, and what it answers.

use std::sync::Arc;

use futures::stream::BoxStream;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::controller::watches::WatchTable;
use crate::crd::validation::ValidatedSpec;
use crate::crd::{HostRiskWatch, WatchKey};
use crate::status::node_status::nodes_condition;
use crate::status::{ConditionUpdate, Reason, Targets, WatchStatus};

/// What a source says of a watch's hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostAnswer {
    /// The hosts are known.
    Known(Targets),
    /// Being listed: nothing to decide until the list is done (it brings the watch back).
    Listing(Targets),
    /// They cannot be known: why (the watch shows it and is not polled).
    Unavailable {
        targets: Targets,
        reason: Reason,
        message: String,
    },
}

impl HostAnswer {
    /// The hosts (none when they are not known), and what the source says beside them.
    pub fn targets(&self) -> &Targets {
        match self {
            Self::Known(targets) | Self::Listing(targets) | Self::Unavailable { targets, .. } => {
                targets
            }
        }
    }

    pub fn into_targets(self) -> Targets {
        match self {
            Self::Known(targets) | Self::Listing(targets) | Self::Unavailable { targets, .. } => {
                targets
            }
        }
    }

    /// The condition the source contributes to the watch's status (`NodesResolved`).
    pub fn condition(&self) -> Option<ConditionUpdate> {
        let unavailable = match self {
            Self::Unavailable {
                reason, message, ..
            } => Some((*reason, message.as_str())),
            _ => None,
        };
        nodes_condition(self.targets(), unavailable)
    }
}

/// A source of reconcile triggers that is running, and whether its first list is done.
pub struct Started {
    pub triggers: BoxStream<'static, ObjectRef<HostRiskWatch>>,
    pub synced: watch::Receiver<bool>,
}

/// Where hosts come from.
pub trait HostSource: Send + Sync {
    /// The hosts of a watch whose spec names this source, sharing the ids `previous` holds.
    fn answer(&self, spec: &ValidatedSpec, previous: Option<&WatchStatus>) -> HostAnswer;

    /// Notes what the watch `key` reads from this source, if anything (`spec`: `None` when the
    /// watch's spec is refused). Called through the watch table, for a watch it holds.
    fn select(&self, _key: &WatchKey, _spec: Option<&ValidatedSpec>) {}

    /// Whether the source watches something when started (its first list is then one the
    /// poller's first sweep waits for).
    fn watches(&self) -> bool {
        false
    }

    /// Starts the source's watch when it has one: its changes as reconcile triggers.
    fn start(
        self: Arc<Self>,
        _client: kube::Client,
        _watches: Arc<WatchTable>,
        _shutdown: CancellationToken,
    ) -> Option<Started> {
        None
    }
}
