//! Every stage and both pipelines on natural 640x480 frames, one thread,
//! each next to a stock baseline measured in the same run so that results
//! read as ratios on a noisy shared machine.
//!
//! `cargo bench -p framecast-codec --all-features -- --warm-up-time 1 --measurement-time 3`

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use fast_image_resize as fir;
use fast_image_resize::{FilterType, ResizeAlg};
use framecast_codec::{
    AreaResizer, Decoder, Encoder, ImageBuf, ImageMut, PixelFormat, ReceiverConfig,
    ReceiverPipeline, Resizer, SenderConfig, SenderPipeline, TurboEncoder, ZuneDecoder,
};

/// The stock baseline `AreaResizer` is measured against: fast_image_resize
/// with a chosen algorithm, same pixel format on both sides, packed rows.
struct FirResizer {
    inner: fir::Resizer,
    options: fir::ResizeOptions,
}

impl FirResizer {
    fn new(algorithm: ResizeAlg) -> Self {
        Self {
            inner: fir::Resizer::new(),
            options: fir::ResizeOptions::new()
                .resize_alg(algorithm)
                .use_alpha(false),
        }
    }

    fn resize(&mut self, src: &ImageBuf, dst: &mut ImageBuf) -> Result<(), fir::ResizeError> {
        assert_eq!(src.format(), dst.format(), "the baseline does not convert");
        let kind = match src.format() {
            PixelFormat::Rgb8 => fir::PixelType::U8x3,
            _ => fir::PixelType::U8x4,
        };
        let (w, h) = (src.width(), src.height());
        let from = fir::images::ImageRef::new(w, h, src.data(), kind)
            .expect("a packed ImageBuf matches its size");
        let (w, h) = (dst.width(), dst.height());
        let mut to = fir::images::Image::from_slice_u8(w, h, dst.data_mut(), kind)
            .expect("a packed ImageBuf matches its size");
        self.inner.resize(&from, &mut to, &self.options)
    }
}

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
                b.iter(|| fir.resize(next(), &mut out).unwrap())
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
        let mut rgba = vec![0u8; 400 * 400 * 4];
        g.bench_function(format!("q{q} zune-jpeg bare call, RGBA"), |b| {
            b.iter(|| {
                let options = zune_jpeg::zune_core::options::DecoderOptions::default()
                    .jpeg_set_out_colorspace(zune_jpeg::zune_core::colorspace::ColorSpace::RGBA);
                let mut d = zune_jpeg::JpegDecoder::new_with_options(
                    zune_jpeg::zune_core::bytestream::ZCursor::new(next()),
                    options,
                );
                d.decode_into(&mut rgba).unwrap()
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
    fir.resize(src, tmp).unwrap();
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

/// The receiver as it was before the RGBA hand-off and fused kernels,
/// restated here as the in-run baseline: zune-jpeg to RGB through its own
/// slice cursor, then per source row a scalar RGB -> 0RGB conversion into a
/// scratch row, a 2x stretch of that row, and every third output row a
/// 50/50 blend computed with 16-bit multiplies (400x400 -> 800x600 only).
struct ReceiverBefore {
    rgb: Vec<u8>,
    conv: Vec<u32>,
}

impl ReceiverBefore {
    fn new() -> Self {
        Self {
            rgb: vec![0; 400 * 400 * 3],
            conv: vec![0; 400],
        }
    }

    fn decode(&mut self, jpeg: &[u8], window: &mut [u32]) {
        use zune_jpeg::zune_core::bytestream::ZCursor;
        use zune_jpeg::zune_core::options::DecoderOptions;
        let options = DecoderOptions::default().set_strict_mode(true);
        let mut d = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(jpeg), options);
        d.decode_into(&mut self.rgb).unwrap();
        for (pair, out) in self
            .rgb
            .chunks_exact(2 * 1200)
            .zip(window.chunks_exact_mut(3 * 800))
        {
            let (top, rest) = out.split_at_mut(800);
            let (mid, bottom) = rest.split_at_mut(800);
            for (row, dst) in pair.chunks_exact(1200).zip([&mut *top, &mut *bottom]) {
                for (o, p) in self.conv.iter_mut().zip(row.chunks_exact(3)) {
                    let mut v = [0u8; 4];
                    v[..3].copy_from_slice(p);
                    *o = u32::from_be_bytes([0, v[0], v[1], v[2]]);
                }
                for (o, &p) in dst.chunks_exact_mut(2).zip(&self.conv) {
                    o[0] = p;
                    o[1] = p;
                }
            }
            let (a, b): (&[u8], &[u8]) = (bytemuck::cast_slice(top), bytemuck::cast_slice(bottom));
            for ((o, &x), &y) in bytemuck::cast_slice_mut::<u32, u8>(mid)
                .iter_mut()
                .zip(a)
                .zip(b)
            {
                *o = ((u16::from(x) * 128 + u16::from(y) * 128 + 128) >> 8) as u8;
            }
        }
    }
}

fn pipelines(c: &mut Criterion, inp: &Inputs) {
    let mut g = c.benchmark_group("pipeline");
    let mut sender = SenderPipeline::new(SenderConfig::default()).unwrap();
    let mut jpeg = Vec::new();
    let mut next = cycle(&inp.frames);
    g.bench_function("sender 640x480 -> 400x400 q95", |b| {
        b.iter(|| sender.encode(next().as_image(), &mut jpeg).unwrap())
    });
    // Before: the same resize, then the library's Vec copied out.
    let mut resizer = AreaResizer::new();
    let mut small = ImageBuf::new(400, 400, PixelFormat::Rgb8);
    g.bench_function("sender before (resize, compress, copy out)", |b| {
        b.iter(|| {
            resizer
                .resize(next().as_image(), &mut small.as_image_mut())
                .unwrap();
            let out = libjpeg_turbo_rs::compress(
                small.data(),
                400,
                400,
                libjpeg_turbo_rs::PixelFormat::Rgb,
                95,
                libjpeg_turbo_rs::Subsampling::S420,
            )
            .unwrap();
            jpeg.clear();
            jpeg.extend_from_slice(&out);
        })
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
    let mut before = ReceiverBefore::new();
    g.bench_function(
        "receiver before (RGB, convert, stretch, multiply blend)",
        |b| b.iter(|| before.decode(next(), &mut window)),
    );
    g.finish();
}

/// libjpeg-turbo-rs's two ways in for the sender: interleaved RGB (it
/// converts and down-samples itself, then a fused AVX2 row loop) against
/// planar YCbCr 4:2:0 (`compress_raw`, which skips both but encodes block
/// by block): the measurement behind keeping RGB input.
fn encoder_input(c: &mut Criterion, inp: &Inputs) {
    let mut g = c.benchmark_group("encode 400x400 q95 input");
    let planes: Vec<[Vec<u8>; 3]> = inp.small.iter().map(|s| ycbcr420(s.data())).collect();
    let mut next = cycle(&inp.small);
    g.bench_function("rgb compress (used)", |b| {
        b.iter(|| {
            black_box(
                libjpeg_turbo_rs::compress(
                    next().data(),
                    400,
                    400,
                    libjpeg_turbo_rs::PixelFormat::Rgb,
                    95,
                    libjpeg_turbo_rs::Subsampling::S420,
                )
                .unwrap(),
            )
        })
    });
    let mut next = cycle(&planes);
    g.bench_function("planar 4:2:0 compress_raw", |b| {
        b.iter(|| {
            let [y, cb, cr] = next();
            black_box(
                libjpeg_turbo_rs::compress_raw(
                    &[y, cb, cr],
                    &[400, 200, 200],
                    &[400, 200, 200],
                    400,
                    400,
                    95,
                    libjpeg_turbo_rs::Subsampling::S420,
                )
                .unwrap(),
            )
        })
    });
    g.finish();
}

/// JFIF YCbCr planes of a 400x400 RGB picture, chroma averaged over 2x2.
fn ycbcr420(rgb: &[u8]) -> [Vec<u8>; 3] {
    let px = |i: usize| {
        let (r, g, b) = (
            f64::from(rgb[3 * i]),
            f64::from(rgb[3 * i + 1]),
            f64::from(rgb[3 * i + 2]),
        );
        (
            0.299 * r + 0.587 * g + 0.114 * b,
            128.0 - 0.168736 * r - 0.331264 * g + 0.5 * b,
            128.0 + 0.5 * r - 0.418688 * g - 0.081312 * b,
        )
    };
    let y = (0..400 * 400).map(|i| px(i).0.round() as u8).collect();
    let (mut cb, mut cr) = (vec![0; 200 * 200], vec![0; 200 * 200]);
    for cy in 0..200 {
        for cx in 0..200 {
            let (mut b, mut r) = (0.0, 0.0);
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let p = px((2 * cy + dy) * 400 + 2 * cx + dx);
                b += p.1;
                r += p.2;
            }
            cb[cy * 200 + cx] = (b / 4.0).round() as u8;
            cr[cy * 200 + cx] = (r / 4.0).round() as u8;
        }
    }
    [y, cb, cr]
}

fn all(c: &mut Criterion) {
    let inp = inputs();
    resize(c, &inp);
    encode(c, &inp);
    decode(c, &inp);
    upscale(c, &inp);
    encoder_input(c, &inp);
    pipelines(c, &inp);
}

criterion_group!(benches, all);
criterion_main!(benches);
