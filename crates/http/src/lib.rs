//! The HTTP viewer of a framecast receiver: watch its streams in a browser
//! and let monitoring read its counters, without re-encoding anything.
//!
//! An adapter built only on the receiver's public seams
//! ([`framecast_stream::ReceiverHandle`]: streams, their
//! latest-frame watches, stats with the latency histogram, the receiver's
//! runtime and lifetime), as any other adapter would be.
//! [`HttpViewer::start`] serves, on the receiver's own tokio runtime:
//!
//! | request | answer |
//! | --- | --- |
//! | `GET /` | the camera wall: a live tile per stream (picture, name, resolution, fps, bitrate, latency, viewers) |
//! | `GET /streams/{id}` | a stream's page: the picture fitted to the window, full screen, the age of the picture on screen, what each figure means, graphs of the last minutes |
//! | `GET /streams/{id}.mjpg` | `multipart/x-mixed-replace` MJPEG: the received JPEGs exactly as they arrived, or a [tier](#tiers) |
//! | `GET /streams/{id}.jpg` | the stream's newest frame (a snapshot), or a tier of it |
//! | `GET /streams/by-name/{name}`, `….mjpg`, `….jpg` | the same by the stream's name: the address outlives a reconnect (an MJPEG response goes on with the new session) |
//! | `POST /streams/{id}/settings`, `/streams/by-name/{name}/settings` | asks the stream's sender to keep within a JPEG quality, size and frame rate from its next frame on (JSON, e.g. `{"quality": 40, "size": "320x240", "fps": 15}`; `{}` lifts the ask): see [Settings at run time](#settings-at-run-time). `GET` says what was asked and whether the sender can be asked |
//! | `GET /stream`, `/snapshot`, `/?action=stream`, `/?action=snapshot` | the one live stream (or `?name=NAME`'s), at the addresses mjpg-streamer and ustreamer use |
//! | `GET /stats.json` | the receiver's stats object (totals and `per_stream`, as `recv --stats-json` writes it), the server's `time` and this viewer's part (`http`): see `docs/stats.schema.json` |
//! | `GET /metrics` | Prometheus text: frames received, shown, dropped, corrupt, bytes, latency histograms (all and per stream), current rates, resolution and quality per stream, connections, refusals, viewers, tiers |
//! | `GET /healthz` | `200 ok` while the receiver runs, `503` once it is stopping |
//!
//! `id` is the stream's number ([`StreamHandle::id`](framecast_stream::StreamHandle::id)). An unknown stream is
//! a `404`. Every MJPEG part and snapshot carries `X-Timestamp` (the
//! capture time, seconds since the epoch with microseconds: ustreamer's
//! header), `X-Sequence` (the frame's number) and `X-Tier`.
//!
//! # Tiers
//!
//! `?quality=Q` (1–100) and `?width=W` (pixels; the height keeps the
//! picture's shape, and a picture is never enlarged) ask for the picture
//! re-encoded. Each distinct tier of a stream is encoded once per frame,
//! while at least one viewer watches it, and the bytes are shared by all
//! its viewers: N viewers in M tiers cost one decode and M encodes a frame.
//! The encoding runs on a small pool of threads of the viewer's own
//! ([`HttpConfig::tier_threads`]), never on the network threads. A stream
//! has at most [`HttpConfig::max_tiers`] tiers at once; one more is a
//! `503` naming those in use. Without parameters a viewer gets the
//! original bytes, untouched.
//!
//! `?quality=auto` (the stream page's default) moves each viewer along a
//! ladder of tiers, from the original down to a quarter of the width at
//! quality 60, from how fast its own connection drains: a viewer on a
//! slow link gets a smaller picture at full frame rate, with a bounded
//! age, rather than a slideshow, and climbs back when its link recovers.
//! `&width=W` caps the ladder's width (the camera wall's tiles).
//!
//! # Settings at run time
//!
//! `POST /streams/{id}/settings` reaches the sender through its session's
//! feedback ([`StreamHandle::ask_sender`](framecast_stream::StreamHandle::ask_sender)),
//! with the next frame that arrives; a sender that adapts to its link takes
//! the values as its new ceiling, so its next frame or two are within them.
//! Fields (all optional, a field left out asks nothing of it): `quality`
//! (1–100), `width` and `height` or `size` (`"WxH"`, 1 to
//! [`SETTINGS_MAX_SIDE`] pixels; the sender
//! picks the largest of its sizes that fits), `fps` (1 to
//! [`SETTINGS_MAX_FPS`]). The answer is JSON:
//! `200` with the stream and what it was asked; `400` naming a bad value;
//! `404` for no such live stream; `409` with the reason when the sender
//! cannot be asked (the legacy framing, a stream from NATS, a sender that
//! did not ask for feedback such as `send --adapt off`); `413` for a body
//! over [`HTTP_MAX_SETTINGS_BODY`] bytes;
//! `415` for a body that is not `application/json`.
//!
//! It needs what every request needs (the token, or the session cookie),
//! and refuses with `403` a request whose `Origin` (else `Referer`) is not
//! this viewer's host: a page of another site cannot use a viewer's
//! cookie to change a camera's settings. A body must be
//! `application/json`, which an HTML form cannot send and which another
//! origin's script cannot send without a CORS preflight the viewer never
//! grants. The stream page has the same controls.
//!
//! # Many viewers, none slowing another
//!
//! ```text
//!  connection task (one per HTTP connection, hyper HTTP/1)
//!    socket: writes time out after write_timeout without progress,
//!            at most viewer_unsent_bytes not yet sent (TCP_NOTSENT_LOWAT)
//!    MJPEG body ── waits on the stream's latest-frame watch ──▶ newest frame
//!                  part = [small header] [the JPEG's Bytes, shared] [boundary]
//! ```
//!
//! Each viewer waits on its stream's latest-frame watch and, whenever its
//! connection can take another part, is given the newest frame: a slow
//! viewer skips frames, nothing queues per viewer, and nobody else waits
//! for it. The JPEG is the receiver's own buffer, shared by every viewer
//! (a reference count, not a copy); each part adds a header of about 60
//! bytes written into a per-viewer buffer that is reused once the previous
//! header has been sent. A viewer that stops reading is closed after
//! `write_timeout`, one that reads a part slower than `part_timeout` after
//! that, so none holds memory or a place for long. Viewers are capped
//! (`max_viewers`): the next one gets a `503` saying so.
//!
//! Connections are capped too ([`HttpConfig::max_connections`]), but a
//! crowd of them cannot lock anyone out: when every place is taken, the
//! oldest connection that has not sent a complete request with the token
//! (idle, a request head arriving a byte at a time, a stalled TLS
//! handshake) is closed to make room, else the one idle the longest. A
//! viewer watching, a request with the token and a `/healthz` being
//! answered are never closed for a newcomer.
//!
//! # Who may watch
//!
//! With an access token ([`HttpConfig::token`]) every request but
//! `/healthz`, the login form and the static assets must carry it: as an
//! `Authorization: Bearer` header (scripts, Prometheus' `authorization`
//! setting), as the session cookie a browser gets from the login form
//! (`/login`), or as `?token=` in a link (the browser is then given the
//! cookie, and a page is reloaded without the token in its address).
//! Anything else is a `401`: the login form for a browser, a line of text
//! for a program. With [`HttpConfig::tls`] the viewer speaks HTTPS only.
//!
//! Without a token the viewer serves loopback addresses only, unless
//! anonymous access is allowed explicitly ([`HttpConfig::allow_anonymous`]).
//!
//! # Example
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//!
//! use framecast_stream::ReceiverBuilder;
//! use framecast_http::{HttpConfig, HttpViewer};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let receiver = ReceiverBuilder::new("127.0.0.1:0".parse()?).start()?;
//! let viewer = HttpViewer::start(&receiver, HttpConfig::new("127.0.0.1:0".parse()?))?;
//!
//! // Any HTTP client will do; browse http://{addr}/ to watch the streams.
//! let mut client = TcpStream::connect(viewer.local_addr())?;
//! client.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
//! let mut answer = String::new();
//! client.read_to_string(&mut answer)?;
//! assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
//!
//! viewer.stop();
//! receiver.shutdown()?;
//! # Ok(())
//! # }
//! ```

