//! Streams that do not come from the TCP listener: the small internal API
//! through which another transport (NATS, behind the `nats` feature) opens,
//! feeds and ends streams of a running [`Receiver`].
//!
//! ```text
//!  TCP connection task (conn.rs)        another source (a NATS subscription)
//!        │ handshake                          │ first message on a subject
//!        ▼                                    ▼
//!  registry.register ◀───────────────  SourceHandle::open   (max_clients applies)
//!        │                                    │
//!  check_frame ─▶ Shared::deliver ◀───  SourceStream::feed  (same checks, slots,
//!  count_received                            │               watch, subscribers,
//!        │                                    │               counters, --count)
//!  Shared::end_stream ◀────────────────  SourceStream::end   (idle, stopping)
//! ```
//!
//! A stream opened here is a stream like any other: it has a number and a
//! name, shows in the window, the viewers, the recorder and the stats, and
//! its frames are checked by [`check_frame`] before anyone sees them. Tasks
//! that feed streams run on the receiver's runtime under
//! [`SourceHandle::spawn`], so the receiver waits for them (and so for the
//! last frames they delivered) before its workers finish.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use framecast_proto::handshake::StatusCode;

use super::state::StreamState;
use super::{Receiver, Shared};
use crate::events::{EndCause, ReceiverEvent, TimeoutKind};
use crate::frame::{FrameError, StreamId, check_frame};

/// The limits a source applies to its streams: the receiver's own.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SourceLimits {
    /// A stream with no frame for this long is ended.
    pub(crate) idle_timeout: Duration,
    /// Longer payloads are counted as corrupt and dropped.
    pub(crate) max_frame_len: usize,
    /// How long a refused stream waits before it is tried again.
    pub(crate) busy_retry_after: Duration,
}

/// A running receiver, as seen by a source of streams. Cheap to clone.
#[derive(Clone)]
pub(crate) struct SourceHandle {
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Handle>,
}

impl std::fmt::Debug for SourceHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SourceHandle")
    }
}

impl Receiver {
    /// The handle other transports open streams through.
    pub(crate) fn source_handle(&self) -> SourceHandle {
        SourceHandle {
            shared: Arc::clone(&self.shared),
            runtime: self.runtime(),
        }
    }
}

impl SourceHandle {
    /// The receiver's runtime; `None` once it has stopped.
    pub(crate) fn runtime(&self) -> Option<&tokio::runtime::Handle> {
        self.runtime.as_ref()
    }

    /// Whether the receiver is stopping or has stopped.
    pub(crate) fn is_stopping(&self) -> bool {
        self.shared.cancel.is_cancelled()
    }

    /// Resolves when the receiver starts stopping.
    pub(crate) fn stopping(&self) -> tokio_util::sync::WaitForCancellationFutureOwned {
        self.shared.cancel.clone().cancelled_owned()
    }

    /// The receiver's limits that apply to streams from elsewhere.
    pub(crate) fn limits(&self) -> SourceLimits {
        let c = &self.shared.config;
        SourceLimits {
            idle_timeout: c.idle_timeout,
            max_frame_len: c.max_frame_len,
            busy_retry_after: c.busy_retry_after,
        }
    }

    /// Runs `task` on the receiver's runtime; the receiver's workers finish
    /// only after it has returned, so it must return soon after
    /// [`stopping`](Self::stopping) resolves. Returns whether it was
    /// started (not once the receiver is stopping).
    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) -> bool {
        match &self.runtime {
            Some(rt) if !self.is_stopping() => {
                self.shared.sources.spawn_on(task, rt);
                true
            }
            _ => false,
        }
    }

    /// Opens a stream named `name` whose frames come from `peer`, unless
    /// `max_clients` streams are open (the refusal is counted and logged,
    /// and `None` returned) or the receiver is stopping.
    pub(crate) fn open(&self, name: &str, peer: SocketAddr) -> Option<SourceStream> {
        if self.is_stopping() {
            return None;
        }
        match self.shared.registry.register(Some(name), peer) {
            Ok(state) => {
                self.shared.event(&ReceiverEvent::StreamStarted {
                    id: state.id,
                    name: &state.name,
                    peer,
                });
                Some(SourceStream {
                    shared: Arc::clone(&self.shared),
                    state,
                    ended: false,
                })
            }
            Err(busy) => {
                self.shared.counters.refused.fetch_add(1, Ordering::Relaxed);
                self.shared.event(&ReceiverEvent::Refused {
                    peer,
                    code: StatusCode::Busy,
                    reason: &format!(
                        "busy: already serving {} streams; \"{name}\" is left out",
                        busy.max_clients
                    ),
                });
                None
            }
        }
    }
}

/// What became of one payload fed to a stream.
#[derive(Debug)]
pub(crate) enum Fed {
    /// Checked and delivered.
    Accepted,
    /// Not a good frame: counted as corrupt and dropped.
    Corrupt(FeedError),
    /// Delivered, and the receiver's frame count is reached: it is
    /// stopping.
    CountReached,
}

/// Why a payload was not a frame.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FeedError {
    #[error("a frame of {len} bytes exceeds the {max}-byte limit")]
    TooLong { len: usize, max: usize },
    #[error(transparent)]
    Frame(#[from] FrameError),
}

/// One open stream fed by a source. Dropping it ends the stream as if the
/// receiver were stopping; [`end_idle`](Self::end_idle) ends it for
/// silence.
pub(crate) struct SourceStream {
    shared: Arc<Shared>,
    state: Arc<StreamState>,
    ended: bool,
}

impl std::fmt::Debug for SourceStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceStream")
            .field("id", &self.state.id)
            .field("name", &self.state.name)
            .finish_non_exhaustive()
    }
}

