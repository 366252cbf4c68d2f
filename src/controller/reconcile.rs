//! One reconcile of a `HostRiskWatch`, as the steps of [`WatchReconcile`]:
//!
//! 1. the previous status, from the watch table; a watch the table does not hold (deleted, or
//!    re-created under another uid while the store lags) is left alone: its own events follow;
//! 2. the plan: validate the spec, ask its host source for its hosts, honour `suspend`,
//!    resolve the credentials from their source and the HSS scope;
//! 3. register the watch with the poller through the table (a no-op when nothing changed), or
//!    unregister it;
//! 4. the outcome to show: the poller's pending update, the reason it is not polled, or
//!    nothing new;
//! 5. the pure status computation, then every output in turn (status write, Events, metrics)
//!    with the watch's new view; the poller's update is marked applied once they all took it.
//!
//! The poller drives polling: a reconcile never calls HSS, and comes back when the poller
//! publishes an update, the spec or the refresh annotation changes, the Secret changes, or a
//! host source reports a change (a Node it selects). With nothing changed, a reconcile sends
//! nothing to the API server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};

use super::context::Context;
use super::credentials::{CredentialsProblem, ForWatch};
use super::error::{Error, Result};
use super::hosts::HostAnswer;
use super::outputs::WatchView;
use crate::crd::spec_error::SpecErrorKind;
use crate::crd::validation::{condition_reason, describe, validate_spec, ValidatedSpec};
use crate::crd::{HostRiskWatch, WatchKey, REFRESH_ANNOTATION};
use crate::hss::Scope;
use crate::metrics::ReconcileOutcome;
use crate::poller::{WatchRegistration, WatchUpdate};
use crate::status::{compute_status, PollFailure, PollOutcome, StatusInput, Targets, WatchStatus};

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
    ctx.watches.settled(&key);
    let outcome = match &result {
        Ok(_) => ReconcileOutcome::Ok,
        Err(error) => ReconcileOutcome::Error(error.reason()),
    };
    ctx.metrics.record_reconcile(outcome, started.elapsed());
    result
}