mod auth;
mod conn;
pub mod limits;
mod meter;
mod metrics;
mod mjpeg;
mod pages;
mod quality;
mod rates;
mod routes;
mod settings;
mod slots;
mod throttle;
pub mod tier;
mod transcode;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use framecast_stream::events::LogLimiter;
use framecast_stream::{ReceiverHandle, ReceiverStats, StreamId};
use framecast_tls::{Exposure, Token};
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::limits::*;

/// The boundary between the parts of an MJPEG response. Long enough that a
/// JPEG never contains it by chance (clients that scan for it rather than
/// reading each part's `Content-Length` are safe).
pub const MJPEG_BOUNDARY: &str = mjpeg::boundary!();

pub use auth::{LOGIN_PATH, SESSION_COOKIE, TOKEN_PARAMETER};

/// Why the HTTP viewer could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// A setting cannot work.
    #[error("invalid HTTP viewer setting {what}: {reason}")]
    Config {
        /// Which setting.
        what: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The address is not a loopback address, no access token was given
    /// and anonymous access was not allowed.
    #[error(
        "refusing to serve the HTTP viewer on {addr} without authentication: any host that \
         can reach it could watch every stream"
    )]
    Anonymous {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The address is not a loopback address and the access token is too
    /// weak to be used there ([`Token::check_strength`]).
    #[error("refusing to serve the HTTP viewer on {addr} with a weak access token")]
    WeakToken {
        /// The address asked for.
        addr: SocketAddr,
        /// What is wrong with the token (and how to make a good one).
        source: framecast_tls::TokenError,
    },
    /// The address cannot be listened on.
    #[error("cannot serve the HTTP viewer on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// The receiver has already stopped.
    #[error("the receiver has stopped")]
    Stopped,
    /// The threads that encode tiers cannot be started.
    #[error("cannot start the HTTP viewer's tier threads")]
    Threads {
        /// Why.
        source: io::Error,
    },
}

