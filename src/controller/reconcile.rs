//! One reconcile of a `HostRiskWatch`: first status, the checks of [`super::prepare`], the HSS
//! poll (per watch here, or through the shared poller in [`super::batched`]), the pure status
//! computation, the status write (only when needed), the Events, the metrics, and when to come
//! back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};

use super::batched::reconcile_batched;
use super::context::{Context, PollingMode};
use super::credentials::SecretReadError;
use super::events::publish_events;
use super::health::Counters;
use super::prepare::{finish_unpolled, prepare, Prepared, ReadyToPoll};
use super::schedule::{Due, Observed, WatchKey};
use super::snapshot::watch_snapshot;
use super::status_write::{previous_status, write_status, Previous};
use crate::crd::validation::{validate_spec, ValidatedSpec};
use crate::crd::{HostRiskWatch, HostRiskWatchStatus, REFRESH_ANNOTATION};
use crate::hss::{Credentials, HssError, Scope};
use crate::metrics::ReconcileOutcome;
use crate::status::{compute_status_with_quota, PollFailure, PollOutcome, StatusInput};

/// A reconcile that could not finish because the Kubernetes API failed; retried with backoff.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("HostRiskWatch has no namespace")]
    MissingNamespace,
    #[error("writing status of {namespace}/{name}: {source}")]
    StatusWrite {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("reading {namespace}/{name} for its full status: {source}")]
    StatusRead {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("serializing status: {0}")]
    Serialize(#[from] serde_json::Error),
    #[error(transparent)]
    SecretRead(#[from] SecretReadError),
}

impl ReconcileError {
    /// CamelCase reason for `hostrisk_reconcile_errors_total{reason}`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingNamespace => "MissingNamespace",
            Self::StatusWrite { .. } => "StatusWriteFailed",
            Self::StatusRead { .. } => "StatusReadFailed",
            Self::Serialize(_) => "SerializeFailed",
            Self::SecretRead(_) => "SecretReadFailed",
        }
    }

    /// Short label for logs and metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::MissingNamespace => "missing_namespace",
            Self::StatusWrite { .. } => "status_write",
            Self::StatusRead { .. } => "status_read",
            Self::Serialize(_) => "serialize",
            Self::SecretRead(_) => "secret_read",
        }
    }
}

/// The key of `watch` in the poll table.
pub fn watch_key(watch: &HostRiskWatch) -> Result<WatchKey, ReconcileError> {
    Ok(WatchKey {
        namespace: watch.namespace().ok_or(ReconcileError::MissingNamespace)?,
        name: watch.name_any(),
    })
}

/// What decides whether a poll is due.
pub fn observed(watch: &HostRiskWatch) -> Observed {
    Observed {
        uid: watch.uid(),
        generation: watch.meta().generation,
        refresh_requested_at: watch.annotations().get(REFRESH_ANNOTATION).cloned(),
    }
}

/// The interval in force for `watch` even when its spec is invalid (for backoff caps).
fn interval_for(watch: &HostRiskWatch, ctx: &Context) -> Duration {
    validate_spec(&watch.spec, &ctx.settings.policy)
        .map(|v| v.interval)
        .unwrap_or(ctx.settings.policy.default_interval)
}

/// The reconciler given to `kube_runtime::Controller::run`.
pub async fn reconcile(
    watch: Arc<HostRiskWatch>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let started = Instant::now();
    let result = reconcile_watch(&watch, &ctx).await;
    let outcome = match &result {
        Ok(_) => ReconcileOutcome::Ok,
        Err(error) => ReconcileOutcome::Error(error.reason()),
    };
    ctx.metrics.record_reconcile(outcome, started.elapsed());
    result
}

async fn reconcile_watch(watch: &HostRiskWatch, ctx: &Context) -> Result<Action, ReconcileError> {
    Counters::inc(&ctx.counters.reconciles);
    let key = watch_key(watch)?;
    let observed = observed(watch);
    let mut previous = match previous_status(watch, ctx, &key).await? {
        Previous::Status(status) => status,
        Previous::Stale => {
            tracing::debug!(namespace = %key.namespace, name = %key.name, "object gone or re-created; waiting for its events");
            return Ok(Action::await_change());
        }
    };

    if previous.is_none() {
        // kstatus reads a resource without status as current: say at once that it is pending.
        let update = status_update(
            watch,
            ctx,
            None,
            PollOutcome::Pending,
            interval_for(watch, ctx),
            None,
        );
        write_status(watch, ctx, &key, &update.status, None).await?;
        previous = Some(update.status);
    }

    if ctx.settings.polling == PollingMode::Batched {
        if let Some(poller) = ctx.poller.get() {
            return reconcile_batched(watch, ctx, &key, observed, previous.as_ref(), &poller).await;
        }
    }

    let reason = match ctx.scheduler.due(&key, &observed, Instant::now()) {
        Due::NotBefore(wait) => return Ok(Action::requeue(wait)),
        Due::Now(reason) => reason,
    };
    tracing::debug!(
        namespace = %key.namespace,
        name = %key.name,
        generation = observed.generation.unwrap_or_default(),
        trigger = reason.as_str(),
        "poll due"
    );

    let ReadyToPoll {
        spec: validated,
        scope,
        credentials,
        ..
    } = match prepare(watch, ctx, &key).await? {
        Prepared::Unpolled(unpolled) => {
            return finish_unpolled(watch, ctx, &key, previous.as_ref(), observed, unpolled).await;
        }
        Prepared::Ready(ready) => *ready,
    };
    let outcome = poll(watch, ctx, &key, &validated, &scope, &credentials).await;
    let failed = !matches!(outcome, PollOutcome::Success(_));
    let retry_after = match &outcome {
        PollOutcome::Failed(failure) => failure.retry_after,
        _ => None,
    };
    finish(
        watch,
        ctx,
        &key,
        previous.as_ref(),
        outcome,
        validated.interval,
        None,
    )
    .await?;
    let now = Instant::now();
    let delay = if failed {
        ctx.scheduler
            .record_failure(&key, observed, validated.interval, retry_after, now)
    } else {
        ctx.scheduler
            .record_success(&key, observed, validated.interval, now)
    };
    tracing::debug!(namespace = %key.namespace, name = %key.name, delay_ms = delay.as_millis() as u64, failed, "next poll scheduled");
    Ok(Action::requeue(delay))
}

