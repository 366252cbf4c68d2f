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

async fn run(_module: &str, rows: &[Row]) {
    let (server, admin) = server().await;
    // Like every real server: RBAC on, the admin in system:masters.
    server.enable_rbac();
    let cluster = Standin { server, admin };
    conformance::run_all(&cluster, rows).await;
}

crate::row_tests!(run; validation, hostriskwatch_schema, schema_keywords, ssa, nodes, node_ownership, rbac, gc, discovery);