/// Configures an [`HttpViewer`]: where it listens and its limits. Every
/// limit has a documented default in [`crate::limits`].
#[derive(Debug, Clone)]
pub struct HttpConfig {
    listen: SocketAddr,
    allow_anonymous: bool,
    token: Option<Token>,
    tls: Option<Arc<rustls::ServerConfig>>,
    tls_handshake_timeout: Duration,
    max_viewers: usize,
    max_connections: Option<usize>,
    header_timeout: Duration,
    max_request_head: usize,
    max_headers: usize,
    write_timeout: Duration,
    part_timeout: Duration,
    viewer_unsent_bytes: usize,
    snapshot_wait: Duration,
    max_tiers: usize,
    tier_threads: usize,
    auto_unsent_bytes: usize,
    by_name_wait: Duration,
    login: throttle::Limits,
    sections: Sections,
}

impl HttpConfig {
    /// A viewer on `listen` (port 0 picks a free port; see
    /// [`HttpViewer::local_addr`]) with every default limit. Only a
    /// loopback address is accepted unless
    /// [`allow_anonymous`](Self::allow_anonymous) is set.
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            allow_anonymous: false,
            token: None,
            tls: None,
            tls_handshake_timeout: DEFAULT_HTTP_TLS_HANDSHAKE_TIMEOUT,
            max_viewers: DEFAULT_MAX_VIEWERS,
            max_connections: None,
            header_timeout: DEFAULT_HTTP_HEADER_TIMEOUT,
            max_request_head: DEFAULT_HTTP_MAX_REQUEST_HEAD,
            max_headers: DEFAULT_HTTP_MAX_HEADERS,
            write_timeout: DEFAULT_HTTP_WRITE_TIMEOUT,
            part_timeout: DEFAULT_VIEWER_PART_TIMEOUT,
            viewer_unsent_bytes: DEFAULT_VIEWER_UNSENT_BYTES,
            snapshot_wait: DEFAULT_SNAPSHOT_WAIT,
            max_tiers: DEFAULT_MAX_TIERS_PER_STREAM,
            tier_threads: DEFAULT_TIER_THREADS,
            auto_unsent_bytes: DEFAULT_AUTO_UNSENT_BYTES,
            by_name_wait: DEFAULT_BY_NAME_WAIT,
            login: throttle::Limits {
                free_failures: DEFAULT_LOGIN_FREE_FAILURES,
                delay: DEFAULT_LOGIN_DELAY,
                max_delay: DEFAULT_LOGIN_MAX_DELAY,
                addresses: DEFAULT_LOGIN_THROTTLE_ADDRESSES,
                memory: DEFAULT_LOGIN_FAILURE_MEMORY,
            },
            sections: Sections::default(),
        }
    }

    /// Serves a non-loopback address without an access token: anyone who
    /// can reach it can watch every stream.
    pub fn allow_anonymous(mut self, allow: bool) -> Self {
        self.allow_anonymous = allow;
        self
    }

    /// Requires this access token on every request but `/healthz`, the
    /// login form and the static assets (see the [module docs](self)).
    /// Beyond loopback it must pass [`Token::check_strength`].
    pub fn token(mut self, token: Token) -> Self {
        self.token = Some(token);
        self
    }

    /// Serves HTTPS only, with this rustls configuration (its ALPN list
    /// is set to `http/1.1`). The session cookie is then marked `Secure`.
    pub fn tls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// How long a client has to complete the TLS handshake (default
    /// [`DEFAULT_HTTP_TLS_HANDSHAKE_TIMEOUT`]).
    pub fn tls_handshake_timeout(mut self, t: Duration) -> Self {
        self.tls_handshake_timeout = t;
        self
    }

    /// MJPEG viewers served at once (default [`DEFAULT_MAX_VIEWERS`]); the
    /// next one is answered `503`.
    pub fn max_viewers(mut self, n: usize) -> Self {
        self.max_viewers = n;
        self
    }

    /// HTTP connections open at once (default: `max_viewers` +
    /// [`DEFAULT_HTTP_SPARE_CONNECTIONS`]); more than `max_viewers`, so
    /// that the viewers never hold every place. When every place is taken
    /// a new connection takes the place of the oldest one that has not
    /// sent a complete request with the token (idle, a slow request head,
    /// a stalled TLS handshake), else of the one idle the longest; a
    /// viewer watching or a `/healthz` being answered is never evicted.
    /// Only when those hold every place is the new one closed at once.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = Some(n);
        self
    }

    /// How long a connection has to send a request head, from when it
    /// opens or its previous response ended (default
    /// [`DEFAULT_HTTP_HEADER_TIMEOUT`]).
    pub fn header_timeout(mut self, t: Duration) -> Self {
        self.header_timeout = t;
        self
    }

    /// The largest request head in bytes (default
    /// [`DEFAULT_HTTP_MAX_REQUEST_HEAD`]) and the most headers (default
    /// [`DEFAULT_HTTP_MAX_HEADERS`]); more is answered `431`.
    pub fn max_request_head(mut self, bytes: usize, headers: usize) -> Self {
        self.max_request_head = bytes;
        self.max_headers = headers;
        self
    }

    /// How long a write may make no progress before the connection is
    /// closed (default [`DEFAULT_HTTP_WRITE_TIMEOUT`]).
    pub fn write_timeout(mut self, t: Duration) -> Self {
        self.write_timeout = t;
        self
    }

    /// How long one MJPEG part may take to be written (default
    /// [`DEFAULT_VIEWER_PART_TIMEOUT`]).
    pub fn part_timeout(mut self, t: Duration) -> Self {
        self.part_timeout = t;
        self
    }

    /// Bytes a connection's socket may hold that the network has not taken
    /// yet (default [`DEFAULT_VIEWER_UNSENT_BYTES`]).
    pub fn viewer_unsent_bytes(mut self, bytes: usize) -> Self {
        self.viewer_unsent_bytes = bytes;
        self
    }

    /// How long a snapshot waits for a new stream's first frame (default
    /// [`DEFAULT_SNAPSHOT_WAIT`]).
    pub fn snapshot_wait(mut self, t: Duration) -> Self {
        self.snapshot_wait = t;
        self
    }

    fn connections(&self) -> usize {
        self.max_connections.unwrap_or(
            self.max_viewers
                .saturating_add(DEFAULT_HTTP_SPARE_CONNECTIONS),
        )
    }

    /// Tiers a stream may have at once (default
    /// [`DEFAULT_MAX_TIERS_PER_STREAM`]); a viewer asking for one more is
    /// answered `503`, and an `auto` viewer stays on a tier already served.
    pub fn max_tiers(mut self, n: usize) -> Self {
        self.max_tiers = n;
        self
    }

    /// Threads that encode tiers (default [`DEFAULT_TIER_THREADS`]).
    pub fn tier_threads(mut self, n: usize) -> Self {
        self.tier_threads = n;
        self
    }

    /// Bytes an `auto` viewer's socket may hold that the network has not
    /// taken yet (default [`DEFAULT_AUTO_UNSENT_BYTES`]): small, so that its
    /// drain time measures its link and its picture's age stays low.
    pub fn auto_unsent_bytes(mut self, bytes: usize) -> Self {
        self.auto_unsent_bytes = bytes;
        self
    }

    /// How long an MJPEG response by name waits for its stream to come back
    /// after the sender went away (default [`DEFAULT_BY_NAME_WAIT`]).
    pub fn by_name_wait(mut self, t: Duration) -> Self {
        self.by_name_wait = t;
        self
    }

    /// Slows the login form after failures, per address: after
    /// `free_failures` failed logins (default
    /// [`DEFAULT_LOGIN_FREE_FAILURES`]) each attempt must wait `delay`
    /// (default [`DEFAULT_LOGIN_DELAY`]), doubled after each further
    /// failure up to `max_delay` (default [`DEFAULT_LOGIN_MAX_DELAY`]); an
    /// attempt made sooner is answered `429` without its token being
    /// looked at.
    pub fn login_throttle(
        mut self,
        free_failures: u32,
        delay: Duration,
        max_delay: Duration,
    ) -> Self {
        self.login.free_failures = free_failures;
        self.login.delay = delay;
        self.login.max_delay = max_delay;
        self
    }

    /// The addresses whose failed logins are remembered (default
    /// [`DEFAULT_LOGIN_THROTTLE_ADDRESSES`]), each for `memory` after its
    /// last failure (default [`DEFAULT_LOGIN_FAILURE_MEMORY`]).
    pub fn login_throttle_table(mut self, addresses: usize, memory: Duration) -> Self {
        self.login.addresses = addresses;
        self.login.memory = memory;
        self
    }

    /// Adds a section `key` to `/stats.json`, made by `section` at each
    /// request (`None`: left out); the binary adds `nats` this way, so that
    /// the page and `--stats-json` give the same object.
    pub fn stats_section(mut self, key: &str, section: StatsSection) -> Self {
        self.sections.0.push((key.to_owned(), section));
        self
    }

    fn check(&self) -> Result<(), HttpError> {
        let bad =
            |what: &'static str, reason: &'static str| Err(HttpError::Config { what, reason });
        if self.max_viewers == 0 {
            return bad("max_viewers", "must be at least 1");
        }
        // tokio's semaphore holds at most this many permits.
        if self.max_viewers > Semaphore::MAX_PERMITS || self.connections() > Semaphore::MAX_PERMITS
        {
            return bad("max_viewers", "is too large");
        }
        if self.connections() <= self.max_viewers {
            return bad(
                "max_connections",
                "must be more than max_viewers (the places beyond the viewers keep /healthz \
                 and the pages reachable)",
            );
        }
        if self.max_request_head < 1024 {
            return bad("max_request_head", "must be at least 1024 bytes");
        }
        if self.max_headers == 0 {
            return bad("max_headers", "must be at least 1");
        }
        if self.viewer_unsent_bytes == 0 || u32::try_from(self.viewer_unsent_bytes).is_err() {
            return bad("viewer_unsent_bytes", "must be between 1 and 4294967295");
        }
        if self.auto_unsent_bytes == 0 || u32::try_from(self.auto_unsent_bytes).is_err() {
            return bad("auto_unsent_bytes", "must be between 1 and 4294967295");
        }
        if self.max_tiers == 0 {
            return bad("max_tiers", "must be at least 1");
        }
        if self.tier_threads == 0 {
            return bad("tier_threads", "must be at least 1");
        }
        if self.login.delay.is_zero() || self.login.max_delay < self.login.delay {
            return bad(
                "login_throttle",
                "the delay must be longer than zero and the longest delay at least as long",
            );
        }
        if self.login.addresses == 0 || self.login.memory.is_zero() {
            return bad(
                "login_throttle_table",
                "must remember at least 1 address, for longer than zero",
            );
        }
        for (what, t) in [
            ("header_timeout", self.header_timeout),
            ("tls_handshake_timeout", self.tls_handshake_timeout),
            ("write_timeout", self.write_timeout),
            ("part_timeout", self.part_timeout),
        ] {
            if t.is_zero() {
                return bad(what, "must be longer than zero");
            }
        }
        Ok(())
    }
}

