//! The framecast streaming engines: a sender and a receiver that other
//! programs can embed without the command-line tool, and the seams that
//! adapters are built on.
//!
//! - [`SenderBuilder`] → [`Sender`]: frames from any
//!   [`FrameSource`](framecast_capture::FrameSource) are scaled,
//!   JPEG-encoded (or forwarded unchanged when the source already delivers
//!   JPEG at the wanted size) and handed to a [`Destination`]: a receiver
//!   over TCP ([`TcpDestination`]: session handshake, TLS, reconnecting with
//!   backoff when the receiver goes away or is busy), or any other
//!   [`transport::Transport`].
//! - [`ReceiverBuilder`] → [`Receiver`]: network I/O on one tokio runtime
//!   (accept, a task per connection, every timeout), decoding on a fixed
//!   pool of worker threads that share their time out by what each
//!   stream's frames cost, joined by per-stream latest-wins slots. Each
//!   stream's newest shown [`Frame`] (decoded without error) stays
//!   reachable for other consumers ([`StreamHandle::watch`]), every shown
//!   frame can be followed ([`Receiver::subscribe_shown`]), and so can
//!   every accepted frame, before decoding ([`Receiver::subscribe`]).
//! - The receiver's seams, for adapters: [`ReceiverHandle`] (stats, streams,
//!   frames, lifetime, runtime) and its [`ingest`] port, through which any
//!   transport feeds frames exactly as the TCP connections do. The HTTP
//!   viewer (`framecast-http`) and frames over NATS (`framecast-nats`) are
//!   built on them alone.
//! - [`adapt`]: the sender's rate control, sans I/O: from the receiver's
//!   feedback, the JPEG quality, picture size and frame rate that keep
//!   frames within a latency budget on the link there is.
//! - [`handshake`]: the session handshake, sans I/O; [`limits`]: every
//!   limit and timeout with its default; [`events`]: what happens to
//!   connections, for logs and hints.
//!
//! Both engines hand back a [`StopHandle`] and a stats snapshot
//! ([`SenderStats`], [`ReceiverStats`]).
//!
//! # Example
//!
//! A receiver and a sender in one process, over loopback:
//!
//! ```
//! use std::time::Duration;
//!
//! use framecast_stream::{ReceiverBuilder, SenderBuilder};
//! use framecast_capture::{SourceOptions, SourceSpec, open_source};
//! use framecast_display::NullSink;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Listen on a free loopback port; decode and scale every frame, then
//! // discard it (what a headless server does).
//! let receiver = ReceiverBuilder::new("127.0.0.1:0".parse()?)
//!     .sinks(|_worker| Ok(Box::new(NullSink::new(800, 600)?)))
//!     .start()?;
//!
//! // Send ten frames of the test pattern, as fast as they can go.
//! let options = SourceOptions::new(640, 480).with_fps(0);
//! let source = open_source(&"pattern".parse::<SourceSpec>()?, &options)?;
//! let sender = SenderBuilder::new(receiver.local_addr().to_string(), source)
//!     .count(10)
//!     .start()?;
//! assert_eq!(sender.wait()?.sent, 10);
//!
//! while receiver.stats().received < 10 {
//!     std::thread::sleep(Duration::from_millis(10));
//! }
//! let stats = receiver.shutdown()?;
//! assert_eq!(stats.received, 10);
//! assert_eq!(stats.frames + stats.dropped, 10);
//! assert_eq!(stats.corrupt, 0);
//! # Ok(())
//! # }
//! ```

// docs.rs labels each feature-gated item with its feature.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

pub mod adapt;
mod error;
pub mod events;
mod frame;
pub mod handshake;
pub mod limits;
pub mod name;
mod queue;
mod receiver;
mod recording;
mod sender;
mod stats;
mod util;

use std::sync::Arc;

pub use error::{Refused, Report, SessionError, StreamError, TlsFailureKind};
pub use frame::{BufferRing, Frame, FrameError, StreamEvent, StreamId, check_frame};
/// The access token of [`ReceiverBuilder::token`], [`TcpDestination::token`]
/// and the HTTP viewer (feature `tls`).
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub use framecast_tls::Token;
pub use limits::{DEFAULT_INITIAL_BACKOFF, DEFAULT_MAX_BACKOFF, DEFAULT_MAX_CLIENTS};
pub use name::{NameError, StreamName};
pub use receiver::ingest;
pub use receiver::{
    Receiver, ReceiverBuilder, ReceiverHandle, SUBSCRIBER_BACKLOG, SinkFactory, StreamHandle,
};
pub use recording::{
    FileFields, MAX_NAME_SUFFIX, MAX_SESSION_NAMES, RecordError, RecordFormat, RecordTarget,
    Recording, RecordingStats, Segment,
};
pub use sender::transport;
pub use sender::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_QUALITY, DEFAULT_QUEUE_DEPTH, DEFAULT_SIZE, Destination,
    FrameHook, Retry, Sender, SenderBuilder, TcpDestination,
};
pub use stats::{
    AdaptStats, IntervalMeter, IntervalStats, LatencyHistogram, LatencySummary,
    RECENT_LATENCY_SAMPLES, ReceiverStats, SenderStats, StreamInterval, StreamStats, TimeoutCounts,
};

/// Internals the crate's own benches measure (feature `testing`): not a
/// supported API, and free to change.
#[cfg(feature = "testing")]
#[doc(hidden)]
pub mod testing {
    pub use crate::queue::{Closed, Latest};
}

/// The port the original programs used.
pub const DEFAULT_PORT: u16 = 5252;

/// Something that can be asked to stop.
trait Stop: Send + Sync {
    fn stop(&self);
}

/// Stops a [`Sender`] or a [`Receiver`] from any thread (a Ctrl-C handler, a
/// window's close button). Cheap to clone.
#[derive(Clone)]
pub struct StopHandle(Arc<dyn Stop>);

impl StopHandle {
    fn new(inner: Arc<dyn Stop>) -> Self {
        Self(inner)
    }

    /// Asks the engine to stop; returns at once.
    pub fn stop(&self) {
        self.0.stop();
    }
}

impl std::fmt::Debug for StopHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StopHandle")
    }
}
