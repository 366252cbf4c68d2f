//! What the report output watches while the controllers run: the report kind's CRD by name (so
//! a CRD installed later is picked up at once, and an idle operator sends nothing), and, while
//! it is served, the operator's own reports as metadata (so a restarted operator does not
//! rewrite what is stored, and a report deleted by hand comes back). At start it also removes
//! the reports of the formats it does not write, when told to.

use std::collections::HashSet;
use std::sync::Arc;

use futures::stream::StreamExt;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, DynamicObject, ListParams, Preconditions};
use kube::core::PartialObjectMeta;
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, ResourceExt};
use tokio_util::sync::CancellationToken;

use super::stored::{CrdState, ReportKey};
use super::Shared;
use crate::crd::{HostRiskWatch, WatchKey};
use crate::reports::digest::from_hex;
use crate::reports::names::{managed_selector, DIGEST_ANNOTATION};
use crate::reports::ReportFormat;

/// Reports per page of the lists (metadata only: a few hundred bytes each).
const LIST_PAGE_SIZE: u32 = 500;

/// Whether `crd` serves `format`'s version (and is established).
fn serves(crd: &CustomResourceDefinition, format: ReportFormat) -> CrdState {
    let established = crd
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
        });
    let served = crd
        .spec
        .versions
        .iter()
        .any(|v| v.name == format.version() && v.served);
    if established && served && crd.metadata.deletion_timestamp.is_none() {
        CrdState::Served
    } else {
        CrdState::Missing
    }
}

/// Follows the CRD of `format` by name until `shutdown`.
pub async fn watch_crd(
    shared: Arc<Shared>,
    client: kube::Client,
    format: ReportFormat,
    shutdown: CancellationToken,
) {
    let name = format.crd_name();
    let api: Api<CustomResourceDefinition> = Api::all(client);
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut events = watcher(api, config).default_backoff().boxed();
    let mut seen = false;
    loop {
        let event = tokio::select! {
            () = shutdown.cancelled() => return,
            event = events.next() => match event {
                Some(event) => event,
                None => return,
            },
        };
        let state = match event {
            Ok(watcher::Event::Init) => {
                seen = false;
                continue;
            }
            Ok(watcher::Event::InitApply(crd) | watcher::Event::Apply(crd)) => {
                seen = true;
                serves(&crd, format)
            }
            Ok(watcher::Event::InitDone) if seen => continue,
            Ok(watcher::Event::InitDone | watcher::Event::Delete(_)) => CrdState::Missing,
            Err(error) => match crate::controller::error::watcher_forbidden(&error) {
                // A known state stays: the CRD did not go away because it cannot be read.
                Some(message) if shared.stored.crd() == CrdState::Unknown => {
                    tracing::warn!(crd = %name, %message, "cannot watch the policy-report CRD; writing reports anyway (grant list/watch on it to pick up a CRD installed later)");
                    CrdState::Unreadable(message.to_string())
                }
                _ => {
                    tracing::warn!(crd = %name, %error, "policy-report CRD watch failed; retrying");
                    continue;
                }
            },
        };
        if shared.stored.set_crd(state.clone()) {
            tracing::info!(crd = %name, state = ?state, "policy-report API");
            shared.wake_all(true);
        }
    }
}

/// Follows the operator's reports of `format` in `scope` (metadata only), while the CRD is
/// served, until `shutdown`.
pub async fn index_reports(
    shared: Arc<Shared>,
    client: kube::Client,
    format: ReportFormat,
    scope: Option<String>,
    shutdown: CancellationToken,
) {
    let resource = format.api_resource();
    let mut crd = shared.stored.crd_changes();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            ready = crd.wait_for(CrdState::writable) => if ready.is_err() { return },
        }
        let api: Api<PartialObjectMeta<DynamicObject>> = match &scope {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
            None => Api::all_with(client.clone(), &resource),
        };
        let config = watcher::Config::default()
            .labels(&managed_selector())
            .page_size(LIST_PAGE_SIZE);
        let mut events = watcher(api, config).default_backoff().boxed();
        let mut seen = HashSet::new();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                changed = crd.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    if !crd.borrow_and_update().writable() {
                        shared.stored.cleared(scope.as_deref());
                        break;
                    }
                }
                event = events.next() => {
                    let Some(event) = event else { return };
                    handle(&shared, scope.as_deref(), &mut seen, event);
                }
            }
        }
    }
}

fn report_key(report: &PartialObjectMeta<DynamicObject>) -> ReportKey {
    ReportKey {
        namespace: report.namespace().unwrap_or_default(),
        name: report.name_any(),
    }
}

