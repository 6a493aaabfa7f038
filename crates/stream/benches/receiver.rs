//! The receiver's capacity, measured (not a criterion bench: it searches).
//!
//! `cargo bench -p framecast-stream --bench receiver -- [throughput|streams|all]`
//!
//! Frames: 32 natural 400x400 JPEGs at quality 95, cut from the two
//! photographs in `crates/codec/testdata` (640x480 crops panned across each,
//! scaled to 400x400 and encoded once, before measuring). Senders are raw
//! sessions in this process that replay them, so they cost little: a write
//! per frame.
//!
//! - `throughput`: frames/s decoded and scaled to 800x600 (the null sink)
//!   by 1 and then 2 workers, with 4 streams sending as fast as they can;
//!   rounds interleaved, medians reported, and the ratio 2 : 1 measured in
//!   the same run.
//! - `streams`: how many 30 fps streams one receiver (2 workers) sustains
//!   with under 1 % of frames dropped, stepping up 10 streams at a time.
//! - `handoff`: what holding frames until the workers have decoded them
//!   costs a viewer. One 30 fps stream, decode-only workers (a headless
//!   receiver): for each frame, the time from its arrival to when the
//!   subscribers of every frame get it (before decoding: the recorders'
//!   path, and the viewers' before they waited for the verdict) and to when
//!   the latest-frame watch (snapshots, MJPEG) and the subscribers of shown
//!   frames (publishers) get it. Medians and 99th percentiles, and the
//!   watch's median as a multiple of the stream's decode time, in the
//!   same run.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use framecast_codec::{ImageBuf, PixelFormat, SenderConfig, SenderPipeline};
use framecast_display::NullSink;
use framecast_proto::handshake::{Hello, StatusCode};
use framecast_proto::video::Video;
use framecast_stream::handshake::{self, Decoded};
use framecast_stream::{Receiver, ReceiverBuilder};
use prost::Message;

fn load_png(name: &str) -> ImageBuf {
    let path = format!("{}/../codec/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb, "{path}");
    buf.truncate(info.buffer_size());
    ImageBuf::from_vec(info.width, info.height, PixelFormat::Rgb8, buf).unwrap()
}

/// 32 framed `Video` messages (length prefix included) of natural
/// pictures, 400x400 q95.
fn frames() -> Vec<Vec<u8>> {
    let mut encoder = SenderPipeline::new(SenderConfig::new(400, 400)).unwrap();
    let mut out = Vec::new();
    for name in ["bunny_640x480.png", "motorcycle_640x480.png"] {
        let img = load_png(name);
        for i in 0..16u32 {
            // A 560x420 window panning across the picture, as a camera
            // would: each frame different, all natural.
            let (x, y) = ((i * 5) as usize, (i * 3 % 60) as usize);
            let mut crop = ImageBuf::new(560, 420, PixelFormat::Rgb8);
            for row in 0..420 {
                let src = &img.data()[((y + row) * 640 + x) * 3..][..560 * 3];
                crop.data_mut()[row * 560 * 3..][..560 * 3].copy_from_slice(src);
            }
            let mut jpeg = Vec::new();
            encoder.encode(crop.as_image(), &mut jpeg).unwrap();
            let msg = Video {
                video_data: jpeg.into(),
                width: 400,
                height: 400,
                ..Default::default()
            }
            .encode_to_vec();
            let mut framed = (msg.len() as u32).to_le_bytes().to_vec();
            framed.extend_from_slice(&msg);
            out.push(framed);
        }
    }
    out
}

fn session(addr: SocketAddr, name: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    let mut out = Vec::new();
    handshake::encode_hello(
        &Hello {
            name: name.into(),
            ..Default::default()
        },
        &mut out,
    );
    s.write_all(&out).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 256];
    loop {
        if let Decoded::Complete { message, .. } = handshake::decode_status(&buf).unwrap() {
            assert_eq!(message.code(), StatusCode::Accepted, "{message:?}");
            return s;
        }
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0);
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Starts a sender thread replaying `frames` at `fps` (0: flat out) until
/// `stop`.
fn sender(
    addr: SocketAddr,
    name: String,
    frames: Arc<Vec<Vec<u8>>>,
    fps: u32,
    stop: Arc<AtomicBool>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut s = session(addr, &name);
        let start = Instant::now();
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            if s.write_all(&frames[(n % frames.len() as u64) as usize])
                .is_err()
            {
                break;
            }
            n += 1;
            if fps > 0 {
                let due = start + Duration::from_secs_f64(n as f64 / f64::from(fps));
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    thread::sleep(wait);
                }
            }
        }
    })
}

