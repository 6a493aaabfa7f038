//! Per-frame cost of the headless sinks, on the sender's default frame
//! (400x400, quality 95) and a 640x480 one.
//!
//! `NullSink` is the receiver's whole job minus the screen: decode and scale
//! to the window size in its pixel layout. The recorder and the snapshot
//! sink only copy bytes.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use framecast_display::{EncodedFrame, FrameSink, NullSink, Recorder, SnapshotSink};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

fn frame(jpeg: &[u8]) -> EncodedFrame<'_> {
    EncodedFrame::new(0, "bench", jpeg)
}

fn sinks(c: &mut Criterion) {
    let pictures = [
        ("400x400", fixture("quadrants-400x400.jpg")),
        ("640x480", fixture("noise-640x480.jpg")),
    ];
    let mut group = c.benchmark_group("null_sink");
    for (name, jpeg) in &pictures {
        for (w, h) in [(800, 600), (1280, 720)] {
            let mut sink = NullSink::new(w, h).unwrap();
            group.throughput(Throughput::Elements(1));
            group.bench_function(BenchmarkId::new(*name, format!("to_{w}x{h}")), |b| {
                b.iter(|| sink.show(black_box(&frame(jpeg))).unwrap())
            });
        }
    }
    group.finish();

    let mut group = c.benchmark_group("copying_sinks");
    let jpeg = &pictures[1].1;
    group.throughput(Throughput::Bytes(jpeg.len() as u64));
    let mut recorder = Recorder::new(std::io::sink());
    group.bench_function("recorder", |b| {
        b.iter(|| recorder.show(black_box(&frame(jpeg))).unwrap())
    });
    let mut snapshots = SnapshotSink::new();
    group.bench_function("snapshot", |b| {
        b.iter(|| snapshots.show(black_box(&frame(jpeg))).unwrap())
    });
    group.finish();
}

criterion_group!(benches, sinks);
criterion_main!(benches);