fn digest(report: &PartialObjectMeta<DynamicObject>) -> Option<u64> {
    report
        .annotations()
        .get(DIGEST_ANNOTATION)
        .and_then(|text| from_hex(text))
}

/// The watch that owns `report`.
fn owner(report: &PartialObjectMeta<DynamicObject>) -> Option<WatchKey> {
    use kube::Resource;
    let kind = HostRiskWatch::kind(&());
    report
        .owner_references()
        .iter()
        .find(|o| o.controller == Some(true) && o.kind == kind)
        .map(|o| WatchKey::new(report.namespace().unwrap_or_default(), o.name.clone()))
}

fn handle(
    shared: &Shared,
    scope: Option<&str>,
    seen: &mut HashSet<ReportKey>,
    event: Result<watcher::Event<PartialObjectMeta<DynamicObject>>, watcher::Error>,
) {
    match event {
        Ok(watcher::Event::Init) => seen.clear(),
        Ok(watcher::Event::InitApply(report)) => {
            let key = report_key(&report);
            shared.stored.stored(key.clone(), digest(&report));
            seen.insert(key);
        }
        Ok(watcher::Event::InitDone) => {
            let first = shared.stored.listed(scope, seen);
            tracing::debug!(
                scope = scope.unwrap_or("all namespaces"),
                reports = seen.len(),
                "policy reports listed"
            );
            seen.clear();
            if first {
                shared.wake_all(true);
            }
        }
        Ok(watcher::Event::Apply(report)) => {
            shared.stored.stored(report_key(&report), digest(&report));
        }
        Ok(watcher::Event::Delete(report)) => {
            shared.stored.removed(&report_key(&report));
            // Deleted by someone else (or with its watch): a watch still held writes it again.
            if let Some(watch) = owner(&report) {
                shared.wake(&watch);
            }
        }
        Err(error) => match crate::controller::error::watcher_forbidden(&error) {
            Some(message) => {
                tracing::warn!(scope = scope.unwrap_or("all namespaces"), %message, "cannot list the operator's policy reports; comparing with its own writes only");
                if shared.stored.unusable(scope, message) {
                    shared.wake_all(true);
                }
            }
            None => {
                tracing::warn!(scope = scope.unwrap_or("all namespaces"), %error, "policy-report watch failed; retrying")
            }
        },
    }
}

/// Removes every report of `format` this operator wrote in `scopes`; a kind that is not
/// installed has none. Refusals are logged with the command that does it by hand.
pub async fn remove_reports(
    client: kube::Client,
    format: ReportFormat,
    scopes: Vec<Option<String>>,
) {
    let resource = format.api_resource();
    let by_hand = format!(
        "kubectl delete {} -A -l {}",
        format.crd_name(),
        managed_selector()
    );
    let mut removed = 0usize;
    for scope in scopes {
        let list_api: Api<PartialObjectMeta<DynamicObject>> = match &scope {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
            None => Api::all_with(client.clone(), &resource),
        };
        let mut params = ListParams::default()
            .labels(&managed_selector())
            .limit(LIST_PAGE_SIZE);
        loop {
            let page = match list_api.list(&params).await {
                Ok(page) => page,
                Err(kube::Error::Api(status)) if status.code == 404 => {
                    tracing::debug!(kind = %format, "not installed: no reports to remove");
                    return;
                }
                Err(error) => {
                    tracing::warn!(kind = %format, %error, command = %by_hand, "cannot list the reports of a format the operator no longer writes; remove them by hand");
                    return;
                }
            };
            for report in &page.items {
                let namespace = report.namespace().unwrap_or_default();
                let api: Api<DynamicObject> =
                    Api::namespaced_with(client.clone(), &namespace, &resource);
                let params = DeleteParams {
                    preconditions: Some(Preconditions {
                        uid: report.uid(),
                        resource_version: None,
                    }),
                    ..DeleteParams::default()
                };
                match api.delete(&report.name_any(), &params).await {
                    Ok(_) => removed += 1,
                    Err(kube::Error::Api(status)) if matches!(status.code, 404 | 409) => {}
                    Err(error) => {
                        tracing::warn!(kind = %format, %error, command = %by_hand, "cannot remove a report of a format the operator no longer writes; remove them by hand");
                        return;
                    }
                }
            }
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(token) => params.continue_token = Some(token),
                None => break,
            }
        }
    }
    tracing::info!(kind = %format, removed, "removed the reports of a format the operator no longer writes");
}