/// The HTTP viewer's counters, as a snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct HttpStats {
    /// MJPEG viewers connected now.
    pub viewers: u64,
    /// MJPEG viewers refused because `max_viewers` were connected.
    pub viewers_refused: u64,
    /// MJPEG parts (frames) sent, over all viewers.
    pub parts: u64,
    /// HTTP connections accepted since the start.
    pub connections: u64,
    /// HTTP connections open now.
    pub open_connections: u64,
    /// HTTP connections closed at once because `max_connections` were open
    /// and none of them could be evicted (viewers watching, requests with
    /// the token or `/healthz` being answered).
    pub connections_refused: u64,
    /// HTTP connections closed to make room for a new one: they had not
    /// sent a complete request with the token (or had been idle the
    /// longest) when every place was taken.
    pub connections_evicted: u64,
    /// Connections closed because no request head came in time.
    pub header_timeouts: u64,
    /// Connections closed because a write made no progress in time.
    pub write_timeouts: u64,
    /// Viewers closed because a part took longer than `part_timeout`.
    pub part_timeouts: u64,
    /// Requests and logins refused for a missing or wrong access token.
    pub auth_failures: u64,
    /// Login attempts answered `429` unchecked: their address had failed
    /// too often and had not waited long enough.
    pub logins_throttled: u64,
    /// Login forms refused `403` because a page of another origin sent
    /// them.
    pub logins_cross_origin: u64,
    /// Connections closed because their TLS handshake failed or took
    /// longer than `tls_handshake_timeout`.
    pub tls_failures: u64,
    /// Frames decoded to be re-encoded at tiers.
    pub tier_decodes: u64,
    /// Pictures encoded at tiers (one per frame per tier watched).
    pub tier_encodes: u64,
    /// Frames that could not be decoded or encoded for tiers.
    pub tier_failures: u64,
    /// Times an `auto` viewer moved to another tier.
    pub auto_switches: u64,
}

