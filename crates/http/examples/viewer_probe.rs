//! Measures what MJPEG viewers get: frames per second and the age of each
//! frame when it has arrived, per viewer, against a running
//! `framecast recv --http` (the figures of `scripts/viewer-links.sh`).
//!
//! ```text
//! cargo run --release -p framecast-http --example viewer_probe -- \
//!     --seconds 20 lan=http://127.0.0.1:8080/streams/1.mjpg \
//!     slow=http://127.0.0.2:8080/streams/1.mjpg?quality=auto \
//!     tier*40=http://127.0.0.1:8080/streams/1.mjpg?quality=60&width=200
//! ```
//!
//! Each argument is a viewer, `LABEL=URL`, or a group of N viewers counted
//! together, `LABEL*N=URL`. After `--warmup` seconds (default 3) it counts
//! over `--seconds` (default 20) and prints a line per label: frames per
//! second (a group's smallest and median), the age of each frame when its
//! last byte arrived (p50, p99, max), bytes per part and kbit/s, and the
//! tiers its parts came in (`X-Tier`).
//!
//! A part's age is its arrival (this machine's clock) less its capture time
//! (`X-Timestamp`, seconds since the epoch). Parts without that header (a
//! receiver from before it existed) are dated by the test pattern's frame
//! number instead: the first viewer's arrival of the same frame number is
//! taken as its capture time, so run the first viewer on a fast path (the
//! LAN viewer) and read the others' ages as "behind the LAN viewer". Such
//! viewers decode every part (the pattern must be `framecast send --source
//! pattern`).
//!
//! `--json FILE` also writes the figures as JSON.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Parts, chunk, get};
use framecast_capture::decode_marker;
use framecast_codec::{ImageBuf, PixelFormat, ReceiverConfig, ReceiverPipeline, probe_jpeg};

/// One part as a viewer got it.
#[derive(Debug, Clone)]
struct Part {
    /// When its last byte arrived, in µs since the epoch.
    arrived_us: u64,
    /// Its `X-Timestamp`, in µs since the epoch.
    captured_us: Option<u64>,
    /// The pattern's frame number, when decoded.
    marker: Option<u64>,
    bytes: usize,
    tier: Option<String>,
}

struct Viewer {
    label: String,
    /// Whether its parts are decoded for the pattern's frame number (when
    /// they carry no timestamp).
    decode: bool,
    parts: Mutex<Vec<Part>>,
    failed: Mutex<Option<String>>,
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// `http://HOST:PORT/PATH` split into the address and the path.
fn split_url(url: &str) -> (SocketAddr, String) {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("{url}: only http:// URLs"));
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let addr = host
        .parse()
        .unwrap_or_else(|e| panic!("{url}: the host must be IP:PORT ({e})"));
    (addr, if path.is_empty() { "/" } else { path }.to_owned())
}

async fn watch(viewer: Arc<Viewer>, addr: SocketAddr, path: String) {
    let (status, mut body) = match get(addr, &path).await {
        Ok(answer) => answer,
        Err(e) => {
            *viewer.failed.lock().unwrap() = Some(e);
            return;
        }
    };
    if status != 200 {
        *viewer.failed.lock().unwrap() = Some(format!("HTTP {status}"));
        return;
    }
    let mut split = Parts::default();
    let mut decoder = ReceiverPipeline::new(ReceiverConfig::default());
    let mut rgb = ImageBuf::empty(PixelFormat::Rgb8);
    while let Some(data) = chunk(&mut body).await {
        let arrived_us = now_us();
        let mut done = Vec::new();
        split.feed(data, viewer.decode, |d| done.push(d));
        for d in done {
            // Without a timestamp the pattern's frame number dates it.
            let marker = if viewer.decode && d.captured_us.is_none() {
                probe_jpeg(&d.jpeg).ok().and_then(|info| {
                    decoder
                        .decode_to(
                            &d.jpeg,
                            info.width,
                            info.height,
                            PixelFormat::Rgb8,
                            &mut rgb,
                        )
                        .ok()?;
                    decode_marker(&rgb.as_image())
                })
            } else {
                None
            };
            viewer.parts.lock().unwrap().push(Part {
                arrived_us,
                captured_us: d.captured_us,
                marker,
                bytes: d.len,
                tier: d.tier,
            });
        }
    }
    *viewer.failed.lock().unwrap() = Some("the response ended".to_owned());
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((q * (sorted.len() - 1) as f64).round() as usize).min(sorted.len() - 1)]
}

struct Options {
    seconds: f64,
    warmup: f64,
    json: Option<String>,
    viewers: Vec<(String, usize, String)>,
}

fn options() -> Options {
    let mut o = Options {
        seconds: 20.0,
        warmup: 3.0,
        json: None,
        viewers: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" | "--warmup" | "--json" => {
                let value = args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
                match arg.as_str() {
                    "--seconds" => o.seconds = value.parse().expect("--seconds"),
                    "--warmup" => o.warmup = value.parse().expect("--warmup"),
                    _ => o.json = Some(value),
                }
            }
            "--bench" => {}
            _ => {
                let (label, url) = arg
                    .split_once('=')
                    .unwrap_or_else(|| panic!("{arg}: expected LABEL=URL or LABEL*N=URL"));
                let (label, n) = match label.split_once('*') {
                    Some((l, n)) => (l, n.parse().expect("LABEL*N")),
                    None => (label, 1),
                };
                o.viewers.push((label.to_owned(), n, url.to_owned()));
            }
        }
    }
    assert!(!o.viewers.is_empty(), "no viewer given");
    o
}

