//! One reconcile of a `HostRiskWatch`, as the steps of [`WatchReconcile`]:
//!
//! 1. the previous status (kept in the table, seeded from the watch);
//! 2. the plan: validate the spec, find a node-backed watch's hosts among the Nodes (from the
//!    Node cache), honour `suspend`, resolve the credentials (from the table; the Secret is
//!    read only when its `resourceVersion` changed) and the HSS scope;
//! 3. register the watch with the poller (a no-op when nothing changed), or unregister it;
//! 4. the outcome to show: the poller's newest update, the reason it is not polled, or
//!    `Pending` while HSS has not answered for this generation;
//! 5. the pure status computation, the status write (only when something but timestamps
//!    changed), the transition Events and the metrics.
//!
//! The poller drives polling: a reconcile never calls HSS, and comes back when the poller
//! publishes an update, the spec or the refresh annotation changes, the Secret changes, or (for
//! node-backed watches) a Node it selects changes. With nothing changed, a reconcile sends
//! nothing to the API server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};

use super::context::Context;
use super::credentials::{CredentialsProblem, EndpointSource};
use super::error::{Error, Result};
use super::events::publish_events;
use super::node_cache::NodeAnswer;
use super::secrets;
use super::snapshot::watch_snapshot;
use super::status_write::{previous_status, write_status, Previous};
use super::workload_identity;
use crate::crd::validation::{
    condition_reason, describe, validate_spec, CredentialsSource, ValidatedSpec,
};
use crate::crd::{HostRiskWatch, HostRiskWatchStatus, WatchKey, REFRESH_ANNOTATION};
use crate::hss::Scope;
use crate::metrics::ReconcileOutcome;
use crate::poller::{WatchRegistration, WatchUpdate};
use crate::status::{compute_status_for, PollFailure, PollOutcome, StatusInput, Targets};

/// The reconciler given to `kube_runtime::Controller::run`.
pub async fn reconcile(watch: Arc<HostRiskWatch>, ctx: Arc<Context>) -> Result<Action> {
    let started = Instant::now();
    let Some(key) = WatchKey::of(&watch) else {
        return Err(Error::MissingNamespace);
    };
    let result = WatchReconcile {
        watch: &watch,
        ctx: &ctx,
        key: &key,
    }
    .run()
    .await;
    ctx.state.settled(&key);
    let outcome = match &result {
        Ok(_) => ReconcileOutcome::Ok,
        Err(error) => ReconcileOutcome::Error(error.reason()),
    };
    ctx.metrics.record_reconcile(outcome, started.elapsed());
    result
}

/// True unless `update` is a poll result that lacks one of `targets`' hosts (neither found nor
/// not found: it was made for other ids). A failure is about the call, whatever the ids.
fn answers_every_host(update: &WatchUpdate, targets: &Targets) -> bool {
    match &update.outcome {
        Ok(result) => targets.hosts.iter().all(|t| {
            result.hosts.contains_key(&t.host_id) || result.not_found.contains(&t.host_id)
        }),
        Err(_) => true,
    }
}

/// The error policy given to `Controller::run`: back off exponentially with jitter, capped at
/// the interval, and never stop retrying.
pub fn error_policy(watch: Arc<HostRiskWatch>, error: &Error, ctx: Arc<Context>) -> Action {
    let default = ctx.settings.policy.default_interval;
    let Some(key) = WatchKey::of(&watch) else {
        tracing::error!(reason = error.reason(), %error, "cannot reconcile");
        return Action::requeue(default);
    };
    let failures = ctx.state.record_failure(&key);
    let interval = validate_spec(&watch.spec, &ctx.settings.policy)
        .map(|v| v.interval)
        .unwrap_or(default);
    let delay = ctx
        .settings
        .backoff
        .capped_at(interval)
        .delay(failures, None);
    tracing::warn!(
        namespace = %key.namespace,
        name = %key.name,
        reason = error.reason(),
        %error,
        retry_in_ms = delay.as_millis() as u64,
        "reconcile failed"
    );
    Action::requeue(delay)
}

