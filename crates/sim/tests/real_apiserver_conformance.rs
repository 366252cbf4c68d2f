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

row_tests!(run; validation, hostriskwatch_schema, schema_keywords, ssa, nodes, node_ownership, rbac, gc, discovery);
