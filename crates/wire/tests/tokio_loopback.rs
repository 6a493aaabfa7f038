//! The tokio adapters over a real TCP connection on 127.0.0.1.
#![cfg(feature = "tokio")]

use bytes::Bytes;
use framecast_proto::video::Video;
use framecast_wire::{FrameCodec, FrameReader, MessageCodec, Prefix};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::{Framed, FramedRead};

#[tokio::test]
async fn framed_round_trip_with_both_prefixes() {
    for prefix in [Prefix::U32Le, Prefix::LegacyI64Le] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let sent: Vec<Bytes> = [0usize, 1, 100, 70_000, 1 << 20, 0]
            .iter()
            .map(|&n| Bytes::from((0..n).map(|i| (i % 251) as u8).collect::<Vec<_>>()))
            .collect();
        let to_send = sent.clone();
        let client = tokio::spawn(async move {
            let stream = TcpStream::connect(addr).await.unwrap();
            let mut framed = Framed::new(stream, FrameCodec::with_prefix(prefix));
            for b in to_send {
                framed.send(b).await.unwrap();
            }
            framed.send(&b"slice"[..]).await.unwrap();
        });
        let (stream, _) = listener.accept().await.unwrap();
        let mut framed = Framed::new(stream, FrameCodec::with_prefix(prefix));
        let mut got = Vec::new();
        while let Some(frame) = framed.next().await {
            got.push(frame.unwrap());
        }
        client.await.unwrap();
        assert_eq!(got.pop().unwrap(), &b"slice"[..]);
        assert_eq!(got, sent, "{prefix}");
    }
}

#[tokio::test]
async fn tokio_sender_and_blocking_receiver_interoperate() {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_listener.local_addr().unwrap();
    let receiver = std::thread::spawn(move || {
        let (stream, _) = std_listener.accept().unwrap();
        let mut r = FrameReader::new(stream);
        let mut seqs = Vec::new();
        while let Some(v) = r.read_message::<Video>().unwrap() {
            seqs.push(v.sequence);
        }
        seqs
    });
    let stream = TcpStream::connect(addr).await.unwrap();
    let mut framed = Framed::new(stream, MessageCodec::<Video>::default());
    for sequence in 0..20 {
        let v = Video {
            video_data: Bytes::from(vec![1; 5000]),
            sequence,
            ..Default::default()
        };
        if sequence % 2 == 0 {
            framed.send(v).await.unwrap();
        } else {
            framed.send(&v).await.unwrap();
        }
    }
    drop(framed);
    let seqs = tokio::task::spawn_blocking(move || receiver.join().unwrap())
        .await
        .unwrap();
    assert_eq!(seqs, (0..20).collect::<Vec<u64>>());
}

#[tokio::test]
async fn framed_read_reports_truncation() {
    let mut wire = bytes::BytesMut::new();
    FrameCodec::new().encode(b"whole", &mut wire).unwrap();
    FrameCodec::new().encode(b"cut short", &mut wire).unwrap();
    let cut = &wire[..wire.len() - 4];
    let mut framed = FramedRead::new(cut, FrameCodec::new());
    assert_eq!(framed.next().await.unwrap().unwrap(), &b"whole"[..]);
    let err = framed.next().await.unwrap().unwrap_err();
    assert!(err.is_truncated(), "{err}");
    assert!(framed.next().await.is_none());
}