fn receiver(workers: usize, max_clients: usize) -> Receiver {
    ReceiverBuilder::new("127.0.0.1:0".parse().unwrap())
        .workers(workers)
        .max_clients(max_clients)
        .sinks(|_| Ok(Box::new(NullSink::new(800, 600)?)))
        .start()
        .unwrap()
}

/// Shown frames per second with `workers`, 4 streams flat out, over
/// `secs` after a 1 s warm-up.
fn throughput_round(frames: &Arc<Vec<Vec<u8>>>, workers: usize, secs: f64) -> f64 {
    let rx = receiver(workers, 16);
    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..4)
        .map(|i| {
            sender(
                rx.local_addr(),
                format!("s{i}"),
                Arc::clone(frames),
                0,
                Arc::clone(&stop),
            )
        })
        .collect();
    thread::sleep(Duration::from_secs(1));
    let a = rx.stats().frames;
    let t = Instant::now();
    thread::sleep(Duration::from_secs_f64(secs));
    let shown = rx.stats().frames - a;
    let rate = shown as f64 / t.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    rx.shutdown().unwrap();
    for s in senders {
        let _ = s.join();
    }
    rate
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn throughput(frames: &Arc<Vec<Vec<u8>>>) {
    let (mut one, mut two) = (Vec::new(), Vec::new());
    for round in 0..3 {
        one.push(throughput_round(frames, 1, 4.0));
        two.push(throughput_round(frames, 2, 4.0));
        println!(
            "round {round}: 1 worker {:.0} frames/s, 2 workers {:.0} frames/s",
            one[round], two[round]
        );
    }
    let (m1, m2) = (median(one), median(two));
    println!(
        "throughput (median of 3, 400x400 q95 -> 800x600): 1 worker {m1:.0} frames/s, \
         2 workers {m2:.0} frames/s ({:.2}x)",
        m2 / m1
    );
}

/// Whether `n` streams at 30 fps run with under 1 % dropped; returns the
/// drop fraction and the shown rate.
fn streams_round(frames: &Arc<Vec<Vec<u8>>>, n: usize, secs: u64) -> (f64, f64) {
    let rx = receiver(2, n);
    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..n)
        .map(|i| {
            // Spread the senders' phases across a frame period.
            thread::sleep(Duration::from_micros(33_333 / n as u64));
            sender(
                rx.local_addr(),
                format!("s{i}"),
                Arc::clone(frames),
                30,
                Arc::clone(&stop),
            )
        })
        .collect();
    thread::sleep(Duration::from_secs(1));
    let a = rx.stats();
    thread::sleep(Duration::from_secs(secs));
    let b = rx.stats();
    stop.store(true, Ordering::Relaxed);
    rx.shutdown().unwrap();
    for s in senders {
        let _ = s.join();
    }
    let received = b.received - a.received;
    let dropped = b.dropped - a.dropped;
    let shown = b.frames - a.frames;
    (
        dropped as f64 / received.max(1) as f64,
        shown as f64 / secs as f64,
    )
}

