//! Every stage and both pipelines on natural 640x480 frames, one thread,
//! each next to a stock baseline measured in the same run so that results
//! read as ratios on a noisy shared machine.
//!
//! `cargo bench -p framecast-codec --all-features -- --warm-up-time 1 --measurement-time 3`

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use framecast_codec::fast_image_resize::{FilterType, ResizeAlg};
use framecast_codec::{
    AreaResizer, Decoder, Encoder, FirResizer, ImageBuf, ImageMut, PixelFormat, ReceiverConfig,
    ReceiverPipeline, Resizer, SenderConfig, SenderPipeline, TurboEncoder, ZuneDecoder,
};

struct Inputs {
    frames: Vec<ImageBuf>,
    frames_bgra: Vec<ImageBuf>,
    small: Vec<ImageBuf>,
    q95: Vec<Vec<u8>>,
    q80: Vec<Vec<u8>>,
}

fn inputs() -> Inputs {
    let frames = common::natural_frames();
    let mut resizer = AreaResizer::new();
    let convert = |f: &ImageBuf, w, h, format| {
        let mut out = ImageBuf::new(w, h, format);
        AreaResizer::new()
            .resize(f.as_image(), &mut out.as_image_mut())
            .unwrap();
        out
    };
    let frames_bgra = frames
        .iter()
        .map(|f| convert(f, 640, 480, PixelFormat::Bgra8))
        .collect();
    let small: Vec<ImageBuf> = frames
        .iter()
        .map(|f| {
            let mut out = ImageBuf::new(400, 400, PixelFormat::Rgb8);
            resizer
                .resize(f.as_image(), &mut out.as_image_mut())
                .unwrap();
            out
        })
        .collect();
    let encode = |q| -> Vec<Vec<u8>> {
        let mut enc = TurboEncoder::new();
        small
            .iter()
            .map(|s| {
                let mut out = Vec::new();
                enc.encode(s.as_image(), q, &mut out).unwrap();
                out
            })
            .collect()
    };
    let (q95, q80) = (encode(95), encode(80));
    Inputs {
        frames,
        frames_bgra,
        small,
        q95,
        q80,
    }
}

/// Cycles through the frame sequence, one frame per iteration.
fn cycle<'a, T>(items: &'a [T]) -> impl FnMut() -> &'a T + 'a {
    let mut i = 0;
    move || {
        i = (i + 1) % items.len();
        &items[i]
    }
}

fn resize(c: &mut Criterion, inp: &Inputs) {
    let mut g = c.benchmark_group("resize 640x480->400x400");
    for (name, frames) in [("rgb", &inp.frames), ("bgra", &inp.frames_bgra)] {
        let format = frames[0].format();
        let mut out = ImageBuf::new(400, 400, format);
        let mut area = AreaResizer::new();
        let mut next = cycle(frames);
        g.bench_function(format!("{name} area (ours)"), |b| {
            b.iter(|| {
                area.resize(next().as_image(), &mut out.as_image_mut())
                    .unwrap()
            })
        });
        for (alg, label) in [
            (
                ResizeAlg::Convolution(FilterType::Bilinear),
                "fir convolution bilinear",
            ),
            (
                ResizeAlg::Interpolation(FilterType::Bilinear),
                "fir interpolation bilinear",
            ),
        ] {
            let mut fir = FirResizer::new(alg);
            g.bench_function(format!("{name} {label}"), |b| {
                b.iter(|| {
                    fir.resize(next().as_image(), &mut out.as_image_mut())
                        .unwrap()
                })
            });
        }
    }
    g.finish();
}

fn encode(c: &mut Criterion, inp: &Inputs) {
    let mut g = c.benchmark_group("encode 400x400");
    let mut out = Vec::new();
    let mut next = cycle(&inp.small);
    for q in [95, 80] {
        let mut turbo = TurboEncoder::new();
        g.bench_function(format!("q{q} libjpeg-turbo-rs"), |b| {
            b.iter(|| turbo.encode(next().as_image(), q, &mut out).unwrap())
        });
        #[cfg(feature = "jpeg-encoder")]
        {
            let mut alt = framecast_codec::JpegEncoderEncoder::new();
            g.bench_function(format!("q{q} jpeg-encoder"), |b| {
                b.iter(|| alt.encode(next().as_image(), q, &mut out).unwrap())
            });
        }
    }
    g.finish();
}

