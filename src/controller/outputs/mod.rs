//! Where a watch's state goes, behind one interface ([`Output`]): the status subresource
//! ([`status::StatusWriter`]), transition Events ([`events::EventPublisher`]) and the per-watch
//! metric series ([`metrics::WatchMetrics`]). A reconcile computes the watch's new view
//! ([`WatchView`]) and hands it to every output in turn ([`Outputs::publish`]), without
//! knowing what they are; the watch table tells each one when a watch is gone
//! ([`WatchScoped::forget`]). With `--policy-reports`, the policy-report writer
//! ([`reports::ReportWriter`]) comes after the metrics.
//!
//! How to add an output (a policy-report writer, a Node-condition writer):
//! 1. A type implementing [`Output`], built in `Context::with_metrics` and added to the list
//!    after the status writer (the list's order is the order of [`Output::publish`]); it is
//!    handed to the watch table too, so [`WatchScoped::began`] reaches it when the table takes
//!    a watch up (state to have before the watch's first reconcile, such as the metric series
//!    seeded from the stored status) and [`WatchScoped::forget`] when a watch goes.
//! 2. [`Output::publish`] receives each watch's view after every reconcile: the watch (uid,
//!    name, namespace, spec), its host records, summary and conditions, the interval it asks
//!    for, whether it is suspended, and whether anything but timestamps changed (an idle poll
//!    changes nothing: write nothing then). Keep per-watch state in memory only through
//!    [`WatchView::while_present`], so it cannot outlive the watch; hand slow or batched work
//!    (API writes with a budget, an aggregate over many watches) to a task of the output's own,
//!    fed from `publish` and `forget`. An error from `publish` fails the reconcile, which is
//!    retried: return one only for what a retry can fix.
//! 3. To say something in the watch's status (`ReportsWritten`, "drives Node conditions"): a
//!    `ConditionType` variant with its `Reason`s, and [`Output::condition`] returning its
//!    update; it is merged into the status at the next reconcile. When it changes outside a
//!    reconcile (a missing CRD appeared), the output offers the keys of the watches concerned
//!    as a trigger stream (e.g. through a [`wake::Wake`]), merged into the controllers'
//!    triggers in `run` like the poller's and the Nodes'.
//! 4. Work of its own beside the reconciles (a writer task fed from `publish`, a watch of the
//!    CRD it writes): started by [`Output::start`] for each run of the controllers (the
//!    leader's), which returns the task (the controllers stop if it ends before a shutdown)
//!    and the trigger stream of step 3.

pub mod events;
pub mod metrics;
pub mod node_conditions;
pub mod reports;
pub mod status;
pub mod wake;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use kube::runtime::reflector::ObjectRef;
use tokio_util::sync::CancellationToken;

use super::error::Result;
use super::watches::{WatchScoped, WatchTable};
use crate::crd::{HostRiskWatch, WatchKey};
use crate::status::{ConditionUpdate, Targets, TransitionEvent, WatchStatus};

/// A watch's state after a reconcile, as every output receives it.
pub struct WatchView<'a> {
    /// The object (uid, name, namespace, generation, spec).
    pub watch: &'a HostRiskWatch,
    pub key: &'a WatchKey,
    /// The status as computed: host records, summary, conditions.
    pub status: &'a Arc<WatchStatus>,
    /// The status it was computed from.
    pub previous: Option<&'a WatchStatus>,
    /// The hosts the watch covers, as its host source gave them (a node-backed watch's hosts
    /// with their Nodes, when the Nodes are known).
    pub targets: &'a Targets,
    /// Something but timestamps changed (or a heartbeat is due): the status is to be written.
    pub changed: bool,
    /// Transitions to announce.
    pub events: &'a [TransitionEvent],
    /// This reconcile applied a poll answer, whose oldest data was fetched then.
    pub fetched: Option<jiff::Timestamp>,
    /// The poll interval the watch asks for (its spec's, or the operator's default).
    pub interval: Duration,
    /// HSS answered for every host (or there is none to ask): counts and gauges hold.
    pub complete: bool,
    /// `spec.suspend`: polling stopped; outputs with something of their own to undo do it.
    pub suspended: bool,
    pub(crate) watches: &'a WatchTable,
}

impl WatchView<'_> {
    pub fn uid(&self) -> Option<&str> {
        self.watch.metadata.uid.as_deref()
    }

    /// Runs `change` of per-watch state under the watch table's lock if the table still holds
    /// the watch: a reconcile that finishes after the watch was deleted leaves nothing behind.
    pub fn while_present<R>(&self, change: impl FnOnce() -> R) -> Option<R> {
        self.watches.while_present(self.key, self.uid(), change)
    }
}

/// What an output's own work runs with, for one run of the controllers.
#[derive(Clone)]
pub struct OutputRun {
    pub client: kube::Client,
    pub watches: Arc<WatchTable>,
    /// The namespaces the controllers watch (`None`: all).
    pub scopes: Vec<Option<String>>,
    /// Cancelled when the controllers stop: the output's task ends then.
    pub shutdown: CancellationToken,
}

/// An output's own work, running.
pub struct OutputStarted {
    pub name: &'static str,
    /// Runs until the shutdown of its [`OutputRun`]; ending before it is a failure.
    pub task: BoxFuture<'static, ()>,
    /// Watches to reconcile because what the output contributes to their status changed.
    pub triggers: Option<BoxStream<'static, ObjectRef<HostRiskWatch>>>,
}

/// Where a watch's state goes.
pub trait Output: WatchScoped {
    /// A name for logs.
    fn name(&self) -> &'static str;

    /// Starts the output's own work for a run of the controllers, if it has some.
    fn start(&self, _run: &OutputRun) -> Option<OutputStarted> {
        None
    }

    /// The condition this output contributes to the watch's next status, if any.
    fn condition(&self, _watch: &HostRiskWatch) -> Option<ConditionUpdate> {
        None
    }

    /// Publishes a watch's view (see the module docs).
    fn publish<'a>(&'a self, view: &'a WatchView<'a>) -> BoxFuture<'a, Result<()>>;
}

/// The outputs, in publishing order (the status writer first: what is not written is not
/// announced).
#[derive(Clone)]
pub struct Outputs(Vec<Arc<dyn Output>>);

impl Outputs {
    pub fn new(outputs: Vec<Arc<dyn Output>>) -> Self {
        Self(outputs)
    }

    /// The outputs as the watch table keeps them, to tell them when a watch goes.
    pub fn scoped(&self) -> Vec<Arc<dyn WatchScoped>> {
        self.0
            .iter()
            .map(|output| Arc::clone(output) as Arc<dyn WatchScoped>)
            .collect()
    }

    /// Starts every output's own work.
    pub fn start(&self, run: &OutputRun) -> Vec<OutputStarted> {
        self.0
            .iter()
            .filter_map(|output| output.start(run))
            .collect()
    }

    /// The conditions every output contributes for `watch`.
    pub fn conditions(&self, watch: &HostRiskWatch) -> Vec<ConditionUpdate> {
        self.0
            .iter()
            .filter_map(|output| output.condition(watch))
            .collect()
    }

    /// Hands `view` to every output in turn; stops at the first that fails.
    pub async fn publish(&self, view: &WatchView<'_>) -> Result<()> {
        for output in &self.0 {
            if let Err(error) = output.publish(view).await {
                tracing::debug!(output = output.name(), %error, "output failed");
                return Err(error);
            }
        }
        Ok(())
    }
}