fn streams(frames: &Arc<Vec<Vec<u8>>>) {
    let mut best = 0;
    let mut n = 10;
    loop {
        let (drop, shown) = streams_round(frames, n, 5);
        println!(
            "{n} streams at 30 fps: {:.2} % dropped, {shown:.0} frames/s shown",
            drop * 100.0
        );
        if drop >= 0.01 {
            break;
        }
        best = n;
        n += 10;
        if n > 200 {
            break;
        }
    }
    println!("streams sustained with < 1 % dropped: {best}");
}

fn main() {
    let which = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| "all".into());
    let frames = Arc::new(frames());
    let bytes: usize = frames.iter().map(Vec::len).sum();
    println!(
        "{} frames, {} bytes each on average",
        frames.len(),
        bytes / frames.len()
    );
    if which == "throughput" || which == "all" {
        throughput(&frames);
    }
    if which == "streams" || which == "all" {
        streams(&frames);
    }
    if which == "handoff" || which == "all" {
        handoff(&frames);
    }
}

/// The `p`-th percentile of `v` (sorted here), in ms.
fn percentile_ms(v: &mut [Duration], p: usize) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort();
    v[(v.len() * p / 100).min(v.len() - 1)].as_secs_f64() * 1000.0
}

fn handoff(frames: &Arc<Vec<Vec<u8>>>) {
    let rx = ReceiverBuilder::new("127.0.0.1:0".parse().unwrap())
        .workers(1)
        .sinks(|_| Ok(Box::new(NullSink::decode_only())))
        .start()
        .unwrap();
    let runtime = rx.runtime().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let sending = sender(
        rx.local_addr(),
        "handoff".into(),
        Arc::clone(frames),
        30,
        Arc::clone(&stop),
    );
    while rx.streams().is_empty() {
        thread::sleep(Duration::from_millis(5));
    }
    let stream = rx.streams().remove(0);
    // Each path's delays, gathered on the receiver's runtime.
    let gathered = || Arc::new(std::sync::Mutex::new(Vec::<Duration>::new()));
    let (every, shown, watched) = (gathered(), gathered(), gathered());
    for (mut events, into) in [
        (rx.subscribe(), Arc::clone(&every)),
        (rx.subscribe_shown(), Arc::clone(&shown)),
    ] {
        runtime.spawn(async move {
            while let Ok(event) = events.recv().await {
                if let framecast_stream::StreamEvent::Frame(f) = event {
                    let d = f.received().elapsed();
                    into.lock().unwrap().push(d);
                }
            }
        });
    }
    {
        let mut latest = stream.watch();
        let into = Arc::clone(&watched);
        runtime.spawn(async move {
            while latest.changed().await.is_ok() {
                let d = latest
                    .borrow_and_update()
                    .as_ref()
                    .map(|f| f.received().elapsed());
                into.lock().unwrap().extend(d);
            }
        });
    }
    thread::sleep(Duration::from_secs(10));
    let cost_ms = stream.stats().cost_ms;
    let take = |v: &Arc<std::sync::Mutex<Vec<Duration>>>| std::mem::take(&mut *v.lock().unwrap());
    let (mut every, mut shown, mut watched) = (take(&every), take(&shown), take(&watched));
    stop.store(true, Ordering::Relaxed);
    let _ = sending.join();
    let stats = rx.shutdown().unwrap();
    println!(
        "handoff, 400x400 q95 at 30 fps, 1 decode-only worker: {} frames received, {} shown; \
         decode {cost_ms:.2} ms a frame",
        stats.received, stats.frames
    );
    for (what, d) in [
        ("every frame (before decoding)", &mut every),
        ("latest-frame watch (viewers)", &mut watched),
        ("shown frames (publishers)", &mut shown),
    ] {
        let n = d.len();
        println!(
            "  {what}: {n} frames, median {:.2} ms, p99 {:.2} ms",
            percentile_ms(d, 50),
            percentile_ms(d, 99)
        );
    }
    println!(
        "  the watch's median is {:.1}x the decode time",
        percentile_ms(&mut watched, 50) / cost_ms.max(0.001)
    );
}
