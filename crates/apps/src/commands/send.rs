//! `framecast send`: capture frames, JPEG-encode them and stream them to a
//! receiver (or to NATS).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use framecast_capture::{CaptureError, SourceOptions, SourceSpec};
use framecast_net::HostPort;
use framecast_stream::events::log_sender_event;
use framecast_stream::{SenderBuilder, TcpDestination};
use framecast_wire::Prefix;

use crate::flags::auth::ClientAuthArgs;
use crate::flags::{Quiet, Size, connect_addr, seconds};
use crate::output::JsonOut;
use crate::probe::Probe;
use crate::report::{HintExt, hinted};
use crate::{nats, sender};

/// `framecast send --help`'s examples.
pub(crate) const EXAMPLES: &str = "\
Examples:
  framecast send --to 5252                                the test pattern to a receiver here
  framecast send --to cam-hub.lan --name porch --source camera
  framecast send --to 192.168.1.20:5252 --source mjpeg:clip.mjpeg --loop
  framecast send --to cam-hub.lan --tls-ca certs/ca.pem --token-file token
  framecast send --to 127.0.0.1:5252 --framing legacy     to the original server.py
  framecast send --to nats://127.0.0.1:4222/framecast.door
";

/// `framecast send`'s flags.
#[derive(Debug, Args)]
#[command(mut_arg("tls_ca", |a| a.help(
    "The CA certificate (PEM) the receiver's certificate must be signed by; implies --tls. \
     `framecast cert` makes one."
)))]
pub(crate) struct SendArgs {
    /// The receiver: PORT or :PORT (on this machine), HOST:PORT, HOST (port
    /// 5252), or an IPv6 address in brackets such as `[::1]:5252`; a name is
    /// looked up at every attempt. Or NATS servers to publish to,
    /// nats://HOST:4222[/SUBJECT] (SUBJECT defaults to framecast.NAME, NAME
    /// from --name; several servers comma separated fail over;
    /// --connect-timeout, --retry, --framing, --tls and --token-file are
    /// for a TCP receiver only).
    #[arg(long, value_name = "ADDRESS|nats://HOST:4222/SUBJECT", value_parser = parse_destination)]
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
    #[arg(long, value_name = "FPS", default_value_t = framecast_capture::DEFAULT_FPS)]
    fps: u32,

    /// Stop after this many frames were sent to a receiver that accepted the
    /// session; the exit status is 0 only if all of them were.
    #[arg(long, value_name = "N")]
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

    #[command(flatten)]
    auth: ClientAuthArgs,

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

    #[command(flatten)]
    pub(crate) quiet: Quiet,

    /// For `framecast bench`: write this process's CPU time and heap
    /// allocations, at warm-up and at the end, to this file.
    #[arg(long, hide = true, value_name = "PATH")]
    bench_report: Option<PathBuf>,
}

/// Where a sender sends: a receiver, or NATS servers.
#[derive(Debug, Clone)]
enum Destination {
    /// A receiver's address.
    Receiver(HostPort),
    /// NATS servers and a subject.
    Nats(framecast_nats::NatsUrl),
}

fn parse_destination(s: &str) -> Result<Destination, String> {
    if nats::is_nats(s) {
        nats::parse_url(s).map(Destination::Nats)
    } else {
        connect_addr(framecast_stream::DEFAULT_PORT)(s).map(Destination::Receiver)
    }
}

/// Runs `framecast send`.
pub(crate) fn run(args: SendArgs) -> Result<()> {
    // Checked before any work, so a bad path cannot lose the numbers.
    let json = JsonOut::open(args.stats_json.as_deref())?;
    let quiet = args.quiet.quiet;
    if args.preview {
        return run_with_preview(args, json);
    }
    let (builder, frames) = build(&args)?;
    let sender = builder.start().map_err(sender::error)?;
    let probe = args.bench_report.clone().map(Probe::new);
    let run = sender::run(sender, quiet, frames, probe, || false);
    sender::finish(run, json, args.count)
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

/// What to do about a source that cannot be opened, in this program's
/// flags.
pub(crate) fn capture_hint(e: &CaptureError) -> Option<&'static str> {
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
fn build(args: &SendArgs) -> Result<(SenderBuilder, Option<u64>)> {
    let source =
        framecast_capture::open_source(&args.source, &source_options(args)).map_err(|e| {
            let hint = capture_hint(&e);
            hinted(
                anyhow::Error::new(e).context(format!("cannot open the source {}", args.source)),
                hint,
            )
        })?;
    let frames = source.format().frames;
    let framing = args.framing;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| default_stream_name(&args.source));
    let destination: framecast_stream::Destination = match &args.to {
        Destination::Nats(url) => {
            if args.framing != Prefix::U32Le
                || args.tls
                || args.auth.tls_ca.is_some()
                || args.auth.token_file.is_some()
            {
                return Err(anyhow::anyhow!(
                    "--to nats://… publishes each Video message as it is: --framing, --tls, \
                     --tls-ca and --token-file are for receivers"
                ))
                .hint("NATS credentials go in the URL or --nats-token-file");
            }
            let url = nats::sender_url(url, args.nats_token_file.as_ref())?;
            framecast_stream::Destination::transport(framecast_nats::NatsTransport::new(url))
        }
        Destination::Receiver(to) => {
            if args.nats_token_file.is_some() {
                anyhow::bail!("--nats-token-file is for --to nats://…");
            }
            let mut tcp = TcpDestination::new(to.to_string())
                .framing(args.framing)
                .connect_timeout(seconds("--connect-timeout", args.connect_timeout)?)
                .retry(args.retry);
            if let Some(token) = args.auth.token()? {
                tcp = tcp.token(token);
            }
            if args.tls || args.auth.tls_ca.is_some() {
                tcp = tcp.tls(args.auth.tls(&[])?);
            }
            tcp.into()
        }
    };
    let mut builder = SenderBuilder::new(destination, source)
        .size(args.size.width, args.size.height)
        .quality(args.quality)
        .name(name)
        .on_event(move |e| log_sender_event(e, sender::event_hint(e, framing)));
    if let Some(n) = args.count {
        builder = builder.count(n);
    }
    Ok((builder, frames))
}

#[cfg(feature = "window")]
fn run_with_preview(args: SendArgs, json: Option<JsonOut>) -> Result<()> {
    use framecast_capture::Picture;
    use framecast_display::{EncodedFrame, FrameSink};

    let (builder, frames) = build(&args)?;
    let (count, quiet) = (args.count, args.quiet.quiet);
    let options = framecast_display::WindowOptions::default()
        .with_title("framecast preview")
        .with_keep_aspect(true);
    let run = framecast_display::run_window(options, move |handle| -> Result<sender::SenderRun> {
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
            .start()
            .map_err(sender::error)?;
        Ok(sender::run(sender, quiet, frames, None, || {
            handle.is_closed()
        }))
    })
    .hint("send without --preview to run without a window")??;
    sender::finish(run, json, count)
}

#[cfg(not(feature = "window"))]
fn run_with_preview(_args: SendArgs, _json: Option<JsonOut>) -> Result<()> {
    anyhow::bail!("--preview needs a build with the window feature (the default)")
}
