//! The per-watch metric snapshot of a status (`hostrisk_watch_*` gauges); it lives with the
//! metrics, which also seed it from stored statuses.

pub use crate::metrics::watch_snapshot;
