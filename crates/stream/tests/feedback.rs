//! The feedback channel, negotiated in the handshake, between every pair of
//! old and new peers over real TCP on loopback: a new sender and a new
//! receiver talk feedback; a sender that does not ask (an older one, or
//! one that does not adapt) gets nothing after the status; a new sender
//! works with a receiver that speaks the old handshake; a receiver's ask
//! (quality, size, frame rate) reaches the sender through it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use framecast_capture::{SourceOptions, SourceSpec, open_source};
use framecast_display::NullSink;
use framecast_proto::handshake::{Hello, Settings, Status, StatusCode};
use framecast_proto::video::Video;
use framecast_stream::handshake::{self, Decoded};
use framecast_stream::{Receiver, ReceiverBuilder, SenderBuilder};
use prost::Message;

/// Long enough for a loaded 2-core machine.
const TIMEOUT: Duration = Duration::from_secs(60);

fn receiver() -> Receiver {
    ReceiverBuilder::new("127.0.0.1:0".parse().unwrap())
        .sinks(|_| Ok(Box::new(NullSink::new(64, 48)?)))
        .start()
        .unwrap()
}

fn pattern(fps: u32) -> Box<dyn framecast_capture::FrameSource> {
    open_source(
        &SourceSpec::Pattern,
        &SourceOptions::new(160, 120).with_fps(fps),
    )
    .unwrap()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Says `hello` on a raw connection and reads the status.
fn handshake(s: &mut TcpStream, hello: &Hello) -> Status {
    let mut out = Vec::new();
    handshake::encode_hello(hello, &mut out);
    s.write_all(&out).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 256];
    loop {
        if let Decoded::Complete { message, len } = handshake::decode_status(&buf).unwrap() {
            assert_eq!(len, buf.len(), "nothing may follow the status yet");
            return message;
        }
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "closed before the status");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A frame of the test pattern as the wire carries it.
fn frame(sequence: u64) -> Vec<u8> {
    let mut pipeline =
        framecast_codec::SenderPipeline::new(framecast_codec::SenderConfig::new(64, 48)).unwrap();
    let img = framecast_codec::ImageBuf::new(64, 48, framecast_codec::PixelFormat::Rgb8);
    let mut jpeg = Vec::new();
    pipeline.encode(img.as_image(), &mut jpeg).unwrap();
    let video = Video {
        video_data: jpeg.into(),
        sequence,
        width: 64,
        height: 48,
        ..Default::default()
    };
    let body = video.encode_to_vec();
    let mut out = (body.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

#[test]
fn a_new_sender_and_a_new_receiver_talk_feedback() {
    let receiver = receiver();
    let sender = SenderBuilder::new(receiver.local_addr().to_string(), pattern(30))
        .name("fb")
        .size(160, 120)
        .start()
        .unwrap();
    wait_until("frames", || receiver.stats().frames >= 20);
    let stats = sender.stats();
    assert!(stats.feedback, "{stats:?}");
    let adapt = stats.adapt.expect("a sender adapts by default");
    // Loopback keeps up: nothing to adapt.
    assert_eq!((adapt.quality, adapt.width, adapt.height), (95, 160, 120));
    let st = &receiver.stats().per_stream[0];
    assert!(st.feedback, "{st:?}");
    assert_eq!(st.quality, Some(95));
    assert_eq!((st.width, st.height), (160, 120));
    sender.shutdown().unwrap();
    receiver.shutdown().unwrap();
}

#[test]
fn a_sender_that_does_not_ask_gets_nothing_after_the_status() {
    let receiver = receiver();
    let mut s = TcpStream::connect(receiver.local_addr()).unwrap();
    // An older sender's hello: no field 4.
    let hello = Hello {
        name: "old".into(),
        software: "framecast/0.0.9".into(),
        ..Default::default()
    };
    let status = handshake(&mut s, &hello);
    assert_eq!(status.code(), StatusCode::Accepted);
    assert_eq!(status.feedback, 0);
    for seq in 0..30 {
        s.write_all(&frame(seq)).unwrap();
    }
    wait_until("30 frames", || receiver.stats().received >= 30);
    // Nothing comes back.
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut byte = [0u8; 1];
    match s.read(&mut byte) {
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "{e}"
        ),
        Ok(n) => panic!("the receiver sent {n} bytes to a sender that did not ask"),
    }
    assert!(!receiver.stats().per_stream[0].feedback);
    receiver.shutdown().unwrap();
}

#[test]
fn a_new_sender_asks_a_new_receiver_and_reads_its_feedback() {
    let receiver = receiver();
    let mut s = TcpStream::connect(receiver.local_addr()).unwrap();
    let hello = Hello {
        name: "new".into(),
        feedback: handshake::FEEDBACK_VERSION,
        ..Default::default()
    };
    let status = handshake(&mut s, &hello);
    assert_eq!(status.feedback, handshake::FEEDBACK_VERSION);
    for seq in 0..5 {
        s.write_all(&frame(seq)).unwrap();
    }
    // One feedback per frame, each naming it, with times that go forward.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    let mut arrivals = Vec::new();
    while arrivals.len() < 5 {
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0);
        buf.extend_from_slice(&chunk[..n]);
        while let Decoded::Complete { message, len } = handshake::decode_feedback(&buf).unwrap() {
            arrivals.extend(message.arrivals);
            buf.drain(..len);
        }
    }
    let seqs: Vec<_> = arrivals.iter().map(|a| a.sequence).collect();
    assert_eq!(seqs, [Some(0), Some(1), Some(2), Some(3), Some(4)]);
    for a in &arrivals {
        let sequence = a.sequence.unwrap_or_default();
        assert_eq!(a.bytes as usize, frame(sequence).len() - 4);
        assert!(a.first_byte_us <= a.last_byte_us, "{a:?}");
    }
    assert!(
        arrivals
            .windows(2)
            .all(|w| w[0].last_byte_us <= w[1].last_byte_us)
    );

    // An ask reaches the sender with the next frame's feedback.
    let stream = receiver.streams().into_iter().next().unwrap();
    assert!(stream.ask_sender(Settings {
        max_quality: 40,
        ..Default::default()
    }));
    s.write_all(&frame(5)).unwrap();
    let asked = loop {
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0);
        buf.extend_from_slice(&chunk[..n]);
        if let Decoded::Complete { message, len } = handshake::decode_feedback(&buf).unwrap() {
            buf.drain(..len);
            if let Some(settings) = message.settings {
                break settings;
            }
        }
    };
    assert_eq!(asked.max_quality, 40);
    receiver.shutdown().unwrap();
}

