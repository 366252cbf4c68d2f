//! Shared set-up of the stand-in tests: a server with its admin client, the `Widget` custom
//! resource, small object builders, and the imports every module uses.

pub use std::net::SocketAddr;
pub use std::time::Duration;

pub use futures::{StreamExt, TryStreamExt};
pub use hostrisk_sim::kube::StandinApiServer;
pub use k8s_openapi::api::coordination::v1::Lease;
pub use k8s_openapi::api::core::v1::{ObjectReference, Secret};
pub use k8s_openapi::api::events::v1::Event as K8sEvent;
pub use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
pub use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
pub use kube::core::PartialObjectMeta;
pub use kube::runtime::events::{Event, EventType, Recorder, Reporter};
pub use kube::runtime::watcher;
pub use kube::{Client, CustomResource, CustomResourceExt, ResourceExt};
pub use schemars::JsonSchema;
pub use serde::{Deserialize, Serialize};
pub use serde_json::json;

#[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[kube(
    group = "test.standin.io",
    version = "v1",
    kind = "Widget",
    namespaced,
    status = "WidgetStatus"
)]
pub struct WidgetSpec {
    pub size: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
pub struct WidgetStatus {
    pub ready: bool,
}

pub const TIMEOUT: Duration = Duration::from_secs(10);

pub async fn server() -> (StandinApiServer, Client) {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = StandinApiServer::start(addr).await.unwrap();
    let client = server.client().await.unwrap();
    (server, client)
}

pub async fn with_widgets() -> (StandinApiServer, Client, Api<Widget>) {
    let (server, client) = server().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &Widget::crd())
        .await
        .unwrap();
    let widgets = Api::namespaced(client.clone(), "default");
    (server, client, widgets)
}

pub fn widget(name: &str, size: i64) -> Widget {
    Widget::new(name, WidgetSpec { size })
}

pub fn secret(name: &str, labels: &[(&str, &str)]) -> Secret {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels.iter().cloned().collect::<std::collections::BTreeMap<_, _>>()},
        "stringData": {"token": "abc"},
    }))
    .unwrap()
}