/// One HSS call per watch ([`PollingMode::PerWatch`]).
async fn poll(
    watch: &HostRiskWatch,
    ctx: &Context,
    key: &WatchKey,
    spec: &ValidatedSpec,
    scope: &Scope,
    credentials: &Credentials,
) -> PollOutcome {
    // Only a closed semaphore fails, and Context never closes it.
    let _permit = ctx.poll_permits.acquire().await.ok();
    Counters::inc(&ctx.counters.polls);
    let started = Instant::now();
    match ctx
        .hss
        .list_hosts_risk(scope, credentials, &spec.host_ids)
        .await
    {
        Ok(result) => {
            tracing::info!(
                namespace = %key.namespace,
                name = %key.name,
                generation = watch.meta().generation.unwrap_or_default(),
                hosts = spec.host_ids.len(),
                found = result.hosts.len(),
                request_id = result.request_ids.last().map(String::as_str).unwrap_or_default(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "polled HSS"
            );
            PollOutcome::Success(result)
        }
        Err(error) => failure_outcome(ctx, key, &error),
    }
}

pub(super) fn failure_outcome(ctx: &Context, key: &WatchKey, error: &HssError) -> PollOutcome {
    Counters::inc(&ctx.counters.poll_failures);
    tracing::warn!(
        namespace = %key.namespace,
        name = %key.name,
        reason = error.reason(),
        request_id = error.request_id().unwrap_or_default(),
        %error,
        "HSS poll failed"
    );
    PollOutcome::Failed(PollFailure::from(error))
}

fn status_update(
    watch: &HostRiskWatch,
    ctx: &Context,
    previous: Option<&HostRiskWatchStatus>,
    outcome: PollOutcome,
    interval: Duration,
    achieved: Option<Duration>,
) -> crate::status::StatusUpdate {
    compute_status_with_quota(
        StatusInput {
            spec: &watch.spec,
            generation: watch.meta().generation,
            previous,
            outcome,
            now: jiff::Timestamp::now(),
            heartbeat: ctx.settings.status_heartbeat,
            effective_interval: interval,
        },
        achieved,
    )
}

/// Computes the new status, writes it if needed, then publishes the transition Events.
/// `achieved` is the interval the shared poller measured for the watch, if any.
pub(super) async fn finish(
    watch: &HostRiskWatch,
    ctx: &Context,
    key: &WatchKey,
    previous: Option<&HostRiskWatchStatus>,
    outcome: PollOutcome,
    interval: Duration,
    achieved: Option<Duration>,
) -> Result<(), ReconcileError> {
    let success = matches!(outcome, PollOutcome::Success(_));
    let update = status_update(watch, ctx, previous, outcome, interval, achieved);
    if !update.needs_write {
        ctx.metrics.record_status_write(false);
    }
    if update.needs_write {
        write_status(watch, ctx, key, &update.status, previous).await?;
    }
    if success {
        if let Some(summary) = &update.status.summary {
            ctx.metrics.set_watch_gauges(
                &key.namespace,
                &key.name,
                &watch_snapshot(summary, &update.status.hosts),
            );
        }
    }
    if !update.events.is_empty() {
        let regarding = watch.object_ref(&());
        publish_events(
            &ctx.client,
            &ctx.reporter(),
            &regarding,
            &update.events,
            &ctx.counters,
        )
        .await;
    }
    Ok(())
}

/// The error policy given to `Controller::run`: back off exponentially with jitter, capped at the
/// interval, and never stop retrying.
pub fn error_policy(
    watch: Arc<HostRiskWatch>,
    error: &ReconcileError,
    ctx: Arc<Context>,
) -> Action {
    Counters::inc(&ctx.counters.reconcile_errors);
    let Ok(key) = watch_key(&watch) else {
        tracing::error!(%error, "cannot reconcile");
        return Action::requeue(ctx.settings.policy.default_interval);
    };
    let delay = ctx.scheduler.record_failure(
        &key,
        observed(&watch),
        interval_for(&watch, &ctx),
        None,
        Instant::now(),
    );
    tracing::warn!(
        namespace = %key.namespace,
        name = %key.name,
        reason = error.metric_label(),
        %error,
        retry_in_ms = delay.as_millis() as u64,
        "reconcile failed"
    );
    Action::requeue(delay)
}