#[test]
fn a_new_sender_works_with_a_receiver_of_the_old_handshake() {
    // A receiver that speaks the handshake as it was: it ignores field 4,
    // answers without field 7, and never writes after the status.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let old = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let hello = loop {
            if let Decoded::Complete { message, len } = handshake::decode_hello(&buf).unwrap() {
                buf.drain(..len);
                break message;
            }
            let n = s.read(&mut chunk).unwrap();
            buf.extend_from_slice(&chunk[..n]);
        };
        let mut out = Vec::new();
        handshake::encode_status(
            &Status {
                code: StatusCode::Accepted as i32,
                stream_id: 1,
                ..Default::default()
            },
            &mut out,
        );
        s.write_all(&out).unwrap();
        // Count whole frames until the sender closes.
        let mut frames = 0;
        loop {
            while buf.len() >= 4 {
                let len = u32::from_le_bytes(buf[..4].try_into().unwrap()) as usize;
                if buf.len() < 4 + len {
                    break;
                }
                Video::decode(&buf[4..4 + len]).unwrap();
                buf.drain(..4 + len);
                frames += 1;
            }
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        (hello, frames)
    });
    let sender = SenderBuilder::new(addr.to_string(), pattern(30))
        .size(160, 120)
        .count(40)
        .start()
        .unwrap();
    let stats = sender.wait().unwrap();
    let (hello, frames) = old.join().unwrap();
    assert_eq!(
        hello.feedback,
        handshake::FEEDBACK_VERSION,
        "the sender asked"
    );
    assert_eq!(stats.sent, 40);
    assert_eq!(frames, 40);
    assert!(!stats.feedback, "{stats:?}");
    // Without feedback, on a link that keeps up, nothing changes.
    assert_eq!(stats.adapt.map(|a| a.quality), Some(95));
}

#[test]
fn a_receivers_ask_lowers_the_senders_ceiling() {
    let receiver = receiver();
    let sender = SenderBuilder::new(receiver.local_addr().to_string(), pattern(30))
        .name("ask")
        .size(160, 120)
        .start()
        .unwrap();
    wait_until("frames", || receiver.stats().frames >= 5);
    let stream = receiver.streams().into_iter().next().unwrap();
    assert!(stream.ask_sender(Settings {
        max_quality: 50,
        max_width: 80,
        max_height: 80,
        max_fps: 0,
    }));
    wait_until("the ask to take effect", || {
        let st = stream.stats();
        st.quality.is_some_and(|q| q <= 50) && st.width <= 80 && st.height <= 80
    });
    let adapt = sender.stats().adapt.unwrap();
    assert!(adapt.quality <= 50 && adapt.width <= 80, "{adapt:?}");
    sender.shutdown().unwrap();
    receiver.shutdown().unwrap();
}
