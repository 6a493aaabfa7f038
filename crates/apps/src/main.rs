//! `framecast`: stream camera frames over TCP.
//!
//! A thin binary: each command parses its arguments, builds a sender or a
//! receiver from the `framecast_apps` engines, and runs it with a stats line
//! once a second until it finishes or Ctrl-C.

use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use framecast_capture::{SourceOptions, SourceSpec};
use framecast_stream::events::{ReceiverEvent, SenderEvent, log_receiver_event, log_sender_event};
use framecast_stream::handshake::PeerGuess;
use framecast_stream::limits;
use framecast_stream::{
    DEFAULT_MAX_CLIENTS, DEFAULT_PORT, RateMeter, Receiver, ReceiverBuilder, ReceiverStats, Sender,
    SenderBuilder, SenderStats,
};
use framecast_wire::Prefix;

mod addr;
mod catalog_cmd;
mod cert_cmd;

/// Stream camera frames over TCP: a sender, a receiver, and a demo of both.
#[derive(Debug, Parser)]
#[command(name = "framecast", version, about, propagate_version = true)]
struct Cli {
    /// No stats line and only warnings in the log (RUST_LOG still wins).
    #[arg(short, long, global = true)]
    quiet: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Capture frames, JPEG-encode them and stream them to a receiver.
    Send(SendArgs),
    /// Receive frames from one or more senders and show, record or measure
    /// them.
    Recv(RecvArgs),
    /// A receiver and a sender in one process over loopback, with the test
    /// pattern: a window when there is a display, else the stats line.
    Demo(DemoArgs),
    /// List the cameras and their formats.
    Devices,
    /// The ecommerce.ProductInfo catalog: run the gRPC server, or add, get
    /// and delete products on one.
    #[command(subcommand)]
    Catalog(catalog_cmd::CatalogArgs),
    /// Make a throwaway CA and a server certificate for TLS, and print the
    /// flags that use them.
    Cert(cert_cmd::CertArgs),
}

/// A picture size, `WIDTHxHEIGHT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Size {
    width: u32,
    height: u32,
}

impl FromStr for Size {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (w, h) = s
            .split_once(['x', 'X'])
            .ok_or_else(|| format!("expected WIDTHxHEIGHT, got {s:?}"))?;
        let parse = |v: &str| {
            v.trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_DIMENSION).contains(n))
                .ok_or_else(|| format!("{v:?} is not a size between 1 and {MAX_DIMENSION}"))
        };
        Ok(Size {
            width: parse(w)?,
            height: parse(h)?,
        })
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

/// A pixel count: `WIDTHxHEIGHT` or a plain number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pixels(u64);

impl FromStr for Pixels {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Ok(n) = s.trim().parse::<u64>() {
            return if n == 0 {
                Err("the pixel limit must be at least 1".into())
            } else {
                Ok(Pixels(n))
            };
        }
        let size: Size = s.parse()?;
        Ok(Pixels(u64::from(size.width) * u64::from(size.height)))
    }
}

/// Seconds from the command line as a duration (at least a millisecond).
fn seconds(s: f64, flag: &str) -> Result<Duration> {
    if !(s.is_finite() && (0.001..=86_400.0).contains(&s)) {
        anyhow::bail!("{flag} must be between 0.001 and 86400 seconds, not {s}");
    }
    Ok(Duration::from_secs_f64(s))
}

/// The largest width or height accepted on the command line.
const MAX_DIMENSION: u32 = 16_384;

/// Where frames are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DisplayMode {
    /// A window (needs a display).
    Window,
    /// No window: every frame is still decoded and scaled, then discarded.
    None,
}

#[derive(Debug, Args)]
struct SendArgs {
    /// The receiver: HOST:PORT, HOST (port 5252) or [IPV6]:PORT; a name is
    /// looked up at every attempt.
    #[arg(long, value_name = "HOST:PORT", value_parser = addr::parse_to)]
    to: addr::HostPort,

    /// pattern, camera[:INDEX|NAME], raw:PATH (with --input-size) or
    /// mjpeg:PATH.
    #[arg(long, default_value = "pattern")]
    source: SourceSpec,

    /// The size of the frames in a raw:PATH file (and the size asked of a
    /// camera or the pattern).
    #[arg(long, value_name = "WxH")]
    input_size: Option<Size>,

    /// The size frames are scaled to before encoding.
    #[arg(long, default_value = "400x400", value_name = "WxH")]
    size: Size,

