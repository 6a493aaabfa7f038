//! A sender's flags, defined once, in two groups: what is captured and how
//! it is encoded ([`SourceArgs`]: `send` and `serve` take them, and a
//! `[senders.NAME]` table of a configuration file), and where it goes
//! ([`DestinationArgs`]: `send`, and a `[senders.NAME]` table with `to`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, ValueEnum};
use framecast_capture::{CaptureError, FrameSource, SourceOptions, SourceSpec};
use framecast_codec::Fit;
use framecast_net::HostPort;
use framecast_stream::{SenderBuilder, TcpDestination};
use framecast_wire::Prefix;

use crate::flags::auth::ClientAuthArgs;
use crate::flags::{Size, connect_addr, seconds};
use crate::report::{HintExt, hinted};
use crate::{nats, sender};

/// What a sender captures and how it encodes it.
#[derive(Debug, Clone, Args)]
pub(crate) struct SourceArgs {
    /// pattern, camera[:INDEX|NAME], raw:PATH (with --input-size) or
    /// mjpeg:PATH.
    #[arg(long, default_value = "pattern")]
    pub(crate) source: SourceSpec,

    /// The size of the frames in a raw:PATH file (and the size asked of a
    /// camera or the pattern).
    #[arg(long, value_name = "WxH")]
    pub(crate) input_size: Option<Size>,

    /// The box frames are scaled to fit before encoding, keeping their
    /// shape: a 4:3 source at 400x400 is sent 400x300.
    #[arg(long, default_value = "400x400", value_name = "WxH")]
    pub(crate) size: Size,

    /// Scale frames to exactly --size, whatever their shape, as the
    /// original programs did (a 4:3 source at 400x400 is sent 400x400).
    #[arg(long)]
    pub(crate) stretch: bool,

    /// JPEG quality, 1 to 100.
    #[arg(long, default_value_t = framecast_stream::DEFAULT_QUALITY, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub(crate) quality: u8,

    /// Frames per second; 0 sends as fast as possible.
    #[arg(long, value_name = "FPS", default_value_t = framecast_capture::DEFAULT_FPS)]
    pub(crate) fps: u32,

    /// Play a file source (raw:PATH, mjpeg:PATH) again from the start when
    /// it ends, like ffmpeg's -stream_loop; without it the sender stops at
    /// the end of the file.
    #[arg(long = "loop")]
    pub(crate) looping: bool,

    /// A name for the stream, sent to the receiver: its window tile, stats
    /// and viewer show it [default: this machine's name and the source].
    #[arg(long, value_name = "NAME")]
    pub(crate) name: Option<String>,

    /// Adapt to the link: lower the JPEG quality (down to --min-quality),
    /// then the picture size, then the frame rate, to keep every frame
    /// within --max-latency, and climb back as the link allows; never above
    /// --quality, --size and --fps. "off" sends every frame at --quality
    /// and --size.
    #[arg(long, value_enum, default_value_t = Adapt::On)]
    pub(crate) adapt: Adapt,

    /// The lowest JPEG quality adapting goes down to before it makes
    /// pictures smaller.
    #[arg(long, value_name = "Q", default_value_t = framecast_stream::adapt::DEFAULT_MIN_QUALITY, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub(crate) min_quality: u8,

    /// The latency budget adapting keeps frames within, from capture to
    /// arrival: milliseconds, or a number with ms or s (150, 150ms, 0.2s).
    #[arg(long, default_value = "150ms", value_name = "TIME", value_parser = parse_latency)]
    pub(crate) max_latency: Duration,
}

/// Whether a sender adapts to its link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Adapt {
    /// Adapt quality, size and frame rate to the link.
    On,
    /// Send every frame at --quality and --size.
    Off,
}

/// A latency: milliseconds, or a number with `ms` or `s`.
fn parse_latency(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (number, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else {
        (t, 1e-3)
    };
    let v: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("expected a time such as 150ms or 0.2s, got {s:?}"))?;
    let secs = v * scale;
    if !(0.01..=60.0).contains(&secs) {
        return Err(format!("{s:?} is not between 10ms and 60s"));
    }
    Ok(Duration::from_secs_f64(secs))
}

impl SourceArgs {
    fn options(&self) -> SourceOptions {
        let size = self.input_size.unwrap_or(Size {
            width: framecast_capture::DEFAULT_WIDTH,
            height: framecast_capture::DEFAULT_HEIGHT,
        });
        SourceOptions::new(size.width, size.height)
            .with_fps(self.fps)
            .with_looping(self.looping)
    }

    /// Opens the source, and says how many frames it holds (a file that
    /// does not loop).
    pub(crate) fn open(&self) -> Result<(Box<dyn FrameSource>, Option<u64>)> {
        let source =
            framecast_capture::open_source(&self.source, &self.options()).map_err(|e| {
                let hint = capture_hint(&e);
                hinted(
                    anyhow::Error::new(e)
                        .context(format!("cannot open the source {}", self.source)),
                    hint,
                )
            })?;
        let frames = source.format().frames;
        Ok((source, frames))
    }

