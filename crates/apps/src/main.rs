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
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use framecast_capture::{SourceOptions, SourceSpec};
use framecast_stream::events::{ReceiverEvent, SenderEvent, log_receiver_event, log_sender_event};
use framecast_stream::handshake::PeerGuess;
use framecast_stream::limits;
use framecast_stream::{
    DEFAULT_MAX_CLIENTS, RateMeter, Receiver, ReceiverBuilder, ReceiverStats, Sender,
    SenderBuilder, SenderStats,
};
use framecast_wire::Prefix;

mod addr;
mod alloc_count;
mod bench_cmd;
mod catalog_cmd;
mod cert_cmd;
mod http_cmd;
mod nats_cmd;

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
    Send(Box<SendArgs>),
    /// Receive frames from one or more senders and show, record or measure
    /// them.
    Recv(Box<RecvArgs>),
    /// A receiver and a sender in one process over loopback, with the test
    /// pattern: a window when there is a display, else the stats line.
    Demo(DemoArgs),
    /// List the cameras and their formats.
    Devices,
    /// Measure the whole pipeline: natural frames through resize, JPEG,
    /// framing, loopback TCP, decode and scale, in two processes.
    Bench(bench_cmd::BenchArgs),
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

/// Where a sender sends: a receiver, or NATS servers.
#[derive(Debug, Clone)]
enum Destination {
    /// A receiver's `HOST:PORT`.
    Receiver(addr::HostPort),
    /// NATS servers and a subject.
    Nats(framecast_stream::nats::NatsUrl),
}

fn parse_destination(s: &str) -> Result<Destination, String> {
    if nats_cmd::is_nats(s) {
        nats_cmd::parse_url(s).map(Destination::Nats)
    } else {
        addr::parse_to(s).map(Destination::Receiver)
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
    /// A window when a display is available, else none.
    Auto,
    /// A window (needs a display).
    Window,
    /// No window: every frame is still decoded and scaled, then discarded.
    None,
}

#[derive(Debug, Args)]
struct SendArgs {
    /// The receiver: HOST:PORT, HOST (port 5252), or an IPv6 address in
    /// brackets such as `[::1]:5252`; a name is looked up at every attempt.
    /// Or NATS servers to publish to, nats://HOST:4222[/SUBJECT] (SUBJECT
    /// defaults to framecast.NAME, NAME from --name; several servers comma
    /// separated fail over; --connect-timeout, --retry, --framing, --tls
    /// and --token-file are for a TCP receiver only).
    #[arg(long, value_name = "HOST:PORT|nats://HOST:4222/SUBJECT", value_parser = parse_destination)]
    to: Destination,

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
    #[arg(long, default_value_t = framecast_stream::DEFAULT_QUALITY, value_parser = clap::value_parser!(u8).range(1..=100))]
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

    /// Connect with TLS, checking the receiver's certificate against
    /// --tls-ca (or the system's trusted CAs) and the host name in --to.
    #[arg(long)]
    tls: bool,

    /// The CA certificate (PEM) the receiver's certificate must be signed
    /// by; implies --tls. `framecast cert` makes one.
    #[arg(long, value_name = "PEM")]
    tls_ca: Option<PathBuf>,

    /// A file holding the receiver's access token, sent in the session
    /// handshake [default: the FRAMECAST_TOKEN environment variable, if
    /// set].
    #[arg(long, value_name = "PATH")]
    token_file: Option<PathBuf>,

    /// With --to nats://…: a file holding the token the NATS servers
    /// require (one line). A user and password go in the URL instead.
    #[arg(long, value_name = "PATH")]
    nats_token_file: Option<PathBuf>,

    /// Show what is being captured in a local window; q or Esc in it stops
    /// the sender.
    #[arg(long)]
    preview: bool,

    /// Write the sender's totals as JSON to this file on exit.
    #[arg(long, value_name = "PATH")]
    stats_json: Option<PathBuf>,

    /// For `framecast bench`: write this process's CPU time and heap
    /// allocations, at warm-up and at the end, to this file.
    #[arg(long, hide = true, value_name = "PATH")]
    bench_report: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct RecvArgs {
    /// The address to listen on: HOST:PORT, or an IPv6 address in brackets
    /// such as `[::1]:5252`; loopback by default. Use 0.0.0.0:5252 to accept senders from other machines.
    /// Port 0 picks a free port. [default: 127.0.0.1:5252, or with --from
    /// a free loopback port]
    #[arg(long, value_name = "HOST:PORT", value_parser = addr::parse_listen)]
    listen: Option<SocketAddr>,

    /// auto (a window when there is a display, else none), window, or none
    /// to decode and scale without showing.
    #[arg(long, value_enum, default_value_t = DisplayMode::Auto)]
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

    /// Record every frame as it arrives (before the display drops any),
    /// unchanged, a file per session of each stream. PATH may hold {name},
    /// {id}, {session} (1, then 2 when that sender reconnects...),
    /// {segment}, {date} and {time} (UTC), e.g. rec/{name}-{date}-{time}.mkv.
    /// A file is never replaced: when the name is taken (an earlier run,
    /// a reconnect, another stream whose name makes the same file name),
    /// -2, -3... go before the extension, and the log says so. A .mkv file
    /// keeps each frame's capture time (it plays at the captured pace);
    /// anything else is raw MJPEG. A stream that cannot be recorded is
    /// logged, the others go on, and the exit status is 1.
    #[arg(long, value_name = "PATH")]
    record: Option<String>,

    /// With --record: start a new file of each session after this long
    /// (30s, 10m, 1h) or this size (500MB, 1GiB); the next file gets the
    /// next {segment}, or -2, -3... when the name is the same.
    #[arg(long, value_name = "TIME|SIZE", requires = "record")]
    record_segment: Option<framecast_stream::Segment>,

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

    /// Decode workers (default: one per core), and as many more at a lower
    /// priority for streams whose frames take over 10 ms to decode.
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

    /// Require TLS, with this certificate chain (PEM); with --tls-key.
    /// `framecast cert` makes one for a quick start.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// Require senders to present the access token in this file (at least
    /// 16 characters) [default: the FRAMECAST_TOKEN environment variable,
    /// if set]. Senders without it are refused as unauthenticated.
    #[arg(long, value_name = "PATH")]
    token_file: Option<PathBuf>,

    /// Accept senders from other machines without a token. Without it, a
    /// --listen address beyond loopback with no token refuses to start.
    /// Also lets --http serve beyond loopback (the viewer has no
    /// authentication), and --publish/--from use NATS servers beyond
    /// loopback without credentials.
    #[arg(long)]
    allow_anonymous: bool,

    #[command(flatten)]
    http: http_cmd::HttpArgs,

    #[command(flatten)]
    nats: nats_cmd::NatsRecvArgs,

    /// For `framecast bench`: write this process's CPU time and heap
    /// allocations, at warm-up and at the end, to this file.
    #[arg(long, hide = true, value_name = "PATH")]
    bench_report: Option<PathBuf>,

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

    #[command(flatten)]
    http: http_cmd::HttpArgs,
}

#[global_allocator]
static ALLOCATOR: alloc_count::Counting = alloc_count::Counting;

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
        Command::Send(args) => send(*args, cli.quiet),
        Command::Recv(args) => recv(*args, cli.quiet),
        Command::Demo(args) => demo(args, cli.quiet),
        Command::Devices => devices(),
        Command::Bench(args) => bench_cmd::run(args, cli.quiet),
        Command::Catalog(args) => catalog_cmd::run(args),
        Command::Cert(args) => cert_cmd::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            report(&e);
            std::process::ExitCode::FAILURE
        }
    }
}

