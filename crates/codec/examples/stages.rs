//! Runs one stage of the codec over the natural frame sequence many times,
//! for profilers (valgrind's callgrind counts instructions; perf samples):
//!
//! ```text
//! cargo build --release -p framecast-codec --example stages
//! valgrind --tool=callgrind target/release/examples/stages receiver 64
//! ```
//!
//! Stages: `sender`, `receiver`, `resize`, `encode`, `decode`, `upscale`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;

use framecast_codec::{
    AreaResizer, DEFAULT_QUALITY, Decoder, Encoder, ImageBuf, ImageMut, PixelFormat,
    ReceiverConfig, ReceiverPipeline, Resizer, SenderConfig, SenderPipeline, TurboEncoder,
    ZuneDecoder,
};

fn main() {
    let mut args = std::env::args().skip(1);
    let stage = args.next().unwrap_or_else(|| "receiver".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(64);
    let frames = common::natural_frames();
    let mut resizer = AreaResizer::new();
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
    let mut encoder = TurboEncoder::new();
    let jpegs: Vec<Vec<u8>> = small
        .iter()
        .map(|s| {
            let mut out = Vec::new();
            encoder
                .encode(s.as_image(), DEFAULT_QUALITY, &mut out)
                .unwrap();
            out
        })
        .collect();
    let mut sender = SenderPipeline::new(SenderConfig::default()).unwrap();
    let mut receiver = ReceiverPipeline::new(ReceiverConfig::default());
    let mut decoder = ZuneDecoder::default();
    let mut window = vec![0u32; 800 * 600];
    let mut jpeg = Vec::new();
    let mut decoded = ImageBuf::new(400, 400, PixelFormat::Rgb8);
    let mut resized = ImageBuf::new(400, 400, PixelFormat::Rgb8);
    for i in 0..n {
        let k = i % frames.len();
        match stage.as_str() {
            "sender" => sender.encode(frames[k].as_image(), &mut jpeg).unwrap(),
            "receiver" => {
                let out = ImageMut::from_xrgb32(800, 600, &mut window).unwrap();
                black_box(receiver.decode_into(&jpegs[k], out).unwrap());
            }
            "resize" => resizer
                .resize(frames[k].as_image(), &mut resized.as_image_mut())
                .unwrap(),
            "encode" => encoder
                .encode(small[k].as_image(), DEFAULT_QUALITY, &mut jpeg)
                .unwrap(),
            "decode" => {
                black_box(decoder.decode(&jpegs[k], &mut decoded).unwrap());
            }
            "upscale" => {
                let mut out = ImageMut::from_xrgb32(800, 600, &mut window).unwrap();
                resizer.resize(small[k].as_image(), &mut out).unwrap();
            }
            other => panic!("unknown stage {other}"),
        }
    }
    black_box((&window, &jpeg));
}
