//! [`CountingAllocator`]: the system allocator, counting every allocation
//! (and reallocation) per process and per thread.
//!
//! A test binary installs it once:
//!
//! ```ignore
//! use framecast_test_support::alloc::{CountingAllocator, allocations_on_this_thread};
//!
//! #[global_allocator]
//! static GLOBAL: CountingAllocator = CountingAllocator;
//!
//! let n = allocations_on_this_thread(|| drop(vec![0u8; 64]));
//! assert!(n >= 1);
//! ```
//!
//! Count on the calling thread ([`allocations_on_this_thread`]) when the
//! work runs there: tests run in parallel, and another test's allocations
//! must not disturb the count. Count the whole process ([`allocations`],
//! before and after) when the work runs on threads of its own (an engine's
//! pipeline), in a test binary that holds that one test.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// Allocations by every thread.
static ALL: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Allocations by this thread. A `const`-initialised `Cell` with no
    /// destructor: reaching it never allocates, even while the thread ends.
    static THIS_THREAD: Cell<u64> = const { Cell::new(0) };
}

fn note() {
    ALL.fetch_add(1, Ordering::Relaxed);
    let _ = THIS_THREAD.try_with(|n| n.set(n.get() + 1));
}

/// The system allocator, counting. Install it with `#[global_allocator]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAllocator;

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counters are the only addition and touch none of the memory.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Allocations (and reallocations) by every thread of the process so far.
/// Meaningful only where [`CountingAllocator`] is the global allocator.
pub fn allocations() -> u64 {
    ALL.load(Ordering::Relaxed)
}

/// Allocations (and reallocations) the calling thread made while running
/// `f`. Meaningful only where [`CountingAllocator`] is the global allocator.
pub fn allocations_on_this_thread(f: impl FnOnce()) -> u64 {
    count_on_this_thread(f).0
}

/// [`allocations_on_this_thread`], and what `f` returned.
pub fn count_on_this_thread<R>(f: impl FnOnce() -> R) -> (u64, R) {
    let before = THIS_THREAD.with(Cell::get);
    let result = f();
    (THIS_THREAD.with(Cell::get) - before, result)
}