/// What the user can do about an error, in this program's terms: attached
/// to an error with `.context(Hint(..))`, printed on a line of its own
/// after the error.
#[derive(Debug)]
struct Hint(&'static str);

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Hint {}

/// Prints an error and each of its causes once, then its hint if any.
fn report(e: &anyhow::Error) {
    let hint = e.downcast_ref::<Hint>().map(ToString::to_string);
    let text: Vec<String> = e
        .chain()
        .map(ToString::to_string)
        .filter(|t| Some(t) != hint.as_ref())
        .collect();
    eprintln!("error: {}", text.join(": "));
    if let Some(hint) = hint {
        eprintln!("hint: {hint}");
    }
}

fn init_logging(quiet: bool) {
    // The NATS client's own lines repeat ours ("connected", "closed") at
    // info: only its warnings and errors are shown by default.
    let default = if quiet {
        "warn"
    } else {
        "info,async_nats=warn"
    };
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

    /// Prints the receiver's lines if a second has passed; the snapshot is
    /// taken only then (it allocates).
    fn receiver(&mut self, stats: impl FnOnce() -> ReceiverStats) {
        if self.due() {
            let lines = self.meter.receiver_lines(&stats());
            self.print(&lines);
        }
    }

    /// Prints the sender's line if a second has passed.
    fn sender(&mut self, stats: impl FnOnce() -> SenderStats) {
        if self.due() {
            let line = self.meter.sender_line(&stats());
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
    SourceOptions::new(size.width, size.height)
        .with_fps(args.fps)
        .with_looping(args.looping)
}

/// This machine's name, for default stream names.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "framecast".to_owned())
}

/// The stream name a sender uses when not given one: this machine's name
/// and what it sends, e.g. `studio pattern` or `studio camera 0`.
fn default_stream_name(source: &SourceSpec) -> String {
    let what = match source {
        SourceSpec::Pattern => "pattern".to_owned(),
        SourceSpec::Camera(c) => format!("camera {c}"),
        SourceSpec::Raw(p) | SourceSpec::Mjpeg(p) => p
            .file_name()
            .map_or_else(|| "file".to_owned(), |f| f.to_string_lossy().into_owned()),
        _ => source.to_string(),
    };
    let mut name: String = format!("{} {what}", hostname())
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    while name.len() > framecast_stream::handshake::MAX_NAME_LEN {
        name.pop();
    }
    name
}

/// A sender ready to start, and how many frames its source holds (a file
/// that does not loop).
fn build_sender(args: &SendArgs) -> Result<(SenderBuilder, Option<u64>)> {
    let source =
        framecast_capture::open_source(&args.source, &source_options(args)).map_err(|e| {
            let hint = capture_hint(&e);
            let e =
                anyhow::Error::new(e).context(format!("cannot open the source {}", args.source));
            match hint {
                Some(h) => e.context(Hint(h)),
                None => e,
            }
        })?;
    let frames = source.format().frames;
    let framing = args.framing;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| default_stream_name(&args.source));
    let builder = match &args.to {
        Destination::Nats(url) => {
            if args.framing != Prefix::U32Le
                || args.tls
                || args.tls_ca.is_some()
                || args.token_file.is_some()
            {
                anyhow::bail!(
                    "--to nats://… publishes each Video message as it is: --framing, --tls, \
                     --tls-ca and --token-file are for receivers (NATS credentials go in the URL \
                     or --nats-token-file)"
                );
            }
            let url = nats_cmd::sender_url(url, args.nats_token_file.as_ref())?;
            SenderBuilder::nats(url, source)
        }
        Destination::Receiver(to) => {
            if args.nats_token_file.is_some() {
                anyhow::bail!("--nats-token-file is for --to nats://…");
            }
            SenderBuilder::new(to.to_string(), source)
                .framing(args.framing)
                .connect_timeout(seconds(args.connect_timeout, "--connect-timeout")?)
                .retry(args.retry)
        }
    };
    let mut builder = builder
        .size(args.size.width, args.size.height)
        .quality(args.quality)
        .name(name)
        .on_event(move |e| log_sender_event(e, sender_hint(e, framing)));
    if let Some(n) = args.count {
        builder = builder.count(n);
    }
    if matches!(args.to, Destination::Nats(_)) {
        return Ok((builder, frames));
    }
    if let Some(token) = catalog_cmd::read_token(args.token_file.as_deref())? {
        builder = builder.token(token);
    }
    if args.tls || args.tls_ca.is_some() {
        let trust = match &args.tls_ca {
            Some(ca) => {
                framecast_tls::ClientTls::with_ca_file(ca).context("cannot use --tls-ca")?
            }
            None => framecast_tls::ClientTls::with_system_roots()
                .context("cannot load the system's trusted CAs (give one with --tls-ca)")?,
        };
        builder = builder.tls(trust.config()?);
    }
    Ok((builder, frames))
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
        SenderEvent::Refused { code, .. } if *code == StatusCode::Unauthenticated => {
            Some("give the receiver's token with --token-file (or FRAMECAST_TOKEN)")
        }
        SenderEvent::Refused { code, .. } if *code == StatusCode::TlsRequired => Some(
            "the receiver requires TLS: send with --tls (and --tls-ca with the CA that signed its \
             certificate)",
        ),
        SenderEvent::HandshakeFailed {
            error: framecast_stream::SessionError::Tls { kind, .. },
            ..
        } => {
            use framecast_stream::TlsFailureKind as K;
            match kind {
                K::NotTls => Some(
                    "the receiver does not use TLS: send without --tls, or start it with \
                     --tls-cert and --tls-key",
                ),
                K::UnknownIssuer => {
                    Some("give the CA that signed the receiver's certificate with --tls-ca")
                }
                K::WrongName => Some(
                    "connect with a name the receiver's certificate holds (framecast cert \
                     --host NAME makes one)",
                ),
                K::Expired => Some("the receiver needs a new certificate (framecast cert --force)"),
                _ => None,
            }
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
        ReceiverEvent::Refused { code, .. }
            if *code == framecast_proto::handshake::StatusCode::Unauthenticated =>
        {
            Some("the sender needs this receiver's token (--token-file)")
        }
        ReceiverEvent::PlaintextOnTls { .. } => {
            Some("the sender needs --tls (and --tls-ca with the CA of this receiver's certificate)")
        }
        ReceiverEvent::TlsOnPlaintext { .. } => {
            Some("start this receiver with --tls-cert and --tls-key, or send without --tls")
        }
        _ => None,
    }
}

fn send(args: SendArgs, quiet: bool) -> Result<()> {
    // Checked before any work, so a bad path cannot lose the numbers.
    let json = JsonOut::open(args.stats_json.as_deref())?;
    if args.preview {
        return send_with_preview(args, json, quiet);
    }
    let (builder, frames) = build_sender(&args)?;
    let sender = builder.start().map_err(sender_error)?;
    let mut probe = args.bench_report.clone().map(bench_cmd::Probe::new);
    let run = run_sender(sender, quiet, frames, probe.as_mut(), || false);
    finish_sender(run, json, args.count)
}

/// How a sender's run ended.
struct SenderRun {
    result: std::result::Result<SenderStats, framecast_stream::StreamError>,
    /// The last counters seen (what a failed run is summarised with).
    last: SenderStats,
    interrupted: bool,
}

/// Runs `sender` until it finishes, a signal, or `closed()`, with the stats
/// line once a second (or, for a file on a terminal, a progress bar).
fn run_sender(
    sender: Sender,
    quiet: bool,
    frames: Option<u64>,
    mut probe: Option<&mut bench_cmd::Probe>,
    closed: impl Fn() -> bool,
) -> SenderRun {
    let mut printer = StatsPrinter::new(quiet);
    let bar = (!quiet && io::stderr().is_terminal())
        .then_some(frames)
        .flatten()
        .map(|n| {
            let bar = indicatif::ProgressBar::new(n);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:30} frame {pos} of {len} ({percent}%) {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
    let mut interrupted = false;
    let mut last_bar = Instant::now();
    while !sender.is_finished() {
        if INTERRUPTED.load(Ordering::SeqCst) || closed() {
            interrupted = INTERRUPTED.load(Ordering::SeqCst);
            sender.stop();
            break;
        }
        if let Some(p) = probe.as_deref_mut() {
            p.observe(sender.frames_sent());
        }
        match &bar {
            Some(bar) if last_bar.elapsed() >= Duration::from_millis(100) => {
                last_bar = Instant::now();
                let stats = sender.stats();
                bar.set_position(stats.sent);
                bar.set_message(format!("{:.1} fps", stats.fps));
            }
            Some(_) => {}
            None => printer.sender(|| sender.stats()),
        }
        std::thread::sleep(TICK);
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    printer.finish();
    let mut last = sender.stats();
    let result = sender.wait();
    if let Ok(stats) = &result {
        last = stats.clone();
    }
    if let Some(p) = probe {
        p.observe(last.sent);
        p.finish(last.sent, last.bytes);
    }
    SenderRun {
        result,
        last,
        interrupted,
    }
}

/// Writes the JSON and the summary, and decides the exit status: 0 only
/// when what was asked was done (with `--count N`, N frames sent to a
/// receiver that accepted the session).
fn finish_sender(run: SenderRun, json: Option<JsonOut>, count: Option<u64>) -> Result<()> {
    let stats = &run.last;
    if let Some(json) = json {
        json.write(stats)?;
    }
    out(format_args!(
        "sent {} frames ({} bytes) in {:.1} s: {:.1} fps; captured {}, dropped {}, \
         sessions {}, refused {}, reconnects {}\n",
        stats.sent,
        stats.bytes,
        stats.seconds,
        stats.fps,
        stats.captured,
        stats.dropped,
        stats.sessions,
        stats.refused,
        stats.reconnects
    ))?;
    run.result.map_err(sender_error)?;
    if let Some(n) = count
        && stats.sent < n
    {
        let why = if run.interrupted {
            " (stopped by a signal)"
        } else if stats.source_ended {
            " (the source ended; --loop repeats a file)"
        } else {
            ""
        };
        anyhow::bail!("sent {} of the {n} frames asked for{why}", stats.sent);
    }
    Ok(())
}

/// A sender's error, with what to do about it in this program's flags.
fn sender_error(e: framecast_stream::StreamError) -> anyhow::Error {
    use framecast_stream::StreamError;
    let hint = match &e {
        StreamError::GaveUp { .. } => {
            Some("is a receiver running there? --retry forever keeps trying")
        }
        StreamError::PictureTooLarge { .. } => Some("send smaller pictures with --size"),
        StreamError::Nats(e) => nats_cmd::hint(e),
        _ => None,
    };
    let e = anyhow::Error::new(e);
    match hint {
        Some(h) => e.context(Hint(h)),
        None => e,
    }
}

#[cfg(feature = "window")]
fn send_with_preview(args: SendArgs, json: Option<JsonOut>, quiet: bool) -> Result<()> {
    use framecast_capture::Picture;
    use framecast_display::{EncodedFrame, FrameSink};

    let (builder, frames) = build_sender(&args)?;
    let count = args.count;
    let options = framecast_display::WindowOptions::default()
        .with_title("framecast preview")
        .with_keep_aspect(true);
    let run = framecast_display::run_window(options, move |handle| -> Result<SenderRun> {
        let preview = handle.clone();
        // JPEG frames (an MJPEG camera or file) are shown through a window
        // sink, which decodes them; raw frames are copied in directly.
        let mut jpeg_sink = handle.sink();
        let sender = builder
            .on_frame(move |frame| {
                // A closed window stops the sender through `is_closed`; a
                // frame the preview cannot show is no reason to stop.
                let _ = match frame.picture() {
                    Picture::Jpeg { data, .. } => jpeg_sink.show(
                        &EncodedFrame::new(0, "preview", data)
                            .with_sequence(frame.sequence)
                            .with_capture_time_us(Some(frame.capture_time_us)),
                    ),
                    Picture::Pixels(image) => preview.show_pixels(0, "preview", image),
                    _ => Ok(()),
                };
            })
            .start()?;
        Ok(run_sender(sender, quiet, frames, None, || {
            handle.is_closed()
        }))
    })
    .context(Hint("send without --preview to run without a window"))??;
    finish_sender(run, json, count)
}

#[cfg(not(feature = "window"))]
fn send_with_preview(_args: SendArgs, _json: Option<JsonOut>, _quiet: bool) -> Result<()> {
    anyhow::bail!("--preview needs a build with the window feature (the default)")
}

/// A `--stats-json` file, opened when the command starts (a bad path fails
/// before any work, not at the end when the numbers would be lost), written
/// when it ends.
struct JsonOut {
    path: PathBuf,
    file: std::fs::File,
}

impl JsonOut {
    fn open(path: Option<&Path>) -> Result<Option<Self>> {
        let Some(path) = path else {
            return Ok(None);
        };
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("cannot write the stats file {}", path.display()))?;
        Ok(Some(Self {
            path: path.to_owned(),
            file,
        }))
    }

    fn write(mut self, value: &impl serde::Serialize) -> Result<()> {
        let mut text = serde_json::to_string_pretty(value)?;
        text.push('\n');
        let written = self
            .file
            .set_len(0)
            .and_then(|()| self.file.write_all(text.as_bytes()))
            .and_then(|()| self.file.sync_data());
        written.with_context(|| format!("cannot write the stats file {}", self.path.display()))
    }
}

/// The receiver `args` ask for (its display sinks are added by the caller).
/// The address `recv` listens on: `--listen`, else the default port on
/// loopback, or with `--from` (streams come from NATS) a free loopback
/// port, so that it never takes the port of another receiver.
fn listen_addr(args: &RecvArgs) -> SocketAddr {
    args.listen.unwrap_or_else(|| {
        let port = if args.nats.takes_from_nats() {
            0
        } else {
            framecast_stream::DEFAULT_PORT
        };
        SocketAddr::from(([127, 0, 0, 1], port))
    })
}

fn receiver_builder(args: &RecvArgs) -> Result<ReceiverBuilder> {
    let listen = listen_addr(args);
    let mut builder = ReceiverBuilder::new(listen)
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
    let token = catalog_cmd::read_token(args.token_file.as_deref())?;
    // Protected mode: only this machine may connect, unless senders must
    // authenticate or the user opted out.
    let exposure = framecast_tls::Exposure::check(&[listen], token.is_some(), args.allow_anonymous)
        .map_err(|e| {
            anyhow::Error::new(e).context(Hint(
                "require a token with --token-file FILE (or FRAMECAST_TOKEN), ideally with \
             --tls-cert and --tls-key; or accept anyone with --allow-anonymous",
            ))
        })?;
    if args.framing == Prefix::LegacyI64Le && (token.is_some() || args.tls_cert.is_some()) {
        anyhow::bail!(
            "the legacy framing cannot carry TLS or a token (the original programs cannot): \
             drop --framing legacy, or --tls-cert/--token-file"
        );
    }
    match exposure {
        framecast_tls::Exposure::Anonymous => tracing::warn!(
            "accepting senders on {} without authentication (--allow-anonymous): anyone who can reach \
             it can send frames",
            listen
        ),
        framecast_tls::Exposure::Authenticated if args.tls_cert.is_none() => tracing::warn!(
            "the access token will cross the network in plaintext: add --tls-cert and --tls-key"
        ),
        _ => {}
    }
    if let Some(token) = token {
        builder = builder.token(token);
    }
    if let Some(config) = server_tls(args)? {
        builder = builder.tls(config);
    }
    Ok(builder)
}

/// The TLS configuration of `--tls-cert`/`--tls-key`, if given.
fn server_tls(args: &RecvArgs) -> Result<Option<Arc<rustls::ServerConfig>>> {
    let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
        return Ok(None);
    };
    let config = framecast_tls::ServerTls::from_pem_files(cert, key)
        .and_then(|t| t.config())
        .context("cannot use --tls-cert/--tls-key")?;
    Ok(Some(config))
}

/// What a receiver writes besides the screen, checked when the command
/// starts so that a bad path fails before any work.
struct Outputs {
    json: Option<JsonOut>,
    record: Option<framecast_stream::RecordTarget>,
    probe: Option<bench_cmd::Probe>,
    http: Option<framecast_stream::http::HttpConfig>,
    nats: Option<nats_cmd::NatsPlan>,
}

impl Outputs {
    fn open(
        json: Option<&Path>,
        record: Option<&str>,
        segment: Option<framecast_stream::Segment>,
    ) -> Result<Self> {
        let json = JsonOut::open(json)?;
        let record = match record {
            Some(template) => {
                let mut target = framecast_stream::RecordTarget::new(template)?;
                if let Some(segment) = segment {
                    target = target.with_segment(segment);
                }
                target.check().context("--record")?;
                Some(target)
            }
            None => None,
        };
        Ok(Self {
            json,
            record,
            probe: None,
            http: None,
            nats: None,
        })
    }

    fn with_nats(mut self, nats: Option<nats_cmd::NatsPlan>) -> Self {
        self.nats = nats;
        self
    }

    fn with_http(mut self, http: Option<framecast_stream::http::HttpConfig>) -> Self {
        self.http = http;
        self
    }

    fn with_probe(mut self, report: Option<&Path>) -> Self {
        self.probe = report.map(|p| bench_cmd::Probe::new(p.to_owned()));
        self
    }
}

/// Starts the receiver `builder` describes, with what to do when its
/// address is taken.
fn start_receiver(builder: ReceiverBuilder) -> Result<Receiver> {
    builder.start().map_err(|e| {
        let hint = match &e {
            framecast_stream::StreamError::Bind { source, .. } => match source.kind() {
                io::ErrorKind::AddrInUse => Some(
                    "another program listens there: choose another port with --listen, or \
                     port 0 for a free one",
                ),
                io::ErrorKind::PermissionDenied => {
                    Some("ports below 1024 need privileges: choose a port above 1023")
                }
                io::ErrorKind::AddrNotAvailable => {
                    Some("that address is not one of this machine's: check --listen")
                }
                _ => None,
            },
            _ => None,
        };
        let e = anyhow::Error::new(e);
        match hint {
            Some(h) => e.context(Hint(h)),
            None => e,
        }
    })
}

/// Runs a started receiver (and its recording) to the end, then writes the
/// JSON and the summary.
fn run_and_finish(
    receiver: Receiver,
    outputs: Outputs,
    quiet: bool,
    closed: impl Fn() -> bool,
) -> Result<()> {
    // Subscribe the recording first: a sender that connects at once must
    // not have its first frames shown but not recorded.
    let recording = match outputs.record {
        Some(target) => Some(framecast_stream::Recording::start(&receiver, target)?),
        None => None,
    };
    announce(&receiver);
    let _http = http_cmd::start(&receiver, outputs.http)?;
    let nats = nats_cmd::start(&receiver, outputs.nats)?;
    let stats = run_receiver(receiver, quiet, outputs.probe, closed);
    let recorded = recording
        .map(framecast_stream::Recording::finish)
        .transpose();
    let stats = finish_receiver(stats, outputs.json, &nats)?;
    if let Some(r) = recorded? {
        let files: Vec<String> = r.files.iter().map(|p| p.display().to_string()).collect();
        out(format_args!(
            "recorded {} frames to {}{}{}\n",
            r.frames,
            if files.is_empty() {
                "no file".to_owned()
            } else {
                files.join(", ")
            },
            if r.lost > 0 {
                format!("; {} lost (the disk fell behind)", r.lost)
            } else {
                String::new()
            },
            if r.failed > 0 {
                format!("; {} streams not recorded in full (see the log)", r.failed)
            } else {
                String::new()
            },
        ))?;
        if r.failed > 0 {
            anyhow::bail!(
                "{} stream{} could not be recorded in full (the log says which and why)",
                r.failed,
                if r.failed == 1 { "" } else { "s" }
            );
        }
    }
    let _ = stats;
    Ok(())
}

/// The HTTP viewer `recv` asks for: the receiver's own token and
/// certificate protect it too.
fn recv_http(args: &RecvArgs) -> Result<Option<framecast_stream::http::HttpConfig>> {
    if args.http.wanted() {
        Ok(args.http.config(
            args.allow_anonymous,
            catalog_cmd::read_token(args.token_file.as_deref())?,
            server_tls(args)?,
        ))
    } else {
        Ok(None)
    }
}

fn recv(args: RecvArgs, quiet: bool) -> Result<()> {
    let outputs = Outputs::open(
        args.stats_json.as_deref(),
        args.record.as_deref(),
        args.record_segment,
    )?
    .with_probe(args.bench_report.as_deref())
    .with_http(recv_http(&args)?)
    .with_nats(args.nats.plan(args.allow_anonymous)?);
    let windowed = match args.display {
        DisplayMode::None => false,
        DisplayMode::Window => true,
        DisplayMode::Auto => cfg!(feature = "window") && display_available(),
    };
    if !windowed {
        return recv_headless(&args, outputs, quiet);
    }
    match recv_window(&args, outputs, quiet) {
        Ok(done) => done,
        Err(e) if args.display == DisplayMode::Auto => {
            tracing::warn!(
                "no window ({}); running headless",
                framecast_stream::Report(&e)
            );
            let outputs = Outputs::open(
                args.stats_json.as_deref(),
                args.record.as_deref(),
                args.record_segment,
            )?
            .with_http(recv_http(&args)?)
            .with_nats(args.nats.plan(args.allow_anonymous)?);
            recv_headless(&args, outputs, quiet)
        }
        Err(e) => {
            Err(anyhow::Error::new(e).context(Hint("use --display none to run without a window")))
        }
    }
}

fn recv_headless(args: &RecvArgs, outputs: Outputs, quiet: bool) -> Result<()> {
    let (w, h) = (args.size.width, args.size.height);
    framecast_display::NullSink::new(w, h)?;
    let receiver = start_receiver(
        receiver_builder(args)?
            .sinks(move |_| Ok(Box::new(framecast_display::NullSink::new(w, h)?))),
    )?;
    run_and_finish(receiver, outputs, quiet, || false)
}

/// Runs the receiver with a window; the outer error is the window's (it
/// could not open), the inner one the run's.
#[cfg(feature = "window")]
fn recv_window(
    args: &RecvArgs,
    outputs: Outputs,
    quiet: bool,
) -> std::result::Result<Result<()>, framecast_display::DisplayError> {
    let builder = match receiver_builder(args) {
        Ok(b) => b,
        Err(e) => return Ok(Err(e)),
    };
    let options =
        framecast_display::WindowOptions::default().with_size(args.size.width, args.size.height);
    framecast_display::run_window(options, move |handle| {
        let window = handle.clone();
        let receiver = start_receiver(builder.sinks(move |_| Ok(Box::new(window.sink()))))?;
        run_and_finish(receiver, outputs, quiet, || handle.is_closed())
    })
}

#[cfg(not(feature = "window"))]
fn recv_window(
    _args: &RecvArgs,
    _outputs: Outputs,
    _quiet: bool,
) -> std::result::Result<Result<()>, framecast_display::DisplayError> {
    Ok(Err(anyhow::anyhow!(
        "this build has no window support; use --display none"
    )))
}

fn announce(receiver: &Receiver) {
    // Tests and scripts read the port from here when they asked for port 0.
    eprintln!("listening on {}", receiver.local_addr());
}

/// Runs `receiver` until it finishes, a signal, or `closed()`; returns its
/// final counters, or the error that stopped it with the last counters
/// seen.
fn run_receiver(
    receiver: Receiver,
    quiet: bool,
    mut probe: Option<bench_cmd::Probe>,
    closed: impl Fn() -> bool,
) -> (
    ReceiverStats,
    std::result::Result<(), framecast_stream::StreamError>,
) {
    let mut printer = StatsPrinter::new(quiet);
    while !receiver.is_finished() {
        if INTERRUPTED.load(Ordering::SeqCst) || closed() {
            receiver.stop();
            break;
        }
        if let Some(p) = probe.as_mut() {
            p.observe(receiver.frames_received());
        }
        printer.receiver(|| receiver.stats());
        std::thread::sleep(TICK);
    }
    printer.finish();
    let last = receiver.stats();
    let (stats, result) = match receiver.wait() {
        Ok(stats) => (stats, Ok(())),
        Err(e) => (last, Err(e)),
    };
    if let Some(mut p) = probe {
        p.observe(stats.received);
        p.finish(stats.received, stats.bytes);
    }
    (stats, result)
}

/// Writes the JSON and prints the summary; the run's error, if any, comes
/// after both (so a failed run still leaves its numbers).
fn finish_receiver(
    (stats, result): (
        ReceiverStats,
        std::result::Result<(), framecast_stream::StreamError>,
    ),
    json: Option<JsonOut>,
    nats: &nats_cmd::NatsRunning,
) -> Result<ReceiverStats> {
    if let Some(json) = json {
        /// The receiver's totals, and what went over NATS when it did.
        #[derive(serde::Serialize)]
        struct Totals<'a> {
            #[serde(flatten)]
            stats: &'a ReceiverStats,
            #[serde(skip_serializing_if = "Option::is_none")]
            nats: Option<nats_cmd::NatsStats>,
        }
        json.write(&Totals {
            stats: &stats,
            nats: nats.stats(),
        })?;
    }
    let latency = match stats.latency_ms {
        Some(l) => format!(
            "latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            l.p50, l.p99, l.max
        ),
        None => "no latency (frames carried no usable capture time)".to_owned(),
    };
    out(format_args!(
        "shown {} of {} frames received from {} streams in {:.1} s connected: {:.1} fps, \
         {} bytes, dropped {}, corrupt {}, {latency}\n",
        stats.frames,
        stats.received,
        stats.streams,
        stats.connected_seconds,
        stats.fps,
        stats.bytes,
        stats.dropped,
        stats.corrupt,
    ))?;
    if let Some(line) = nats.summary() {
        out(format_args!("{line}\n"))?;
    }
    result?;
    Ok(stats)
}

fn demo(args: DemoArgs, quiet: bool) -> Result<()> {
    let outputs = Outputs::open(args.stats_json.as_deref(), None, None)?
        .with_http(args.http.config(false, None, None));
    let deadline = (args.seconds > 0).then(|| Instant::now() + Duration::from_secs(args.seconds));
    let expired = move || deadline.is_some_and(|d| Instant::now() >= d);
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    #[cfg(feature = "window")]
    if display_available() {
        let options = framecast_display::WindowOptions::default();
        let (tx, rx) = std::sync::mpsc::channel::<Outputs>();
        tx.send(outputs).expect("the channel is open");
        let result = framecast_display::run_window(options, move |handle| -> Result<()> {
            let window = handle.clone();
            let receiver = start_receiver(
                ReceiverBuilder::new(loopback).sinks(move |_| Ok(Box::new(window.sink()))),
            )?;
            let sender = start_demo_sender(&receiver)?;
            let outputs = rx.recv().expect("sent before the window opened");
            let done = run_and_finish(receiver, outputs, quiet, || handle.is_closed() || expired());
            sender.shutdown()?;
            done
        });
        match result {
            Ok(done) => return done,
            Err(e) => {
                tracing::warn!(
                    "no window ({}); running headless",
                    framecast_stream::Report(&e)
                );
                let outputs = Outputs::open(args.stats_json.as_deref(), None, None)?
                    .with_http(args.http.config(false, None, None));
                return demo_headless(outputs, quiet, expired);
            }
        }
    }
    demo_headless(outputs, quiet, expired)
}

fn demo_headless(outputs: Outputs, quiet: bool, expired: impl Fn() -> bool) -> Result<()> {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let receiver = start_receiver(
        ReceiverBuilder::new(loopback)
            .sinks(|_| Ok(Box::new(framecast_display::NullSink::new(800, 600)?))),
    )?;
    let sender = start_demo_sender(&receiver)?;
    let done = run_and_finish(receiver, outputs, quiet, expired);
    sender.shutdown()?;
    done
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
            .retry(framecast_stream::Retry::Forever)
            .start()?,
    )
}

/// Whether a window could open here: a display server is named in the
/// environment.
fn display_available() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

/// What to do about a source that cannot be opened, in this program's
/// flags.
fn capture_hint(e: &framecast_capture::CaptureError) -> Option<&'static str> {
    use framecast_capture::CaptureError;
    match e {
        CaptureError::CameraUnsupported => Some(
            "rebuild with `cargo build --release --features camera`, or send the test pattern \
             with --source pattern",
        ),
        CaptureError::NoCamera => Some("try --source pattern, raw:PATH or mjpeg:PATH"),
        CaptureError::RawFileSize { .. } => {
            Some("give the file's frame size with --input-size WxH")
        }
        _ => None,
    }
}

fn devices() -> Result<()> {
    let devices = framecast_capture::list_devices().map_err(|e| {
        let hint = capture_hint(&e);
        let e = anyhow::Error::new(e).context("cannot list cameras");
        match hint {
            Some(h) => e.context(Hint(h)),
            None => e,
        }
    })?;
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
