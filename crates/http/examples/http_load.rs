//! A load generator for the HTTP viewer: many MJPEG viewers on one tokio
//! runtime, each counting the parts it receives, against a running
//! `framecast recv --http`.
//!
//! ```text
//! cargo run --release -p framecast-http --example http_load -- \
//!     --http 127.0.0.1:8080 --stream 1 --viewers 200 --seconds 20
//! ```
//!
//! The viewers connect, then (after `--warmup` seconds) the stream's frames
//! received and each viewer's parts are counted over `--seconds`; it prints
//! each viewer's share of the stream's frames (min, 10th percentile,
//! median), how many got at least 90 %, and how many were refused. With
//! `--probe`, one more viewer decodes every part's pattern marker (the
//! stream must be `framecast send --source pattern` at `--fps`, default
//! 30) and reports each part's delay relative to the first one (its
//! arrival against the first part's plus its frame distance at `--fps`),
//! window by window: it must not grow. `--threads` sets the runtime's worker threads (default 1).
//!
//! `--path PATH` watches another MJPEG server's `PATH` instead (ffmpeg's
//! `mpjpeg` muxer, say): the stream's frames are then counted as `--fps`
//! times the seconds.
//!
//! Viewers are real HTTP/1.1 clients (hyper), reading the chunked
//! multipart body; parts are found by their `Content-Length`.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Parts, chunk, get};
use framecast_capture::decode_marker;
use framecast_codec::{ImageBuf, PixelFormat, ReceiverConfig, ReceiverPipeline, probe_jpeg};

struct Options {
    http: SocketAddr,
    stream: u32,
    viewers: usize,
    seconds: u64,
    warmup: u64,
    threads: usize,
    probe: bool,
    fps: f64,
    path: Option<String>,
}

fn options() -> Options {
    let mut o = Options {
        http: "127.0.0.1:8080".parse().unwrap(),
        stream: 1,
        viewers: 100,
        seconds: 20,
        warmup: 3,
        threads: 1,
        probe: false,
        fps: 30.0,
        path: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--probe" {
            o.probe = true;
            continue;
        }
        // `cargo bench`-style harness flags are ignored.
        if flag == "--bench" {
            continue;
        }
        let value = args
            .next()
            .unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--http" => o.http = parse(&flag, &value),
            "--stream" => o.stream = parse(&flag, &value),
            "--viewers" => o.viewers = parse(&flag, &value),
            "--seconds" => o.seconds = parse(&flag, &value),
            "--warmup" => o.warmup = parse(&flag, &value),
            "--threads" => o.threads = parse(&flag, &value),
            "--fps" => o.fps = parse(&flag, &value),
            "--path" => o.path = Some(value),
            other => panic!("unknown option {other}"),
        }
    }
    o
}

fn parse<T: std::str::FromStr>(flag: &str, value: &str) -> T
where
    T::Err: std::fmt::Display,
{
    value
        .parse()
        .unwrap_or_else(|e| panic!("{flag} {value}: {e}"))
}

/// The stream's frames received so far, from `/stats.json`.
async fn received(http: SocketAddr, stream: u32) -> u64 {
    let (status, mut body) = get(http, "/stats.json").await.expect("/stats.json");
    assert_eq!(status, 200);
    let mut json = Vec::new();
    while let Some(c) = chunk(&mut body).await {
        json.extend_from_slice(&c);
    }
    let stats: serde_json::Value = serde_json::from_slice(&json).unwrap();
    // The stats object's `per_stream` (a receiver from before it: a list).
    let list = stats.get("per_stream").unwrap_or(&stats);
    list.as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == stream)
        .and_then(|s| s["received"].as_u64())
        .unwrap_or_else(|| panic!("no stream {stream} in /stats.json"))
}

