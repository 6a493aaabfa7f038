//! The HTTP viewer adds no allocation per frame or per viewer in the steady
//! state: a sender, a receiver and its HTTP viewer run in this process
//! under a counting global allocator, four MJPEG viewers read every part
//! over loopback, and the allocations made while frames flow for 2 s are
//! counted. Each part's JPEG is the receiver's own buffer (shared, never
//! copied), and its small header is written into a per-viewer buffer that
//! is reused once hyper has sent the previous one.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use framecast_capture::{SourceOptions, SourceSpec, open_source};
use framecast_display::Recorder;
use framecast_http::{HttpConfig, HttpViewer};
use framecast_stream::{ReceiverBuilder, SenderBuilder};
use framecast_test_support::alloc::{CountingAllocator, allocations};
use framecast_test_support::fixtures::pattern_jpegs;

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn wait(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn viewers_allocate_nothing_per_part_in_the_steady_state() {
    // Twenty 128x128 JPEGs of the test pattern, as an MJPEG file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.mjpeg");
    std::fs::write(&path, pattern_jpegs(128, 128, 80, 20).concat()).unwrap();

    let receiver = ReceiverBuilder::new("127.0.0.1:0".parse().unwrap())
        .sinks(|_| Ok(Box::new(Recorder::new(std::io::sink()))))
        .start()
        .unwrap();
    let viewer =
        HttpViewer::start(&receiver, HttpConfig::new("127.0.0.1:0".parse().unwrap())).unwrap();
    let options = SourceOptions::new(128, 128)
        .with_fps(100)
        .with_looping(true);
    let source = open_source(&SourceSpec::Mjpeg(path), &options).unwrap();
    let sender = SenderBuilder::new(receiver.local_addr().to_string(), source)
        .size(128, 128)
        .start()
        .unwrap();
    wait("the stream", || receiver.stats().received > 0);

    // Viewers that read everything into a fixed buffer (the clients
    // allocate nothing per part either).
    let addr = viewer.local_addr();
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET /streams/1.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            std::thread::spawn(move || {
                let mut buf = vec![0; 64 * 1024];
                while s.read(&mut buf).is_ok_and(|n| n > 0) {}
            })
        })
        .collect();
    // Warm up: connections made, buffers grown to their working sizes.
    wait("the viewers", || viewer.stats().parts >= 4 * 100);

    let parts_before = viewer.stats().parts;
    let received_before = receiver.stats().received;
    let before = allocations();
    std::thread::sleep(Duration::from_secs(2));
    let after = allocations();
    let parts = viewer.stats().parts - parts_before;
    let frames = receiver.stats().received - received_before;
    assert!(frames >= 100, "only {frames} frames in 2 s");
    assert!(parts >= 4 * 100, "only {parts} parts in 2 s");

    sender.shutdown().unwrap();
    drop(viewer);
    receiver.shutdown().unwrap();
    for c in clients {
        c.join().unwrap();
    }

    let allocations = after - before;
    eprintln!(
        "{allocations} allocations over {frames} frames and {parts} parts ({:.3} per part)",
        allocations as f64 / parts as f64
    );
    // Nothing per part: a few one-off growths at most.
    assert!(
        allocations <= parts / 100,
        "{allocations} allocations over {parts} parts"
    );
}