/// The error policy given to `Controller::run`: back off exponentially with jitter, capped at
/// the interval, and never stop retrying.
pub fn error_policy(watch: Arc<HostRiskWatch>, error: &Error, ctx: Arc<Context>) -> Action {
    let default = ctx.settings.policy.default_interval;
    let Some(key) = WatchKey::of(&watch) else {
        tracing::error!(reason = error.reason(), %error, "cannot reconcile");
        return Action::requeue(default);
    };
    let failures = ctx.watches.record_failure(&key);
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

/// What to do with a watch after its spec, hosts, credentials and scope were looked at. Each
/// plan carries the host source's answer: the hosts the status shows.
enum Plan {
    /// Poll it with this registration.
    Poll {
        registration: Box<WatchRegistration>,
        hosts: HostAnswer,
    },
    /// Do not poll it; show `outcome` (refused, suspended, unusable credentials, no host).
    /// Looked at again when something it depends on changes, or, with `retry`, after a backoff
    /// too.
    Skip {
        outcome: PollOutcome,
        interval: Duration,
        retry: bool,
        hosts: HostAnswer,
    },
    /// The hosts are being listed: nothing to decide until the list is done (it brings the
    /// watch back); a watch without status for this generation gets its first one.
    Wait {
        interval: Duration,
        hosts: HostAnswer,
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
        let Some(previous) = self.ctx.watches.previous(self.key, self.uid()) else {
            tracing::debug!(namespace = %self.key.namespace, name = %self.key.name, "not held: gone or re-created; waiting for its events");
            return Ok(Action::await_change());
        };
        let previous = previous.as_ref();
        let outdated =
            previous.is_none_or(|p| p.head().observed_generation != self.watch.metadata.generation);
        match self.plan(previous.map(|p| &**p)).await? {
            Plan::Skip {
                outcome,
                interval,
                retry,
                hosts,
            } => {
                self.ctx.watches.unregister(self.key);
                self.finish(previous, outcome, interval, &hosts, None)
                    .await?;
                if retry {
                    let failures = self.ctx.watches.record_failure(self.key);
                    let backoff = self.ctx.settings.backoff.capped_at(interval);
                    return Ok(Action::requeue(backoff.delay(failures, None)));
                }
            }
            Plan::Wait { interval, hosts } => {
                if outdated {
                    self.finish(previous, PollOutcome::Pending, interval, &hosts, None)
                        .await?;
                }
            }
            Plan::Poll {
                registration,
                hosts,
            } => {
                let interval = registration.interval;
                self.ctx.watches.register(self.uid(), *registration);
                let pending = self
                    .ctx
                    .watches
                    .poller()
                    .and_then(|poller| poller.handle().pending(self.key));
                match pending {
                    Some(update) => self.apply(previous, update, interval, &hosts).await?,
                    // Nothing new: say at once that the watch is pending (kstatus reads a
                    // resource without status as current), or that HSS has not answered for
                    // the new spec yet (instead of showing the old spec's data as current);
                    // what the host source says now is shown too (written only when that
                    // changed something).
                    None => {
                        self.finish(previous, PollOutcome::Pending, interval, &hosts, None)
                            .await?
                    }
                }
            }
        }
        self.ctx.watches.record_success(self.key);
        Ok(Action::await_change())
    }

    /// Validates the spec, asks its host source for its hosts and resolves the credentials
    /// and the scope. Only a Kubernetes API failure while reading the Secret is an error;
    /// everything else is an outcome in status.
    async fn plan(&self, previous: Option<&WatchStatus>) -> Result<Plan> {
        let ctx = self.ctx;
        let spec = match validate_spec(&self.watch.spec, &ctx.settings.policy) {
            Ok(validated) => validated,
            Err(errors) => {
                let message = describe(&errors);
                let outcome = match condition_reason(&errors) {
                    SpecErrorKind::EndpointNotAllowed => PollOutcome::EndpointNotAllowed(message),
                    SpecErrorKind::Invalid => PollOutcome::InvalidSpec(message),
                };
                ctx.watches
                    .while_present(self.key, self.uid(), || ctx.hosts.select(self.key, None));
                return Ok(Plan::Skip {
                    outcome,
                    interval: ctx.settings.policy.default_interval,
                    retry: false,
                    hosts: HostAnswer::Known(Targets::listed(&self.watch.spec.host_ids)),
                });
            }
        };
        ctx.watches.while_present(self.key, self.uid(), || {
            ctx.hosts.select(self.key, Some(&spec))
        });
        let hosts = ctx.hosts.for_spec(&spec).answer(&spec, previous);
        let skip = |outcome, retry, hosts| Plan::Skip {
            outcome,
            interval: spec.interval,
            retry,
            hosts,
        };
        // Suspending says so whatever the hosts' state: the user asked for it, and hosts that
        // cannot be known now are simply not known.
        if spec.suspend {
            let hosts = match hosts {
                HostAnswer::Known(_) => hosts,
                unknown => HostAnswer::Listing(unknown.into_targets()),
            };
            return Ok(skip(PollOutcome::Suspended, false, hosts));
        }
        let hosts = match hosts {
            HostAnswer::Known(_) => hosts,
            HostAnswer::Listing(_) => {
                return Ok(Plan::Wait {
                    interval: spec.interval,
                    hosts,
                })
            }
            HostAnswer::Unavailable {
                reason,
                ref message,
                ..
            } => {
                let outcome = PollOutcome::NodesUnavailable {
                    reason,
                    message: message.clone(),
                };
                return Ok(skip(outcome, false, hosts));
            }
        };
        if spec.nodes.is_some() && hosts.targets().hosts.is_empty() {
            return Ok(skip(PollOutcome::NoHosts, false, hosts));
        }
        let for_watch = ForWatch {
            key: self.key,
            uid: self.uid(),
            region: spec.region.as_deref(),
            iam_endpoint: ctx.settings.iam_endpoint.as_ref(),
        };
        let resolved = ctx
            .credentials
            .resolve(for_watch, &spec.credentials)
            .await?;
        let credentials = match resolved.credentials {
            Ok(credentials) => credentials,
            Err(problem) => return Ok(self.unusable(problem, &spec, resolved.retry, hosts)),
        };
        let scope = match Scope::for_endpoint(
            spec.endpoint.clone(),
            spec.project_id.clone(),
            spec.enterprise_project_id.clone(),
        ) {
            Ok(scope) => scope,
            Err(error) => {
                return Ok(skip(
                    PollOutcome::Failed(PollFailure::from(&error)),
                    false,
                    hosts,
                ))
            }
        };
        Ok(Plan::Poll {
            registration: Box::new(WatchRegistration {
                key: self.key.clone(),
                scope,
                credentials,
                host_ids: hosts.targets().ids(),
                interval: spec.interval,
                revision: self.revision(resolved.version.as_deref()),
            }),
            hosts,
        })
    }

    /// A watch whose credentials cannot be used: the problem goes into `CredentialsValid`.
    fn unusable(
        &self,
        problem: CredentialsProblem,
        spec: &ValidatedSpec,
        retry: bool,
        hosts: HostAnswer,
    ) -> Plan {
        tracing::warn!(
            namespace = %self.key.namespace,
            name = %self.key.name,
            reason = %problem.reason,
            problem = %problem.message,
            "credentials problem"
        );
        Plan::Skip {
            outcome: PollOutcome::CredentialsProblem {
                reason: problem.reason,
                message: problem.message,
            },
            interval: spec.interval,
            retry,
            hosts,
        }
    }

    /// The registration revision: what, when it changes, asks the poller for a prompt refresh
    /// (a re-created object, a spec change, a refresh request, other credentials). Not the
    /// host ids of a node-backed watch (their changes reach the poller as other ids: an added
    /// one is polled at once, a removed one costs nothing) and never the Nodes' labels.
    fn revision(&self, credentials_version: Option<&str>) -> String {
        format!(
            "uid={};generation={};refresh={};secret={}",
            self.uid().unwrap_or_default(),
            self.watch.metadata.generation.unwrap_or_default(),
            self.watch
                .annotations()
                .get(REFRESH_ANNOTATION)
                .map(String::as_str)
                .unwrap_or_default(),
            credentials_version.unwrap_or_default(),
        )
    }

    /// Shows a poller update; marked applied once every output took it (else it stays pending
    /// for the retry).
    async fn apply(
        &self,
        previous: Option<&Arc<WatchStatus>>,
        update: WatchUpdate,
        interval: Duration,
        hosts: &HostAnswer,
    ) -> Result<()> {
        let outcome = match update.outcome.clone() {
            Ok(answer) => PollOutcome::Success(answer),
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
        self.finish(previous, outcome, interval, hosts, Some(&update))
            .await?;
        if let Some(poller) = self.ctx.watches.poller() {
            poller.handle().applied(self.key, update.at);
        }
        Ok(())
    }

    /// Computes the new status of the watch's hosts and hands the watch's view to every
    /// output. `update`: the poller update this shows, if any.
    async fn finish(
        &self,
        previous: Option<&Arc<WatchStatus>>,
        outcome: PollOutcome,
        interval: Duration,
        hosts: &HostAnswer,
        update: Option<&WatchUpdate>,
    ) -> Result<()> {
        let ctx = self.ctx;
        let complete = outcome.is_complete();
        let mut contributed: Vec<_> = hosts.condition().into_iter().collect();
        contributed.extend(ctx.outputs.conditions(self.watch));
        let computed = compute_status(StatusInput {
            generation: self.watch.meta().generation,
            previous,
            outcome,
            targets: hosts.targets(),
            contributed,
            now: jiff::Timestamp::now(),
            heartbeat: ctx.settings.status_heartbeat,
            effective_interval: interval,
            achieved_interval: update.and_then(|u| u.smoothed_interval),
        });
        let view = WatchView {
            watch: self.watch,
            key: self.key,
            status: &computed.status,
            previous: previous.map(|p| &**p),
            targets: hosts.targets(),
            changed: computed.needs_write,
            events: &computed.events,
            fetched: update.and_then(|u| u.oldest_data),
            interval,
            complete,
            suspended: self.watch.spec.suspend,
            watches: &ctx.watches,
        };
        ctx.outputs.publish(&view).await
    }
}
