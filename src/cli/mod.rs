//! Subcommands of the `hostrisk-operator` binary.

pub mod simulate;
