//! `framecast recv`: receive frames from one or more senders and show,
//! record or measure them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use framecast_net::HostPort;
use framecast_stream::events::log_receiver_event;
use framecast_stream::{DEFAULT_MAX_CLIENTS, ReceiverBuilder, limits};
use framecast_wire::Prefix;

use crate::flags::auth::ServerAuthArgs;
use crate::flags::{ByteSize, Pixels, Quiet, Size, listen_addr, seconds};
use crate::receiver::{self, Outputs};
use crate::{display_available, http, nats};

/// `framecast recv --help`'s examples.
pub(crate) const EXAMPLES: &str = "\
Examples:
  framecast recv                                      a window (or headless) on 127.0.0.1:5252
  framecast recv --display none --count 300 --stats-json stats.json
  framecast recv --record 'cam-{name}.mkv' --http 8080
  framecast recv --listen 0.0.0.0:5252 --tls-cert certs/server.pem \\
      --tls-key certs/server-key.pem --token-file token
  framecast recv --framing legacy                     for the original client.py
  framecast recv --publish nats://127.0.0.1:4222      relay every frame to NATS
";

/// Where frames are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DisplayMode {
    /// A window when a display is available, else none.
    Auto,
    /// A window (needs a display).
    Window,
    /// No window: every frame is still decoded (so it is checked whole and
    /// timed), then discarded; it is not scaled, since nothing shows it.
    None,
    /// No window, but every frame is decoded and scaled to --size off
    /// screen, exactly as a window would, then discarded: a window's CPU
    /// cost without a screen, for benchmarks.
    Offscreen,
}

/// `framecast recv`'s flags.
#[derive(Debug, Args)]
#[command(
    mut_arg("token_file", |a| a.help(
        "Require senders to present the access token in this file (at least 16 characters) \
         [default: the FRAMECAST_TOKEN environment variable, if set]; senders without it are \
         refused as unauthenticated. It protects --http too."
    )),
    mut_arg("allow_anonymous", |a| a.help(
        "Accept senders from other machines without a token. Without it, a --listen address \
         beyond loopback with no token refuses to start. It also lets --http serve beyond \
         loopback without a token, and --publish/--from use NATS servers beyond loopback \
         without credentials."
    )),
    mut_arg("http", |a| a.help(
        "Serve the streams to browsers and monitoring at this address: PORT or :PORT (on \
         loopback), HOST:PORT, or HOST (port 8080); port 0 picks a free one. A page per \
         stream, /streams/ID.mjpg, /streams/ID.jpg, /stats.json, /metrics, /healthz. With \
         --token-file every request but /healthz needs the token (a Bearer header, the login \
         form's cookie, or ?token= in a link); with --tls-cert it is HTTPS. Without a token it \
         serves loopback only, unless --allow-anonymous."
    )),
)]
pub(crate) struct RecvArgs {
    /// The address to listen on: PORT or :PORT (on loopback), HOST:PORT,
    /// or an IPv6 address in brackets such as `[::1]:5252`. Use
    /// 0.0.0.0:5252 to accept senders from other machines. Port 0 picks a
    /// free port. [default: 127.0.0.1:5252, or with --from a free loopback
    /// port]
    #[arg(long, value_name = "ADDRESS", value_parser = listen_addr(framecast_stream::DEFAULT_PORT))]
    listen: Option<HostPort>,

    /// auto (a window when there is a display, else none), window, none
    /// (decode each frame to check and time it, without showing or scaling
    /// it), or offscreen (decode and scale to --size as a window would,
    /// without showing: for benchmarks).
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
    #[arg(long, value_name = "N")]
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
    #[arg(long, default_value_t = DEFAULT_MAX_CLIENTS, value_name = "N")]
    max_clients: usize,

    /// How many connections may wait for their handshake at once; when one
    /// more comes, the one that waited longest is closed.
    #[arg(long, default_value_t = limits::DEFAULT_MAX_PENDING_HANDSHAKES, value_name = "N")]
    max_pending_handshakes: usize,

    /// The largest frame accepted (8MiB, 512KiB, or bytes); a sender
    /// announcing a larger one is disconnected.
    #[arg(long, value_name = "SIZE", default_value_t = ByteSize(framecast_wire::DEFAULT_MAX_FRAME_LEN as u64))]
    max_frame_len: ByteSize,

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

    #[command(flatten)]
    auth: ServerAuthArgs,

    #[command(flatten)]
    http: http::HttpArgs,

    #[command(flatten)]
    nats: nats::NatsRecvArgs,

    #[command(flatten)]
    pub(crate) quiet: Quiet,

    /// For `framecast bench`: write this process's CPU time and heap
    /// allocations, at warm-up and at the end, to this file.
    #[arg(long, hide = true, value_name = "PATH")]
    bench_report: Option<PathBuf>,

    /// Test knob: sleep this long per shown frame (a slow display).
    #[arg(long, hide = true, default_value_t = 0)]
    sink_delay_ms: u64,
}

/// Runs `framecast recv`.
pub(crate) fn run(args: RecvArgs) -> Result<()> {
    let outputs = outputs(&args)?;
    let quiet = args.quiet.quiet;
    let windowed = match args.display {
        DisplayMode::None | DisplayMode::Offscreen => false,
        DisplayMode::Window => true,
        DisplayMode::Auto => cfg!(feature = "window") && display_available(),
    };
    if !windowed {
        return run_headless(&args, outputs, quiet);
    }
    // Handed to the window's thread if it opens, and taken back if not, so
    // that running headless instead loses none of them (the bench probe
    // included).
    let handoff = Arc::new(Mutex::new(Some(outputs)));
    match run_window(&args, Arc::clone(&handoff), quiet) {
        Ok(done) => done,
        Err(e) if args.display == DisplayMode::Auto => {
            tracing::warn!(
                "no window ({}); running headless",
                framecast_stream::Report(&e)
            );
            let outputs = handoff
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            let outputs = match outputs {
                Some(outputs) => outputs,
                None => self::outputs(&args)?,
            };
            run_headless(&args, outputs, quiet)
        }
        Err(e) => Err(receiver::no_window(e)),
    }
}

