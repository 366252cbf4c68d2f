//! The policy-report output (`--policy-reports openreports|wgpolicyk8s`): one report per watch,
//! in its namespace, named after it, owned by it (garbage collection removes it with the
//! watch), its results what [`crate::reports`] makes of the watch's hosts.
//!
//! Writes only on change: a report is built when the status changed (or nothing is known of
//! it), compared by digest with what is stored (`stored`: a metadata watch of the operator's
//! reports, and its own writes), and applied (server-side, field manager `hostrisk-operator`)
//! only when it differs. A suspended watch's report is deleted. The `ReportsWritten` condition
//! says what became of it (`watches`); when that changes outside the reconcile that decided it
//! (the CRD appeared, the first list of reports ended, a report was deleted by hand), the watch
//! is brought back through [`Output::triggers`].

mod requests;
mod stored;
mod tasks;
mod watches;

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::FutureExt;

use super::wake::Wake;
use super::{Output, OutputRun, OutputStarted, WatchView};
use crate::controller::error::{Error, Result};
use crate::controller::watches::WatchScoped;
use crate::crd::{HostRiskWatch, WatchKey};
use crate::metrics::Metrics;
use crate::reports::names::report_name;
use crate::reports::{build_report, ReportOptions, ReportScope, ReportSettings};
use crate::status::{ConditionUpdate, HostRecord};
use requests::{classify, Failure};
use stored::{Lookup, ReportKey, StoredReports};
use watches::{already_says, report_condition, Kept, Outcome, WatchStates};

pub use stored::CrdState;

/// What the output and its watching tasks share.
#[derive(Default)]
pub struct Shared {
    stored: StoredReports,
    watches: WatchStates,
    wake: Wake,
}

impl Shared {
    /// Brings back every watch held; with `retry`, content refused before is tried again.
    fn wake_all(&self, retry: bool) {
        for key in self.watches.all(retry) {
            self.wake.wake(&key);
        }
    }

    /// Brings back `key` if it is held.
    fn wake(&self, key: &WatchKey) {
        if self.watches.knows(key) {
            self.wake.wake(key);
        }
    }
}

/// A decision on a watch's report, and the error to fail the reconcile with, if any.
struct Decision {
    kept: Kept,
    retry: Option<kube::Error>,
}

impl Decision {
    fn settled(outcome: Outcome, digest: Option<u64>) -> Self {
        Self {
            kept: Kept {
                outcome: Some(outcome),
                digest,
            },
            retry: None,
        }
    }
}

pub struct ReportWriter {
    client: kube::Client,
    settings: ReportSettings,
    metrics: Metrics,
    shared: Arc<Shared>,
}

impl ReportWriter {
    pub fn new(client: kube::Client, settings: ReportSettings, metrics: Metrics) -> Self {
        if settings.format.is_some() {
            metrics.seed_policy_report_families();
        }
        Self {
            client,
            settings,
            metrics,
            shared: Arc::default(),
        }
    }

    /// Whether the report kind is served, as the CRD watch last said.
    pub fn crd_state(&self) -> CrdState {
        self.shared.stored.crd()
    }

    async fn publish_view(&self, view: &WatchView<'_>, options: ReportOptions) -> Result<()> {
        let key = view.key;
        let name = report_name(&key.name);
        let lookup = self.shared.stored.lookup(&key.namespace, &name);
        let kept = self.shared.watches.get(key);
        let Some(decision) = self.decide(view, options, &name, &lookup, &kept).await else {
            return Ok(());
        };
        let outcome = decision.kept.outcome.clone();
        let held = view
            .while_present(|| self.shared.watches.set(key, decision.kept))
            .is_some();
        if let Some(source) = decision.retry {
            return Err(Error::ReportWrite {
                key: key.clone(),
                source,
            });
        }
        // The status shows the condition at the next reconcile: bring it about now when the
        // status does not say it yet.
        let desired = report_condition(options.format, &lookup.crd, &name, outcome.as_ref());
        if held && !already_says(&view.status.head().conditions, &desired) {
            self.shared.wake.wake(key);
        }
        Ok(())
    }

    /// What to do with the watch's report; `None`: nothing can be decided yet (the CRD or the
    /// reports are being listed; their answer brings the watch back).
    async fn decide(
        &self,
        view: &WatchView<'_>,
        options: ReportOptions,
        name: &str,
        lookup: &Lookup,
        kept: &Kept,
    ) -> Option<Decision> {
        match lookup.crd {
            CrdState::Unknown => return None,
            CrdState::Missing => return Some(Decision::settled(Outcome::NotInstalled, None)),
            CrdState::Served | CrdState::Unreadable(_) => {}
        }
        if !lookup.indexed {
            return None;
        }
        if view.suspended {
            return Some(self.remove(view, options, name, lookup, kept).await);
        }
        if view.status.head().summary.is_none() {
            return Some(Decision::settled(Outcome::NoData, None));
        }
        if !view.changed && kept.settled(lookup.stored) {
            self.metrics.record_policy_report("skipped");
            return Some(Decision {
                kept: kept.clone(),
                retry: None,
            });
        }
        let scope = ReportScope {
            namespace: &view.key.namespace,
            name: &view.key.name,
            uid: view.uid().unwrap_or_default(),
        };
        let built = build_report(
            &scope,
            view.status.hosts.iter().map(|host| host.to_status()),
            &options,
        );
        let written = Outcome::Written {
            omitted: built.omitted,
        };
        if lookup.stored == Some(Some(built.digest)) {
            self.metrics.record_policy_report("skipped");
            return Some(Decision::settled(written, Some(built.digest)));
        }
        if kept.digest == Some(built.digest) && kept.settled(lookup.stored) {
            // Refused before as it is: not again until something changes.
            return Some(Decision {
                kept: kept.clone(),
                retry: None,
            });
        }
        let what = format!("{} {}/{name}", options.format.kind(), view.key.namespace);
        match requests::apply(&self.client, options.format, &built.report).await {
            Ok(()) => {
                self.metrics.record_policy_report("written");
                self.shared
                    .stored
                    .stored(self.report_key(view, name), Some(built.digest));
                tracing::info!(
                    namespace = %view.key.namespace,
                    name = %view.key.name,
                    report = %name,
                    listed = built.listed,
                    omitted = built.omitted,
                    "policy report written"
                );
                Some(Decision::settled(written, Some(built.digest)))
            }
            Err(error) => {
                Some(self.failed(classify(&error, &what, "write"), error, Some(built.digest)))
            }
        }
    }

