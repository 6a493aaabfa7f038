//! Every limit and timeout of the engines, with its default. Each is
//! configurable on [`ReceiverBuilder`](crate::ReceiverBuilder) or
//! [`SenderBuilder`](crate::SenderBuilder); `docs/reliability.md` says what
//! happens when each is hit.

use std::time::Duration;

/// Senders a receiver serves at once; the next one is refused as busy.
pub const DEFAULT_MAX_CLIENTS: usize = 16;

/// Connections a receiver lets wait for their handshake at once, beyond
/// its streams. When one more arrives, the connection that has waited
/// longest is closed to make room, so idle connections can delay a real
/// sender by one handshake at most, never lock it out.
///
/// Open connections are capped at `max_clients + 2 * max_pending_handshakes`
/// (streams, connections waiting, and as many again being closed); one
/// over that is closed as soon as it is accepted.
pub const DEFAULT_MAX_PENDING_HANDSHAKES: usize = 64;

/// How long a new connection has to complete its hello.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a stream may go without a complete frame before it is closed.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a frame may take from its first byte to its last. A peer that
/// announces a frame and then trickles it is closed after this, whatever
/// the idle timeout says.
pub const DEFAULT_TRICKLE_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest picture a receiver decodes: 3840x2160 (4K UHD) pixels,
/// checked from the JPEG header before decoding.
pub const DEFAULT_MAX_PIXELS: u64 = 3840 * 2160;

/// A frame predicted to take longer than this to show (decode, scale,
/// sink) belongs to a slow stream, which only the receiver's slow lane of
/// workers takes: 10 ms, under the frame interval of a 60 fps stream, so
/// that a cheap stream never waits behind a picture that costs more than
/// its own frame interval (a 1280x720 frame is cheap, a 1920x1080 one
/// slow, on a core of today).
pub const DEFAULT_SLOW_FRAME: Duration = Duration::from_millis(10);

/// Ended streams whose own counters the stats keep (the most recent ones);
/// older ones live on only in the receiver's totals.
pub const DEFAULT_MAX_ENDED_STREAMS: usize = 64;

/// How far in the future a capture time may be (the sender's clock ahead of
/// the receiver's) and still count towards latency, as zero.
pub const DEFAULT_MAX_CLOCK_SKEW: Duration = Duration::from_secs(1);

/// How old a frame's capture time may be and still count towards latency.
/// Older ones are counted as clock skew: a sender whose clock is wrong, or
/// one that sends stale frames, must not turn the latency figures into
/// nonsense for every stream.
pub const DEFAULT_MAX_LATENCY_AGE: Duration = Duration::from_secs(60);

/// Receive buffers each connection keeps for reuse. A frame's buffer comes
/// back once every consumer (the decode worker, the latest-frame slot,
/// viewers, a recorder) has dropped it.
pub const FRAME_BUFFERS_PER_STREAM: usize = 6;

/// After refusing a connection with a status, how long the receiver keeps
/// reading (and discarding) before closing, so the peer reads the status
/// rather than a connection reset.
pub const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// The most bytes read and discarded while lingering after a refusal.
pub const REFUSAL_LINGER_BYTES: usize = 64 * 1024;

/// What a busy receiver asks a sender to wait before trying again.
pub const DEFAULT_BUSY_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Threads of the receiver's network runtime. One is plenty for the
/// network side of hundreds of streams; decoding happens on the workers.
pub const DEFAULT_IO_THREADS: usize = 1;

/// The first reconnect delay of a TCP sender; each failed attempt in a row
/// doubles it (with jitter), up to [`DEFAULT_MAX_BACKOFF`].
pub const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_millis(100);

/// The longest reconnect delay of a TCP sender.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How long one connection attempt of a sender may take.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a sender's write may block before the connection is given up
/// (a receiver that stopped reading, or vanished without a reset).
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// How many bytes a sender lets wait unsent in the kernel before it holds
/// the next frame back (`TCP_NOTSENT_LOWAT`): a frame starts only when less
/// than this is waiting, so that a frame the link cannot carry yet is
/// replaced by a newer one instead of queuing behind the others. About a
/// quarter of a 400x400 frame at quality 95: small enough that nothing
/// stale waits, large enough that the next frame's start overlaps the end
/// of the last.
pub const DEFAULT_UNSENT_LIMIT: u32 = 16 * 1024;

/// The oldest a real-time source's frame (a camera, a paced source) may be
/// when a sender's first session opens: older ones waited for a receiver
/// that was not there yet, and are dropped as stale rather than shown late.
pub const FIRST_FRAME_MAX_AGE: Duration = Duration::from_millis(50);

/// Bytes of feedback a receiver lets wait for a sender that does not read
/// them; beyond it, arrivals go unreported (never a frame held up).
pub const FEEDBACK_BACKLOG: usize = 16 * 1024;

/// How often a sender that waits for its socket to take the next frame
/// looks for the receiver's feedback and for a request to stop.
pub const SEND_POLL_INTERVAL: Duration = Duration::from_millis(20);

/// TCP keepalive on a sender's connection: probes after this much silence
/// from the receiver, [`KEEPALIVE_INTERVAL`] apart, [`KEEPALIVE_RETRIES`]
/// times. With `TCP_USER_TIMEOUT` set to [`DEFAULT_WRITE_TIMEOUT`], a
/// receiver that vanished without a reset is noticed within
/// [`DEFAULT_WRITE_TIMEOUT`] while frames are being sent.
pub const KEEPALIVE_TIME: Duration = Duration::from_secs(5);

/// Time between TCP keepalive probes.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(2);

/// Unanswered TCP keepalive probes before the connection is dropped.
pub const KEEPALIVE_RETRIES: u32 = 3;

/// Failed attempts in a row (a connection refused or timed out, a session
/// refused or a handshake that failed) after which a sender gives up,
/// unless told to retry forever. Counted from the last session that
/// carried frames; with the default backoff, about half a minute.
pub const DEFAULT_RETRIES: u32 = 10;

/// How long a sender waits for the receiver's answer to its hello.
pub const DEFAULT_STATUS_TIMEOUT: Duration = Duration::from_secs(5);

/// The decode workers a receiver starts by default: one per available
/// core.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}
