//! `framecast bench`: the whole pipeline, measured.
//!
//! Natural 640x480 frames (a window panning across the two photographs
//! built into the binary, 32 frames, looping; or a raw file given with
//! `--input`) go through a real `framecast send` (resize to 400x400, JPEG
//! q95, framing, loopback TCP) into a real `framecast recv --display
//! offscreen` (decode, scale to 800x600 as a window would, discard), each in its own process, so that
//! each side's CPU time is its whole process's. Each child measures its own
//! CPU time (the process CPU clock) and heap allocations at the end of a
//! warm-up and at the end, so the per-frame figures are the steady state's,
//! without start-up; the receiver's stats give frames/s and latency.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use framecast_codec::{ImageBuf, PixelFormat};
use serde::Serialize;

use crate::flags::{Quiet, Size};
use crate::output::out;
use crate::probe::{ChildReport, WARM_UP};

/// The photographs the built-in sequence pans across (see
/// crates/codec/testdata/README.md for where they come from).
const PICTURES: [&[u8]; 2] = [
    include_bytes!("../../../codec/testdata/bunny_640x480.png"),
    include_bytes!("../../../codec/testdata/motorcycle_640x480.png"),
];

/// Frames of the built-in sequence.
const SEQUENCE_FRAMES: u32 = 32;

/// `framecast bench`'s flags.
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// Frames to send.
    #[arg(long, default_value_t = 600)]
    frames: u64,

    /// Frames per second; 0 runs free (as fast as the pipeline goes).
    #[arg(long, default_value_t = 0)]
    fps: u32,

    /// A raw RGB24 file to send instead of the built-in natural sequence
    /// (with --input-size).
    #[arg(long, value_name = "PATH")]
    input: Option<PathBuf>,

    /// The size of the frames in --input.
    #[arg(long, default_value = "640x480", value_name = "WxH")]
    input_size: Size,

    /// The size frames are sent at, exactly (stretched, as the original
    /// programs sent them).
    #[arg(long, default_value = "400x400", value_name = "WxH")]
    size: Size,

    /// JPEG quality.
    #[arg(long, default_value_t = 95, value_parser = clap::value_parser!(u8).range(1..=100))]
    quality: u8,

    /// The size the receiver scales frames to.
    #[arg(long, default_value = "800x600", value_name = "WxH")]
    display_size: Size,

    /// The receiver's decode workers (default: one per core).
    #[arg(long, value_name = "N")]
    workers: Option<usize>,

    /// Print the results as one JSON object instead of a table.
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    pub(crate) quiet: Quiet,
}

/// `framecast bench --help`'s examples.
pub(crate) const EXAMPLES: &str = "\
Examples:
  framecast bench                          600 natural frames, free-running
  framecast bench --fps 30 --frames 300    paced like a camera
  framecast bench --json > bench.json      one JSON object, for scripts
  framecast bench --input cam.rgb --input-size 1280x720 --size 1280x720
";

/// The results of one run.
#[derive(Debug, Serialize)]
struct Results {
    frames: u64,
    fps_asked: u32,
    seconds: f64,
    frames_per_second: f64,
    shown: u64,
    dropped: u64,
    latency_ms: serde_json::Value,
    bytes_per_frame: f64,
    sender: Side,
    receiver: Side,
}

#[derive(Debug, Serialize)]
struct Side {
    cpu_us_per_frame: f64,
    allocations_per_frame: f64,
}

fn load_png(bytes: &[u8]) -> Result<ImageBuf> {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info()?;
    let mut buf = vec![0; reader.output_buffer_size().context("PNG too large")?];
    let info = reader.next_frame(&mut buf)?;
    if info.color_type != png::ColorType::Rgb || info.bit_depth != png::BitDepth::Eight {
        bail!("the built-in pictures are 8-bit RGB");
    }
    buf.truncate(info.buffer_size());
    Ok(ImageBuf::from_vec(
        info.width,
        info.height,
        PixelFormat::Rgb8,
        buf,
    )?)
}

