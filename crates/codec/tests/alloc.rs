//! Heap allocations per frame in the steady state, counted by a global
//! allocator (hence a test binary of its own, with a single test so no
//! other test's allocations are counted).
//!
//! Our own code allocates nothing per frame once warm: the resizer's
//! tables, the intermediate pictures and the output buffers are reused.
//! Two libraries still allocate inside each call, and no API of theirs
//! avoids it:
//!
//! - libjpeg-turbo-rs 0.9's `compress` builds its colour planes, its
//!   entropy-coder buffer and the `Vec` it returns on every call (its
//!   `compress_into` only copies that `Vec` afterwards);
//! - zune-jpeg 0.5's decoder is built per input (it borrows the bytes) and
//!   allocates its component rows and up-sampling scratch in
//!   `decode_into`.
//!
//! So the test asserts the exact split: the pipeline's allocations per
//! frame equal those of a bare library call on the same data, i.e. the
//! pipeline adds none, and the parts that are ours allocate zero.

mod common;

use framecast_codec::{
    AreaResizer, DEFAULT_QUALITY, ImageBuf, PixelFormat, ReceiverConfig, ReceiverPipeline, Resizer,
    SenderConfig, SenderPipeline, probe_jpeg,
};
use framecast_test_support::alloc::{CountingAllocator, count_on_this_thread as count};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn bare_turbo_compress(src: &ImageBuf) -> usize {
    libjpeg_turbo_rs::compress(
        src.data(),
        src.width() as usize,
        src.height() as usize,
        libjpeg_turbo_rs::PixelFormat::Rgb,
        DEFAULT_QUALITY,
        libjpeg_turbo_rs::Subsampling::S420,
    )
    .unwrap()
    .len()
}

fn bare_zune_decode(jpeg: &[u8], out: &mut [u8]) {
    use zune_jpeg::zune_core::bytestream::ZCursor;
    use zune_jpeg::zune_core::options::DecoderOptions;
    let options = DecoderOptions::default().set_strict_mode(true);
    let mut d = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(jpeg), options);
    d.decode_into(out).unwrap();
}

#[test]
fn pipelines_add_no_allocation_per_frame() {
    let frames = common::natural_frames();
    let mut sender = SenderPipeline::new(SenderConfig::default()).unwrap();
    let mut receiver = ReceiverPipeline::new(ReceiverConfig::default());
    let mut jpeg = Vec::new();
    let mut window = vec![0u32; 800 * 600];
    let mut resized = ImageBuf::new(400, 400, PixelFormat::Rgb8);
    let mut resizer = AreaResizer::new();
    let mut decoded = vec![0u8; 400 * 400 * 3];

    // Warm-up: one pass over the sequence grows every buffer to its size.
    let mut jpegs = Vec::new();
    for f in &frames {
        sender.encode(f.as_image(), &mut jpeg).unwrap();
        let out = framecast_codec::ImageMut::from_xrgb32(800, 600, &mut window).unwrap();
        receiver.decode_into(&jpeg, out).unwrap();
        resizer
            .resize(f.as_image(), &mut resized.as_image_mut())
            .unwrap();
        jpegs.push(jpeg.clone());
    }

    let mut per_frame = None;
    for (f, sent) in frames.iter().zip(&jpegs).step_by(3) {
        // Our parts alone: none.
        let (n, _) = count(|| {
            resizer
                .resize(f.as_image(), &mut resized.as_image_mut())
                .unwrap()
        });
        assert_eq!(n, 0, "AreaResizer allocated");
        let (n, _) = count(|| probe_jpeg(sent).unwrap());
        assert_eq!(n, 0, "probe_jpeg allocated");

        // Sender: exactly what libjpeg-turbo-rs allocates inside.
        let (turbo, _) = count(|| bare_turbo_compress(&resized));
        let (ours, _) = count(|| sender.encode(f.as_image(), &mut jpeg).unwrap());
        assert_eq!(
            ours, turbo,
            "sender pipeline allocates beyond libjpeg-turbo-rs"
        );
        assert_eq!(&jpeg, sent);

        // Receiver: exactly what zune-jpeg allocates inside.
        let (zune, _) = count(|| bare_zune_decode(sent, &mut decoded));
        let (ours, _) = count(|| {
            let out = framecast_codec::ImageMut::from_xrgb32(800, 600, &mut window).unwrap();
            receiver.decode_into(sent, out).unwrap()
        });
        assert_eq!(ours, zune, "receiver pipeline allocates beyond zune-jpeg");
        per_frame = Some((turbo, zune));
    }
    let (turbo, zune) = per_frame.unwrap();
    println!("allocations per frame, all inside the libraries: compress {turbo}, decode {zune}");
}
