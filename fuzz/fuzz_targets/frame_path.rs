//! The receiver's whole frame path on arbitrary bytes, as a connection
//! would deliver them: framing (u32 prefix, a small limit), each payload
//! checked as a `Video` carrying a JPEG (header, pixel limit, declared
//! size), and the ones that pass decoded and scaled as a worker would.
//! Any panic is a bug; errors are expected.

#![no_main]

use bytes::BytesMut;
use framecast_codec::{DecodeLimits, ImageMut, ReceiverConfig, ReceiverPipeline};
use framecast_stream::{StreamId, check_frame};
use framecast_wire::FrameCodec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut codec = FrameCodec::new().max_frame_len(64 * 1024);
    let limits = DecodeLimits::new(1024, 1024, 256 * 256);
    let mut receiver = ReceiverPipeline::new(ReceiverConfig::new(limits));
    let mut window = vec![0u32; 64 * 48];
    let name: std::sync::Arc<str> = "fuzz".into();
    // Feed in uneven pieces, as TCP would.
    let mut buf = BytesMut::new();
    for chunk in data.chunks(97) {
        buf.extend_from_slice(chunk);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(payload)) => {
                    let Ok(frame) = check_frame(StreamId::new(1), &name, payload, 256 * 256) else {
                        continue;
                    };
                    assert!(u64::from(frame.width()) * u64::from(frame.height()) <= 256 * 256);
                    let out = ImageMut::from_xrgb32(64, 48, &mut window).expect("valid window");
                    if let Ok(info) = receiver.decode_into(frame.jpeg(), out) {
                        assert_eq!((info.width, info.height), (frame.width(), frame.height()));
                    }
                }
                Ok(None) => break,
                // A protocol error: the connection would be dropped.
                Err(_) => return,
            }
        }
    }
});
