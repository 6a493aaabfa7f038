//! The adapters under a counting allocator: after warm-up, reading and
//! writing a frame (raw or as a `Video`) allocates nothing, as long as the
//! caller drops each frame before reading the next.

use std::io::Cursor;

use bytes::{Bytes, BytesMut};
use framecast_proto::video::Video;
use framecast_test_support::alloc::{CountingAllocator, allocations_on_this_thread as allocations};
use framecast_wire::{FrameCodec, FrameReader, FrameWriter};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn video(sequence: u64, data: &Bytes) -> Video {
    Video {
        video_data: data.clone(),
        sequence,
        capture_time_us: Some(1_763_942_400_000_000 + sequence),
        width: 400,
        height: 400,
        ..Default::default()
    }
}

/// 200 frames of 50 000 bytes each, as a sender would produce them.
fn stream() -> Vec<u8> {
    let payload = vec![0x5a; 50_000];
    let mut w = FrameWriter::new(Vec::new());
    for _ in 0..200 {
        w.write_frame(&payload).unwrap();
    }
    w.into_inner()
}

#[test]
fn reading_frames_allocates_nothing_after_warm_up() {
    let wire = stream();
    let mut r = FrameReader::new(Cursor::new(wire.as_slice()));
    for _ in 0..10 {
        assert_eq!(r.read_frame().unwrap().unwrap().len(), 50_000);
    }
    let n = allocations(|| {
        for _ in 0..190 {
            let frame = r.read_frame().unwrap().unwrap();
            assert_eq!(frame[49_999], 0x5a);
        }
    });
    assert_eq!(n, 0, "{n} allocations for 190 frames");
    assert!(r.read_frame().unwrap().is_none());
}

/// The control: a caller that keeps every frame pins the buffer's memory,
/// so the reader must allocate; the counter sees it.
#[test]
fn holding_frames_makes_the_reader_allocate() {
    let wire = stream();
    let mut r = FrameReader::new(Cursor::new(wire.as_slice()));
    let mut held = Vec::with_capacity(200);
    let n = allocations(|| {
        while let Some(frame) = r.read_frame().unwrap() {
            held.push(frame);
        }
    });
    assert_eq!(held.len(), 200);
    assert!(n > 10, "only {n} allocations");
}

#[test]
fn reading_videos_allocates_nothing_after_warm_up() {
    let data = Bytes::from(vec![1u8; 40_000]);
    let mut w = FrameWriter::new(Vec::new());
    for seq in 0..100 {
        w.write_message(&video(seq, &data)).unwrap();
    }
    let wire = w.into_inner();
    let mut r = FrameReader::new(wire.as_slice());
    for _ in 0..10 {
        r.read_message::<Video>().unwrap().unwrap();
    }
    let n = allocations(|| {
        for seq in 10..100 {
            let v = r.read_message::<Video>().unwrap().unwrap();
            assert_eq!(v.sequence, seq);
        }
    });
    assert_eq!(n, 0, "{n} allocations for 90 videos");
}

#[test]
fn writing_allocates_nothing_after_warm_up() {
    let data = Bytes::from(vec![2u8; 40_000]);
    let mut w = FrameWriter::new(Vec::with_capacity(1 << 20));
    w.write_message(&video(1, &data)).unwrap();
    w.write_frame(&data).unwrap();
    let n = allocations(|| {
        for seq in 2..100 {
            w.get_mut().clear();
            w.write_message(&video(seq, &data)).unwrap();
            w.write_frame(&data).unwrap();
        }
    });
    assert_eq!(n, 0, "{n} allocations for 98 frame pairs");
}

#[test]
fn codec_round_trip_allocates_nothing_after_warm_up() {
    let payload = vec![3u8; 10_000];
    let mut codec = FrameCodec::new();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    codec.encode(&payload, &mut buf).unwrap();
    drop(codec.decode(&mut buf).unwrap().unwrap());
    let n = allocations(|| {
        for _ in 0..100 {
            codec.encode(&payload, &mut buf).unwrap();
            let frame = codec.decode(&mut buf).unwrap().unwrap();
            assert_eq!(frame.len(), 10_000);
        }
    });
    assert_eq!(n, 0, "{n} allocations for 100 round trips");
}