/// What to do with a watch after its spec, Nodes, Secret and scope were looked at. Each plan
/// carries the watch's [`Targets`]: the hosts its status shows.
enum Plan {
    /// Poll it with this registration.
    Poll {
        registration: Box<WatchRegistration>,
        targets: Targets,
    },
    /// Do not poll it; show `outcome` (refused, suspended, unusable credentials, no host).
    /// Looked at again when something it depends on changes, or, with `retry`, after a backoff
    /// too.
    Skip {
        outcome: PollOutcome,
        interval: Duration,
        retry: bool,
        targets: Targets,
    },
    /// A node-backed watch whose Nodes are being listed: nothing to decide until the list is
    /// done (it brings the watch back); a watch without status gets its first one.
    Wait {
        interval: Duration,
        targets: Targets,
    },
}

/// One reconcile of one watch.
struct WatchReconcile<'a> {
    watch: &'a HostRiskWatch,
    ctx: &'a Context,
    key: &'a WatchKey,
}

impl WatchReconcile<'_> {
    fn uid(&self) -> Option<&str> {
        self.watch.meta().uid.as_deref()
    }

    async fn run(&self) -> Result<Action> {
        let previous = match previous_status(self.watch, self.ctx, self.key).await? {
            Previous::Status(status) => status,
            Previous::Stale => {
                tracing::debug!(namespace = %self.key.namespace, name = %self.key.name, "object gone or re-created; waiting for its events");
                return Ok(Action::await_change());
            }
        };
        let outdated = previous
            .as_ref()
            .is_none_or(|p| p.observed_generation != self.watch.metadata.generation);
        match self.plan().await? {
            Plan::Skip {
                outcome,
                interval,
                retry,
                targets,
            } => {
                self.ctx.state.unregister(self.key);
                self.finish(previous.as_ref(), outcome, interval, None, &targets)
                    .await?;
                if retry {
                    let failures = self.ctx.state.record_failure(self.key);
                    let backoff = self.ctx.settings.backoff.capped_at(interval);
                    return Ok(Action::requeue(backoff.delay(failures, None)));
                }
            }
            Plan::Wait { interval, targets } => {
                if outdated {
                    self.finish_pending(previous.as_ref(), interval, &targets)
                        .await?;
                }
            }
            Plan::Poll {
                registration,
                targets,
            } => {
                let interval = registration.interval;
                self.ctx.state.register(self.uid(), *registration);
                // An answer from before the watch's hosts changed (a Node joined) does not
                // cover the new ones: wait for the one the change asked for.
                let update = self
                    .ctx
                    .state
                    .next_update(self.key)
                    .filter(|update| answers_every_host(update, &targets));
                match update {
                    Some(update) => {
                        self.apply(previous.as_ref(), update, interval, &targets)
                            .await?
                    }
                    // Say at once that the watch is pending (kstatus reads a resource without
                    // status as current), or that HSS has not answered for the new spec yet
                    // (instead of showing the old spec's data as current). A node-backed
                    // watch also shows what its Nodes say now (written only when that changed).
                    None if outdated || targets.nodes.is_some() => {
                        self.finish_pending(previous.as_ref(), interval, &targets)
                            .await?;
                    }
                    None => {}
                }
            }
        }
        self.ctx.state.record_success(self.key);
        Ok(Action::await_change())
    }

    /// Validates the spec, finds a node-backed watch's hosts and resolves the credentials and
    /// the scope. Only a Kubernetes API failure while reading the Secret is an error;
    /// everything else is an outcome in status.
    async fn plan(&self) -> Result<Plan> {
        let ctx = self.ctx;
        let spec = match validate_spec(&self.watch.spec, &ctx.settings.policy) {
            Ok(validated) => validated,
            Err(errors) => {
                let message = describe(&errors);
                let outcome = match condition_reason(&errors) {
                    "EndpointNotAllowed" => PollOutcome::EndpointNotAllowed(message),
                    _ => PollOutcome::InvalidSpec(message),
                };
                ctx.state.set_node_source(self.key, self.uid(), None);
                return Ok(Plan::Skip {
                    outcome,
                    interval: ctx.settings.policy.default_interval,
                    retry: false,
                    targets: Targets::listed(&self.watch.spec.host_ids),
                });
            }
        };
        let targets = match self.targets(&spec) {
            Ok(targets) => targets,
            // Suspending says so whatever the Nodes' state: the user asked for it.
            Err(_) if spec.suspend => Targets::unknown_nodes(
                spec.nodes
                    .as_ref()
                    .map(|n| n.describe())
                    .unwrap_or_default(),
            ),
            Err(plan) => return Ok(*plan),
        };
        if spec.suspend {
            return Ok(Plan::Skip {
                outcome: PollOutcome::Suspended,
                interval: spec.interval,
                retry: false,
                targets,
            });
        }
        if spec.nodes.is_some() && targets.hosts.is_empty() {
            return Ok(Plan::Skip {
                outcome: PollOutcome::NoHosts,
                interval: spec.interval,
                retry: false,
                targets,
            });
        }
        let endpoint = match spec.region.as_deref() {
            Some(region) => EndpointSource::Region(region),
            None => EndpointSource::Explicit {
                iam_endpoint: ctx.settings.iam_endpoint.as_ref(),
            },
        };
        let (credentials, secret_version) = match &spec.credentials {
            CredentialsSource::Secret(name) => {
                let resolved = secrets::resolve(ctx, self.key, self.uid(), name, endpoint).await?;
                match resolved.credentials {
                    Ok(credentials) => (credentials, resolved.version),
                    Err(problem) => {
                        return Ok(self.unusable(problem, spec.interval, resolved.retry, targets))
                    }
                }
            }
            CredentialsSource::WorkloadIdentity(identity) => match workload_identity::credentials(
                &ctx.client,
                &self.key.namespace,
                identity,
                &ctx.settings.workload_identity,
                endpoint,
            ) {
                Ok(credentials) => (credentials, None),
                Err(problem) => return Ok(self.unusable(problem, spec.interval, false, targets)),
            },
        };
        let scope = match Scope::for_endpoint(
            spec.endpoint.clone(),
            spec.project_id.clone(),
            spec.enterprise_project_id.clone(),
        ) {
            Ok(scope) => scope,
            Err(error) => {
                return Ok(Plan::Skip {
                    outcome: PollOutcome::Failed(PollFailure::from(&error)),
                    interval: spec.interval,
                    retry: false,
                    targets,
                })
            }
        };
        let host_ids = targets.ids();
        let revision = self.revision(secret_version.as_deref());
        Ok(Plan::Poll {
            registration: Box::new(WatchRegistration {
                key: self.key.clone(),
                scope,
                credentials,
                host_ids,
                interval: spec.interval,
                revision,
            }),
            targets,
        })
    }

    /// The hosts of the watch: its list, or what the Node cache says of its Nodes. `Err`: the
    /// plan when the Nodes are not known (being listed, or refused).
    fn targets(&self, spec: &ValidatedSpec) -> Result<Targets, Box<Plan>> {
        self.ctx
            .state
            .set_node_source(self.key, self.uid(), spec.nodes.as_ref());
        let Some(source) = &spec.nodes else {
            return Ok(Targets::listed(&spec.host_ids));
        };
        match self.ctx.nodes.targets_for(source) {
            NodeAnswer::Known(targets) => Ok(targets),
            NodeAnswer::Listing => Err(Box::new(Plan::Wait {
                interval: spec.interval,
                targets: Targets::unknown_nodes(source.describe()),
            })),
            NodeAnswer::Unavailable { reason, message } => Err(Box::new(Plan::Skip {
                outcome: PollOutcome::NodesUnavailable { reason, message },
                interval: spec.interval,
                retry: false,
                targets: Targets::unknown_nodes(source.describe()),
            })),
        }
    }

    /// A watch whose credentials cannot be used: the problem goes into `CredentialsValid`.
    fn unusable(
        &self,
        problem: CredentialsProblem,
        interval: Duration,
        retry: bool,
        targets: Targets,
    ) -> Plan {
        tracing::warn!(
            namespace = %self.key.namespace,
            name = %self.key.name,
            reason = problem.reason,
            problem = %problem.message,
            "credentials problem"
        );
        Plan::Skip {
            outcome: PollOutcome::CredentialsProblem {
                reason: problem.reason,
                message: problem.message,
            },
            interval,
            retry,
            targets,
        }
    }

    /// The registration revision: what, when it changes, asks the poller for a prompt refresh
    /// (a re-created object, a spec change, a refresh request, other credentials). Not the
    /// host ids of a node-backed watch (their changes reach the poller as other ids: an added
    /// one is polled at once, a removed one costs nothing) and never the Nodes' labels.
    fn revision(&self, secret_version: Option<&str>) -> String {
        format!(
            "uid={};generation={};refresh={};secret={}",
            self.uid().unwrap_or_default(),
            self.watch.metadata.generation.unwrap_or_default(),
            self.watch
                .annotations()
                .get(REFRESH_ANNOTATION)
                .map(String::as_str)
                .unwrap_or_default(),
            secret_version.unwrap_or_default(),
        )
    }

    /// Shows a poller update; kept to apply again when its status cannot be written.
    async fn apply(
        &self,
        previous: Option<&HostRiskWatchStatus>,
        update: WatchUpdate,
        interval: Duration,
        targets: &Targets,
    ) -> Result<()> {
        let outcome = match update.outcome.clone() {
            Ok(result) => PollOutcome::Success(result),
            Err(failure) => {
                tracing::warn!(
                    namespace = %self.key.namespace,
                    name = %self.key.name,
                    reason = failure.reason,
                    request_id = failure.request_id.as_deref().unwrap_or_default(),
                    error = %failure.message,
                    "HSS poll failed"
                );
                PollOutcome::Failed(failure)
            }
        };
        let written = self
            .finish(
                previous,
                outcome,
                interval,
                update.smoothed_interval,
                targets,
            )
            .await;
        match (&written, update.oldest_data) {
            (Err(_), _) => self.ctx.state.keep_unapplied(self.key, update),
            (Ok(()), Some(fetched)) => self.ctx.metrics.set_watch_last_success(
                &self.key.namespace,
                &self.key.name,
                fetched,
            ),
            (Ok(()), None) => {}
        }
        written
    }

    /// Computes the new status of `targets`, writes it if needed, then publishes the
    /// transition Events and sets the watch's gauges. `achieved` is the interval the poller
    /// measured, if any.
    /// [`Self::finish`] with nothing answered yet: the status says Pending (written only when
    /// that changes it).
    async fn finish_pending(
        &self,
        previous: Option<&HostRiskWatchStatus>,
        interval: Duration,
        targets: &Targets,
    ) -> Result<()> {
        self.finish(previous, PollOutcome::Pending, interval, None, targets)
            .await
    }

    async fn finish(
        &self,
        previous: Option<&HostRiskWatchStatus>,
        outcome: PollOutcome,
        interval: Duration,
        achieved: Option<Duration>,
        targets: &Targets,
    ) -> Result<()> {
        let ctx = self.ctx;
        // No host to poll is a complete answer too: the gauges go to zero (alerts resolve).
        let success = matches!(outcome, PollOutcome::Success(_) | PollOutcome::NoHosts);
        let update = compute_status_for(
            StatusInput {
                spec: &self.watch.spec,
                generation: self.watch.meta().generation,
                previous,
                outcome,
                now: jiff::Timestamp::now(),
                heartbeat: ctx.settings.status_heartbeat,
                effective_interval: interval,
            },
            achieved,
            targets,
        );
        if update.needs_write {
            write_status(self.watch, ctx, self.key, &update.status, previous).await?;
        } else {
            ctx.metrics.record_status_write(false);
        }
        ctx.metrics.set_watch_status(
            &self.key.namespace,
            &self.key.name,
            &update.status,
            interval,
        );
        if success {
            if let Some(summary) = &update.status.summary {
                ctx.metrics.set_watch_gauges(
                    &self.key.namespace,
                    &self.key.name,
                    &watch_snapshot(summary, &update.status.hosts),
                );
            }
        }
        if !update.events.is_empty() {
            publish_events(
                &ctx.client,
                &ctx.reporter(),
                &self.watch.object_ref(&()),
                &update.events,
                &ctx.metrics,
            )
            .await;
        }
        Ok(())
    }
}
