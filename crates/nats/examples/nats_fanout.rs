//! Frames over NATS, measured on this machine: how many 70 KB frames per
//! second one `nats-server` carries from one publisher to 1, 10 and 50
//! subscribers; how much latency a NATS hop adds against a direct TCP
//! connection (one server, and two cluster nodes); and what the NATS
//! client allocates per frame published and received.
//!
//! ```text
//! cargo run --release -p framecast-nats --example nats_fanout -- \
//!     --subscribers 1,10,50 --seconds 5 --size 70000
//! ```
//!
//! It starts its own `nats-server` processes (the tests' launcher, from
//! `framecast-test-support`: `FRAMECAST_NATS_SERVER`, `PATH`, `/usr/sbin`
//! or `/usr/bin`) on free loopback ports, with `max_payload: 8MB`, and
//! stops them (by PID) when it ends. Everything —
//! servers, publisher and subscribers — runs on this machine, so the
//! figures are what the whole set-up costs on it, not what a server alone
//! could do on its own machine.
//!
//! - **Fan-out**: every subscriber is a client of its own (its own TCP
//!   connection, as a viewer on another machine would be). The publisher
//!   keeps at most `--window` frames (default 16) ahead of the slowest
//!   subscriber, so nothing is dropped and the rate measured is the one at
//!   which *every* subscriber gets *every* frame. It also prints the CPU
//!   time the server and this process used per frame.
//! - **Latency**: `--latency-frames` frames (default 300) at 30 fps, each
//!   carrying the time it was sent, over a plain TCP connection (a u32
//!   length prefix, `TCP_NODELAY`) and then through NATS; one-way delays,
//!   median and 99th percentile, measured in this one process (one clock).
//! - **Allocations**: a counting global allocator; heap allocations per
//!   frame while publishing with no subscriber, then per frame with one
//!   subscriber (publishing and receiving together).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use framecast_test_support::alloc::{CountingAllocator, allocations as allocations_so_far};
use framecast_test_support::nats::{Config, NatsServer};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

struct Options {
    subscribers: Vec<usize>,
    seconds: u64,
    size: usize,
    window: u64,
    latency_frames: usize,
}

fn options() -> Options {
    let mut o = Options {
        subscribers: vec![1, 10, 50],
        seconds: 5,
        size: 70_000,
        window: 16,
        latency_frames: 300,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        // `cargo bench`-style harness flags are ignored.
        if flag == "--bench" {
            continue;
        }
        let value = args
            .next()
            .unwrap_or_else(|| panic!("{flag} needs a value"));
        let number = || -> u64 {
            value
                .parse()
                .unwrap_or_else(|_| panic!("{flag}: {value:?} is not a number"))
        };
        match flag.as_str() {
            "--subscribers" => {
                o.subscribers = value
                    .split(',')
                    .map(|n| n.trim().parse().expect("--subscribers: numbers"))
                    .collect();
            }
            "--seconds" => o.seconds = number(),
            "--size" => o.size = number() as usize,
            "--window" => o.window = number().max(1),
            "--latency-frames" => o.latency_frames = number() as usize,
            other => panic!("unknown flag {other}"),
        }
    }
    o
}

/// `max_payload: 8MB`: frames of any size the options allow.
fn config() -> Config {
    Config {
        max_payload: Some(8 << 20),
        ..Config::default()
    }
}

/// CPU time `server` used so far (user + system).
fn server_cpu(server: &NatsServer) -> Duration {
    cpu_of(&format!("/proc/{}/stat", server.pid()))
}