/// One viewer: counts its parts until the end.
async fn viewer(http: SocketAddr, path: String, parts: Arc<AtomicU64>, refused: Arc<AtomicU64>) {
    let (status, mut body) = match get(http, &path).await {
        Ok(answer) => answer,
        Err(e) => {
            eprintln!("viewer failed: {e}");
            refused.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    if status != 200 {
        refused.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let mut split = Parts::default();
    while let Some(data) = chunk(&mut body).await {
        split.feed(data, false, |_| {
            parts.fetch_add(1, Ordering::Relaxed);
        });
    }
}

/// The probe: decodes each part's frame number and records when it came.
async fn probe(http: SocketAddr, path: String, samples: Arc<std::sync::Mutex<Vec<(f64, u64)>>>) {
    let (status, mut body) = match get(http, &path).await {
        Ok((200, body)) => (200, body),
        Ok((status, _)) => return eprintln!("the probe was refused: {status}"),
        Err(e) => return eprintln!("the probe failed: {e}"),
    };
    debug_assert_eq!(status, 200);
    let start = Instant::now();
    let mut split = Parts::default();
    let mut decoder = ReceiverPipeline::new(ReceiverConfig::default());
    let mut rgb = ImageBuf::empty(PixelFormat::Rgb8);
    while let Some(data) = chunk(&mut body).await {
        let at = start.elapsed().as_secs_f64();
        split.feed(data, true, |part| {
            let jpeg = part.jpeg;
            let Ok(info) = probe_jpeg(&jpeg) else { return };
            if decoder
                .decode_to(&jpeg, info.width, info.height, PixelFormat::Rgb8, &mut rgb)
                .is_ok()
                && let Some(m) = decode_marker(&rgb.as_image())
            {
                samples.lock().unwrap().push((at, m));
            }
        });
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((q * (sorted.len() - 1) as f64).round() as usize).min(sorted.len() - 1)]
}

fn main() {
    let o = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(o.threads)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let path = o
            .path
            .clone()
            .unwrap_or_else(|| format!("/streams/{}.mjpg", o.stream));
        let frames_now = |o: &Options| {
            let http = o.http;
            let stream = o.stream;
            let ours = o.path.is_none();
            async move {
                if ours {
                    Some(received(http, stream).await)
                } else {
                    None
                }
            }
        };
        let refused = Arc::new(AtomicU64::new(0));
        let counters: Vec<_> = (0..o.viewers)
            .map(|_| Arc::new(AtomicU64::new(0)))
            .collect();
        for c in &counters {
            tokio::spawn(viewer(
                o.http,
                path.clone(),
                Arc::clone(c),
                Arc::clone(&refused),
            ));
            // A few at a time, like tabs being opened.
            tokio::task::yield_now().await;
        }
        let samples = Arc::new(std::sync::Mutex::new(Vec::new()));
        if o.probe {
            tokio::spawn(probe(o.http, path.clone(), Arc::clone(&samples)));
        }
        tokio::time::sleep(Duration::from_secs(o.warmup)).await;
        let frames_before = frames_now(&o).await;
        let before: Vec<u64> = counters.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        let t0 = Instant::now();
        tokio::time::sleep(Duration::from_secs(o.seconds)).await;
        let after: Vec<u64> = counters.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        let elapsed = t0.elapsed().as_secs_f64();
        let frames = match (frames_before, frames_now(&o).await) {
            (Some(before), Some(after)) => after - before,
            _ => (o.fps * elapsed).round() as u64,
        };

        let refused = refused.load(Ordering::Relaxed) as usize;
        let mut shares: Vec<f64> = before
            .iter()
            .zip(&after)
            .map(|(b, a)| (a - b) as f64 / frames.max(1) as f64)
            .collect();
        shares.sort_by(f64::total_cmp);
        let served = o.viewers - refused;
        let good = shares.iter().filter(|s| **s >= 0.9).count();
        println!(
            "viewers {} (refused {refused}); stream frames in {elapsed:.1} s: {frames} \
             ({:.1} fps)",
            o.viewers,
            frames as f64 / elapsed
        );
        if !shares.is_empty() {
            let live = &shares[refused.min(shares.len() - 1)..];
            println!(
                "share of frames per viewer: min {:.3}, p10 {:.3}, median {:.3}; \
                 {good} of {served} served viewers got >= 90 %",
                live[0],
                percentile(live, 0.10),
                percentile(live, 0.5)
            );
        }
        if o.probe {
            report_probe(&samples.lock().unwrap(), o.fps);
        }
    });
    // Viewers are still connected; the runtime's drop closes them.
    runtime.shutdown_timeout(Duration::from_secs(1));
}

/// Delay of each part relative to the first, per 5-second window: the
/// smallest and the median (frames are paced at `fps` by the sender, so a
/// part's ideal arrival is the first one's plus its frame distance).
fn report_probe(samples: &[(f64, u64)], fps: f64) {
    if samples.len() < 10 {
        println!("probe: too few parts ({})", samples.len());
        return;
    }
    let (t0, m0) = samples[0];
    let mut window = Vec::new();
    let mut start = t0;
    let mut line = String::from("probe delay by 5 s window, min/median ms:");
    let flush = |window: &mut Vec<f64>, line: &mut String| {
        if window.is_empty() {
            return;
        }
        window.sort_by(f64::total_cmp);
        line.push_str(&format!(
            " {:.0}/{:.0}",
            window[0] * 1000.0,
            percentile(window, 0.5) * 1000.0
        ));
        window.clear();
    };
    for &(t, m) in samples {
        if t - start >= 5.0 {
            flush(&mut window, &mut line);
            start = t;
        }
        window.push((t - t0) - (m - m0) as f64 / fps);
    }
    flush(&mut window, &mut line);
    println!("{line} ({} parts)", samples.len());
}
