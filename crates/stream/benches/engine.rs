//! Criterion benches of the engines.
//!
//! - `latest`: one push and one pop through a [`Latest`] queue.
//! - `loopback`: frames per second through a sender and a receiver in one
//!   process over loopback TCP: the test pattern at 640x480 scaled to
//!   400x400, JPEG q95, then decoded and scaled to 800x600 0RGB (the null
//!   sink) — the original program's whole job, minus capture and screen.
//!   `passthrough` sends ready 400x400 JPEGs instead (no sender encode).

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use framecast_capture::{SourceOptions, SourceSpec, open_source};
use framecast_display::NullSink;
use framecast_stream::testing::Latest;
use framecast_stream::{Receiver, ReceiverBuilder, Sender, SenderBuilder};
use framecast_test_support::fixtures::pattern_jpegs;

fn latest(c: &mut Criterion) {
    let q = Latest::new(2, 4);
    let mut g = c.benchmark_group("latest");
    g.throughput(Throughput::Elements(1));
    g.bench_function("push_pop", |b| {
        b.iter(|| {
            let buf = q.spare().unwrap_or_default();
            q.push(std::hint::black_box::<Vec<u8>>(buf)).unwrap();
            let got = q.pop().unwrap();
            q.recycle(got);
        })
    });
    g.finish();
}

/// A receiver with a null sink at 800x600 and a sender of `spec` into it.
fn pair(spec: &SourceSpec, options: &SourceOptions) -> (Receiver, Sender) {
    let receiver = ReceiverBuilder::new("127.0.0.1:0".parse().unwrap())
        .sinks(|_| Ok(Box::new(NullSink::new(800, 600)?)))
        .start()
        .unwrap();
    let source = open_source(spec, options).unwrap();
    let sender = SenderBuilder::new(receiver.local_addr().to_string(), source)
        .start()
        .unwrap();
    (receiver, sender)
}

/// Time until `iters` more frames have been shown.
fn shown(receiver: &Receiver, iters: u64) -> Duration {
    let start = Instant::now();
    let target = receiver.stats().frames + iters;
    while receiver.stats().frames < target {
        std::thread::sleep(Duration::from_micros(200));
    }
    start.elapsed()
}

fn loopback(c: &mut Criterion) {
    let mut g = c.benchmark_group("loopback");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(8));

    let (receiver, sender) = pair(
        &SourceSpec::Pattern,
        &SourceOptions::new(640, 480).with_fps(0),
    );
    g.bench_function("pattern_640x480_to_400x400_q95_to_800x600", |b| {
        b.iter_custom(|iters| shown(&receiver, iters))
    });
    sender.shutdown().unwrap();
    receiver.shutdown().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frames.mjpeg");
    // 400x400 at quality 95: the codec's default configuration.
    std::fs::write(&path, pattern_jpegs(400, 400, 95, 30).concat()).unwrap();
    let (receiver, sender) = pair(
        &SourceSpec::Mjpeg(path),
        &SourceOptions::new(400, 400).with_fps(0),
    );
    g.bench_function("passthrough_400x400_q95_to_800x600", |b| {
        b.iter_custom(|iters| shown(&receiver, iters))
    });
    sender.shutdown().unwrap();
    receiver.shutdown().unwrap();
    g.finish();
}

criterion_group!(benches, latest, loopback);
criterion_main!(benches);
