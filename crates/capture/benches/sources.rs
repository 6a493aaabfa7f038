//! Frames per second of each non-camera source at 640x480, unpaced.
//!
//! The file sources read from files written at set-up (30 frames of the
//! test pattern, raw and as q95 JPEGs), so after the first loop they read
//! from the page cache: this measures the sources, not the disk.

use std::io::Write;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use framecast_capture::{
    Frame, FrameSource, MjpegFileSource, Pattern, PatternSource, RawFileSource,
};
use framecast_codec::{ImageBuf, PixelFormat, SenderConfig, SenderPipeline};

const WIDTH: u32 = 640;
const HEIGHT: u32 = 480;
const FILE_FRAMES: u64 = 30;

fn bench_source(c: &mut Criterion, name: &str, source: &mut dyn FrameSource) {
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
    let dir = tempfile::tempdir().expect("temporary directory");
    let raw_path = dir.path().join("pattern.rgb");
    let mjpeg_path = dir.path().join("pattern.mjpeg");
    {
        let pattern = Pattern::new(WIDTH, HEIGHT).expect("pattern");
        let mut sender = SenderPipeline::new(SenderConfig::new(WIDTH, HEIGHT)).expect("encoder");
        let mut raw = std::fs::File::create(&raw_path).expect("raw file");
        let mut mjpeg = std::fs::File::create(&mjpeg_path).expect("mjpeg file");
        let (mut img, mut jpeg) = (ImageBuf::empty(PixelFormat::Rgb8), Vec::new());
        for seq in 0..FILE_FRAMES {
            pattern.render(seq, &mut img);
            raw.write_all(img.data()).expect("write raw");
            sender.encode(img.as_image(), &mut jpeg).expect("encode");
            mjpeg.write_all(&jpeg).expect("write mjpeg");
        }
    }

    let mut pattern = PatternSource::new(WIDTH, HEIGHT).expect("pattern");
    bench_source(c, "pattern", &mut pattern);
    let mut raw = RawFileSource::open(&raw_path, WIDTH, HEIGHT).expect("raw source");
    bench_source(c, "raw_file", &mut raw);
    let mut mjpeg = MjpegFileSource::open(&mjpeg_path).expect("mjpeg source");
    bench_source(c, "mjpeg_file", &mut mjpeg);

    // Indexing cost, per frame of the file.
    let data = std::fs::read(&mjpeg_path).expect("read mjpeg");
    let mut group = c.benchmark_group("mjpeg_index_640x480_q95");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("30_frames", |b| {
        b.iter(|| {
            framecast_capture::MjpegIndex::from_bytes(&data, &Default::default()).expect("index")
        })
    });
    group.finish();
}

criterion_group!(benches, sources);
criterion_main!(benches);
