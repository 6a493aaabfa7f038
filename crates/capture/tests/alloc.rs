//! No source allocates per frame once its buffers have grown: counted with a
//! wrapping global allocator (this test binary only).

use std::path::Path;

use framecast_capture::{
    Frame, FrameSource, MjpegFileSource, Paced, PatternSource, RawFileSource, SystemClock,
};
use framecast_test_support::alloc::{CountingAllocator, allocations_on_this_thread as allocations};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

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
    assert!(allocations(|| drop(std::hint::black_box(vec![0u8; 1 << 20]))) >= 1);
}
