//! The engines add no allocation per frame in the steady state: a sender
//! and a receiver run in this process under a counting global allocator,
//! and the allocations made while frames flow for 2 s are counted.
//!
//! The codec's own per-frame work is measured by the codec crate's tests;
//! here the sender forwards ready JPEGs (pass-through, no encoder) and the
//! receiver records them to nowhere (no decoder), so what is counted is the
//! engines alone: queues, buffer recycling, framing, sockets, stats.

use std::time::{Duration, Instant};

use framecast_capture::{SourceOptions, SourceSpec, open_source};
use framecast_display::Recorder;
use framecast_stream::{ReceiverBuilder, SenderBuilder};
use framecast_test_support::alloc::{CountingAllocator, allocations};
use framecast_test_support::fixtures::pattern_jpegs;

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn wait_received(receiver: &framecast_stream::Receiver, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while receiver.stats().received < n {
        assert!(
            Instant::now() < deadline,
            "stalled at {:?}",
            receiver.stats()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn engines_allocate_nothing_per_frame_in_the_steady_state() {
    // Twenty 128x128 JPEGs of the test pattern, as an MJPEG file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.mjpeg");
    std::fs::write(&path, pattern_jpegs(128, 128, 80, 20).concat()).unwrap();

    let receiver = ReceiverBuilder::new("127.0.0.1:0".parse().unwrap())
        .sinks(|_| Ok(Box::new(Recorder::new(std::io::sink()))))
        .start()
        .unwrap();
    let options = SourceOptions::new(128, 128)
        .with_fps(100)
        .with_looping(true);
    let source = open_source(&SourceSpec::Mjpeg(path), &options).unwrap();
    let sender = SenderBuilder::new(receiver.local_addr().to_string(), source)
        .size(128, 128)
        .start()
        .unwrap();

    // Warm up: connections made, buffers grown to their working sizes.
    wait_received(&receiver, 30);
    // Then count allocations over 2 s with nothing of the test's own
    // running in between: the stats snapshots (which allocate) are taken
    // outside the counted window.
    let received_before = receiver.stats().received;
    let before = allocations();
    std::thread::sleep(Duration::from_secs(2));
    let after = allocations();
    let frames = receiver.stats().received - received_before;
    assert!(frames >= 100, "only {frames} frames in 2 s");

    let sent = sender.shutdown().unwrap();
    let stats = receiver.shutdown().unwrap();
    assert!(sent.sent >= 130 && stats.corrupt == 0, "{sent:?} {stats:?}");

    let allocations = after - before;
    eprintln!(
        "{allocations} allocations over {frames} frames ({:.2} per frame)",
        allocations as f64 / frames as f64
    );
    // Nothing per frame: a couple of one-off growths (a queue or timer
    // wheel reaching its working size) at most.
    assert!(
        allocations <= 3,
        "{allocations} allocations over {frames} frames"
    );
}
