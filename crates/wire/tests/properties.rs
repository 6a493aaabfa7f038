//! Property tests: any sequence of frames round-trips through any chunking,
//! and no input makes the decoder panic.

use std::io::{self, Read};

use bytes::BytesMut;
use framecast_wire::{FrameCodec, FrameReader, FrameWriter, Prefix, WireError};
use proptest::prelude::*;

fn prefix() -> impl Strategy<Value = Prefix> {
    prop_oneof![Just(Prefix::U32Le), Just(Prefix::LegacyI64Le)]
}

fn frames() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(
        prop_oneof![
            3 => prop::collection::vec(any::<u8>(), 0..64),
            1 => prop::collection::vec(any::<u8>(), 0..3000),
        ],
        0..12,
    )
}

/// A reader that hands out its data in the given chunk sizes (cycling).
struct Chunked {
    data: Vec<u8>,
    pos: usize,
    sizes: Vec<usize>,
    call: usize,
}

impl Read for Chunked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let size = self.sizes[self.call % self.sizes.len()];
        self.call += 1;
        let n = size.min(buf.len()).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn encode_all(prefix: Prefix, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut w = FrameWriter::with_codec(Vec::new(), FrameCodec::with_prefix(prefix));
    for f in frames {
        w.write_frame(f).unwrap();
    }
    w.into_inner()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Sans-I/O: the stream fed to the codec in arbitrary pieces.
    #[test]
    fn codec_round_trips_through_any_chunking(
        prefix in prefix(),
        frames in frames(),
        cuts in prop::collection::vec(1usize..200, 1..20),
    ) {
        let wire = encode_all(prefix, &frames);
        let mut codec = FrameCodec::with_prefix(prefix);
        let mut src = BytesMut::new();
        let mut out = Vec::new();
        let mut pos = 0;
        let mut i = 0;
        while pos < wire.len() {
            let end = (pos + cuts[i % cuts.len()]).min(wire.len());
            i += 1;
            src.extend_from_slice(&wire[pos..end]);
            pos = end;
            while let Some(f) = codec.decode(&mut src).unwrap() {
                out.push(f.to_vec());
            }
        }
        prop_assert_eq!(codec.decode_eof(&mut src).unwrap(), None);
        prop_assert_eq!(out, frames);
    }

    /// Blocking adapters: a reader whose reads return arbitrary sizes.
    #[test]
    fn reader_round_trips_through_any_read_sizes(
        prefix in prefix(),
        frames in frames(),
        sizes in prop::collection::vec(1usize..5000, 1..10),
        read_size in 1usize..100_000,
    ) {
        let wire = encode_all(prefix, &frames);
        let reader = Chunked { data: wire, pos: 0, sizes, call: 0 };
        let mut r = FrameReader::with_codec(reader, FrameCodec::with_prefix(prefix))
            .read_size(read_size);
        let mut out = Vec::new();
        while let Some(f) = r.read_frame().unwrap() {
            out.push(f.to_vec());
        }
        prop_assert_eq!(out, frames);
    }

    /// Arbitrary bytes never panic the decoder; every outcome is a frame, a
    /// request for more, or a typed error, and frames respect the limit.
    #[test]
    fn decoder_never_panics_on_arbitrary_bytes(
        prefix in prefix(),
        data in prop::collection::vec(any::<u8>(), 0..600),
        cut in 0usize..600,
        max in 0usize..300,
    ) {
        let mut codec = FrameCodec::with_prefix(prefix).max_frame_len(max);
        let cut = cut.min(data.len());
        let mut src = BytesMut::from(&data[..cut]);
        let mut consumed = 0;
        let mut failed = false;
        loop {
            match codec.decode(&mut src) {
                Ok(Some(f)) => { prop_assert!(f.len() <= max); consumed += prefix.len() + f.len(); }
                Ok(None) => break,
                Err(e) => { prop_assert!(e.is_protocol()); failed = true; break; }
            }
        }
        if !failed {
            src.extend_from_slice(&data[cut..]);
            loop {
                match codec.decode_eof(&mut src) {
                    Ok(Some(f)) => { prop_assert!(f.len() <= max); consumed += prefix.len() + f.len(); }
                    Ok(None) => { prop_assert_eq!(consumed, data.len()); break; }
                    Err(e) => { prop_assert!(e.is_protocol() || e.is_truncated()); break; }
                }
            }
        }
        // The reader agrees, and terminates.
        let mut r = FrameReader::with_codec(data.as_slice(), FrameCodec::with_prefix(prefix).max_frame_len(max));
        loop {
            match r.read_frame() {
                Ok(Some(f)) => prop_assert!(f.len() <= max),
                Ok(None) => break,
                Err(e) => {
                    let expected = matches!(
                        e,
                        WireError::FrameTooLarge { .. }
                            | WireError::NegativeLength(_)
                            | WireError::TruncatedHeader { .. }
                            | WireError::TruncatedPayload { .. }
                    );
                    prop_assert!(expected, "unexpected error {}", e);
                    break;
                }
            }
        }
    }
}