/// utime + stime of a `/proc/…/stat` file (clock ticks of 10 ms).
fn cpu_of(path: &str) -> Duration {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let after = text.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // Fields 14 and 15 of the file; 12 and 13 after the name.
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

async fn client(addr: &str) -> async_nats::Client {
    async_nats::ConnectOptions::new()
        .connect(addr)
        .await
        .expect("connect to nats-server")
}

/// Waits until `ready()` holds, woken by `notify`.
async fn wait_until(notify: &Notify, mut ready: impl FnMut() -> bool) {
    loop {
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if ready() {
            return;
        }
        notified.await;
    }
}

/// One publisher, `n` subscribers, for `seconds` after a second's warm-up:
/// frames per second delivered to every subscriber, and CPU per frame.
async fn fanout(server: &NatsServer, n: usize, o: &Options) -> (f64, Duration, Duration) {
    // Made once and cloned (a reference count), as framecast's publishers
    // do: a `&str` or `String` subject would be copied at every publish.
    let subject = async_nats::Subject::from(format!("bench.fanout.{n}"));
    let counts: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let notify = Arc::new(Notify::new());
    let mut tasks = Vec::new();
    for i in 0..n {
        let c = client(&server.addr()).await;
        let mut sub = c.subscribe(subject.clone()).await.unwrap();
        c.flush().await.unwrap();
        let (counts, notify) = (Arc::clone(&counts), Arc::clone(&notify));
        tasks.push(tokio::spawn(async move {
            let _keep = c;
            while sub.next().await.is_some() {
                counts[i].fetch_add(1, Ordering::Relaxed);
                notify.notify_one();
            }
        }));
    }
    let publisher = client(&server.addr()).await;
    let payload = Bytes::from(pseudo_random(o.size));
    let slowest = || {
        counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .min()
            .unwrap_or(0)
    };
    let mut sent: u64 = 0;
    let warmup_end = Instant::now() + Duration::from_secs(1);
    let mut start: Option<(Instant, u64, Duration, Duration)> = None;
    loop {
        let now = Instant::now();
        if start.is_none() && now >= warmup_end {
            start = Some((
                now,
                slowest(),
                server_cpu(server),
                cpu_of("/proc/self/stat"),
            ));
        }
        if let Some((t0, _, _, _)) = start
            && now.duration_since(t0) >= Duration::from_secs(o.seconds)
        {
            break;
        }
        wait_until(&notify, || sent - slowest() < o.window).await;
        publisher
            .publish(subject.clone(), payload.clone())
            .await
            .unwrap();
        sent += 1;
        if sent.is_multiple_of(4) {
            // Hand the frames to the connection now rather than when its
            // buffer fills.
            publisher.flush().await.unwrap();
        }
    }
    let (t0, first, server_cpu0, own_cpu0) = start.unwrap();
    let elapsed = t0.elapsed().as_secs_f64();
    let frames = slowest() - first;
    let server_cpu = server_cpu(server).saturating_sub(server_cpu0);
    let own_cpu = cpu_of("/proc/self/stat").saturating_sub(own_cpu0);
    for t in tasks {
        t.abort();
    }
    let per = |d: Duration| d / u32::try_from(frames.max(1)).unwrap_or(u32::MAX);
    (frames as f64 / elapsed, per(server_cpu), per(own_cpu))
}

/// Bytes that do not compress (not that NATS compresses).
fn pseudo_random(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A frame of `len` bytes carrying the nanoseconds since `base` now.
fn stamped(template: &[u8], base: Instant) -> Bytes {
    let mut buf = BytesMut::from(template);
    let ns = base.elapsed().as_nanos() as u64;
    buf[..8].copy_from_slice(&ns.to_le_bytes());
    buf.freeze()
}

fn delay(payload: &[u8], base: Instant) -> Duration {
    let ns = u64::from_le_bytes(payload[..8].try_into().unwrap());
    base.elapsed().saturating_sub(Duration::from_nanos(ns))
}

fn percentiles(mut d: Vec<Duration>) -> (f64, f64) {
    d.sort_unstable();
    let at = |q: f64| {
        let i = ((d.len() as f64 - 1.0) * q).round() as usize;
        d[i].as_secs_f64() * 1000.0
    };
    (at(0.5), at(0.99))
}

/// One-way delays over a plain TCP connection at 30 fps.
async fn tcp_latency(o: &Options, base: Instant) -> Vec<Duration> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let frames = o.latency_frames;
    let size = o.size;
    let reader = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        s.set_nodelay(true).unwrap();
        let mut out = Vec::with_capacity(frames);
        let mut buf = vec![0; size];
        for _ in 0..frames {
            let len = s.read_u32_le().await.unwrap() as usize;
            s.read_exact(&mut buf[..len]).await.unwrap();
            out.push(delay(&buf, base));
        }
        out
    });
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    let template = pseudo_random(size);
    let mut tick = tokio::time::interval(Duration::from_micros(33_333));
    for _ in 0..frames {
        tick.tick().await;
        let frame = stamped(&template, base);
        let mut head = [0u8; 4];
        head.copy_from_slice(&(frame.len() as u32).to_le_bytes());
        s.write_all(&head).await.unwrap();
        s.write_all(&frame).await.unwrap();
    }
    reader.await.unwrap()
}

/// One-way delays publishing on `into` and subscribing on `from` at 30 fps.
async fn nats_latency(
    into: &NatsServer,
    from: &NatsServer,
    o: &Options,
    base: Instant,
) -> Vec<Duration> {
    let subject = async_nats::Subject::from("bench.latency");
    let sub_client = client(&from.addr()).await;
    let mut sub = sub_client.subscribe(subject.clone()).await.unwrap();
    sub_client.flush().await.unwrap();
    let publisher = client(&into.addr()).await;
    // Through a cluster the subscription takes a moment to reach the
    // publisher's node: wait until a probe arrives.
    loop {
        publisher
            .publish(subject.clone(), Bytes::from_static(b"probe"))
            .await
            .unwrap();
        publisher.flush().await.unwrap();
        match tokio::time::timeout(Duration::from_millis(200), sub.next()).await {
            Ok(Some(m)) if &m.payload[..] == b"probe" => break,
            _ => {}
        }
    }
    let frames = o.latency_frames;
    let reader = tokio::spawn(async move {
        let _keep = sub_client;
        let mut out = Vec::with_capacity(frames);
        while out.len() < frames {
            let m = sub.next().await.unwrap();
            if m.payload.len() > 8 {
                out.push(delay(&m.payload, base));
            }
        }
        out
    });
    let template = pseudo_random(o.size);
    let mut tick = tokio::time::interval(Duration::from_micros(33_333));
    for _ in 0..frames {
        tick.tick().await;
        publisher
            .publish(subject.clone(), stamped(&template, base))
            .await
            .unwrap();
        publisher.flush().await.unwrap();
    }
    reader.await.unwrap()
}

