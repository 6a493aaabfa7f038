//! Throughput of the blocking adapters over in-memory I/O, against a raw
//! copy of the same bytes measured in the same run.
//!
//! For each frame size (64 KiB, 1 MiB), one iteration moves a batch of
//! frames totalling 8 MiB:
//!
//! - `memcpy`: copy the payloads into a reused `Vec` (the floor: the least
//!   work any transport of these bytes must do);
//! - `write`: [`FrameWriter::write_frame`] into a reused `Vec`;
//! - `read`: [`FrameReader::read_frame`] from a `Cursor` over an encoded
//!   stream, touching each payload;
//! - `round_trip`: write then read.
//!
//! Throughput is reported in bytes of payload, so GB/s compare directly;
//! frames/s is the GB/s divided by the frame size.

use std::hint::black_box;
use std::io::Cursor;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use framecast_wire::{FrameCodec, FrameReader, FrameWriter};

const BATCH_BYTES: usize = 8 * 1024 * 1024;

fn payloads(frame_len: usize) -> Vec<Vec<u8>> {
    (0..BATCH_BYTES / frame_len)
        .map(|i| (0..frame_len).map(|j| (i * 31 + j) as u8).collect())
        .collect()
}

fn encoded(payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut w = FrameWriter::new(Vec::new());
    for p in payloads {
        w.write_frame(p).expect("bench frames are under the limit");
    }
    w.into_inner()
}

fn blocking(c: &mut Criterion) {
    let mut group = c.benchmark_group("blocking");
    for frame_len in [64 * 1024, 1024 * 1024] {
        let label = if frame_len >= 1 << 20 {
            "1MiB"
        } else {
            "64KiB"
        };
        let frames = payloads(frame_len);
        let wire = encoded(&frames);
        group.throughput(Throughput::Bytes((frames.len() * frame_len) as u64));

        group.bench_function(BenchmarkId::new("memcpy", label), |b| {
            let mut out = Vec::with_capacity(wire.len());
            b.iter(|| {
                out.clear();
                for p in &frames {
                    out.extend_from_slice(black_box(p));
                }
                black_box(out.len())
            });
        });

        group.bench_function(BenchmarkId::new("write", label), |b| {
            let mut w = FrameWriter::new(Vec::with_capacity(wire.len()));
            b.iter(|| {
                w.get_mut().clear();
                for p in &frames {
                    w.write_frame(black_box(p)).expect("under the limit");
                }
                black_box(w.get_ref().len())
            });
        });

        group.bench_function(BenchmarkId::new("read", label), |b| {
            let mut r = FrameReader::with_codec(Cursor::new(&wire[..]), FrameCodec::new());
            b.iter(|| {
                r.get_mut().set_position(0);
                let mut sum = 0usize;
                while let Some(frame) = r.read_frame().expect("valid stream") {
                    sum += usize::from(frame[frame.len() / 2]);
                }
                black_box(sum)
            });
        });

        group.bench_function(BenchmarkId::new("round_trip", label), |b| {
            let mut w = FrameWriter::new(Vec::with_capacity(wire.len()));
            b.iter(|| {
                w.get_mut().clear();
                for p in &frames {
                    w.write_frame(black_box(p)).expect("under the limit");
                }
                let mut r = FrameReader::new(w.get_ref().as_slice());
                let mut n = 0;
                while let Some(frame) = r.read_frame().expect("valid stream") {
                    n += frame.len();
                }
                black_box(n)
            });
        });
    }
    group.finish();
}

criterion_group!(benches, blocking);
criterion_main!(benches);
