//! The conformance rows (tests/conformance) against a real kube-apiserver + etcd (crates/envtest:
//! one SKIP line per test without `KUBEBUILDER_ASSETS`, must pass with it): the same assertions
//! the stand-in passes in tests/kube_standin, so a difference between the two fails here.

#[path = "conformance/mod.rs"]
mod conformance;

use conformance::{Cluster, Row};
use hostrisk_envtest::{ControlPlane, Options};

struct Real {
    plane: ControlPlane,
}

impl Cluster for Real {
    fn admin(&self) -> kube::Client {
        self.plane.client()
    }

    fn is_real(&self) -> bool {
        true
    }

    fn service_account_client<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> futures::future::LocalBoxFuture<'a, kube::Client> {
        Box::pin(async move {
            let token = self
                .plane
                .service_account_token(namespace, name, &[], 3600)
                .await
                .unwrap();
            self.plane.client_for_token(&token).await.unwrap()
        })
    }
}

async fn run(test: &str, rows: &[Row]) {
    let plane = match ControlPlane::start_from_env(test, Options::default()).await {
        Ok(Some(plane)) => plane,
        Ok(None) => return,
        Err(error) => {
            panic!("KUBEBUILDER_ASSETS is set but the control plane did not start: {error}")
        }
    };
    let cluster = Real { plane };
    conformance::run_all(&cluster, rows).await;
    cluster.plane.stop().await;
}

#[tokio::test]
async fn validation_rows() {
    run("validation_rows", conformance::validation::ROWS).await;
}

#[tokio::test]
async fn ssa_rows() {
    run("ssa_rows", conformance::ssa::ROWS).await;
}

#[tokio::test]
async fn node_rows() {
    run("node_rows", conformance::nodes::ROWS).await;
}

#[tokio::test]
async fn rbac_rows() {
    run("rbac_rows", conformance::rbac::ROWS).await;
}

#[tokio::test]
async fn gc_rows() {
    run("gc_rows", conformance::gc::ROWS).await;
}

#[tokio::test]
async fn discovery_rows() {
    run("discovery_rows", conformance::discovery::ROWS).await;
}

#[tokio::test]
async fn schema_keywords_rows() {
    run("schema_keywords_rows", conformance::schema_keywords::ROWS).await;
}

#[tokio::test]
async fn node_ownership_rows() {
    run("node_ownership_rows", conformance::node_ownership::ROWS).await;
}

#[tokio::test]
async fn hostriskwatch_schema_rows() {
    run(
        "hostriskwatch_schema_rows",
        conformance::hostriskwatch_schema::ROWS,
    )
    .await;
}
