//! The receiver's decode path on arbitrary bytes: header probe, limits,
//! zune-jpeg decode and the fused scale + 0RGB conversion. Any panic is a
//! bug; errors are expected.

#![no_main]

use framecast_codec::{DecodeLimits, ImageMut, ReceiverConfig, ReceiverPipeline, probe_jpeg};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Small limits keep each run fast; the check itself is what matters.
    let limits = DecodeLimits::new(1024, 1024, 512 * 512);
    let probed = probe_jpeg(data);
    let mut receiver = ReceiverPipeline::new(ReceiverConfig::new(limits));
    let mut window = vec![0u32; 80 * 60];
    let out = ImageMut::from_xrgb32(80, 60, &mut window).expect("valid window");
    if let Ok(info) = receiver.decode_into(data, out) {
        let probed = probed.expect("a decoded JPEG has a header");
        assert_eq!((info.width, info.height), (probed.width, probed.height));
        assert!(info.width <= 1024 && info.height <= 1024);
    }
});
