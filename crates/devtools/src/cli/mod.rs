//! The subcommands of `hostrisk-dev`: the demo, the scale benchmark, the HSS simulator as a
//! server, and a query against an in-process simulator.

pub mod bench;
pub mod demo;
pub mod query;
pub mod simulate;

pub use hostrisk_operator::cli::exit;