    /// JPEG quality, 1 to 100.
    #[arg(long, default_value_t = 95, value_parser = clap::value_parser!(u8).range(1..=100))]
    quality: u8,

    /// Frames per second; 0 sends as fast as possible.
    #[arg(long, default_value_t = framecast_capture::DEFAULT_FPS)]
    fps: u32,

    /// Stop after this many frames were sent to a receiver that accepted the
    /// session; the exit status is 0 only if all of them were.
    #[arg(long)]
    count: Option<u64>,

    /// Play a file source (raw:PATH, mjpeg:PATH) again from the start when
    /// it ends, like ffmpeg's -stream_loop; without it the sender stops at
    /// the end of the file.
    #[arg(long = "loop")]
    looping: bool,

    /// Seconds one connection attempt may take.
    #[arg(long, value_name = "SECONDS", default_value_t = framecast_stream::DEFAULT_CONNECT_TIMEOUT.as_secs_f64())]
    connect_timeout: f64,

    /// Failed attempts in a row (connection refused or timed out, session
    /// refused) before giving up with an error, or "forever". Counted from
    /// the last session that carried frames; with the backoff (0.1 s
    /// doubling to 5 s), 10 retries take about half a minute.
    #[arg(long, value_name = "N|forever", default_value_t = framecast_stream::Retry::default())]
    retry: framecast_stream::Retry,

    /// The length prefix: u32 (framecast) or legacy (the original
    /// programs' 8-byte prefix).
    #[arg(long, default_value = "u32", value_name = "u32|legacy")]
    framing: Prefix,

    /// A name for the stream, sent to the receiver: its window tile, stats
    /// and viewer show it [default: this machine's name and the source].
    #[arg(long, value_name = "NAME")]
    name: Option<String>,

    /// Show what is being captured in a local window; q or Esc in it stops
    /// the sender.
    #[arg(long)]
    preview: bool,