/// Heap allocations per frame: publishing alone, then publishing with one
/// subscriber receiving.
async fn allocations(server: &NatsServer, o: &Options) -> (f64, f64) {
    const FRAMES: u64 = 2_000;
    let payload = Bytes::from(pseudo_random(o.size));
    let none = async_nats::Subject::from("bench.alloc.none");
    let one = async_nats::Subject::from("bench.alloc.one");
    let publisher = client(&server.addr()).await;
    // Warm-up: the client's buffers reach their working size.
    for _ in 0..200 {
        publisher
            .publish(none.clone(), payload.clone())
            .await
            .unwrap();
    }
    publisher.flush().await.unwrap();
    let before = allocations_so_far();
    for _ in 0..FRAMES {
        publisher
            .publish(none.clone(), payload.clone())
            .await
            .unwrap();
    }
    publisher.flush().await.unwrap();
    let publish_only = (allocations_so_far() - before) as f64 / FRAMES as f64;

    let sub_client = client(&server.addr()).await;
    let mut sub = sub_client.subscribe(one.clone()).await.unwrap();
    sub_client.flush().await.unwrap();
    let received = Arc::new(AtomicU64::new(0));
    let notify = Arc::new(Notify::new());
    let (r, n) = (Arc::clone(&received), Arc::clone(&notify));
    let reader = tokio::spawn(async move {
        let _keep = sub_client;
        while sub.next().await.is_some() {
            r.fetch_add(1, Ordering::Relaxed);
            n.notify_one();
        }
    });
    let run = |frames: u64| {
        let (publisher, payload, received, notify, one) =
            (&publisher, &payload, &received, &notify, &one);
        async move {
            let start = received.load(Ordering::Relaxed);
            for i in 0..frames {
                wait_until(notify, || {
                    i - (received.load(Ordering::Relaxed) - start) < o.window
                })
                .await;
                publisher
                    .publish(one.clone(), payload.clone())
                    .await
                    .unwrap();
                if i % 4 == 3 {
                    publisher.flush().await.unwrap();
                }
            }
            publisher.flush().await.unwrap();
            wait_until(notify, || {
                received.load(Ordering::Relaxed) - start == frames
            })
            .await;
        }
    };
    run(200).await;
    let before = allocations_so_far();
    run(FRAMES).await;
    let with_one = (allocations_so_far() - before) as f64 / FRAMES as f64;
    reader.abort();
    (publish_only, with_one)
}

fn main() {
    let o = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "frames of {} bytes; {} cores; load average before: {}",
        o.size,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    runtime.block_on(async {
        let server = NatsServer::start("nats_fanout", &config())
            .expect("nats-server is not installed (scripts/setup.sh installs Debian's)");

        println!(
            "\nfan-out through one nats-server (window {} frames):",
            o.window
        );
        println!("subscribers  frames/s  MB/s out  server CPU/frame  clients CPU/frame");
        for &n in &o.subscribers {
            let (fps, server_cpu, own_cpu) = fanout(&server, n, &o).await;
            println!(
                "{n:>11}  {fps:>8.0}  {:>8.0}  {:>13.0} µs  {:>14.0} µs",
                fps * n as f64 * o.size as f64 / 1e6,
                server_cpu.as_secs_f64() * 1e6,
                own_cpu.as_secs_f64() * 1e6,
            );
        }

        let base = Instant::now();
        println!(
            "\none-way delay of a {}-byte frame at 30 fps ({} frames):",
            o.size, o.latency_frames
        );
        let (tcp50, tcp99) = percentiles(tcp_latency(&o, base).await);
        println!("direct TCP              p50 {tcp50:.3} ms  p99 {tcp99:.3} ms");
        let (n50, n99) = percentiles(nats_latency(&server, &server, &o, base).await);
        println!(
            "NATS, one server        p50 {n50:.3} ms  p99 {n99:.3} ms  (+{:.3} ms at p50)",
            n50 - tcp50
        );
        let mut nodes = NatsServer::cluster("nats_fanout", 2, &config())
            .expect("nats-server is not installed (scripts/setup.sh installs Debian's)");
        let (b, a) = (nodes.pop().unwrap(), nodes.pop().unwrap());
        let (c50, c99) = percentiles(nats_latency(&a, &b, &o, base).await);
        println!(
            "NATS, node A → node B   p50 {c50:.3} ms  p99 {c99:.3} ms  (+{:.3} ms at p50)",
            c50 - tcp50
        );

        let (publish_only, with_one) = allocations(&server, &o).await;
        println!(
            "\nheap allocations per frame in this process: publishing alone {publish_only:.2}; \
             publishing and receiving (one subscriber) {with_one:.2}"
        );
    });
}
