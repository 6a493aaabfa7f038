//! The blocking adapters over a real TCP connection on 127.0.0.1.

use std::io::Write;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;

use bytes::Bytes;
use framecast_proto::video::{PayloadFormat, Video};
use framecast_wire::{
    FrameCodec, FrameReader, FrameWriter, MessageReader, MessageWriter, Prefix, WireError,
};

fn payloads() -> Vec<Vec<u8>> {
    let mut out = vec![Vec::new(), b"x".to_vec()];
    for (i, len) in [10, 1000, 65_536, 200_000, 1 << 20, 0, 3]
        .into_iter()
        .enumerate()
    {
        out.push((0..len).map(|j| (i * 7 + j * 13) as u8).collect());
    }
    out
}

/// Runs `send` on a client thread connected to a fresh listener and
/// returns the accepted server-side stream.
fn connected(send: impl FnOnce(TcpStream) + Send + 'static) -> (TcpStream, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = thread::spawn(move || send(TcpStream::connect(addr).unwrap()));
    let (stream, _) = listener.accept().unwrap();
    (stream, client)
}

#[test]
fn frames_cross_a_tcp_connection_with_both_prefixes() {
    for prefix in [Prefix::U32Le, Prefix::LegacyI64Le] {
        let sent = payloads();
        let to_send = sent.clone();
        let (stream, client) = connected(move |s| {
            let mut w = FrameWriter::with_codec(s, FrameCodec::with_prefix(prefix));
            for p in &to_send {
                w.write_frame(p).unwrap();
            }
            w.flush().unwrap();
        });
        let mut r = FrameReader::with_codec(stream, FrameCodec::with_prefix(prefix));
        let mut got = Vec::new();
        while let Some(frame) = r.read_frame().unwrap() {
            got.push(frame.to_vec());
        }
        client.join().unwrap();
        assert_eq!(got, sent, "{prefix}");
    }
}

#[test]
fn videos_cross_a_tcp_connection() {
    let (stream, client) = connected(|s| {
        let mut w = MessageWriter::<_, Video>::new(s);
        for seq in 0..50u64 {
            let v = Video {
                video_data: Bytes::from(vec![seq as u8; 40_000 + seq as usize]),
                sequence: seq,
                capture_time_us: Some(1_700_000_000_000_000 + seq),
                width: 400,
                height: 400,
                format: PayloadFormat::Jpeg as i32,
                source_width: 0,
                source_height: 0,
                quality: 0,
                link_rate_bps: 0,
            };
            w.write_message(&v).unwrap();
        }
    });
    let mut r = MessageReader::<_, Video>::new(stream);
    let mut seq = 0;
    while let Some(v) = r.read_message().unwrap() {
        assert_eq!(v.sequence, seq);
        assert_eq!(v.video_data.len(), 40_000 + seq as usize);
        assert!(v.video_data.iter().all(|&b| b == seq as u8));
        seq += 1;
    }
    client.join().unwrap();
    assert_eq!(seq, 50);
}

#[test]
fn peer_closing_mid_frame_is_a_truncation() {
    let (stream, client) = connected(|mut s| {
        let mut frame = bytes::BytesMut::new();
        FrameCodec::new().encode(&[9; 1000], &mut frame).unwrap();
        // The first frame whole, the second cut 10 bytes short.
        s.write_all(&frame).unwrap();
        s.write_all(&frame[..frame.len() - 10]).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
    });
    let mut r = FrameReader::new(stream);
    assert_eq!(r.read_frame().unwrap().unwrap().len(), 1000);
    let err = r.read_frame().unwrap_err();
    assert!(
        matches!(
            err,
            WireError::TruncatedPayload {
                missing: 10,
                len: 1000
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "stream ended inside a frame: 10 of 1000 payload bytes missing"
    );
    client.join().unwrap();
}

#[test]
fn hostile_length_is_refused_over_tcp() {
    let (stream, client) = connected(|mut s| {
        // What the original client would send for a negative length.
        s.write_all(&(-1i64).to_le_bytes()).unwrap();
        s.write_all(b"garbage").unwrap();
    });
    let mut r = FrameReader::with_codec(stream, FrameCodec::with_prefix(Prefix::LegacyI64Le));
    let err = r.read_frame().unwrap_err();
    assert!(err.is_protocol(), "{err}");
    assert_eq!(err.to_string(), "negative legacy length -1");
    client.join().unwrap();
}