/// The HTTP viewer's part of the stats: its counters, and per stream its
/// viewers and tiers (`http` in `/stats.json` and in `recv --stats-json`).
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct HttpReport {
    /// The counters.
    #[serde(flatten)]
    pub totals: HttpStats,
    /// Each stream of the receiver's stats, in the same order.
    pub per_stream: Vec<HttpStreamReport>,
}

/// One stream's viewers and tiers.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct HttpStreamReport {
    /// The stream's number.
    pub id: StreamId,
    /// MJPEG viewers of the stream now (of every tier).
    pub viewers: u64,
    /// The size of its newest picture, in pixels (0 before the first).
    pub width: u32,
    /// See `width`.
    pub height: u32,
    /// Frames received per second over the last few seconds (the stats'
    /// `fps` is the average since the stream connected); `None` until two
    /// samples a second apart are in.
    pub recent_fps: Option<f64>,
    /// Bits received per second over the last few seconds.
    pub recent_bits_per_second: Option<f64>,
    /// The tiers being encoded for it.
    pub tiers: Vec<TierReport>,
}

/// One tier of a stream.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct TierReport {
    /// The JPEG quality.
    pub quality: u8,
    /// The width asked for, in pixels (the picture's own, when narrower).
    pub width: u32,
    /// MJPEG viewers of this tier now.
    pub viewers: u64,
    /// Pictures encoded at this tier so far: one per frame while it has
    /// viewers, however many.
    pub encodes: u64,
    /// The size of its newest picture, in bytes.
    pub bytes: Option<u64>,
}

