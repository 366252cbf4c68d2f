//! Behaviour rows run unchanged against the stand-in API server (tests/kube_standin) and a real
//! kube-apiserver (tests/real_apiserver_conformance.rs, with `KUBEBUILDER_ASSETS`): each row
//! is an async function of a [`Cluster`], asserting what a real server answers, so the
//! stand-in's fidelity is itself checked wherever the real binaries exist.
#![allow(dead_code)]

pub mod discovery;
pub mod gc;
pub mod hostriskwatch_schema;
pub mod node_ownership;
pub mod nodes;
pub mod rbac;
pub mod schema_keywords;
pub mod ssa;
pub mod support;
pub mod validation;

use futures::future::LocalBoxFuture;

/// A cluster a row runs against.
pub trait Cluster: Sync {
    /// A client with every permission (system:masters).
    fn admin(&self) -> kube::Client;
    /// `true` for a real kube-apiserver.
    fn is_real(&self) -> bool;
    /// A client acting as ServiceAccount `namespace/name` (which must exist), authorized by
    /// RBAC.
    fn service_account_client<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> LocalBoxFuture<'a, kube::Client>;
}

/// One row: its name and how to run it.
pub type Row = (&'static str, fn(&dyn Cluster) -> LocalBoxFuture<'_, ()>);

/// `rows![a, b]`: the rows named by async functions `fn(&dyn Cluster)`.
#[macro_export]
macro_rules! rows {
    ($($name:ident),* $(,)?) => {
        &[$((stringify!($name), {
            fn run(c: &dyn $crate::conformance::Cluster) -> futures::future::LocalBoxFuture<'_, ()> {
                Box::pin($name(c))
            }
            run as fn(&dyn $crate::conformance::Cluster) -> futures::future::LocalBoxFuture<'_, ()>
        })),*]
    };
}

/// `row_tests!(run; validation, ssa)`: one `#[tokio::test]` per module of rows, named after
/// it, calling `run("<module>", <module>::ROWS)`.
#[macro_export]
macro_rules! row_tests {
    ($run:ident; $($module:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $module() {
                $run(stringify!($module), $crate::conformance::$module::ROWS).await;
            }
        )*
    };
}

/// Runs every row in order against one cluster, printing each name (so a failure says which).
pub async fn run_all(cluster: &dyn Cluster, rows: &[Row]) {
    for (name, row) in rows {
        eprintln!("row {name}");
        row(cluster).await;
    }
}
