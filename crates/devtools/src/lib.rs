//! hostrisk-devtools: what developers and evaluators run around the operator, never shipped in
//! its image: the demo (`hostrisk-dev demo`), the scale benchmark (`hostrisk-dev bench`), the HSS
//! simulator as a server (`hostrisk-dev simulate`) and a query against it (`hostrisk-dev query`).
//! The operator itself is the `hostrisk-operator` crate; the stand-ins are `hostrisk-sim`.

pub mod bench;
pub mod cli;
pub mod demo;