/// The one stats object: what `/stats.json` serves and `recv
/// --stats-json` writes. The receiver's [`ReceiverStats`] (totals and
/// `per_stream`), the server's `time`, and the sections of whatever else
/// runs beside the receiver: `http` (this viewer, [`HttpReport`]) and, in
/// the binary, `nats`. Its shape is `docs/stats.schema.json`.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct StatsDocument {
    /// When the stats were taken, in seconds since the Unix epoch (the
    /// pages learn the server's clock from it).
    pub time: f64,
    /// The receiver's stats.
    #[serde(flatten)]
    pub stats: ReceiverStats,
    /// The HTTP viewer's part, when one runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpReport>,
    /// Further sections by name (`nats`).
    #[serde(flatten)]
    pub sections: serde_json::Map<String, serde_json::Value>,
}

impl StatsDocument {
    /// The document of `stats`, taken now.
    pub fn new(stats: ReceiverStats) -> Self {
        Self {
            time: unix_time_us() as f64 / 1e6,
            stats,
            http: None,
            sections: serde_json::Map::new(),
        }
    }

    /// With the HTTP viewer's part.
    pub fn with_http(mut self, http: HttpReport) -> Self {
        self.http = Some(http);
        self
    }

    /// With a section `key` (its value serialised; a value that does not
    /// serialise is left out).
    pub fn with_section(mut self, key: &str, value: &impl Serialize) -> Self {
        if let Ok(v) = serde_json::to_value(value) {
            self.sections.insert(key.to_owned(), v);
        }
        self
    }
}

/// A section of `/stats.json` that another part of the program adds (see
/// [`HttpConfig::stats_section`]).
pub type StatsSection = Arc<dyn Fn() -> Option<serde_json::Value> + Send + Sync>;

/// The added sections, printed by name.
#[derive(Clone, Default)]
struct Sections(Vec<(String, StatsSection)>);

impl std::fmt::Debug for Sections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, _)| k))
            .finish()
    }
}

#[derive(Debug, Default)]
struct Counters {
    viewers_refused: AtomicU64,
    parts: AtomicU64,
    connections: AtomicU64,
    connections_refused: AtomicU64,
    connections_evicted: AtomicU64,
    header_timeouts: AtomicU64,
    write_timeouts: AtomicU64,
    part_timeouts: AtomicU64,
    auth_failures: AtomicU64,
    logins_throttled: AtomicU64,
    logins_cross_origin: AtomicU64,
    tls_failures: AtomicU64,
    auto_switches: AtomicU64,
}

