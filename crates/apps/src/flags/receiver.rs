//! A receiver's flags, defined once: what `recv` and `serve` take, and
//! what a `[receivers.NAME]` table of a configuration file holds (see
//! `docs/config.md`): where it listens, who may send, its limits and
//! timeouts, its recording, its HTTP viewer and its NATS links. How frames
//! are shown (`recv --display`, `--size`) is the command's own.

use std::net::SocketAddr;

use anyhow::Result;
use clap::Args;
use framecast_net::HostPort;
use framecast_stream::{DEFAULT_MAX_CLIENTS, ReceiverBuilder, limits};
use framecast_wire::Prefix;

use crate::flags::auth::ServerAuthArgs;
use crate::flags::{ByteSize, Pixels, listen_addr, resolve, seconds};
use crate::receiver::{self, Outputs};
use crate::report::HintExt;
use crate::{http, nats};

/// The receiver's flags.
#[derive(Debug, Clone, Args)]
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
         loopback), HOST:PORT or HOST (port 8080), HOST a name or an IP address, IPv6 in \
         brackets (`[::1]:8080`); port 0 picks a free one. A page per \
         stream, /streams/ID.mjpg, /streams/ID.jpg, /stats.json, /metrics, /healthz. With \
         --token-file every request but /healthz needs the token (a Bearer header, the login \
         form's cookie, or ?token= in a link); with --tls-cert it is HTTPS. Without a token it \
         serves loopback only, unless --allow-anonymous."
    )),
)]
pub(crate) struct ReceiverArgs {
    /// The address to listen on: PORT or :PORT (on loopback), HOST:PORT or
    /// HOST (port 5252), HOST a name or an IP address, IPv6 in brackets
    /// (`[::1]:5252`). Use 0.0.0.0:5252 to accept senders from other
    /// machines. Port 0 picks a free port. [default: 127.0.0.1:5252, or
    /// with --from a free loopback port]
    #[arg(long, value_name = "ADDRESS", value_parser = listen_addr(framecast_stream::DEFAULT_PORT))]
    pub(crate) listen: Option<HostPort>,

    /// The length prefix: u32 (framecast) or legacy (the original
    /// programs' 8-byte prefix).
    #[arg(long, default_value = "u32", value_name = "u32|legacy")]
    pub(crate) framing: Prefix,

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
    pub(crate) record: Option<String>,

    /// With --record: start a new file of each session after this long
    /// (30s, 10m, 1h) or this size (500MB, 1GiB); the next file gets the
    /// next {segment}, or -2, -3... when the name is the same.
    #[arg(long, value_name = "TIME|SIZE", requires = "record")]
    pub(crate) record_segment: Option<framecast_stream::Segment>,

    /// How many senders are served at once; the next one is refused as
    /// busy (it is told so, and retries later).
    #[arg(long, default_value_t = DEFAULT_MAX_CLIENTS, value_name = "N")]
    pub(crate) max_clients: usize,

    /// How many connections may wait for their handshake at once; when one
    /// more comes, the one that waited longest is closed.
    #[arg(long, default_value_t = limits::DEFAULT_MAX_PENDING_HANDSHAKES, value_name = "N")]
    pub(crate) max_pending_handshakes: usize,

    /// The largest frame accepted (8MiB, 512KiB, or bytes); a sender
    /// announcing a larger one is disconnected.
    #[arg(long, value_name = "SIZE", default_value_t = ByteSize(framecast_wire::DEFAULT_MAX_FRAME_LEN as u64))]
    pub(crate) max_frame_len: ByteSize,

    /// The largest picture decoded, in pixels (width x height, or a
    /// number), checked from the JPEG header before decoding; larger
    /// frames are counted as corrupt.
    #[arg(long, default_value = "3840x2160", value_name = "WxH|PIXELS")]
    pub(crate) max_pixels: Pixels,

    /// Decode workers (default: one per core), and as many more at a lower
    /// priority for streams whose frames take over 10 ms to decode.
    #[arg(long, value_name = "N")]
    pub(crate) workers: Option<usize>,