fn main() {
    let o = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut groups: Vec<(String, Vec<Arc<Viewer>>)> = Vec::new();
    runtime.block_on(async {
        for (label, n, url) in &o.viewers {
            let (addr, path) = split_url(url);
            let mut members = Vec::new();
            for _ in 0..*n {
                let v = Arc::new(Viewer {
                    label: label.clone(),
                    // Groups only count; single viewers may need dating.
                    decode: *n == 1,
                    parts: Mutex::new(Vec::new()),
                    failed: Mutex::new(None),
                });
                tokio::spawn(watch(Arc::clone(&v), addr, path.clone()));
                members.push(v);
                tokio::task::yield_now().await;
            }
            groups.push((label.clone(), members));
        }
        tokio::time::sleep(Duration::from_secs_f64(o.warmup)).await;
    });
    let from = now_us();
    let t0 = Instant::now();
    runtime.block_on(async { tokio::time::sleep(Duration::from_secs_f64(o.seconds)).await });
    let to = now_us();
    let elapsed = t0.elapsed().as_secs_f64();
    let window = |v: &Viewer| -> Vec<Part> {
        v.parts
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.arrived_us >= from && p.arrived_us < to)
            .cloned()
            .collect()
    };
    // The reference's arrival of each frame number: the first viewer's.
    let reference: HashMap<u64, u64> = groups[0].1[0]
        .parts
        .lock()
        .unwrap()
        .iter()
        .filter_map(|p| Some((p.marker?, p.arrived_us)))
        .collect();
    let mut report = Vec::new();
    for (label, members) in &groups {
        let mut fps = Vec::new();
        let mut ages = Vec::new();
        let mut dated_by_marker = false;
        let mut bytes = 0usize;
        let mut parts_total = 0usize;
        let mut tiers: BTreeMap<String, usize> = BTreeMap::new();
        let mut failed = 0;
        for v in members {
            let parts = window(v);
            if parts.is_empty() && v.failed.lock().unwrap().is_some() {
                failed += 1;
                eprintln!(
                    "{}: {}",
                    v.label,
                    v.failed.lock().unwrap().as_deref().unwrap_or("")
                );
            }
            fps.push(parts.len() as f64 / elapsed);
            for p in &parts {
                bytes += p.bytes;
                parts_total += 1;
                *tiers
                    .entry(p.tier.clone().unwrap_or_else(|| "-".to_owned()))
                    .or_default() += 1;
                let age = match (p.captured_us, p.marker) {
                    (Some(c), _) => Some(p.arrived_us as f64 - c as f64),
                    (None, Some(m)) => {
                        dated_by_marker = true;
                        reference.get(&m).map(|r| p.arrived_us as f64 - *r as f64)
                    }
                    _ => None,
                };
                if let Some(a) = age {
                    ages.push(a / 1000.0);
                }
            }
        }
        fps.sort_by(f64::total_cmp);
        ages.sort_by(f64::total_cmp);
        let kbps = bytes as f64 * 8.0 / 1000.0 / elapsed / members.len() as f64;
        let per_part = bytes as f64 / parts_total.max(1) as f64;
        let tier_text: Vec<String> = tiers
            .iter()
            .map(|(t, n)| format!("{t} {:.0} %", *n as f64 * 100.0 / parts_total.max(1) as f64))
            .collect();
        let age_kind = if dated_by_marker {
            "behind the first viewer"
        } else {
            "since capture"
        };
        println!(
            "{label}: {} viewer(s){}, frames/s min {:.2} median {:.2}; age ({age_kind}) p50 {:.0} ms \
             p99 {:.0} ms max {:.0} ms ({} parts dated); {:.1} kB/part, {:.0} kbit/s per viewer; \
             tiers: {}",
            members.len(),
            if failed > 0 {
                format!(" ({failed} failed)")
            } else {
                String::new()
            },
            fps.first().copied().unwrap_or(0.0),
            percentile(&fps, 0.5),
            percentile(&ages, 0.5),
            percentile(&ages, 0.99),
            ages.last().copied().unwrap_or(f64::NAN),
            ages.len(),
            per_part / 1000.0,
            kbps,
            tier_text.join(", ")
        );
        report.push(serde_json::json!({
            "label": label,
            "viewers": members.len(),
            "failed": failed,
            "fps_min": fps.first().copied().unwrap_or(0.0),
            "fps_median": percentile(&fps, 0.5),
            "age_ms_p50": percentile(&ages, 0.5),
            "age_ms_p99": percentile(&ages, 0.99),
            "age_ms_max": ages.last().copied(),
            "age_since": age_kind,
            "bytes_per_part": per_part,
            "kbit_per_s": kbps,
            "tiers": tiers,
        }));
    }
    if let Some(path) = o.json {
        std::fs::write(&path, serde_json::to_vec_pretty(&report).unwrap()).unwrap();
    }
    runtime.shutdown_timeout(Duration::from_secs(1));
}
