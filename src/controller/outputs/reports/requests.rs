//! The report output's requests: server-side apply of a report with the operator's field
//! manager, its deletion, and what a refusal means.

use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams};
use kube::Api;

use crate::controller::settings::CONTROLLER_NAME;
use crate::reports::{PolicyReport, ReportFormat};
use crate::status::Reason;

use super::watches::Outcome;

/// Applies `report` (its namespace and name are in its metadata). Forced: the report is the
/// operator's, a field another manager took is taken back.
pub async fn apply(
    client: &kube::Client,
    format: ReportFormat,
    report: &PolicyReport,
) -> Result<(), kube::Error> {
    let namespace = report.metadata.namespace.as_deref().unwrap_or_default();
    let name = report.metadata.name.as_deref().unwrap_or_default();
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), namespace, &format.api_resource());
    let params = PatchParams::apply(CONTROLLER_NAME).force();
    api.patch(name, &params, &Patch::Apply(report)).await?;
    Ok(())
}

/// Deletes a report; `Ok(false)` when there was none (or no such kind).
pub async fn delete(
    client: &kube::Client,
    format: ReportFormat,
    namespace: &str,
    name: &str,
) -> Result<bool, kube::Error> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), namespace, &format.api_resource());
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
        Err(error) => Err(error),
    }
}

/// What a failed request means for the watch's report.
pub enum Failure {
    /// Shown in the condition; the same content is not tried again until something changes.
    Final(Outcome),
    /// Shown in the condition, and the reconcile fails so that it is retried with backoff
    /// (conflicts, throttling, server errors, no answer).
    Retry(Outcome),
}

/// What `error` of a request on `what` (`Report ns/name`) means.
pub fn classify(error: &kube::Error, what: &str, verb: &str) -> Failure {
    let failed = |reason, message: String| Outcome::Failed {
        reason,
        message: message.into_boxed_str(),
    };
    let kube::Error::Api(status) = error else {
        return Failure::Retry(failed(
            Reason::WriteFailed,
            format!("could not {verb} {what}: {error}"),
        ));
    };
    match status.code {
        403 => Failure::Final(failed(
            Reason::Forbidden,
            format!(
                "the API server refused to {verb} {what}: {}; grant the operator list, watch, \
                 create, patch and delete on this kind (the chart does with policyReports.format)",
                status.message
            ),
        )),
        404 => Failure::Final(Outcome::NotInstalled),
        400 | 422 => Failure::Final(failed(
            Reason::WriteFailed,
            format!("the API server refused {what}: {}", status.message),
        )),
        _ => Failure::Retry(failed(
            Reason::WriteFailed,
            format!(
                "could not {verb} {what}: {} ({})",
                status.message, status.code
            ),
        )),
    }
}