    /// Seconds a new connection has to complete its handshake.
    #[arg(long, value_name = "SECONDS", default_value_t = limits::DEFAULT_HANDSHAKE_TIMEOUT.as_secs_f64())]
    pub(crate) handshake_timeout: f64,

    /// Seconds a stream may go without a complete frame before it is
    /// closed.
    #[arg(long, value_name = "SECONDS", default_value_t = limits::DEFAULT_IDLE_TIMEOUT.as_secs_f64())]
    pub(crate) idle_timeout: f64,

    /// Seconds one frame may take from its first byte to its last.
    #[arg(long, value_name = "SECONDS", default_value_t = limits::DEFAULT_TRICKLE_TIMEOUT.as_secs_f64())]
    pub(crate) trickle_timeout: f64,

    #[command(flatten)]
    pub(crate) auth: ServerAuthArgs,

    #[command(flatten)]
    pub(crate) http: http::HttpArgs,

    #[command(flatten)]
    pub(crate) nats: nats::NatsRecvArgs,
}

impl ReceiverArgs {
    /// What the receiver writes besides the screen (the recording), and
    /// its viewer and NATS links, checked before anything starts; with
    /// `stats_json` for the command's `--stats-json`.
    pub(crate) fn outputs(&self, stats_json: Option<&std::path::Path>) -> Result<Outputs> {
        let http = self.http.plan(
            self.auth.allow_anonymous,
            self.auth.token()?,
            self.auth.tls(&[])?,
        )?;
        Ok(
            Outputs::open(stats_json, self.record.as_deref(), self.record_segment)?
                .with_listen(self.listen.clone())
                .with_http(http)
                .with_nats(self.nats.plan(self.auth.allow_anonymous)?),
        )
    }

    /// The addresses the receiver may listen on: `--listen`, else the
    /// default port on loopback, or with `--from` (streams come from NATS)
    /// a free loopback port, so that it never takes the port of another
    /// receiver.
    pub(crate) fn listen_addresses(&self) -> Result<(HostPort, Vec<SocketAddr>)> {
        let listen = self.listen.clone().unwrap_or_else(|| {
            let port = if self.nats.takes_from_nats() {
                0
            } else {
                framecast_stream::DEFAULT_PORT
            };
            HostPort::from(SocketAddr::new(framecast_net::DEFAULT_HOST, port))
        });
        let addresses = resolve("--listen", &listen)?;
        Ok((listen, addresses))
    }

    /// The receiver these flags ask for (its sinks are added by the
    /// caller).
    pub(crate) fn builder(&self) -> Result<ReceiverBuilder> {
        let (listen, addresses) = self.listen_addresses()?;
        let mut builder = ReceiverBuilder::new(addresses[0])
            .framing(self.framing)
            .max_clients(self.max_clients)
            .max_pending_handshakes(self.max_pending_handshakes)
            .max_frame_len(self.max_frame_len.to_usize("--max-frame-len")?)
            .max_pixels(self.max_pixels.0)
            .handshake_timeout(seconds("--handshake-timeout", self.handshake_timeout)?)
            .idle_timeout(seconds("--idle-timeout", self.idle_timeout)?)
            .trickle_timeout(seconds("--trickle-timeout", self.trickle_timeout)?)
            .on_event(receiver::event_hint);
        if let Some(n) = self.workers {
            builder = builder.workers(n);
        }
        let token = self.auth.token()?;
        if self.framing == Prefix::LegacyI64Le && (token.is_some() || self.auth.tls_cert.is_some())
        {
            return Err(anyhow::anyhow!(
                "the legacy framing cannot carry TLS or a token (the original programs cannot)"
            ))
            .hint("drop --framing legacy, or --tls-cert and --token-file");
        }
        // Protected mode: only this machine may connect, unless senders must
        // authenticate or the user opted out.
        self.auth
            .check_exposure(&addresses[..1], &listen, token.as_ref(), "send frames")?;
        if let Some(token) = token {
            builder = builder.token(token);
        }
        if let Some(config) = self.auth.tls(&[])? {
            builder = builder.tls(config);
        }
        Ok(builder)
    }
}