/// What every task of one viewer shares.
struct State {
    receiver: ReceiverHandle,
    config: HttpConfig,
    /// One permit per MJPEG viewer.
    viewers: Arc<Semaphore>,
    /// Every open connection, and which one gives way to a new one.
    slots: Arc<slots::Slots>,
    /// Viewers per stream (only streams with viewers are listed).
    per_stream: Mutex<HashMap<StreamId, u64>>,
    counters: Counters,
    /// The access check, when a token is required.
    auth: Option<auth::Auth>,
    /// The HTTPS acceptor, when the viewer speaks TLS.
    tls: Option<tokio_rustls::TlsAcceptor>,
    /// Cancelled when the viewer stops (or the receiver does): the accept
    /// loop ends, MJPEG bodies end and connections close.
    cancel: CancellationToken,
    /// This viewer's log lines, rate-limited per kind.
    log: LogLimiter,
    /// The tiers being encoded, and their threads.
    tiers: Arc<transcode::Tiers>,
    /// Each stream's current rates.
    rates: rates::Rates,
    /// Failed logins by address.
    logins: Mutex<throttle::Throttle>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl State {
    fn stats(&self) -> HttpStats {
        let c = &self.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let in_use = |s: &Semaphore, max: usize| max.saturating_sub(s.available_permits()) as u64;
        HttpStats {
            viewers: in_use(&self.viewers, self.config.max_viewers),
            viewers_refused: load(&c.viewers_refused),
            parts: load(&c.parts),
            connections: load(&c.connections),
            open_connections: self.slots.len() as u64,
            connections_refused: load(&c.connections_refused),
            connections_evicted: load(&c.connections_evicted),
            header_timeouts: load(&c.header_timeouts),
            write_timeouts: load(&c.write_timeouts),
            part_timeouts: load(&c.part_timeouts),
            auth_failures: load(&c.auth_failures),
            logins_throttled: load(&c.logins_throttled),
            logins_cross_origin: load(&c.logins_cross_origin),
            tls_failures: load(&c.tls_failures),
            tier_decodes: load(&self.tiers.counters.decodes),
            tier_encodes: load(&self.tiers.counters.encodes),
            tier_failures: load(&self.tiers.counters.failures),
            auto_switches: load(&c.auto_switches),
        }
    }

    fn report(&self, per_stream: &[framecast_stream::StreamStats]) -> HttpReport {
        HttpReport {
            totals: self.stats(),
            per_stream: per_stream
                .iter()
                .map(|s| {
                    let size = self
                        .receiver
                        .stream(s.id)
                        .and_then(|h| h.latest())
                        .map_or((0, 0), |f| (f.width(), f.height()));
                    HttpStreamReport {
                        id: s.id,
                        viewers: self.viewers_of(s.id),
                        width: size.0,
                        height: size.1,
                        recent_fps: self.rates.recent(s.id).map(|r| r.fps),
                        recent_bits_per_second: self.rates.recent(s.id).map(|r| r.bits_per_second),
                        tiers: self
                            .tiers
                            .stats(s.id)
                            .into_iter()
                            .map(|t| TierReport {
                                quality: t.quality,
                                width: t.width,
                                viewers: t.viewers as u64,
                                encodes: t.encodes,
                                bytes: t.bytes.map(|b| b as u64),
                            })
                            .collect(),
                    }
                })
                .collect(),
        }
    }

    /// The stats object `/stats.json` serves.
    fn document(&self) -> StatsDocument {
        let stats = self.receiver.stats();
        self.rates.sample(&stats, Instant::now());
        let http = self.report(&stats.per_stream);
        let mut doc = StatsDocument::new(stats).with_http(http);
        for (key, section) in &self.config.sections.0 {
            if let Some(v) = section() {
                doc.sections.insert(key.clone(), v);
            }
        }
        doc
    }

    fn viewers_of(&self, id: StreamId) -> u64 {
        lock(&self.per_stream).get(&id).copied().unwrap_or(0)
    }

    /// Logs a line of kind `kind` (see `conn`'s `LOG_` constants),
    /// rate-limited per kind.
    fn log(&self, kind: usize, level: tracing::Level, text: std::fmt::Arguments<'_>) {
        self.log.log(kind, level, text, None);
    }
}

/// Locks `m`, carrying on if a panicking task poisoned it: every guarded
/// value stays consistent between statements.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running HTTP viewer. It stops when [`stop`](Self::stop) is called,
/// when it is dropped, or when its receiver stops.
#[derive(Debug)]
pub struct HttpViewer {
    local_addr: SocketAddr,
    state: Arc<State>,
}

impl HttpViewer {
    /// Listens on the configured address and serves the viewer on
    /// `receiver`'s runtime.
    ///
    /// # Errors
    ///
    /// [`HttpError::Config`] for a setting that cannot work,
    /// [`HttpError::Anonymous`] for a non-loopback address with neither a
    /// token nor [`HttpConfig::allow_anonymous`], [`HttpError::WeakToken`]
    /// for a non-loopback address with a token of too few distinct
    /// characters, [`HttpError::Bind`] when the
    /// address cannot be listened on, [`HttpError::Stopped`] when the
    /// receiver has stopped.
    pub fn start(
        receiver: &impl AsRef<ReceiverHandle>,
        config: HttpConfig,
    ) -> Result<Self, HttpError> {
        let receiver = receiver.as_ref();
        config.check()?;
        let addr = config.listen;
        match Exposure::check(&[addr], config.token.is_some(), config.allow_anonymous) {
            Err(_) => return Err(HttpError::Anonymous { addr }),
            Ok(Exposure::Authenticated) => {
                if let Some(token) = &config.token {
                    token
                        .check_strength()
                        .map_err(|source| HttpError::WeakToken { addr, source })?;
                }
            }
            Ok(_) => {}
        }
        let runtime = receiver.runtime().ok_or(HttpError::Stopped)?.clone();
        if receiver.is_stopping() {
            return Err(HttpError::Stopped);
        }
        let bind = |source| HttpError::Bind { addr, source };
        let std_listener = std::net::TcpListener::bind(addr).map_err(bind)?;
        std_listener.set_nonblocking(true).map_err(bind)?;
        let local_addr = std_listener.local_addr().map_err(bind)?;
        let listener = {
            // Registering with the reactor needs the runtime's context.
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(std_listener).map_err(bind)?
        };
        let tls = config.tls.as_ref().map(|c| {
            let mut c = rustls::ServerConfig::clone(c);
            c.alpn_protocols = vec![b"http/1.1".to_vec()];
            tokio_rustls::TlsAcceptor::from(Arc::new(c))
        });
        let auth = config
            .token
            .clone()
            .map(|token| auth::Auth::new(token, tls.is_some()));
        // The viewer stops when asked to or when the receiver does.
        let cancel = CancellationToken::new();
        let (stopped, token) = (receiver.stopped(), cancel.clone());
        runtime.spawn(async move {
            tokio::select! {
                () = stopped => token.cancel(),
                () = token.cancelled() => {}
            }
        });
        let tiers = transcode::Tiers::start(config.tier_threads, config.max_tiers)
            .map_err(|source| HttpError::Threads { source })?;
        let state = Arc::new(State {
            tiers,
            rates: rates::Rates::default(),
            auth,
            tls,
            cancel,
            receiver: receiver.clone(),
            log: LogLimiter::new(),
            viewers: Arc::new(Semaphore::new(config.max_viewers)),
            slots: Arc::new(slots::Slots::new(config.connections())),
            per_stream: Mutex::new(HashMap::new()),
            counters: Counters::default(),
            logins: Mutex::new(throttle::Throttle::new(config.login)),
            config,
        });
        let app = routes::app(Arc::clone(&state));
        runtime.spawn(conn::serve(Arc::clone(&state), listener, app));
        // The tier threads end with the viewer.
        let closing = Arc::clone(&state);
        runtime.spawn(async move {
            closing.cancel.cancelled().await;
            closing.tiers.close();
        });
        tracing::debug!(%local_addr, "HTTP viewer listening");
        Ok(Self { local_addr, state })
    }

