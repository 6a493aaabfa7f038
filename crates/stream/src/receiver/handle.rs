//! [`ReceiverHandle`]: a running receiver as an adapter sees it (an HTTP
//! viewer, a publisher, another transport): its stats, its streams, its
//! frames, its lifetime, its runtime and its ingest port. Everything an
//! adapter needs is here; none needs the engine's internals.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::{broadcast, watch};

use super::ingest::Ingest;
use super::{Shared, StreamHandle};
use crate::Stop as _;
use crate::frame::{StreamEvent, StreamId};
use crate::stats::{LatencyHistogram, ReceiverStats};
use crate::util::lock;

/// A running [`Receiver`](crate::Receiver), for the adapters built on it.
/// Cheap to clone; get one from
/// [`Receiver::handle`](crate::Receiver::handle).
///
/// A handle does not keep the receiver running: once the receiver has
/// stopped, its streams are gone, [`subscribe`](Self::subscribe) yields a
/// finished subscription, [`stopped`](Self::stopped) resolves at once and
/// [`spawn`](Self::spawn) refuses.
///
/// ```
/// use framecast_stream::ReceiverBuilder;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let receiver = ReceiverBuilder::new("127.0.0.1:0".parse()?).start()?;
/// let handle = receiver.handle();
/// // A task on the receiver's runtime that ends when the receiver stops;
/// // the receiver's workers finish only after it has.
/// let watcher = handle.clone();
/// assert!(handle.spawn(async move {
///     watcher.stopped().await;
/// }));
/// assert!(handle.streams().is_empty());
/// receiver.shutdown()?;
/// assert!(handle.is_stopping());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ReceiverHandle {
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Handle>,
    local_addr: SocketAddr,
}

impl std::fmt::Debug for ReceiverHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiverHandle")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl AsRef<ReceiverHandle> for ReceiverHandle {
    fn as_ref(&self) -> &ReceiverHandle {
        self
    }
}

impl ReceiverHandle {
    pub(super) fn new(
        shared: Arc<Shared>,
        runtime: Option<tokio::runtime::Handle>,
        local_addr: SocketAddr,
    ) -> Self {
        Self {
            shared,
            runtime,
            local_addr,
        }
    }

    /// The address the receiver's TCP listener is on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The counters now (allocates: a snapshot of every stream).
    pub fn stats(&self) -> ReceiverStats {
        self.shared.snapshot()
    }

    /// The counters now, and the latency histogram over every stream they
    /// were computed from, in one consistent read (for a metrics endpoint).
    pub fn stats_with_latency(&self) -> (ReceiverStats, LatencyHistogram) {
        self.shared.snapshot_with_latency()
    }

    /// Frames received so far over all streams (shown, dropped or
    /// corrupt): one atomic load.
    pub fn frames_received(&self) -> u64 {
        self.shared.counters.received.load(Ordering::Relaxed)
    }

    /// The streams not yet retired: connected, or ended with frames still
    /// to show ([`StreamHandle::is_connected`] tells them apart).
    pub fn streams(&self) -> Vec<StreamHandle> {
        self.shared
            .registry
            .live()
            .into_iter()
            .map(StreamHandle)
            .collect()
    }

    /// A stream not yet retired, by number.
    pub fn stream(&self, id: StreamId) -> Option<StreamHandle> {
        self.shared.registry.get(id).map(StreamHandle)
    }

    /// Changes whenever a stream starts or ends (a counter): for pages that
    /// list the streams.
    pub fn stream_changes(&self) -> watch::Receiver<u64> {
        self.shared.registry.changes()
    }

    /// Every frame accepted from now on, from every stream, before the
    /// workers' drop policy and before any decoding, and the end of every
    /// stream (as soon as its session closes): for recorders, which keep
    /// frames as they came. A frame whose picture turns out to be damaged
    /// only when a worker decodes it is here too; viewers and publishers
    /// follow [`subscribe_shown`](Self::subscribe_shown) instead. A
    /// subscriber more than
    /// [`SUBSCRIBER_BACKLOG`](crate::SUBSCRIBER_BACKLOG) events behind
    /// misses the oldest and is told how many (`RecvError::Lagged`). The
    /// subscription ends (`RecvError::Closed`) once the receiver has
    /// stopped.
    pub fn subscribe(&self) -> broadcast::Receiver<StreamEvent> {
        match lock(&self.shared.frames_tx).as_ref() {
            Some(tx) => tx.subscribe(),
            // Stopped: a subscription that is already over.
            None => broadcast::channel(1).1,
        }
    }

    /// Every frame the workers show from now on, from every stream: each
    /// one decoded without error by the sinks (for a receiver without
    /// sinks, each one a worker took; a sink that skips a frame, such as a
    /// window without room for another tile, has it decoded to check it),
    /// and the end of every stream once its last frame was dealt with: for
    /// publishers, which must never pass a damaged frame on. Frames the
    /// workers dropped (a newer one replaced them before a worker was
    /// free) or found corrupt are not here; they are counted in the stats.
    /// A subscriber more than
    /// [`SUBSCRIBER_BACKLOG`](crate::SUBSCRIBER_BACKLOG) events behind
    /// misses the oldest and is told how many (`RecvError::Lagged`). The
    /// subscription ends (`RecvError::Closed`) once the receiver has
    /// stopped.
    pub fn subscribe_shown(&self) -> broadcast::Receiver<StreamEvent> {
        match lock(&self.shared.shown_tx).as_ref() {
            Some(tx) => tx.subscribe(),
            None => broadcast::channel(1).1,
        }
    }

    /// Whether the receiver is stopping or has stopped (asked to, `count`
    /// reached, a window closed, or a sink failed).
    pub fn is_stopping(&self) -> bool {
        self.shared.cancel.is_cancelled()
    }

    /// Resolves once the receiver starts stopping (at once if it has). A
    /// task of an adapter ends on it.
    pub fn stopped(&self) -> impl Future<Output = ()> + Send + 'static {
        self.shared.cancel.clone().cancelled_owned()
    }

    /// Asks the receiver to stop; returns at once.
    pub fn stop(&self) {
        self.shared.stop();
    }

    /// The receiver's network runtime, to run an adapter's tasks beside
    /// its own (prefer [`spawn`](Self::spawn) for tasks that feed or follow
    /// streams). `None` if the receiver was started without one.
    pub fn runtime(&self) -> Option<&tokio::runtime::Handle> {
        self.runtime.as_ref()
    }

    /// Runs `task` on the receiver's runtime, tied to the receiver's
    /// lifetime: its workers finish only after `task` has returned (so the
    /// frames it fed are all shown), which means `task` must return soon
    /// after [`stopped`](Self::stopped) resolves. Returns whether it was
    /// started: not once the receiver is stopping.
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) -> bool {
        match &self.runtime {
            Some(rt) if !self.is_stopping() => {
                self.shared.tasks.spawn_on(task, rt);
                true
            }
            _ => false,
        }
    }

    /// The ingest port, through which a transport opens and feeds streams.
    pub fn ingest(&self) -> Ingest {
        Ingest::new(Arc::clone(&self.shared))
    }
}
