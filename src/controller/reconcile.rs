//! One reconcile of a `HostRiskWatch`: first status, spec validation, suspend, credentials, the
//! HSS poll, the pure status computation, the status write (only when needed), the Events, and
//! when to come back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};

use super::context::Context;
use super::credentials::{load_credentials, EndpointSource, SecretReadError};
use super::events::publish_events;
use super::health::Counters;
use super::schedule::{Due, Observed, WatchKey};
use super::status_write::write_status;
use crate::crd::validation::{condition_reason, describe, validate_spec, ValidatedSpec};
use crate::crd::{HostRiskWatch, HostRiskWatchStatus, REFRESH_ANNOTATION};
use crate::hss::{HssError, Scope};
use crate::status::{compute_status, PollFailure, PollOutcome, StatusInput};

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
    #[error("serializing status: {0}")]
    Serialize(#[from] serde_json::Error),
    #[error(transparent)]
    SecretRead(#[from] SecretReadError),
}

impl ReconcileError {
    /// Short label for logs and metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::MissingNamespace => "missing_namespace",
            Self::StatusWrite { .. } => "status_write",
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
    Counters::inc(&ctx.counters.reconciles);
    let key = watch_key(&watch)?;
    let observed = observed(&watch);
    let mut previous = ctx
        .written
        .previous(&key, watch.uid().as_deref(), watch.status.as_ref());

    if previous.is_none() {
        // kstatus reads a resource without status as current: say at once that it is pending.
        let update = status_update(
            &watch,
            &ctx,
            None,
            PollOutcome::Pending,
            interval_for(&watch, &ctx),
        );
        write_status(&watch, &ctx, &key, &update.status, None).await?;
        previous = Some(update.status);
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

    let validated = match validate_spec(&watch.spec, &ctx.settings.policy) {
        Ok(validated) => validated,
        Err(errors) => {
            let message = describe(&errors);
            let outcome = match condition_reason(&errors) {
                "EndpointNotAllowed" => PollOutcome::EndpointNotAllowed(message),
                _ => PollOutcome::InvalidSpec(message),
            };
            let recheck = ctx.settings.policy.default_interval;
            finish(&watch, &ctx, &key, previous.as_ref(), outcome, recheck).await?;
            ctx.scheduler
                .record_idle(&key, observed, recheck, Instant::now());
            return Ok(Action::requeue(recheck));
        }
    };
    if validated.suspend {
        finish(
            &watch,
            &ctx,
            &key,
            previous.as_ref(),
            PollOutcome::Suspended,
            validated.interval,
        )
        .await?;
        // Resumes when the spec changes (generation) or the refresh annotation changes.
        ctx.scheduler.record_idle(
            &key,
            observed,
            ctx.settings.policy.default_interval,
            Instant::now(),
        );
        return Ok(Action::await_change());
    }

    let outcome = poll(&watch, &ctx, &key, &validated).await?;
    let failed = !matches!(outcome, PollOutcome::Success(_));
    finish(
        &watch,
        &ctx,
        &key,
        previous.as_ref(),
        outcome,
        validated.interval,
    )
    .await?;
    let now = Instant::now();
    let delay = if failed {
        ctx.scheduler
            .record_failure(&key, observed, validated.interval, now)
    } else {
        ctx.scheduler
            .record_success(&key, observed, validated.interval, now)
    };
    tracing::debug!(namespace = %key.namespace, name = %key.name, delay_ms = delay.as_millis() as u64, failed, "next poll scheduled");
    Ok(Action::requeue(delay))
}

/// Resolves credentials and asks HSS. Only a Kubernetes API failure while reading the Secret is
/// an error; everything else is an outcome shown in status.
async fn poll(
    watch: &HostRiskWatch,
    ctx: &Context,
    key: &WatchKey,
    spec: &ValidatedSpec,
) -> Result<PollOutcome, ReconcileError> {
    let endpoint_source = match spec.region.as_deref() {
        Some(region) => EndpointSource::Region(region),
        None => EndpointSource::Explicit,
    };
    let loaded = load_credentials(
        &ctx.client,
        &key.namespace,
        &spec.secret_name,
        endpoint_source,
    )
    .await?;
    ctx.scheduler
        .record_secret_used(key, loaded.resource_version);
    let credentials = match loaded.credentials {
        Ok(credentials) => credentials,
        Err(problem) => {
            Counters::inc(&ctx.counters.poll_failures);
            tracing::warn!(
                namespace = %key.namespace,
                name = %key.name,
                reason = problem.reason,
                message = %problem.message,
                "credentials problem"
            );
            return Ok(PollOutcome::CredentialsProblem {
                reason: problem.reason,
                message: problem.message,
            });
        }
    };
    let scope = match Scope::for_endpoint(
        spec.endpoint.clone(),
        spec.project_id.clone(),
        spec.enterprise_project_id.clone(),
    ) {
        Ok(scope) => scope,
        Err(error) => return Ok(failure_outcome(ctx, key, &error)),
    };
    // Only a closed semaphore fails, and Context never closes it.
    let _permit = ctx.poll_permits.acquire().await.ok();
    Counters::inc(&ctx.counters.polls);
    let started = Instant::now();
    match ctx
        .hss
        .list_hosts_risk(&scope, &credentials, &spec.host_ids)
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
            Ok(PollOutcome::Success(result))
        }
        Err(error) => Ok(failure_outcome(ctx, key, &error)),
    }
}

fn failure_outcome(ctx: &Context, key: &WatchKey, error: &HssError) -> PollOutcome {
    Counters::inc(&ctx.counters.poll_failures);
    tracing::warn!(
        namespace = %key.namespace,
        name = %key.name,
        reason = error.reason(),
        request_id = error.request_id().unwrap_or_default(),
        %error,
        "HSS poll failed"
    );
    PollOutcome::Failed(PollFailure {
        reason: error.reason(),
        message: error.to_string(),
        request_id: error.request_id().map(str::to_string),
        auth_failure: error.is_authentication() || matches!(error, HssError::Forbidden { .. }),
    })
}

fn status_update(
    watch: &HostRiskWatch,
    ctx: &Context,
    previous: Option<&HostRiskWatchStatus>,
    outcome: PollOutcome,
    interval: Duration,
) -> crate::status::StatusUpdate {
    compute_status(StatusInput {
        spec: &watch.spec,
        generation: watch.meta().generation,
        previous,
        outcome,
        now: jiff::Timestamp::now(),
        heartbeat: ctx.settings.status_heartbeat,
        effective_interval: interval,
    })
}

/// Computes the new status, writes it if needed, then publishes the transition Events.
async fn finish(
    watch: &HostRiskWatch,
    ctx: &Context,
    key: &WatchKey,
    previous: Option<&HostRiskWatchStatus>,
    outcome: PollOutcome,
    interval: Duration,
) -> Result<(), ReconcileError> {
    let update = status_update(watch, ctx, previous, outcome, interval);
    if update.needs_write {
        write_status(watch, ctx, key, &update.status, previous).await?;
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
