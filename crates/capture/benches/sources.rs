//! Frames per second of each non-camera source at 640x480.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use framecast_capture::{Frame, FrameSource, PatternSource};

const WIDTH: u32 = 640;
const HEIGHT: u32 = 480;

fn bench_source(c: &mut Criterion, name: &str, mut source: Box<dyn FrameSource>) {
    let mut group = c.benchmark_group("source_640x480");
    group.throughput(Throughput::Elements(1));
    let mut frame = Frame::default();
    group.bench_function(name, |b| {
        b.iter(|| {
            source.next_frame(&mut frame).expect("frame");
            std::hint::black_box(&frame);
        })
    });
    group.finish();
}

fn sources(c: &mut Criterion) {
    let pattern = PatternSource::new(WIDTH, HEIGHT).expect("pattern");
    bench_source(c, "pattern", Box::new(pattern));
}

criterion_group!(benches, sources);
criterion_main!(benches);
