//! The conformance rows (tests/conformance) against the stand-in: one stand-in per module, its
//! rows in order (tests/real_apiserver_conformance.rs runs the same rows on a real server).

use crate::conformance::{self, Cluster, Row};
use crate::support::*;

struct Standin {
    server: StandinApiServer,
    admin: Client,
}

impl Cluster for Standin {
    fn admin(&self) -> Client {
        self.admin.clone()
    }

    fn is_real(&self) -> bool {
        false
    }

    fn service_account_client<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> futures::future::LocalBoxFuture<'a, Client> {
        Box::pin(async move {
            self.server
                .service_account_client(namespace, name)
                .await
                .unwrap()
        })
    }
}

async fn run(rows: &[Row]) {
    let (server, admin) = server().await;
    // Like every real server: RBAC on, the admin in system:masters.
    server.enable_rbac();
    let cluster = Standin { server, admin };
    conformance::run_all(&cluster, rows).await;
}

#[tokio::test]
async fn validation_rows() {
    run(conformance::validation::ROWS).await;
}

#[tokio::test]
async fn ssa_rows() {
    run(conformance::ssa::ROWS).await;
}

#[tokio::test]
async fn node_rows() {
    run(conformance::nodes::ROWS).await;
}

#[tokio::test]
async fn rbac_rows() {
    run(conformance::rbac::ROWS).await;
}

#[tokio::test]
async fn gc_rows() {
    run(conformance::gc::ROWS).await;
}

#[tokio::test]
async fn discovery_rows() {
    run(conformance::discovery::ROWS).await;
}

#[tokio::test]
async fn schema_keywords_rows() {
    run(conformance::schema_keywords::ROWS).await;
}

#[tokio::test]
async fn node_ownership_rows() {
    run(conformance::node_ownership::ROWS).await;
}

#[tokio::test]
async fn hostriskwatch_schema_rows() {
    run(conformance::hostriskwatch_schema::ROWS).await;
}