impl SourceStream {
    /// Its number.
    pub(crate) fn id(&self) -> StreamId {
        self.state.id
    }

    /// One payload (a `Video` message) for this stream: counted as
    /// received, checked as a TCP frame is (length, `Video`, JPEG header,
    /// pixels, declared size) and delivered, or counted as corrupt.
    pub(crate) fn feed(&self, payload: Bytes) -> Fed {
        let shared = &self.shared;
        let stream = &self.state;
        let len = payload.len();
        stream.received.fetch_add(1, Ordering::Relaxed);
        stream.bytes.fetch_add(len as u64, Ordering::Relaxed);
        let max = shared.config.max_frame_len;
        let checked = if len > max {
            Err(FeedError::TooLong { len, max })
        } else {
            check_frame(stream.id, &stream.name, payload, shared.config.max_pixels)
                .map_err(FeedError::from)
        };
        let fed = match checked {
            Ok(frame) => {
                shared.deliver(stream, frame);
                Fed::Accepted
            }
            Err(e) => {
                stream.corrupt.fetch_add(1, Ordering::Relaxed);
                Fed::Corrupt(e)
            }
        };
        if shared.count_received() {
            return Fed::CountReached;
        }
        fed
    }

    /// Ends the stream because no frame came for `after`: counted as an
    /// idle timeout.
    pub(crate) fn end_idle(mut self, after: Duration) {
        self.shared
            .counters
            .timeout_idle
            .fetch_add(1, Ordering::Relaxed);
        self.end(&EndCause::Timeout {
            kind: TimeoutKind::Idle,
            after,
        });
    }

    fn end(&mut self, cause: &EndCause) {
        if !std::mem::replace(&mut self.ended, true) {
            self.shared.registry.disconnect(&self.state);
            self.shared.end_stream(&self.state, cause);
        }
    }
}

impl Drop for SourceStream {
    fn drop(&mut self) {
        self.end(&EndCause::Stopping);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;
    use framecast_proto::video::Video;
    use prost::Message;

    use super::*;
    use crate::ReceiverBuilder;

    fn video(width: u32, height: u32) -> Bytes {
        let mut jpeg = Vec::new();
        framecast_codec::SenderPipeline::new(
            framecast_codec::SenderConfig::new(width, height).with_quality(80),
        )
        .unwrap()
        .encode(
            framecast_codec::ImageBuf::new(width, height, framecast_codec::PixelFormat::Rgb8)
                .as_image(),
            &mut jpeg,
        )
        .unwrap();
        Video {
            video_data: jpeg.into(),
            width,
            height,
            ..Default::default()
        }
        .encode_to_vec()
        .into()
    }

    fn wait_for(mut done: impl FnMut() -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !done() {
            assert!(std::time::Instant::now() < deadline, "timed out");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_source_stream_is_a_stream_like_any_other() {
        let receiver = ReceiverBuilder::new("127.0.0.1:0".parse().unwrap())
            .max_clients(1)
            .workers(1)
            .start()
            .unwrap();
        let mut events = receiver.subscribe();
        let handle = receiver.source_handle();
        let peer: SocketAddr = "127.0.0.1:4222".parse().unwrap();
        let stream = handle.open("cams.door", peer).expect("a free place");
        // max_clients applies: a second stream is refused and counted.
        assert!(handle.open("cams.yard", peer).is_none());
        assert_eq!(receiver.stats().refused, 1);

        assert!(matches!(stream.feed(video(32, 16)), Fed::Accepted));
        assert!(matches!(
            stream.feed(Bytes::from_static(b"not a frame")),
            Fed::Corrupt(FeedError::Frame(FrameError::NotVideo(_)))
        ));
        let live = receiver.streams();
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].name(), "cams.door");
        assert_eq!(live[0].peer(), peer);
        assert_eq!(live[0].latest().map(|f| f.width()), Some(32));
        match events.try_recv().unwrap() {
            crate::StreamEvent::Frame(f) => assert_eq!(f.name(), "cams.door"),
            other => panic!("{other:?}"),
        }

        let id = stream.id();
        stream.end_idle(Duration::from_secs(3));
        assert!(matches!(
            events.try_recv().unwrap(),
            crate::StreamEvent::Ended(ended) if ended == id
        ));
        // Its place is free again at once.
        let again = handle.open("cams.yard", peer).expect("the place was freed");
        drop(again);
        wait_for(|| receiver.streams().is_empty());
        let stats = receiver.shutdown().unwrap();
        assert_eq!((stats.received, stats.corrupt, stats.frames), (2, 1, 1));
        assert_eq!((stats.streams, stats.timeouts.idle), (2, 1));
    }

    #[test]
    fn the_count_stops_the_receiver_and_the_workers_wait_for_sources() {
        let receiver = ReceiverBuilder::new("127.0.0.1:0".parse().unwrap())
            .count(3)
            .workers(1)
            .start()
            .unwrap();
        let handle = receiver.source_handle();
        let feeder = handle.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        assert!(handle.spawn(async move {
            let stream = feeder
                .open("nats", "127.0.0.1:4222".parse().unwrap())
                .unwrap();
            let mut outcomes = Vec::new();
            for _ in 0..3 {
                outcomes.push(matches!(stream.feed(video(16, 16)), Fed::CountReached));
            }
            feeder.stopping().await;
            // Late work still counts: the workers wait for this task.
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(stream);
            let _ = tx.send(outcomes);
        }));
        let stats = receiver.wait().unwrap();
        assert_eq!(rx.recv().unwrap(), [false, false, true]);
        assert_eq!((stats.received, stats.frames + stats.dropped), (3, 3));
        assert_eq!(stats.active_streams, 0);
    }
}