    /// Removes a suspended watch's report (when there is one to remove).
    async fn remove(
        &self,
        view: &WatchView<'_>,
        options: ReportOptions,
        name: &str,
        lookup: &Lookup,
        kept: &Kept,
    ) -> Decision {
        let gone =
            lookup.stored.is_none() && (lookup.listed || kept.outcome == Some(Outcome::Removed));
        if gone {
            return Decision::settled(Outcome::Removed, None);
        }
        let what = format!("{} {}/{name}", options.format.kind(), view.key.namespace);
        match requests::delete(&self.client, options.format, &view.key.namespace, name).await {
            Ok(existed) => {
                self.shared.stored.removed(&self.report_key(view, name));
                if existed {
                    self.metrics.record_policy_report("deleted");
                    tracing::info!(namespace = %view.key.namespace, name = %view.key.name, report = %name, "policy report removed: the watch is suspended");
                }
                Decision::settled(Outcome::Removed, None)
            }
            Err(error) => self.failed(classify(&error, &what, "delete"), error, None),
        }
    }

    fn failed(&self, failure: Failure, error: kube::Error, digest: Option<u64>) -> Decision {
        self.metrics.record_policy_report("failed");
        let (outcome, retry) = match failure {
            Failure::Final(outcome) => (outcome, None),
            Failure::Retry(outcome) => (outcome, Some(error)),
        };
        let reason = match &outcome {
            Outcome::Failed { reason, .. } => reason.as_str(),
            _ => "ApiNotInstalled",
        };
        self.metrics.record_policy_report_error(reason);
        if let Outcome::Failed { message, .. } = &outcome {
            tracing::warn!(reason, error = %message, "policy report not written");
        }
        Decision {
            kept: Kept {
                outcome: Some(outcome),
                digest: if retry.is_some() { None } else { digest },
            },
            retry,
        }
    }

    fn report_key(&self, view: &WatchView<'_>, name: &str) -> ReportKey {
        ReportKey {
            namespace: view.key.namespace.clone(),
            name: name.to_string(),
        }
    }
}

impl WatchScoped for ReportWriter {
    fn began(&self, watch: &HostRiskWatch, _hosts: &[HostRecord]) {
        if self.settings.format.is_some() {
            if let Some(key) = WatchKey::of(watch) {
                self.shared.watches.began(key);
            }
        }
    }

    fn forget(&self, key: &WatchKey) {
        self.shared.watches.forget(key);
    }
}

impl Output for ReportWriter {
    fn name(&self) -> &'static str {
        "policy-reports"
    }

    fn condition(&self, watch: &HostRiskWatch) -> Option<ConditionUpdate> {
        let format = self.settings.format?;
        let key = WatchKey::of(watch)?;
        let kept = self.shared.watches.get(&key);
        Some(report_condition(
            format,
            &self.shared.stored.crd(),
            &report_name(&key.name),
            kept.outcome.as_ref(),
        ))
    }

    fn publish<'a>(&'a self, view: &'a WatchView<'a>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            match self.settings.options() {
                Some(options) => self.publish_view(view, options).await,
                None => Ok(()),
            }
        })
    }

    fn start(&self, run: &OutputRun) -> Option<OutputStarted> {
        // A previous run's controllers are gone: their trigger streams end.
        self.shared.wake.close();
        for format in self.settings.formats_to_remove() {
            tokio::spawn(tasks::remove_reports(
                self.client.clone(),
                format,
                run.scopes.clone(),
            ));
        }
        let format = self.settings.format?;
        self.shared.stored.reset(&run.scopes);
        let mut tasks = vec![tokio::spawn(tasks::watch_crd(
            Arc::clone(&self.shared),
            self.client.clone(),
            format,
            run.shutdown.clone(),
        ))];
        for scope in &run.scopes {
            tasks.push(tokio::spawn(tasks::index_reports(
                Arc::clone(&self.shared),
                self.client.clone(),
                format,
                scope.clone(),
                run.shutdown.clone(),
            )));
        }
        let task = async move {
            for ended in futures::future::join_all(tasks).await {
                if let Err(error) = ended {
                    tracing::error!(%error, "policy report task failed");
                }
            }
        };
        Some(OutputStarted {
            name: self.name(),
            task: task.boxed(),
            // One stream for every scope: `run` routes each key to its namespace's controller.
            triggers: Some(self.shared.wake.subscribe(None)),
        })
    }
}
