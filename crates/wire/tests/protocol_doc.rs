//! Keeps `docs/protocol.md` true: its example frame is generated here from
//! the real codec and message types, and the document must contain the
//! generated hex dump and annotation verbatim.

use bytes::Bytes;
use framecast_proto::video::{PayloadFormat, Video};
use framecast_test_support::fixtures::hexdump;
use framecast_wire::{FrameCodec, FrameWriter, Prefix};
use prost::Message;

/// The spec, read at compile time from the repository.
const SPEC: &str = include_str!("../../../docs/protocol.md");

/// The example payload: a real 287-byte JPEG (see tests/data/README.md).
const JPEG: &[u8] = include_bytes!("data/blue-8x8.jpg");

fn example_video() -> Video {
    Video {
        video_data: Bytes::from_static(JPEG),
        sequence: 42,
        // 2025-11-24 00:00:00 UTC.
        capture_time_us: Some(1_763_942_400_000_000),
        width: 8,
        height: 8,
        format: PayloadFormat::Jpeg as i32,
        source_width: 0,
        source_height: 0,
        quality: 0,
        link_rate_bps: 0,
    }
}

fn frame(prefix: Prefix) -> Vec<u8> {
    let mut w = FrameWriter::with_codec(Vec::new(), FrameCodec::with_prefix(prefix));
    w.write_message(&example_video()).unwrap();
    w.into_inner()
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One line per field: offset, bytes, meaning. The JPEG is abbreviated to
/// its first and last four bytes.
fn annotation(frame: &[u8]) -> String {
    let v = example_video();
    let mut rows: Vec<(usize, String, String)> = Vec::new();
    let mut at = 0;
    let mut take = |n: usize, show: Option<String>, meaning: String| {
        let bytes = show.unwrap_or_else(|| hex(&frame[at..at + n]));
        rows.push((at, bytes, meaning));
        at += n;
    };
    let n = frame.len() - 4;
    take(
        4,
        None,
        format!("length prefix: N = {n} (u32, little-endian)"),
    );
    take(
        1,
        None,
        "tag: field 1 (video_data), wire type 2 (length-delimited)".into(),
    );
    take(2, None, format!("varint: {} bytes follow", JPEG.len()));
    take(
        JPEG.len(),
        Some(format!(
            "{} .. {}",
            hex(&JPEG[..4]),
            hex(&JPEG[JPEG.len() - 4..])
        )),
        format!("video_data: the JPEG (SOI ... EOI, {} bytes)", JPEG.len()),
    );
    take(
        1,
        None,
        "tag: field 2 (sequence), wire type 0 (varint)".into(),
    );
    take(1, None, format!("varint: {}", v.sequence));
    take(
        1,
        None,
        "tag: field 3 (capture_time_us), wire type 0 (varint)".into(),
    );
    take(
        8,
        None,
        format!(
            "varint: {} (2025-11-24 00:00:00 UTC)",
            v.capture_time_us.unwrap()
        ),
    );
    take(1, None, "tag: field 4 (width), wire type 0 (varint)".into());
    take(1, None, format!("varint: {}", v.width));
    take(
        1,
        None,
        "tag: field 5 (height), wire type 0 (varint)".into(),
    );
    take(1, None, format!("varint: {}", v.height));
    assert_eq!(at, frame.len(), "annotation covers the whole frame");
    let mut out = String::from("offset  bytes                       meaning\n");
    for (offset, bytes, meaning) in rows {
        out.push_str(&format!("{offset:>6}  {bytes:<26}  {meaning}\n"));
    }
    out
}

#[test]
fn example_frame_layout() {
    let f = frame(Prefix::U32Le);
    // Field 6 (format) is JPEG = 0, proto3's default, so it is not sent.
    assert_eq!(f.len(), 4 + example_video().encoded_len());
    assert_eq!(f.len(), 309);
    assert_eq!(&f[..4], &[0x31, 0x01, 0, 0]);
    assert_eq!(&f[4..7], &[0x0a, 0x9f, 0x02]);
    assert_eq!(&f[7..7 + JPEG.len()], JPEG);
    // The legacy frame differs only in its 8-byte header.
    let legacy = frame(Prefix::LegacyI64Le);
    assert_eq!(&legacy[..8], &[0x31, 0x01, 0, 0, 0, 0, 0, 0]);
    assert_eq!(&legacy[8..], &f[4..]);
    // And it decodes back.
    assert_eq!(Video::decode(&f[4..]).unwrap(), example_video());
}

#[test]
fn spec_contains_the_generated_hex_dump() {
    let dump = hexdump(&frame(Prefix::U32Le));
    assert!(
        SPEC.contains(&dump),
        "docs/protocol.md must contain this dump verbatim:\n{dump}"
    );
}

#[test]
fn spec_contains_the_generated_annotation() {
    let notes = annotation(&frame(Prefix::U32Le));
    assert!(
        SPEC.contains(&notes),
        "docs/protocol.md must contain this annotation verbatim:\n{notes}"
    );
}

#[test]
fn spec_states_the_limits() {
    assert!(SPEC.contains(&framecast_wire::DEFAULT_MAX_FRAME_LEN.to_string()));
    assert!(SPEC.contains("frame of 4294967295 bytes exceeds the 8388608-byte limit"));
}
