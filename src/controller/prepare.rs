//! The checks before a poll, shared by both polling modes: spec validation, `suspend`, the
//! credentials Secret and the HSS scope; and the status of a watch that is not polled.

use std::time::{Duration, Instant};

use kube::runtime::controller::Action;

use super::context::Context;
use super::credentials::{load_credentials, EndpointSource};
use super::health::Counters;
use super::reconcile::{failure_outcome, finish, ReconcileError};
use super::schedule::{Observed, WatchKey};
use crate::crd::validation::{condition_reason, describe, validate_spec, ValidatedSpec};
use crate::crd::{HostRiskWatch, HostRiskWatchStatus};
use crate::hss::{Credentials, Scope};
use crate::status::PollOutcome;

/// Why a watch is not polled, with the status outcome to show.
pub(super) enum Unpolled {
    /// The spec is refused (invalid or endpoint not allowed): checked again after `recheck`.
    Refused {
        outcome: PollOutcome,
        recheck: Duration,
    },
    /// `spec.suspend`: resumes when the spec or the refresh annotation changes.
    Suspended { interval: Duration },
    /// The Secret or the scope gives nothing usable: retried with backoff.
    Unusable {
        outcome: PollOutcome,
        interval: Duration,
    },
}

/// The spec, Secret and scope of a watch, checked.
pub(super) enum Prepared {
    Unpolled(Unpolled),
    Ready(Box<ReadyToPoll>),
}

/// What a poll of a watch needs.
pub(super) struct ReadyToPoll {
    pub spec: ValidatedSpec,
    pub scope: Scope,
    pub credentials: Credentials,
    /// `resourceVersion` of the Secret the credentials came from.
    pub secret_version: Option<String>,
}

/// Validates the spec and resolves the credentials and scope. Only a Kubernetes API failure
/// while reading the Secret is an error; everything else is an outcome shown in status.
pub(super) async fn prepare(
    watch: &HostRiskWatch,
    ctx: &Context,
    key: &WatchKey,
) -> Result<Prepared, ReconcileError> {
    let spec = match validate_spec(&watch.spec, &ctx.settings.policy) {
        Ok(validated) => validated,
        Err(errors) => {
            let message = describe(&errors);
            let outcome = match condition_reason(&errors) {
                "EndpointNotAllowed" => PollOutcome::EndpointNotAllowed(message),
                _ => PollOutcome::InvalidSpec(message),
            };
            let recheck = ctx.settings.policy.default_interval;
            return Ok(Prepared::Unpolled(Unpolled::Refused { outcome, recheck }));
        }
    };
    if spec.suspend {
        return Ok(Prepared::Unpolled(Unpolled::Suspended {
            interval: spec.interval,
        }));
    }
    let endpoint_source = match spec.region.as_deref() {
        Some(region) => EndpointSource::Region(region),
        None => EndpointSource::Explicit {
            iam_endpoint: ctx.settings.iam_endpoint.as_ref(),
        },
    };
    let loaded = load_credentials(
        &ctx.client,
        &key.namespace,
        &spec.secret_name,
        endpoint_source,
    )
    .await?;
    ctx.scheduler
        .record_secret_used(key, loaded.resource_version.clone());
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
            return Ok(Prepared::Unpolled(Unpolled::Unusable {
                outcome: PollOutcome::CredentialsProblem {
                    reason: problem.reason,
                    message: problem.message,
                },
                interval: spec.interval,
            }));
        }
    };
    let scope = match Scope::for_endpoint(
        spec.endpoint.clone(),
        spec.project_id.clone(),
        spec.enterprise_project_id.clone(),
    ) {
        Ok(scope) => scope,
        Err(error) => {
            return Ok(Prepared::Unpolled(Unpolled::Unusable {
                outcome: failure_outcome(ctx, key, &error),
                interval: spec.interval,
            }))
        }
    };
    Ok(Prepared::Ready(Box::new(ReadyToPoll {
        spec,
        scope,
        credentials,
        secret_version: loaded.resource_version,
    })))
}

/// Writes what an unpolled watch shows and decides when to look at it again.
pub(super) async fn finish_unpolled(
    watch: &HostRiskWatch,
    ctx: &Context,
    key: &WatchKey,
    previous: Option<&HostRiskWatchStatus>,
    observed: Observed,
    unpolled: Unpolled,
) -> Result<Action, ReconcileError> {
    match unpolled {
        Unpolled::Refused { outcome, recheck } => {
            finish(watch, ctx, key, previous, outcome, recheck, None).await?;
            ctx.scheduler
                .record_idle(key, observed, recheck, Instant::now());
            Ok(Action::requeue(recheck))
        }
        Unpolled::Suspended { interval } => {
            finish(
                watch,
                ctx,
                key,
                previous,
                PollOutcome::Suspended,
                interval,
                None,
            )
            .await?;
            // Resumes when the spec changes (generation) or the refresh annotation changes.
            ctx.scheduler.record_idle(
                key,
                observed,
                ctx.settings.policy.default_interval,
                Instant::now(),
            );
            Ok(Action::await_change())
        }
        Unpolled::Unusable { outcome, interval } => {
            finish(watch, ctx, key, previous, outcome, interval, None).await?;
            let delay = ctx
                .scheduler
                .record_failure(key, observed, interval, None, Instant::now());
            Ok(Action::requeue(delay))
        }
    }
}
