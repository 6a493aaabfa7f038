//! Feeds arbitrary bytes to the frame decoder, with both prefixes and a
//! small limit, split into arbitrary pieces, and checks the invariants the
//! decoder promises: no panic, frames within the limit, errors only of the
//! expected kinds, every byte accounted for on a clean end.

#![no_main]

use bytes::BytesMut;
use framecast_wire::{FrameCodec, FrameReader, Prefix};
use libfuzzer_sys::fuzz_target;

/// Small, so that the fuzzer reaches both sides of the limit quickly.
const MAX_FRAME_LEN: usize = 1024;

fuzz_target!(|data: &[u8]| {
    // The first byte chooses where the input is cut in two.
    let Some((&cut, data)) = data.split_first() else {
        return;
    };
    let cut = usize::from(cut).min(data.len());
    for prefix in [Prefix::U32Le, Prefix::LegacyI64Le] {
        check_codec(prefix, data, cut);
        check_reader(prefix, data);
    }
});

fn check_codec(prefix: Prefix, data: &[u8], cut: usize) {
    let mut codec = FrameCodec::with_prefix(prefix).max_frame_len(MAX_FRAME_LEN);
    let mut src = BytesMut::from(&data[..cut]);
    let mut consumed = 0;
    loop {
        match codec.decode(&mut src) {
            Ok(Some(frame)) => {
                assert!(frame.len() <= MAX_FRAME_LEN);
                consumed += prefix.len() + frame.len();
            }
            Ok(None) => break,
            Err(e) => {
                assert!(e.is_protocol(), "{e}");
                // Refused without reserving room for the claimed length.
                assert!(src.capacity() <= 2 * (data.len() + MAX_FRAME_LEN) + 64);
                return;
            }
        }
    }
    src.extend_from_slice(&data[cut..]);
    loop {
        match codec.decode_eof(&mut src) {
            Ok(Some(frame)) => {
                assert!(frame.len() <= MAX_FRAME_LEN);
                consumed += prefix.len() + frame.len();
            }
            Ok(None) => {
                assert_eq!(consumed, data.len());
                return;
            }
            Err(e) => {
                assert!(e.is_protocol() || e.is_truncated(), "{e}");
                return;
            }
        }
    }
}

fn check_reader(prefix: Prefix, data: &[u8]) {
    let codec = FrameCodec::with_prefix(prefix).max_frame_len(MAX_FRAME_LEN);
    let mut reader = FrameReader::with_codec(data, codec).read_size(16);
    loop {
        match reader.read_frame() {
            Ok(Some(frame)) => assert!(frame.len() <= MAX_FRAME_LEN),
            Ok(None) => return,
            Err(e) => {
                assert!(e.is_protocol() || e.is_truncated(), "{e}");
                return;
            }
        }
    }
}
