//! The conformance rows (tests/conformance) against the stand-in: one stand-in per module, its
//! rows in order (tests/real_apiserver_conformance.rs runs the same rows on a real server).

use crate::conformance::{self, Cluster, Row};
use crate::support::*;

struct Standin {
    _server: StandinApiServer,
    admin: Client,
}

impl Cluster for Standin {
    fn admin(&self) -> Client {
        self.admin.clone()
    }

    fn is_real(&self) -> bool {
        false
    }
}

async fn run(rows: &[Row]) {
    let (server, admin) = server().await;
    let cluster = Standin {
        _server: server,
        admin,
    };
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
