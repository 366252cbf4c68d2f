//! The fault matrix of issue 6: every row runs the real controller (real `kube::Client` against
//! the stand-in API server, real `HssClient` against the HSS simulator), injects one fault, and
//! asserts the same five things:
//! 1. the operator keeps running (its task neither ends nor panics);
//! 2. the last good host data stays in status;
//! 3. a condition says what is wrong (with the HSS request id when HSS answered);
//! 4. it backs off without hammering: calls in the fault window stay within what the backoff
//!    floor allows (a bound that holds for a per-watch poll and for a shared batched poller);
//! 5. it recovers within one interval (plus the time of one poll) after the fault ends.
//!
//! Intervals are short (2 s; the harness lowers the code-side floor to 1 s) so the whole matrix
//! runs in well under a minute.

#[path = "support/controller_harness/mod.rs"]
mod harness;

#[path = "faults/hss_rows.rs"]
mod hss_rows;

#[path = "faults/secret_rows.rs"]
mod secret_rows;

#[path = "faults/kube_rows.rs"]
mod kube_rows;

#[path = "faults/rows.rs"]
mod rows;