/// Writes the built-in sequence as raw RGB24 640x480 frames: a 560x420
/// window panning across each photograph, scaled back to 640x480 by the
/// sender like any camera frame.
fn write_sequence(path: &Path) -> Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut frame = vec![0u8; 640 * 480 * 3];
    for picture in PICTURES {
        let img = load_png(picture)?;
        let (w, h) = (img.width() as usize, img.height() as usize);
        for i in 0..SEQUENCE_FRAMES / 2 {
            let (x0, y0) = ((i * 5) as usize, (i * 3 % 60) as usize);
            // Nearest-neighbour from the 560x420 window to 640x480: a
            // stand-in for the camera's own framing, done once.
            for y in 0..480 {
                let sy = (y0 + y * 420 / 480).min(h - 1);
                for x in 0..640 {
                    let sx = (x0 + x * 560 / 640).min(w - 1);
                    let s = (sy * w + sx) * 3;
                    frame[(y * 640 + x) * 3..][..3].copy_from_slice(&img.data()[s..s + 3]);
                }
            }
            file.write_all(&frame)?;
        }
    }
    file.flush()?;
    Ok(())
}

fn spawn(args: &[String]) -> Result<Child> {
    let exe = std::env::current_exe().context("cannot find this program's path")?;
    Command::new(exe)
        .args(args)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start a child process")
}

fn read_report(path: &Path) -> Result<ChildReport> {
    let text = std::fs::read(path).with_context(|| format!("no report in {}", path.display()))?;
    Ok(serde_json::from_slice(&text)?)
}

