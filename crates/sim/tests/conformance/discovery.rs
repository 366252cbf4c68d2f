//! A CRD installed while clients run: discovered and served from then on, its watchers picking
//! it up without a restart; deleted, it stops being served and its watches end.

use std::time::{Duration, Instant};

use futures::StreamExt;
use hostrisk_sim::kube::PolicyReportApi;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::{watcher, WatchStreamExt};
use serde_json::json;

use super::support::{dynamic, install_crds, namespace, object, status};
use super::{Cluster, Row};

/// Every row of this module.
pub const ROWS: &[Row] = crate::rows![a_crd_installed_later_is_discovered_served_and_removed];

async fn discovered(client: &kube::Client, group: &str) -> bool {
    kube::Discovery::new(client.clone())
        .run()
        .await
        .unwrap()
        .groups()
        .any(|g| g.name() == group)
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn a_crd_installed_later_is_discovered_served_and_removed(c: &dyn Cluster) {
    let admin = c.admin();
    let ns = namespace(&admin, "late-crd").await;
    let reports = dynamic(&admin, "openreports.io/v1alpha1", "Report", "reports", &ns);
    assert!(!discovered(&admin, "openreports.io").await);
    assert_eq!(status(reports.get("r").await).code, 404);
    // A watcher started before the CRD exists (as the operator's would) backs off on 404s...
    let (found, mut seen) = tokio::sync::mpsc::unbounded_channel();
    let watching = tokio::spawn(
        watcher(reports.clone(), watcher::Config::default())
            .default_backoff()
            .applied_objects()
            .for_each(move |r| {
                if let Ok(obj) = r {
                    let _ = found.send(obj.metadata.name.unwrap_or_default());
                }
                async {}
            }),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let crd = &PolicyReportApi::OpenReports.crds()[0];
    install_crds(&admin, crd.yaml).await;
    eventually("openreports.io discovered", || {
        discovered(&admin, "openreports.io")
    })
    .await;
    let report = json!({"apiVersion": "openreports.io/v1alpha1", "kind": "Report", "metadata": {"name": "r"}, "results": []});
    reports
        .create(&PostParams::default(), &object(report))
        .await
        .unwrap();
    // ... and sees the report once the CRD is there, without a restart.
    let first = tokio::time::timeout(Duration::from_secs(60), seen.recv())
        .await
        .expect("the watcher picked the new resource up");
    assert_eq!(first.as_deref(), Some("r"));
    watching.abort();
    // Deleting the CRD ends open watches of its resource and stops serving it.
    let rv = reports
        .get("r")
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut raw = reports
        .watch(&WatchParams::default().timeout(60), &rv)
        .await
        .unwrap()
        .boxed();
    let crds: Api<CustomResourceDefinition> = Api::all(admin.clone());
    crds.delete(crd.name, &DeleteParams::default())
        .await
        .unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(event) = raw.next().await {
            if let Ok(WatchEvent::Error(_)) | Err(_) = event {
                break;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the watch ended");
    eventually("CRD gone", || async {
        crds.get_opt(crd.name).await.unwrap().is_none()
    })
    .await;
    eventually("openreports.io no longer discovered", || async {
        !discovered(&admin, "openreports.io").await
    })
    .await;
    assert_eq!(status(reports.get("r").await).code, 404);
}
