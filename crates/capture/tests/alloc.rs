//! No source allocates per frame once its buffers have grown: counted with a
//! wrapping global allocator (this test binary only).

#![allow(unsafe_code)] // The GlobalAlloc impl below; it only counts and forwards.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;

use framecast_capture::{
    Frame, FrameSource, MjpegFileSource, Paced, PatternSource, RawFileSource, SystemClock,
};

struct Counting;

thread_local! {
    /// Allocations made by this thread while counting is on (`None`: off).
    static COUNT: Cell<Option<u64>> = const { Cell::new(None) };
}

// SAFETY: every call forwards to `System` unchanged; counting touches only a
// const-initialised thread-local `Cell`, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        COUNT.with(|c| c.set(c.get().map(|n| n + 1)));
        // SAFETY: the caller's contract is passed on as it is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        COUNT.with(|c| c.set(c.get().map(|n| n + 1)));
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations made by `f` on this thread.
fn allocations(f: impl FnOnce()) -> u64 {
    COUNT.with(|c| c.set(Some(0)));
    f();
    COUNT.with(|c| c.replace(None)).unwrap_or(0)
}

fn steady_state_allocations(source: &mut dyn FrameSource, warm_up: usize) -> u64 {
    let mut frame = Frame::default();
    for _ in 0..warm_up {
        source.next_frame(&mut frame).unwrap();
    }
    allocations(|| {
        for _ in 0..20 {
            source.next_frame(&mut frame).unwrap();
        }
    })
}

#[test]
fn sources_do_not_allocate_per_frame() {
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut pattern = PatternSource::new(160, 120).unwrap();
    assert_eq!(steady_state_allocations(&mut pattern, 1), 0, "pattern");

    // Paced on the real clock (the fake one records its sleeps in a Vec).
    let mut paced = Paced::new(
        PatternSource::new(64, 48).unwrap(),
        10_000,
        SystemClock::shared(),
    );
    assert_eq!(steady_state_allocations(&mut paced, 1), 0, "paced");

    let mut raw = RawFileSource::open(testdata.join("testsrc_64x48.rgb"), 64, 48)
        .unwrap()
        .looping(true);
    assert_eq!(steady_state_allocations(&mut raw, 1), 0, "raw file");

    // One loop through the file grows the JPEG buffer to the largest frame.
    let mut mjpeg = MjpegFileSource::open(testdata.join("testsrc_64x48.mjpeg"))
        .unwrap()
        .looping(true);
    assert_eq!(steady_state_allocations(&mut mjpeg, 5), 0, "mjpeg file");

    // The counter works: a growing buffer is seen.
    assert!(allocations(|| drop(vec![0u8; 1 << 20])) >= 1);
}
