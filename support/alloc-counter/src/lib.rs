//! A counting global allocator for benchmarks and allocation tests.
//!
//! Install it in a bench or test binary and measure a closure:
//!
//! ```
//! use alloc_counter::{CountingAllocator, measure};
//!
//! #[global_allocator]
//! static ALLOC: CountingAllocator = CountingAllocator;
//!
//! fn main() {
//!     let (stats, v) = measure(|| vec![1u8; 16]);
//!     assert_eq!(stats.allocs, 1);
//!     assert_eq!(stats.bytes, 16);
//!     assert_eq!(v.len(), 16);
//! }
//! ```
//!
//! Counts are kept twice: per thread (what [`measure`] reports, so parallel tests do not
//! disturb each other) and process-wide (what [`global`] reports, so work done on exporter
//! threads is counted too when a benchmark asks for it).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The allocator: [`System`] plus counters. Install with `#[global_allocator]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAllocator;

thread_local! {
    // `const` initialisation and no destructor: safe to touch from inside the allocator.
    static THREAD_ALLOCS: Cell<u64> = const { Cell::new(0) };
    static THREAD_BYTES: Cell<u64> = const { Cell::new(0) };
}
static GLOBAL_ALLOCS: AtomicU64 = AtomicU64::new(0);
static GLOBAL_BYTES: AtomicU64 = AtomicU64::new(0);

#[inline]
fn record(size: usize) {
    let _ = THREAD_ALLOCS.try_with(|c| c.set(c.get() + 1));
    let _ = THREAD_BYTES.try_with(|c| c.set(c.get() + size as u64));
    GLOBAL_ALLOCS.fetch_add(1, Relaxed);
    GLOBAL_BYTES.fetch_add(size as u64, Relaxed);
}

#[allow(unsafe_code)]
// SAFETY: every method forwards to `System` unchanged; the counters do not allocate.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A reallocation is counted as one allocation of the new size.
        record(new_size);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocation counts over some span of work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Number of allocations (a `realloc` counts as one).
    pub allocs: u64,
    /// Bytes requested by those allocations.
    pub bytes: u64,
}

impl Stats {
    /// Per-iteration figures, for `iters` runs of the same work.
    pub fn per(self, iters: u64) -> (f64, f64) {
        let n = iters.max(1) as f64;
        (self.allocs as f64 / n, self.bytes as f64 / n)
    }
}

/// This thread's counters since it started.
pub fn thread() -> Stats {
    Stats {
        allocs: THREAD_ALLOCS.with(Cell::get),
        bytes: THREAD_BYTES.with(Cell::get),
    }
}

/// The process-wide counters since it started (all threads).
pub fn global() -> Stats {
    Stats {
        allocs: GLOBAL_ALLOCS.load(Relaxed),
        bytes: GLOBAL_BYTES.load(Relaxed),
    }
}

/// Runs `f` and returns the allocations it made on this thread, with its result.
///
/// The result is returned (not dropped inside) so its own allocations are counted but its
/// deallocation is not part of the measurement.
pub fn measure<R>(f: impl FnOnce() -> R) -> (Stats, R) {
    let before = thread();
    let r = f();
    let after = thread();
    (
        Stats {
            allocs: after.allocs - before.allocs,
            bytes: after.bytes - before.bytes,
        },
        r,
    )
}