    /// The stream's name: `--name`, else this machine's name and the
    /// source.
    pub(crate) fn stream_name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| default_stream_name(&self.source))
    }

    /// Sets the picture size and fit, quality and name on `builder`.
    pub(crate) fn apply(&self, builder: SenderBuilder) -> SenderBuilder {
        let fit = if self.stretch {
            Fit::Stretch
        } else {
            Fit::Contain
        };
        builder
            .size(self.size.width, self.size.height)
            .fit(fit)
            .quality(self.quality)
            .adapt(self.adapt == Adapt::On)
            .min_quality(self.min_quality.min(self.quality))
            .max_latency(self.max_latency)
            .name(self.stream_name())
    }
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

/// Where a sender's frames go, and how it reaches it.
#[derive(Debug, Clone, Args)]
#[command(mut_arg("tls_ca", |a| a.help(
    "The CA certificate (PEM) the receiver's certificate must be signed by; implies --tls. \
     `framecast cert` makes one."
)))]
pub(crate) struct DestinationArgs {
    /// The receiver: PORT or :PORT (on this machine), HOST:PORT or HOST
    /// (port 5252), HOST a name (looked up at every attempt) or an IP
    /// address, IPv6 in brackets (`[::1]:5252`). Or NATS servers to publish to,
    /// nats://HOST:4222[/SUBJECT] (SUBJECT defaults to framecast.NAME, NAME
    /// from --name; several servers comma separated fail over;
    /// --connect-timeout, --retry, --framing, --tls and --token-file are
    /// for a TCP receiver only).
    #[arg(long, value_name = "ADDRESS|nats://HOST:4222/SUBJECT", value_parser = parse_destination)]
    pub(crate) to: Option<Destination>,

    /// Seconds one connection attempt may take.
    #[arg(long, value_name = "SECONDS", default_value_t = framecast_stream::DEFAULT_CONNECT_TIMEOUT.as_secs_f64())]
    pub(crate) connect_timeout: f64,

    /// Failed attempts in a row (connection refused or timed out, session
    /// refused) before giving up with an error, or "forever". Counted from
    /// the last session that carried frames; with the backoff (0.1 s
    /// doubling to 5 s), 10 retries take about half a minute.
    #[arg(long, value_name = "N|forever", default_value_t = framecast_stream::Retry::default())]
    pub(crate) retry: framecast_stream::Retry,

    /// The length prefix: u32 (framecast) or legacy (the original
    /// programs' 8-byte prefix).
    #[arg(long, default_value = "u32", value_name = "u32|legacy")]
    pub(crate) framing: Prefix,

    /// Connect with TLS, checking the receiver's certificate against
    /// --tls-ca (or the system's trusted CAs) and the host name in --to.
    #[arg(long)]
    pub(crate) tls: bool,

    #[command(flatten)]
    pub(crate) auth: ClientAuthArgs,

    /// With --to nats://…: a file holding the token the NATS servers
    /// require (one line). A user and password go in the URL instead.
    #[arg(long, value_name = "PATH")]
    pub(crate) nats_token_file: Option<PathBuf>,
}

/// Where a sender sends: a receiver, or NATS servers.
#[derive(Debug, Clone)]
pub(crate) enum Destination {
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

impl DestinationArgs {
    /// A sender of `source` to `--to`, with the source's size, quality and
    /// name set.
    pub(crate) fn builder(
        &self,
        source: &SourceArgs,
        frames: Box<dyn FrameSource>,
    ) -> Result<SenderBuilder> {
        let framing = self.framing;
        let Some(to) = &self.to else {
            return Err(anyhow::anyhow!("no destination")).hint("give --to");
        };
        let destination: framecast_stream::Destination = match to {
            Destination::Nats(url) => {
                if self.framing != Prefix::U32Le
                    || self.tls
                    || self.auth.tls_ca.is_some()
                    || self.auth.token_file.is_some()
                {
                    return Err(anyhow::anyhow!(
                        "--to nats://… publishes each Video message as it is: --framing, --tls, \
                         --tls-ca and --token-file are for receivers"
                    ))
                    .hint("NATS credentials go in the URL or --nats-token-file");
                }
                let url = nats::sender_url(url, self.nats_token_file.as_ref())?;
                framecast_stream::Destination::transport(framecast_nats::NatsTransport::new(url))
            }
            Destination::Receiver(to) => {
                if self.nats_token_file.is_some() {
                    anyhow::bail!("--nats-token-file is for --to nats://…");
                }
                let mut tcp = TcpDestination::new(to.to_string())
                    .framing(self.framing)
                    .connect_timeout(seconds("--connect-timeout", self.connect_timeout)?)
                    .retry(self.retry);
                if let Some(token) = self.auth.token()? {
                    tcp = tcp.token(token);
                }
                if self.tls || self.auth.tls_ca.is_some() {
                    tcp = tcp.tls(self.auth.tls(&[])?);
                }
                tcp.into()
            }
        };
        let builder = source
            .apply(SenderBuilder::new(destination, frames))
            .on_event(move |e| sender::event_hint(e, framing));
        Ok(builder)
    }
}
