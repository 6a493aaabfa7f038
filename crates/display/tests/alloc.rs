//! The headless sinks under a counting allocator: after warm-up, showing a
//! frame allocates nothing.

mod common;

use common::fixture;
use framecast_codec::{ImageBuf, PixelFormat, ReceiverConfig, ReceiverPipeline};
use framecast_display::{EncodedFrame, FrameSink, NullSink, Recorder, SnapshotSink, Tee};
use framecast_test_support::alloc::{CountingAllocator, allocations_on_this_thread as allocations};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn frame<'a>(stream: u32, sequence: u64, jpeg: &'a [u8]) -> EncodedFrame<'a> {
    EncodedFrame::new(stream, "peer", jpeg)
        .with_sequence(sequence)
        .with_capture_time_us(Some(sequence))
}

/// Warms `sink` up with every picture, then counts the allocations of 30
/// more frames.
fn steady_state_allocations(mut sink: impl FrameSink, pictures: &[Vec<u8>]) -> u64 {
    for (i, p) in pictures.iter().enumerate() {
        sink.show(&frame(0, i as u64, p)).unwrap();
    }
    allocations(|| {
        for i in 0..30u64 {
            let p = &pictures[i as usize % pictures.len()];
            sink.show(&frame(0, 100 + i, p)).unwrap();
        }
    })
}

/// The same 30 frames through the codec crate's receiver alone: what the
/// decoding sinks cannot do better than.
fn decoder_allocations(pictures: &[Vec<u8>]) -> u64 {
    let mut pipeline = ReceiverPipeline::new(ReceiverConfig::default());
    let mut out = ImageBuf::new(800, 600, PixelFormat::Xrgb32);
    for p in pictures {
        pipeline.decode_into(p, out.as_image_mut()).unwrap();
    }
    allocations(|| {
        for i in 0..30 {
            let p = &pictures[i % pictures.len()];
            pipeline.decode_into(p, out.as_image_mut()).unwrap();
        }
    })
}

#[test]
fn headless_sinks_do_not_allocate_per_frame() {
    let pictures = vec![
        fixture("quadrants-400x400.jpg"),
        fixture("gradient-320x240.jpg"),
        fixture("noise-640x480.jpg"),
    ];
    // The counter works (else the zeros below would prove nothing).
    assert!(allocations(|| drop(std::hint::black_box(vec![1u8; 64]))) >= 1);

    // Sinks that do not decode: nothing at all.
    let n = steady_state_allocations(Recorder::new(std::io::sink()), &pictures);
    assert_eq!(n, 0, "Recorder: {n} allocations in 30 frames");
    let snapshots = SnapshotSink::new();
    let handle = snapshots.handle();
    let n = steady_state_allocations(snapshots, &pictures);
    assert_eq!(n, 0, "SnapshotSink: {n} allocations in 30 frames");
    assert_eq!(handle.latest().unwrap().sequence, 129);

    // Sinks that decode add nothing to what the decoder itself allocates
    // (the JPEG decoder underneath allocates its working state per frame;
    // that is the codec crate's to remove, and this bound tightens to zero
    // by itself when it does).
    let decoder = decoder_allocations(&pictures);
    eprintln!("decoder: {decoder} allocations in 30 frames");
    let n = steady_state_allocations(NullSink::new(800, 600).unwrap(), &pictures);
    assert!(
        n <= decoder,
        "NullSink: {n} allocations in 30 frames, the decoder alone {decoder}"
    );
    let tee = Tee::new()
        .with(NullSink::default())
        .with(Recorder::new(std::io::sink()))
        .with(SnapshotSink::new());
    let n = steady_state_allocations(tee, &pictures);
    assert!(
        n <= decoder,
        "Tee: {n} allocations in 30 frames, the decoder alone {decoder}"
    );
}