fn decode(c: &mut Criterion, inp: &Inputs) {
    let mut g = c.benchmark_group("decode 400x400");
    let mut out = ImageBuf::default();
    let mut zune = ZuneDecoder::default();
    for (q, jpegs) in [(95, &inp.q95), (80, &inp.q80)] {
        let mut next = cycle(jpegs);
        g.bench_function(format!("q{q} zune-jpeg (ours)"), |b| {
            b.iter(|| zune.decode(next(), &mut out).unwrap())
        });
        let mut raw = vec![0u8; 400 * 400 * 3];
        g.bench_function(format!("q{q} zune-jpeg bare call"), |b| {
            b.iter(|| {
                let mut d = zune_jpeg::JpegDecoder::new(
                    zune_jpeg::zune_core::bytestream::ZCursor::new(next()),
                );
                d.decode_into(&mut raw).unwrap()
            })
        });
        g.bench_function(format!("q{q} libjpeg-turbo-rs (reference)"), |b| {
            b.iter(|| black_box(libjpeg_turbo_rs::decompress(next()).unwrap()))
        });
    }
    g.finish();
}

/// Baseline: the stock nearest-neighbour call, then a plain conversion loop.
fn nearest_then_convert(fir: &mut FirResizer, src: &ImageBuf, tmp: &mut ImageBuf, out: &mut [u32]) {
    fir.resize(src.as_image(), &mut tmp.as_image_mut()).unwrap();
    for (o, p) in out.iter_mut().zip(tmp.data().chunks_exact(3)) {
        *o = u32::from(p[0]) << 16 | u32::from(p[1]) << 8 | u32::from(p[2]);
    }
}

fn upscale(c: &mut Criterion, inp: &Inputs) {
    let mut g = c.benchmark_group("upscale 400x400->800x600 + 0RGB");
    let mut window = vec![0u32; 800 * 600];
    let mut area = AreaResizer::new();
    let mut next = cycle(&inp.small);
    g.bench_function("fused area (ours)", |b| {
        b.iter(|| {
            let mut out = ImageMut::from_xrgb32(800, 600, &mut window).unwrap();
            area.resize(next().as_image(), &mut out).unwrap()
        })
    });
    let mut fir = FirResizer::new(ResizeAlg::Nearest);
    let mut tmp = ImageBuf::new(800, 600, PixelFormat::Rgb8);
    g.bench_function("fir nearest + convert loop", |b| {
        b.iter(|| nearest_then_convert(&mut fir, next(), &mut tmp, &mut window))
    });
    g.finish();
}

fn pipelines(c: &mut Criterion, inp: &Inputs) {
    let mut g = c.benchmark_group("pipeline");
    let mut sender = SenderPipeline::new(SenderConfig::default()).unwrap();
    let mut jpeg = Vec::new();
    let mut next = cycle(&inp.frames);
    g.bench_function("sender 640x480 -> 400x400 q95", |b| {
        b.iter(|| sender.encode(next().as_image(), &mut jpeg).unwrap())
    });
    let mut receiver = ReceiverPipeline::new(ReceiverConfig::default());
    let mut window = vec![0u32; 800 * 600];
    let mut next = cycle(&inp.q95);
    g.bench_function("receiver q95 -> 800x600 0RGB", |b| {
        b.iter(|| {
            let out = ImageMut::from_xrgb32(800, 600, &mut window).unwrap();
            receiver.decode_into(next(), out).unwrap()
        })
    });
    g.finish();
}

fn all(c: &mut Criterion) {
    let inp = inputs();
    resize(c, &inp);
    encode(c, &inp);
    decode(c, &inp);
    upscale(c, &inp);
    pipelines(c, &inp);
}

criterion_group!(benches, all);
criterion_main!(benches);