/// What `recv` writes besides the screen, and its viewer and NATS links,
/// checked before anything starts.
fn outputs(args: &RecvArgs) -> Result<Outputs> {
    let http = args.http.plan(
        args.auth.allow_anonymous,
        args.auth.token()?,
        args.auth.tls(&[])?,
    )?;
    Ok(Outputs::open(
        args.stats_json.as_deref(),
        args.record.as_deref(),
        args.record_segment,
    )?
    .with_probe(args.bench_report.as_deref())
    .with_http(http)
    .with_nats(args.nats.plan(args.auth.allow_anonymous)?))
}

fn run_headless(args: &RecvArgs, outputs: Outputs, quiet: bool) -> Result<()> {
    let builder = builder(args)?;
    let builder = if args.display == DisplayMode::Offscreen {
        let (w, h) = (args.size.width, args.size.height);
        framecast_display::NullSink::new(w, h)?;
        builder.sinks(move |_| Ok(Box::new(framecast_display::NullSink::new(w, h)?)))
    } else {
        // Nothing shows the picture: decoding checks and times each frame,
        // and the scale would be work for nobody.
        builder.sinks(|_| Ok(Box::new(framecast_display::NullSink::decode_only())))
    };
    let receiver = receiver::start(builder)?;
    receiver::run_and_finish(receiver, outputs, quiet, || false)
}

/// Runs the receiver with a window; the outer error is the window's (it
/// could not open), the inner one the run's.
#[cfg(feature = "window")]
fn run_window(
    args: &RecvArgs,
    outputs: Arc<Mutex<Option<Outputs>>>,
    quiet: bool,
) -> std::result::Result<Result<()>, framecast_display::DisplayError> {
    let builder = match builder(args) {
        Ok(b) => b,
        Err(e) => return Ok(Err(e)),
    };
    let options =
        framecast_display::WindowOptions::default().with_size(args.size.width, args.size.height);
    framecast_display::run_window(options, move |handle| {
        let outputs = outputs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .context("the outputs were taken before the window opened")?;
        let window = handle.clone();
        let receiver = receiver::start(builder.sinks(move |_| Ok(Box::new(window.sink()))))?;
        receiver::run_and_finish(receiver, outputs, quiet, || handle.is_closed())
    })
}

#[cfg(not(feature = "window"))]
fn run_window(
    _args: &RecvArgs,
    _outputs: Arc<Mutex<Option<Outputs>>>,
    _quiet: bool,
) -> std::result::Result<Result<()>, framecast_display::DisplayError> {
    Ok(Err(anyhow::anyhow!(
        "this build has no window support; use --display none"
    )))
}

/// The addresses `recv` may listen on: `--listen`, else the default port
/// on loopback, or with `--from` (streams come from NATS) a free loopback
/// port, so that it never takes the port of another receiver.
fn listen_addresses(args: &RecvArgs) -> Result<(HostPort, Vec<SocketAddr>)> {
    let listen = args.listen.clone().unwrap_or_else(|| {
        let port = if args.nats.takes_from_nats() {
            0
        } else {
            framecast_stream::DEFAULT_PORT
        };
        HostPort::from(SocketAddr::new(framecast_net::DEFAULT_HOST, port))
    });
    let addresses = listen
        .resolve()
        .with_context(|| format!("--listen {listen}"))?;
    Ok((listen, addresses))
}

/// The receiver `args` ask for (its display sinks are added by the caller).
fn builder(args: &RecvArgs) -> Result<ReceiverBuilder> {
    let (listen, addresses) = listen_addresses(args)?;
    let mut builder = ReceiverBuilder::new(addresses[0])
        .framing(args.framing)
        .max_clients(args.max_clients)
        .max_pending_handshakes(args.max_pending_handshakes)
        .max_frame_len(args.max_frame_len.to_usize("--max-frame-len")?)
        .max_pixels(args.max_pixels.0)
        .handshake_timeout(seconds("--handshake-timeout", args.handshake_timeout)?)
        .idle_timeout(seconds("--idle-timeout", args.idle_timeout)?)
        .trickle_timeout(seconds("--trickle-timeout", args.trickle_timeout)?)
        .sink_delay(Duration::from_millis(args.sink_delay_ms))
        .on_event(|e| log_receiver_event(e, receiver::event_hint(e)));
    if let Some(n) = args.count {
        builder = builder.count(n);
    }
    if let Some(n) = args.workers {
        builder = builder.workers(n);
    }
    let token = args.auth.token()?;
    if args.framing == Prefix::LegacyI64Le && (token.is_some() || args.auth.tls_cert.is_some()) {
        anyhow::bail!(
            "the legacy framing cannot carry TLS or a token (the original programs cannot): \
             drop --framing legacy, or --tls-cert/--token-file"
        );
    }
    // Protected mode: only this machine may connect, unless senders must
    // authenticate or the user opted out.
    args.auth
        .check_exposure(&addresses[..1], &listen, token.is_some(), "send frames")?;
    if let Some(token) = token {
        builder = builder.token(token);
    }
    if let Some(config) = args.auth.tls(&[])? {
        builder = builder.tls(config);
    }
    Ok(builder)
}
