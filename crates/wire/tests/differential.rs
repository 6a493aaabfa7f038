//! Differential test: `FrameCodec` with the u32 prefix against tokio-util's
//! `LengthDelimitedCodec` configured for little-endian u32 lengths. On any
//! input, fed in any chunks, both must yield the same frames and agree on
//! whether the stream is valid; both must encode identical bytes.

use bytes::{Bytes, BytesMut};
use framecast_wire::FrameCodec;
use proptest::prelude::*;
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

#[derive(Debug, PartialEq)]
enum End {
    Clean,
    Truncated,
    TooLong,
}

fn reference(max: usize) -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .length_field_length(4)
        .little_endian()
        .max_frame_length(max)
        .new_codec()
}

/// Decodes `data`, fed as two pieces split at `cut`, then ends the stream.
///
/// `LengthDelimitedCodec` relies on the default `decode_eof`, which calls a
/// stream that ends right after a header (no payload bytes buffered) clean;
/// framecast calls that truncated. With `strict_eof`, a "clean" end that
/// left bytes of `data` unaccounted for is counted as truncated, which is the
/// rule framecast implements; it is applied to the reference only.
fn run<D, E>(
    dec: &mut D,
    data: &[u8],
    cut: usize,
    strict_eof: bool,
    classify: impl Fn(&E) -> End,
) -> (Vec<Bytes>, End)
where
    D: Decoder<Item = BytesMut, Error = E>,
{
    let (frames, end) = run_inner(dec, data, cut, classify);
    let consumed: usize = frames.iter().map(|f| 4 + f.len()).sum();
    if strict_eof && end == End::Clean && consumed != data.len() {
        return (frames, End::Truncated);
    }
    (frames, end)
}

fn run_inner<D, E>(
    dec: &mut D,
    data: &[u8],
    cut: usize,
    classify: impl Fn(&E) -> End,
) -> (Vec<Bytes>, End)
where
    D: Decoder<Item = BytesMut, Error = E>,
{
    let mut out = Vec::new();
    let mut src = BytesMut::from(&data[..cut]);
    loop {
        match dec.decode(&mut src) {
            Ok(Some(f)) => out.push(f.freeze()),
            Ok(None) => break,
            Err(e) => return (out, classify(&e)),
        }
    }
    src.extend_from_slice(&data[cut..]);
    loop {
        match dec.decode_eof(&mut src) {
            Ok(Some(f)) => out.push(f.freeze()),
            Ok(None) => return (out, End::Clean),
            Err(e) => return (out, classify(&e)),
        }
    }
}

/// Adapts our codec (whose item is `Bytes`) to the same harness.
struct Ours(FrameCodec);

impl Decoder for Ours {
    type Item = BytesMut;
    type Error = framecast_wire::WireError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, Self::Error> {
        Ok(self.0.decode(src)?.map(|b| BytesMut::from(&b[..])))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, Self::Error> {
        Ok(self.0.decode_eof(src)?.map(|b| BytesMut::from(&b[..])))
    }
}

fn stream() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Raw noise.
        prop::collection::vec(any::<u8>(), 0..400),
        // Well-formed frames, possibly cut short.
        (
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..100), 0..6),
            any::<usize>()
        )
            .prop_map(|(frames, cut)| {
                let mut buf = BytesMut::new();
                let mut codec = FrameCodec::new();
                for f in &frames {
                    codec.encode(f, &mut buf).unwrap();
                }
                let keep = if cut % 3 == 0 {
                    buf.len()
                } else {
                    cut % (buf.len() + 1)
                };
                buf[..keep].to_vec()
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decoders_agree(data in stream(), cut in any::<usize>(), max in 0usize..150) {
        let cut = cut % (data.len() + 1);
        let ours = run(&mut Ours(FrameCodec::new().max_frame_len(max)), &data, cut, false, |e| {
            if e.is_truncated() { End::Truncated } else { assert!(e.is_protocol(), "{e}"); End::TooLong }
        });
        let theirs = run(&mut reference(max), &data, cut, true, |e: &std::io::Error| {
            if e.kind() == std::io::ErrorKind::InvalidData { End::TooLong } else { End::Truncated }
        });
        prop_assert_eq!(ours, theirs);
    }

    #[test]
    fn encoders_agree(frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..8)) {
        let mut ours = BytesMut::new();
        let mut theirs = BytesMut::new();
        let mut codec = FrameCodec::new();
        let mut reference = reference(1 << 20);
        for f in frames {
            codec.encode(&f, &mut ours).unwrap();
            reference.encode(Bytes::from(f), &mut theirs).unwrap();
        }
        prop_assert_eq!(ours, theirs);
    }
}
