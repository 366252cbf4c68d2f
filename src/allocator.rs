//! How the C allocator holds this process's memory: [`tune`] it first thing in `main`, before
//! the async runtime starts its threads ([`run_tuned`] does both).
//!
//! The operator holds many small long-lived objects (host records and ids, metric series) and,
//! now and then, a few large short-lived buffers (a page of the watch list, an HSS answer, a
//! status patch). glibc's malloc, in a glibc build, gives every thread that allocates an arena of
//! its own (up to eight per core) and raises its mmap threshold to the largest block freed so
//! far, so megabyte buffers come to lie among long-lived objects in several arenas whose pages
//! cannot be given back: some 10 MiB held for nothing at 1,000 watches × 100 hosts. One arena
//! and a fixed threshold (glibc's default, 128 KiB) make it hold memory the way the allocator of
//! the static musl image does: one heap, large blocks mapped apart and unmapped when freed.
//! Other builds are left as they are.

use std::future::Future;
use std::process::ExitCode;

/// Sets the allocator up for a long-running controller (see the module's documentation).
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const MMAP_THRESHOLD: libc::c_int = 128 * 1024;
        // SAFETY: `mallopt` only sets parameters of glibc's allocator, which it synchronizes
        // itself; the values are within the documented ranges.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        }
    }
}

/// Tunes the allocator, then runs `main` to its end on a multi-threaded async runtime: the
/// body of both binaries' `main`.
pub fn run_tuned<F>(main: impl FnOnce() -> F) -> ExitCode
where
    F: Future<Output = ExitCode>,
{
    tune();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(main()),
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            ExitCode::FAILURE
        }
    }
}