pub(crate) fn run(args: BenchArgs) -> Result<()> {
    let quiet = args.quiet.quiet;
    if args.frames <= WARM_UP * 2 {
        bail!(
            "--frames must be more than {} (the warm-up is {WARM_UP})",
            WARM_UP * 2
        );
    }
    let dir = tempfile::tempdir()?;
    let input = match &args.input {
        Some(p) => p.clone(),
        None => {
            let p = dir.path().join("natural-640x480.rgb");
            write_sequence(&p)?;
            p
        }
    };
    let input_size = if args.input.is_some() {
        args.input_size
    } else {
        Size {
            width: 640,
            height: 480,
        }
    };
    let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let (recv_json, recv_report, send_report) = (
        path("recv.json"),
        path("recv-report.json"),
        path("send-report.json"),
    );
    let frames = args.frames.to_string();
    let mut recv_args: Vec<String> = [
        "recv",
        "--listen",
        "127.0.0.1:0",
        "--display",
        "offscreen",
        "--count",
        &frames,
        "-q",
        "--stats-json",
        &recv_json,
        "--bench-report",
        &recv_report,
        "--size",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    recv_args.push(args.display_size.to_string());
    if let Some(w) = args.workers {
        recv_args.extend(["--workers".to_owned(), w.to_string()]);
    }
    let mut recv = spawn(&recv_args)?;
    let mut stderr = BufReader::new(recv.stderr.take().context("the receiver's stderr")?);
    let mut line = String::new();
    let addr = loop {
        line.clear();
        if stderr.read_line(&mut line)? == 0 {
            let _ = recv.kill();
            bail!("the receiver exited before listening");
        }
        if let Some(a) = line.trim().strip_prefix("listening on ") {
            break a.to_owned();
        }
    };
    // Keep draining the receiver's stderr so it never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while stderr.read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    });
    let send_args: Vec<String> = [
        "send".to_owned(),
        "--to".to_owned(),
        addr,
        "--source".to_owned(),
        format!("raw:{}", input.display()),
        "--input-size".to_owned(),
        input_size.to_string(),
        "--loop".to_owned(),
        "--size".to_owned(),
        args.size.to_string(),
        // Exactly --size, as the original programs sent: the measured
        // work stays that of the lab's pipeline, whatever the input's shape.
        "--stretch".to_owned(),
        "--quality".to_owned(),
        args.quality.to_string(),
        "--fps".to_owned(),
        args.fps.to_string(),
        "--count".to_owned(),
        frames.clone(),
        "--name".to_owned(),
        "bench".to_owned(),
        "-q".to_owned(),
        "--bench-report".to_owned(),
        send_report.clone(),
    ]
    .into();
    let start = Instant::now();
    let mut send = spawn(&send_args)?;
    let bar = (!quiet && std::io::IsTerminal::is_terminal(&std::io::stderr())).then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message(format!(
            "{} frames, {}",
            args.frames,
            if args.fps == 0 {
                "free-running".to_owned()
            } else {
                format!("paced at {} fps", args.fps)
            }
        ));
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    });
    let send_status = send.wait()?;
    // A free-running sender outruns the receiver, which then drops frames
    // and may never reach its count: give it a moment, then stop it.
    let linger = Instant::now() + Duration::from_secs(3);
    let recv_status = loop {
        if let Some(status) = recv.try_wait()? {
            break status;
        }
        if Instant::now() >= linger {
            let _ = Command::new("kill")
                .args(["-INT", &recv.id().to_string()])
                .status();
            break recv.wait()?;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let seconds = start.elapsed().as_secs_f64();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if !send_status.success() {
        bail!("the sender failed ({send_status})");
    }
    if !recv_status.success() {
        bail!("the receiver failed ({recv_status})");
    }
    let sender = read_report(Path::new(&send_report))?;
    let receiver = read_report(Path::new(&recv_report))?;
    let stats: serde_json::Value = serde_json::from_slice(&std::fs::read(&recv_json)?)?;
    let (send_cpu, send_allocs) = sender.per_frame().context("too few frames sent")?;
    let (recv_cpu, recv_allocs) = receiver.per_frame().context("too few frames received")?;
    // Frames/s of the steady state: the receiver's rate over its connected
    // time, which leaves out start-up.
    let results = Results {
        frames: args.frames,
        fps_asked: args.fps,
        seconds: round(seconds, 3),
        frames_per_second: round(stats["fps"].as_f64().unwrap_or(0.0), 1),
        shown: stats["frames"].as_u64().unwrap_or(0),
        dropped: stats["dropped"].as_u64().unwrap_or(0),
        latency_ms: stats["latency_ms"].clone(),
        bytes_per_frame: round(sender.bytes as f64 / sender.frames.max(1) as f64, 0),
        sender: Side {
            cpu_us_per_frame: round(send_cpu, 0),
            allocations_per_frame: round(send_allocs, 2),
        },
        receiver: Side {
            cpu_us_per_frame: round(recv_cpu, 0),
            allocations_per_frame: round(recv_allocs, 2),
        },
    };
    if args.json {
        return out(format_args!("{}\n", serde_json::to_string(&results)?));
    }
    let latency = |key: &str| {
        results.latency_ms[key]
            .as_f64()
            .map_or_else(|| "n/a".to_owned(), |v| format!("{v:.2} ms"))
    };
    out(format_args!(
        "framecast bench: {} frames, {}\n\
         \n\
         | measure | value |\n\
         | --- | ---: |\n\
         | frames/s (receiver, connected time) | {:.1} |\n\
         | shown / dropped | {} / {} |\n\
         | latency p50 / p99 / max | {} / {} / {} |\n\
         | bytes per frame | {:.0} |\n\
         | sender CPU per frame | {:.0} µs |\n\
         | receiver CPU per frame | {:.0} µs |\n\
         | sender heap allocations per frame | {:.2} |\n\
         | receiver heap allocations per frame | {:.2} |\n",
        results.frames,
        if args.fps == 0 {
            "free-running".to_owned()
        } else {
            format!("paced at {} fps", args.fps)
        },
        results.frames_per_second,
        results.shown,
        results.dropped,
        latency("p50"),
        latency("p99"),
        latency("max"),
        results.bytes_per_frame,
        results.sender.cpu_us_per_frame,
        results.receiver.cpu_us_per_frame,
        results.sender.allocations_per_frame,
        results.receiver.allocations_per_frame,
    ))
}

fn round(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}
