//! Bytes the program holds on the heap, counted by a wrapper around the system allocator that
//! `hostrisk-dev` installs: RSS alone cannot tell live data from memory the allocator keeps
//! mapped after a transient peak, so the bench prints both.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering};

/// `A`, counting live bytes and their peak.
pub struct CountingAllocator<A>(pub A);

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static INSTALLED: AtomicUsize = AtomicUsize::new(0);
static BLOCKS: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    BLOCKS.fetch_add(1, Ordering::Relaxed);
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every method forwards to `A` with the caller's arguments unchanged; the
// counters are plain atomics and never allocate.
unsafe impl<A: GlobalAlloc> GlobalAlloc for CountingAllocator<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        INSTALLED.store(1, Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which `A` shares.
        let ptr = unsafe { self.0.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { self.0.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, i.e. from `A`, with `layout`.
        unsafe { self.0.dealloc(ptr, layout) };
        BLOCKS.fetch_sub(1, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`; `A` honours `realloc`'s contract.
        let new = unsafe { self.0.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            BLOCKS.fetch_sub(1, Ordering::Relaxed);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        new
    }
}

/// Live heap bytes now and their peak since the last [`reset_peak`]; `None` when the binary
/// did not install [`CountingAllocator`] (the counters would read zero).
pub fn heap() -> Option<(u64, u64)> {
    (INSTALLED.load(Ordering::Relaxed) == 1).then(|| {
        (
            LIVE.load(Ordering::Relaxed) as u64,
            PEAK.load(Ordering::Relaxed) as u64,
        )
    })
}

/// Live heap blocks now: each costs the allocator a header or a size-class rounding on top of
/// its bytes, so many small blocks cost more than their bytes say.
pub fn blocks() -> Option<u64> {
    (INSTALLED.load(Ordering::Relaxed) == 1).then(|| BLOCKS.load(Ordering::Relaxed) as u64)
}

/// Starts a new peak from the live bytes now.
pub fn reset_peak() {
    PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    #[test]
    fn not_installed_in_the_test_binary_reads_none() {
        // Unit tests run with the default allocator: the counters must not pretend.
        assert_eq!(super::heap(), None);
    }
}