    /// The address it listens on (with the real port when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Whether it speaks HTTPS.
    pub fn is_tls(&self) -> bool {
        self.state.tls.is_some()
    }

    /// Whether it requires an access token.
    pub fn requires_token(&self) -> bool {
        self.state.auth.is_some()
    }

    /// Its counters now.
    pub fn stats(&self) -> HttpStats {
        self.state.stats()
    }

    /// Its part of the stats object, for the streams of `per_stream` (the
    /// receiver's stats, taken just before): see [`StatsDocument`].
    pub fn report(&self, per_stream: &[framecast_stream::StreamStats]) -> HttpReport {
        self.state.report(per_stream)
    }

    /// Stops accepting connections and closes the open ones (MJPEG
    /// responses end); returns at once.
    pub fn stop(&self) {
        self.state.cancel.cancel();
    }
}

impl Drop for HttpViewer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The capture time a part or snapshot gives for `frame` (`X-Timestamp`),
/// in µs since the epoch: the sender's, when it said and it is within the
/// receiver's trust window (not ahead of the receiver's clock by more than
/// [`framecast_stream::limits::DEFAULT_MAX_CLOCK_SKEW`], nor older than
/// [`framecast_stream::limits::DEFAULT_MAX_LATENCY_AGE`]); else when the receiver
/// got it. So a sender with a wrong clock never makes a picture look
/// minutes old or from the future.
pub(crate) fn stamp_us(frame: &framecast_stream::Frame) -> u64 {
    let now = unix_time_us();
    let received = now
        .saturating_sub(u64::try_from(frame.received().elapsed().as_micros()).unwrap_or(u64::MAX));
    let skew = framecast_stream::limits::DEFAULT_MAX_CLOCK_SKEW.as_micros() as u64;
    let max_age = framecast_stream::limits::DEFAULT_MAX_LATENCY_AGE.as_micros() as u64;
    match frame.capture_time_us() {
        Some(t) if t <= now.saturating_add(skew) && now.saturating_sub(t) <= max_age => t,
        _ => received,
    }
}

/// The wall clock in µs since the Unix epoch (the clock capture times are
/// on).
fn unix_time_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// A monotonic clock in milliseconds since `epoch`, for values kept in
/// atomics.
fn millis_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_that_cannot_work_are_refused() {
        let base = || HttpConfig::new("127.0.0.1:0".parse().unwrap());
        assert!(base().check().is_ok());
        let what = |c: HttpConfig| match c.check() {
            Err(HttpError::Config { what, .. }) => what,
            other => panic!("{other:?}"),
        };
        assert_eq!(what(base().max_viewers(0)), "max_viewers");
        assert_eq!(
            what(base().max_viewers(10).max_connections(5)),
            "max_connections"
        );
        assert_eq!(
            what(base().max_viewers(10).max_connections(10)),
            "max_connections"
        );
        assert!(base().max_viewers(10).max_connections(11).check().is_ok());
        assert_eq!(what(base().max_request_head(100, 10)), "max_request_head");
        assert_eq!(what(base().write_timeout(Duration::ZERO)), "write_timeout");
        assert_eq!(what(base().viewer_unsent_bytes(0)), "viewer_unsent_bytes");
        assert_eq!(
            base().max_viewers(10).connections(),
            10 + DEFAULT_HTTP_SPARE_CONNECTIONS
        );
    }
}