    /// Write the sender's totals as JSON to this file on exit.
    #[arg(long, value_name = "PATH")]
    stats_json: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct RecvArgs {
    /// The address to listen on: HOST:PORT or [IPV6]:PORT, loopback by
    /// default. Use 0.0.0.0:5252 to accept senders from other machines.
    /// Port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:5252", value_name = "HOST:PORT", value_parser = addr::parse_listen)]
    listen: SocketAddr,

    /// window, or none to decode and scale without showing.
    #[arg(long, value_enum, default_value_t = default_display())]
    display: DisplayMode,

    /// The size frames are scaled to for showing.
    #[arg(long, default_value = "800x600", value_name = "WxH")]
    size: Size,

    /// The length prefix: u32 (framecast) or legacy (the original
    /// programs' 8-byte prefix).
    #[arg(long, default_value = "u32", value_name = "u32|legacy")]
    framing: Prefix,

    /// Exit after this many frames were received over all streams (shown,
    /// dropped or corrupt), so a script that sends N frames always ends.
    #[arg(long)]
    count: Option<u64>,

    /// Append every shown frame's JPEG, unchanged, to this .mjpeg file.
    #[arg(long, value_name = "PATH")]
    record: Option<PathBuf>,

    /// Write the totals as JSON to this file on exit.
    #[arg(long, value_name = "PATH")]
    stats_json: Option<PathBuf>,

    /// How many senders are served at once; the next one is refused as
    /// busy (it is told so, and retries later).
    #[arg(long, default_value_t = DEFAULT_MAX_CLIENTS)]
    max_clients: usize,

    /// How many connections may wait for their handshake at once; when one
    /// more comes, the one that waited longest is closed.
    #[arg(long, default_value_t = limits::DEFAULT_MAX_PENDING_HANDSHAKES, value_name = "N")]
    max_pending_handshakes: usize,

    /// The largest frame accepted, in bytes; a sender announcing a larger
    /// one is disconnected.
    #[arg(long, default_value_t = framecast_wire::DEFAULT_MAX_FRAME_LEN)]
    max_frame_len: usize,

    /// The largest picture decoded, in pixels (width x height, or a
    /// number), checked from the JPEG header before decoding; larger
    /// frames are counted as corrupt.
    #[arg(long, default_value = "3840x2160", value_name = "WxH|PIXELS")]
    max_pixels: Pixels,

    /// Decode workers (default: one per core).
    #[arg(long, value_name = "N")]
    workers: Option<usize>,

    /// Seconds a new connection has to complete its handshake.
    #[arg(long, value_name = "SECONDS", default_value_t = limits::DEFAULT_HANDSHAKE_TIMEOUT.as_secs_f64())]
    handshake_timeout: f64,

    /// Seconds a stream may go without a complete frame before it is
    /// closed.
    #[arg(long, value_name = "SECONDS", default_value_t = limits::DEFAULT_IDLE_TIMEOUT.as_secs_f64())]
    idle_timeout: f64,

    /// Seconds one frame may take from its first byte to its last.
    #[arg(long, value_name = "SECONDS", default_value_t = limits::DEFAULT_TRICKLE_TIMEOUT.as_secs_f64())]
    trickle_timeout: f64,

    /// Test knob: sleep this long per shown frame (a slow display).
    #[arg(long, hide = true, default_value_t = 0)]
    sink_delay_ms: u64,
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// How long to run; 0 runs until Ctrl-C (or the window is closed).
    #[arg(long, default_value_t = 10)]
    seconds: u64,

    /// Write the receiver's totals as JSON to this file on exit.
    #[arg(long, value_name = "PATH")]
    stats_json: Option<PathBuf>,
}

const fn default_display() -> DisplayMode {
    if cfg!(feature = "window") {
        DisplayMode::Window
    } else {
        DisplayMode::None
    }
}

/// Set by the Ctrl-C handler; the command loops poll it.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// How often the command loops look at their engine and at Ctrl-C.
const TICK: Duration = Duration::from_millis(50);

/// How often the stats line is printed.
const STATS_EVERY: Duration = Duration::from_secs(1);

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(cli.quiet);
    if matches!(
        cli.command,
        Command::Send(_) | Command::Recv(_) | Command::Demo(_)
    ) {
        // The streaming commands poll this flag to stop cleanly (recorder
        // flushed, summary printed, stats written).
        if let Err(e) = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst)) {
            tracing::warn!("cannot install the Ctrl-C handler: {e}");
        }
    }
    let result = match cli.command {
        Command::Send(args) => send(args, cli.quiet),
        Command::Recv(args) => recv(args, cli.quiet),
        Command::Demo(args) => demo(args, cli.quiet),
        Command::Devices => devices(),
        Command::Catalog(args) => catalog_cmd::run(args),
        Command::Cert(args) => cert_cmd::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_logging(quiet: bool) {
    let default = if quiet { "warn" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .with_target(false)
        .init();
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Writes to stdout; a reader that went away (`| head`) is not an error.
fn out(text: fmt::Arguments<'_>) -> Result<()> {
    let mut stdout = io::stdout().lock();
    match stdout.write_fmt(text).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// The stats line on stderr: rewritten in place on a terminal when it is a
/// single line, else one line per stream per second.
struct StatsPrinter {
    quiet: bool,
    tty: bool,
    in_place: bool,
    last: Instant,
    meter: RateMeter,
}

impl StatsPrinter {
    fn new(quiet: bool) -> Self {
        Self {
            quiet,
            tty: io::stderr().is_terminal(),
            in_place: false,
            last: Instant::now(),
            meter: RateMeter::new(),
        }
    }

    fn due(&mut self) -> bool {
        if self.last.elapsed() >= STATS_EVERY {
            self.last = Instant::now();
            !self.quiet
        } else {
            false
        }
    }

    fn print(&mut self, lines: &[String]) {
        let mut err = io::stderr().lock();
        if self.tty && lines.len() == 1 {
            let _ = write!(err, "\r\x1b[2K{}", lines[0]);
            self.in_place = true;
        } else {
            self.end_line(&mut err);
            for l in lines {
                let _ = writeln!(err, "{l}");
            }
        }
        let _ = err.flush();
    }

    fn end_line(&mut self, err: &mut impl Write) {
        if self.in_place {
            let _ = writeln!(err);
            self.in_place = false;
        }
    }

    fn receiver(&mut self, stats: &ReceiverStats) {
        if self.due() {
            let lines = self.meter.receiver_lines(stats);
            self.print(&lines);
        }
    }

    fn sender(&mut self, stats: &SenderStats) {
        if self.due() {
            let line = self.meter.sender_line(stats);
            self.print(&[line]);
        }
    }

    fn finish(&mut self) {
        self.end_line(&mut io::stderr().lock());
    }
}

fn source_options(args: &SendArgs) -> SourceOptions {
    let size = args.input_size.unwrap_or(Size {
        width: framecast_capture::DEFAULT_WIDTH,
        height: framecast_capture::DEFAULT_HEIGHT,
    });
    SourceOptions::new(size.width, size.height).with_fps(args.fps)
}

fn build_sender(args: &SendArgs) -> Result<SenderBuilder> {
    let source = framecast_capture::open_source(&args.source, &source_options(args))
        .with_context(|| format!("cannot open the source {}", args.source))?;
    let to = if args
        .to
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        args.to.clone()
    } else {
        format!("{}:{DEFAULT_PORT}", args.to)
    };
    let framing = args.framing;
    let mut builder = SenderBuilder::new(to, source)
        .size(args.size.width, args.size.height)
        .quality(args.quality)
        .framing(args.framing)
        .on_event(move |e| log_sender_event(e, sender_hint(e, framing)));
    if let Some(n) = args.count {
        builder = builder.count(n);
    }
    if let Some(name) = &args.name {
        builder = builder.name(name.clone());
    }
    Ok(builder)
}

/// What the user can do about a sender event, in this program's flags.
fn sender_hint(event: &SenderEvent<'_>, framing: Prefix) -> Option<&'static str> {
    use framecast_proto::handshake::StatusCode;
    match event {
        SenderEvent::HandshakeFailed { error, .. } if error.peer_lacks_handshake() => Some(
            "if the receiver is the original server.py or `framecast recv --framing legacy`, \
             send with --framing legacy",
        ),
        SenderEvent::Refused { code, .. } if *code == StatusCode::WrongFraming => {
            Some(if framing == Prefix::LegacyI64Le {
                "the receiver expects the default framing: send with --framing u32"
            } else {
                "the receiver uses the legacy framing: send with --framing legacy"
            })
        }
        SenderEvent::Refused { code, .. } if *code == StatusCode::Busy => {
            Some("it serves as many senders as its --max-clients allows")
        }
        _ => None,
    }
}

/// What the user can do about a receiver event, in this program's flags.
fn receiver_hint(event: &ReceiverEvent<'_>) -> Option<&'static str> {
    match event {
        ReceiverEvent::HandshakeFailed { error, .. } => match error.peer_guess() {
            Some(PeerGuess::LegacyFraming) => Some(
                "to receive from the original client.py or `framecast send --framing legacy`, \
                 start the receiver with --framing legacy",
            ),
            Some(PeerGuess::NoHandshake) => Some(
                "upgrade the sender, or receive it with --framing legacy if it uses that framing",
            ),
            _ => None,
        },
        ReceiverEvent::HelloOnLegacyFraming { .. } => Some(
            "the sender uses the default framing: start the receiver without --framing legacy, \
             or the sender with --framing legacy",
        ),
        ReceiverEvent::Refused { code, .. }
            if *code == framecast_proto::handshake::StatusCode::Busy =>
        {
            Some("raise --max-clients to serve more senders at once")
        }
        _ => None,
    }
}

fn send(args: SendArgs, quiet: bool) -> Result<()> {
    if args.preview {
        return send_with_preview(args, quiet);
    }
    let sender = build_sender(&args)?.start()?;
    let stats = run_sender(sender, quiet, || false)?;
    finish_sender(&stats, args.stats_json.as_deref())
}

/// Runs `sender` until it finishes, Ctrl-C, or `closed()`.
fn run_sender(sender: Sender, quiet: bool, closed: impl Fn() -> bool) -> Result<SenderStats> {
    let mut printer = StatsPrinter::new(quiet);
    while !sender.is_finished() {
        if INTERRUPTED.load(Ordering::SeqCst) || closed() {
            sender.stop();
            break;
        }
        printer.sender(&sender.stats());
        std::thread::sleep(TICK);
    }
    printer.finish();
    Ok(sender.wait()?)
}

fn finish_sender(stats: &SenderStats, json: Option<&Path>) -> Result<()> {
    if let Some(path) = json {
        write_json(path, stats)?;
    }
    out(format_args!(
        "sent {} frames ({} bytes) in {:.1} s: {:.1} fps, dropped {}, reconnects {}\n",
        stats.sent, stats.bytes, stats.seconds, stats.fps, stats.dropped, stats.reconnects
    ))
}

#[cfg(feature = "window")]
fn send_with_preview(args: SendArgs, quiet: bool) -> Result<()> {
    use framecast_capture::FrameKind;
    use framecast_display::{EncodedFrame, FrameSink};

    let builder = build_sender(&args)?;
    let json = args.stats_json.clone();
    let options = framecast_display::WindowOptions::default().with_title("framecast preview");
    let stats = framecast_display::run_window(options, move |handle| {
        let preview = handle.clone();
        // JPEG frames (an MJPEG camera or file) are shown through a window
        // sink, which decodes them; raw frames are copied in directly.
        let mut jpeg_sink = handle.sink();
        let sender = builder
            .on_frame(move |frame| {
                // A closed window stops the sender through `is_closed`; a
                // frame the preview cannot show is no reason to stop.
                let _ = match frame.kind {
                    FrameKind::Jpeg => jpeg_sink.show(
                        &EncodedFrame::new(0, "preview", &frame.jpeg)
                            .with_sequence(frame.sequence)
                            .with_capture_time_us(Some(frame.capture_time_us)),
                    ),
                    _ => preview.show_pixels(0, "preview", frame.pixels.as_image()),
                };
            })
            .start()?;
        run_sender(sender, quiet, || handle.is_closed())
    })??;
    finish_sender(&stats, json.as_deref())
}

#[cfg(not(feature = "window"))]
fn send_with_preview(_args: SendArgs, _quiet: bool) -> Result<()> {
    anyhow::bail!("--preview needs a build with the window feature (the default)")
}

/// The receiver `args` ask for (its display sinks are added by the caller).
fn receiver_builder(args: &RecvArgs) -> Result<ReceiverBuilder> {
    let mut builder = ReceiverBuilder::new(args.listen)
        .framing(args.framing)
        .max_clients(args.max_clients)
        .max_pending_handshakes(args.max_pending_handshakes)
        .max_frame_len(args.max_frame_len)
        .max_pixels(args.max_pixels.0)
        .handshake_timeout(seconds(args.handshake_timeout, "--handshake-timeout")?)
        .idle_timeout(seconds(args.idle_timeout, "--idle-timeout")?)
        .trickle_timeout(seconds(args.trickle_timeout, "--trickle-timeout")?)
        .sink_delay(Duration::from_millis(args.sink_delay_ms))
        .on_event(|e| log_receiver_event(e, receiver_hint(e)));
    if let Some(n) = args.count {
        builder = builder.count(n);
    }
    if let Some(n) = args.workers {
        builder = builder.workers(n);
    }
    Ok(builder)
}

/// The recording `args` ask for: the file is created now, so a bad path
/// fails before anything starts.
fn recorder(args: &RecvArgs) -> Result<Option<framecast_display::Recorder<std::fs::File>>> {
    match &args.record {
        Some(path) => Ok(Some(
            framecast_display::Recorder::create(path)
                .with_context(|| format!("cannot record to {}", path.display()))?,
        )),
        None => Ok(None),
    }
}

/// Runs a started receiver (and its recording) to the end.
fn run_with_recording(
    receiver: Receiver,
    recorder: Option<framecast_display::Recorder<std::fs::File>>,
    quiet: bool,
    closed: impl Fn() -> bool,
) -> Result<ReceiverStats> {
    announce(&receiver);
    let recording = match recorder {
        Some(r) => Some(framecast_stream::Recording::start(&receiver, r)?),
        None => None,
    };
    let stats = run_receiver(receiver, quiet, closed)?;
    if let Some(recording) = recording {
        let r = recording.finish()?;
        if r.lost > 0 || r.failed {
            tracing::warn!(
                "the recording holds {} frames ({} lost{})",
                r.frames,
                r.lost,
                if r.failed {
                    ", stopped by an error"
                } else {
                    ""
                }
            );
        }
    }
    Ok(stats)
}

fn recv(args: RecvArgs, quiet: bool) -> Result<()> {
    match args.display {
        DisplayMode::None => {
            let recorder = recorder(&args)?;
            let (w, h) = (args.size.width, args.size.height);
            framecast_display::NullSink::new(w, h)?;
            let receiver = receiver_builder(&args)?
                .sinks(move |_| Ok(Box::new(framecast_display::NullSink::new(w, h)?)))
                .start()?;
            let stats = run_with_recording(receiver, recorder, quiet, || false)?;
            finish_receiver(&stats, args.stats_json.as_deref())
        }
        DisplayMode::Window => recv_window(args, quiet),
    }
}

#[cfg(feature = "window")]
fn recv_window(args: RecvArgs, quiet: bool) -> Result<()> {
    let builder = receiver_builder(&args)?;
    let recorder = recorder(&args)?;
    let options =
        framecast_display::WindowOptions::default().with_size(args.size.width, args.size.height);
    let stats = framecast_display::run_window(options, move |handle| {
        let window = handle.clone();
        let receiver = builder
            .sinks(move |_| Ok(Box::new(window.sink())))
            .start()?;
        run_with_recording(receiver, recorder, quiet, || handle.is_closed())
    })
    .context("cannot open a window (use --display none to run without one)")??;
    finish_receiver(&stats, args.stats_json.as_deref())
}

#[cfg(not(feature = "window"))]
fn recv_window(_args: RecvArgs, _quiet: bool) -> Result<()> {
    anyhow::bail!("this build has no window support; use --display none")
}

fn announce(receiver: &Receiver) {
    // Tests and scripts read the port from here when they asked for port 0.
    eprintln!("listening on {}", receiver.local_addr());
}

/// Runs `receiver` until it finishes, Ctrl-C, or `closed()`.
fn run_receiver(
    receiver: Receiver,
    quiet: bool,
    closed: impl Fn() -> bool,
) -> Result<ReceiverStats> {
    let mut printer = StatsPrinter::new(quiet);
    while !receiver.is_finished() {
        if INTERRUPTED.load(Ordering::SeqCst) || closed() {
            receiver.stop();
            break;
        }
        printer.receiver(&receiver.stats());
        std::thread::sleep(TICK);
    }
    printer.finish();
    Ok(receiver.wait()?)
}

fn finish_receiver(stats: &ReceiverStats, json: Option<&Path>) -> Result<()> {
    if let Some(path) = json {
        write_json(path, stats)?;
    }
    let latency = match stats.latency_ms {
        Some(l) => format!(
            "latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            l.p50, l.p99, l.max
        ),
        None => "no latency (frames carried no capture time)".to_owned(),
    };
    out(format_args!(
        "shown {} of {} frames received from {} streams in {:.1} s: {:.1} fps, {} bytes, \
         dropped {}, corrupt {}, {latency}\n",
        stats.frames,
        stats.received,
        stats.streams,
        stats.seconds,
        stats.fps,
        stats.bytes,
        stats.dropped,
        stats.corrupt,
    ))
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

fn demo(args: DemoArgs, quiet: bool) -> Result<()> {
    let deadline = (args.seconds > 0).then(|| Instant::now() + Duration::from_secs(args.seconds));
    let expired = move || deadline.is_some_and(|d| Instant::now() >= d);
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    #[cfg(feature = "window")]
    if display_available() {
        let options = framecast_display::WindowOptions::default();
        let result =
            framecast_display::run_window(options, move |handle| -> Result<ReceiverStats> {
                let window = handle.clone();
                let receiver = ReceiverBuilder::new(loopback)
                    .sinks(move |_| Ok(Box::new(window.sink())))
                    .start()?;
                let sender = start_demo_sender(&receiver)?;
                let stats = run_receiver(receiver, quiet, || handle.is_closed() || expired());
                sender.shutdown()?;
                stats
            });
        match result {
            Ok(stats) => return finish_receiver(&stats?, args.stats_json.as_deref()),
            Err(e) => tracing::warn!("no window ({e}); running headless"),
        }
    }
    let receiver = ReceiverBuilder::new(loopback)
        .sinks(|_| Ok(Box::new(framecast_display::NullSink::new(800, 600)?)))
        .start()?;
    let sender = start_demo_sender(&receiver)?;
    let stats = run_receiver(receiver, quiet, expired)?;
    sender.shutdown()?;
    finish_receiver(&stats, args.stats_json.as_deref())
}

/// The demo's sender: the test pattern at 640x480 and 30 fps, like a
/// webcam, into `receiver`.
fn start_demo_sender(receiver: &Receiver) -> Result<Sender> {
    let source = framecast_capture::open_source(
        &SourceSpec::Pattern,
        &SourceOptions::new(640, 480).with_fps(30),
    )?;
    Ok(
        SenderBuilder::new(receiver.local_addr().to_string(), source)
            .name("demo")
            .start()?,
    )
}

/// Whether a window could open here: a display server is named in the
/// environment.
#[cfg(feature = "window")]
fn display_available() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

fn devices() -> Result<()> {
    let devices = framecast_capture::list_devices().context("cannot list cameras")?;
    if devices.is_empty() {
        out(format_args!("no camera found; try --source pattern\n"))?;
    }
    for d in devices {
        out(format_args!(
            "{}: {} ({})\n",
            d.index, d.name, d.description
        ))?;
        if d.modes.is_empty() {
            out(format_args!(
                "    (its modes could not be read: busy or no permission)\n"
            ))?;
        }
        for m in &d.modes {
            out(format_args!("    {m}\n"))?;
        }
    }
    Ok(())
}
