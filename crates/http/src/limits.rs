//! Every limit of the HTTP viewer, with its default: each is set on
//! [`HttpConfig`](crate::HttpConfig) and listed with what happens when it is
//! hit in `docs/reliability.md`.

use std::time::Duration;

/// MJPEG viewers served at once, over all streams. The next one is answered
/// `503 Service Unavailable` with a body saying so and a `Retry-After`.
pub const DEFAULT_MAX_VIEWERS: usize = 100;

/// HTTP connections open at once beyond [`DEFAULT_MAX_VIEWERS`] (pages,
/// snapshots, stats, metrics scrapers, idle keep-alive connections). One
/// over `max_viewers + this` is closed as soon as it is accepted.
pub const DEFAULT_HTTP_SPARE_CONNECTIONS: usize = 64;

/// How long an HTTP connection has to send a complete request head: from
/// when it opens, and again from the end of each response (so this is also
/// how long an idle keep-alive connection stays open).
pub const DEFAULT_HTTP_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest request head (request line and headers) read, in bytes; a
/// larger one is answered `431 Request Header Fields Too Large` and the
/// connection closed.
pub const DEFAULT_HTTP_MAX_REQUEST_HEAD: usize = 8 * 1024;

/// The most request headers read; more are answered `431`.
pub const DEFAULT_HTTP_MAX_HEADERS: usize = 64;

/// How long a write to an HTTP client may make no progress (the client
/// stopped reading) before its connection is closed.
pub const DEFAULT_HTTP_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one MJPEG part (one frame) may take to be written to a viewer,
/// from its first byte to its last. A viewer that reads so slowly (a
/// trickle that keeps every single write alive) is closed after this: no
/// viewer holds an old frame, a place and a connection for longer.
pub const DEFAULT_VIEWER_PART_TIMEOUT: Duration = Duration::from_secs(20);

/// Bytes the HTTP layer buffers per connection before waiting for the
/// socket (the request head being read, or response bytes queued to write;
/// frames are queued by reference, never copied). While a viewer's queue
/// holds this much, the viewer is not offered a newer frame.
pub const HTTP_CONNECTION_BUFFER: usize = 16 * 1024;

/// Bytes a viewer's socket may hold that the network has not taken yet
/// (`TCP_NOTSENT_LOWAT` on Linux; the socket's send buffer elsewhere).
/// Above it, writes wait: a viewer on a slow link gets the newest frame
/// when its link can take one, instead of a queue of old frames in the
/// kernel, so its delay stays at about one frame plus what is in flight.
pub const DEFAULT_VIEWER_UNSENT_BYTES: usize = 64 * 1024;

/// The largest login form (`POST /login`) read, in bytes; a larger one is
/// answered `413` before more than this is buffered. The form must also
/// arrive within the header timeout, or it is answered `408`.
pub const HTTP_MAX_LOGIN_FORM: usize = 4 * 1024;

/// The largest body of `POST /streams/{id}/settings` read, in bytes; a
/// larger one is answered `413` before more than this is buffered. It must
/// also arrive within the header timeout, or it is answered `408`.
pub const HTTP_MAX_SETTINGS_BODY: usize = 1024;

/// The largest width or height `POST /streams/{id}/settings` takes, in
/// pixels (the largest side a source takes); more is answered `400`.
pub const SETTINGS_MAX_SIDE: u32 = 16_384;

/// The highest frame rate `POST /streams/{id}/settings` takes; more (or
/// 0) is answered `400`.
pub const SETTINGS_MAX_FPS: u32 = 1000;

/// Failed logins (`POST /login` with a wrong token) one address may make
/// before it is slowed: from the next failure on, each attempt must wait
/// [`DEFAULT_LOGIN_DELAY`], doubled after each further failure; one made
/// sooner is answered `429 Too Many Requests` with `Retry-After`, and its
/// token is not looked at.
pub const DEFAULT_LOGIN_FREE_FAILURES: u32 = 5;

/// The first wait imposed on an address after its free failures; doubled
/// after each further failure, up to [`DEFAULT_LOGIN_MAX_DELAY`].
pub const DEFAULT_LOGIN_DELAY: Duration = Duration::from_secs(1);

/// The longest wait imposed between two login attempts of one address: at
/// most one guess a minute, once the wait has grown this far.
pub const DEFAULT_LOGIN_MAX_DELAY: Duration = Duration::from_secs(60);

/// Addresses whose failed logins are remembered (an IPv6 address by its
/// /64). When the table is full, the address whose last failure is the
/// oldest is forgotten first.
pub const DEFAULT_LOGIN_THROTTLE_ADDRESSES: usize = 4096;

/// How long an address's failed logins are remembered after its last one.
pub const DEFAULT_LOGIN_FAILURE_MEMORY: Duration = Duration::from_secs(15 * 60);

/// How long a client has to complete the TLS handshake when the viewer is
/// served over HTTPS; the request head then has its own
/// [`DEFAULT_HTTP_HEADER_TIMEOUT`].
pub const DEFAULT_HTTP_TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long `GET /streams/{id}.jpg` waits for the first frame of a stream
/// that has none yet, before answering `503`.
pub const DEFAULT_SNAPSHOT_WAIT: Duration = Duration::from_secs(2);

/// Tiers one stream may have at once (distinct `quality`/`width` pairs
/// encoded for its viewers). A viewer asking for one more is answered
/// `503` naming those in use; an `auto` viewer stays on a tier already
/// served. Each tier costs one encode a frame while watched.
pub const DEFAULT_MAX_TIERS_PER_STREAM: usize = 8;

/// Threads that decode frames and encode them at the tiers viewers watch.
/// Not the network threads: a burst of encoding delays the tiers' frames,
/// never another connection.
pub const DEFAULT_TIER_THREADS: usize = 2;

/// Bytes an `auto` viewer's socket may hold that the network has not taken
/// yet (`TCP_NOTSENT_LOWAT`): small, so the time a part takes to leave
/// measures the viewer's link and its picture is never queued behind much.
pub const DEFAULT_AUTO_UNSENT_BYTES: usize = 4 * 1024;

/// How long an MJPEG response by name (`/streams/by-name/{name}.mjpg`,
/// `/stream`) waits for its stream to come back after the sender went
/// away, before it ends.
pub const DEFAULT_BY_NAME_WAIT: Duration = Duration::from_secs(10);
