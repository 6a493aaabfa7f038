//! The framecast streaming engines, and the `framecast` command-line tool
//! built on them.
//!
//! - [`SenderBuilder`] → [`Sender`]: frames from any
//!   [`FrameSource`](framecast_capture::FrameSource) are scaled,
//!   JPEG-encoded (or forwarded unchanged when the source already delivers
//!   JPEG at the wanted size) and sent over TCP, reconnecting with backoff
//!   when the receiver goes away.
//! - [`ReceiverBuilder`] → [`Receiver`]: accepts many senders at once, reads
//!   and checks their frames, and hands them to any
//!   [`FrameSink`](framecast_display::FrameSink)s, counting what was shown,
//!   dropped and corrupt, and the latency from capture to screen.
//!
//! Both run as pipelines of threads joined by bounded [`Latest`] queues, so
//! a slow stage never lets latency build up. Both hand back a
//! [`StopHandle`] and a stats snapshot ([`SenderStats`], [`ReceiverStats`]).
//!
//! # Example
//!
//! A receiver and a sender in one process, over loopback:
//!
//! ```
//! use std::time::Duration;
//!
//! use framecast_apps::{ReceiverBuilder, SenderBuilder};
//! use framecast_capture::{SourceOptions, SourceSpec, open_source};
//! use framecast_display::NullSink;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Listen on a free loopback port; decode and scale every frame, then
//! // discard it (what a headless server does).
//! let receiver = ReceiverBuilder::new("127.0.0.1:0".parse()?)
//!     .sink(NullSink::new(800, 600)?)
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

#![forbid(unsafe_code)]

mod backoff;
mod error;
mod queue;
mod receiver;
mod sender;
mod stats;

use std::sync::Arc;

pub use backoff::{Backoff, DEFAULT_INITIAL_BACKOFF, DEFAULT_MAX_BACKOFF};
pub use error::AppError;
pub use queue::{Closed, Latest};
pub use receiver::{DEFAULT_MAX_CLIENTS, Receiver, ReceiverBuilder};
pub use sender::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_QUALITY, DEFAULT_QUEUE_DEPTH, DEFAULT_SIZE, FrameHook, Sender,
    SenderBuilder,
};
pub use stats::{
    LatencySummary, RECENT_LATENCY_SAMPLES, RateMeter, ReceiverStats, SenderStats, StreamStats,
};

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
