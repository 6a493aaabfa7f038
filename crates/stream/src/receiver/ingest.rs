//! The ingest port: how frames enter a running receiver, whatever carried
//! them. The TCP connection task uses it, and so does any other transport
//! (a NATS subscription, an in-process sender, a WebSocket bridge): one
//! path for every frame.
//!
//! ```text
//!  TCP connection task (conn.rs)         another transport
//!        │ session accepted                   │ a new stream appears
//!        ▼                                    ▼
//!  Ingest::open ───────────── the registry (max_clients applies), "stream started"
//!        │                                    │
//!  IngestStream::feed ─────── counted (received, bytes), checked (length, Video,
//!        │                    JPEG header, pixels, declared size), delivered:
//!        │                    subscribers (recorders), the workers'
//!        │                    latest-wins slot (then, once shown, the
//!        │                    latest-frame watch and publishers); `count`
//!        ▼                                    ▼
//!  IngestStream::end ──────── place freed at once, "stream ended", the workers
//!                             show what is left and retire it
//! ```
//!
//! A stream opened here is a stream like any other: it has a number and a
//! name, shows in the window, the viewers, the recorder and the stats, and
//! its frames are checked by [`check_frame`] before anyone sees them.
//! Feeding a frame allocates nothing: the payload's [`Bytes`] are shared by
//! every consumer, so a transport that reads into recycled buffers (see
//! [`BufferRing`](crate::BufferRing)) keeps the receive path free of
//! allocations.
//!
//! A transport that runs tasks should run them with
//! [`ReceiverHandle::spawn`](crate::ReceiverHandle::spawn): the receiver's
//! workers then wait for them, and so for the last frames they fed, before
//! they finish.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use framecast_proto::handshake::StatusCode;

use super::Shared;
use super::state::StreamState;
use crate::events::{EndCause, ReceiverEvent, TimeoutKind};
use crate::frame::{FrameError, StreamId, check_frame};
use crate::name::{NameError, StreamName};

/// The receiver's limits that a transport applies to its streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct IngestLimits {
    /// The longest payload accepted
    /// ([`ReceiverBuilder::max_frame_len`](crate::ReceiverBuilder::max_frame_len));
    /// [`IngestStream::feed`] counts a longer one as corrupt.
    pub max_frame_len: usize,
    /// The largest picture accepted, in pixels.
    pub max_pixels: u64,
    /// How long a stream may go without a frame before its transport
    /// should end it ([`EndCause::Timeout`] with [`TimeoutKind::Idle`]).
    pub idle_timeout: Duration,
    /// How long a refused peer is asked to wait before trying again.
    pub busy_retry_after: Duration,
}

/// The ingest port of a running receiver: opens streams for any transport.
/// Cheap to clone; get one from
/// [`ReceiverHandle::ingest`](crate::ReceiverHandle::ingest).
///
/// ```
/// use framecast_stream::ReceiverBuilder;
/// use framecast_stream::ingest::Fed;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let receiver = ReceiverBuilder::new("127.0.0.1:0".parse()?).start()?;
/// let ingest = receiver.handle().ingest();
/// let stream = ingest.open(Some("door"), "192.0.2.7:4000".parse()?)?;
/// // Not a frame: counted as corrupt, and the stream goes on.
/// assert!(matches!(stream.feed(bytes::Bytes::from_static(b"hello")), Fed::Corrupt(_)));
/// assert_eq!(receiver.streams()[0].name(), "door");
/// drop(stream); // ends it
/// let stats = receiver.shutdown()?;
/// assert_eq!((stats.streams, stats.received, stats.corrupt), (1, 1, 1));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Ingest {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Ingest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ingest")
    }
}

/// Why [`Ingest::open`] did not open a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The receiver is stopping or has stopped.
    #[error("the receiver is stopping")]
    Stopping,
    /// `max_clients` streams are open. Nothing is counted or logged: the
    /// transport refuses its peer in its own terms, through
    /// [`Ingest::refuse`].
    #[error("busy: already serving {max_clients} streams")]
    Busy {
        /// The receiver's limit.
        max_clients: usize,
    },
    /// The name is not a stream name ([`StreamName::new`] says why).
    #[error(transparent)]
    BadName(#[from] NameError),
}

impl Ingest {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// The receiver's limits that apply to every stream.
    pub fn limits(&self) -> IngestLimits {
        let c = &self.shared.config;
        IngestLimits {
            max_frame_len: c.max_frame_len,
            max_pixels: c.max_pixels,
            idle_timeout: c.idle_timeout,
            busy_retry_after: c.busy_retry_after,
        }
    }

    /// Whether the receiver is stopping or has stopped.
    pub fn is_stopping(&self) -> bool {
        self.shared.cancel.is_cancelled()
    }

    /// Opens a stream whose frames come from `peer`, named `name` (when
    /// absent or empty: the peer's address and the stream's number, see
    /// [`StreamName::unnamed`]), and reports it started. The name is
    /// checked by [`StreamName::new`], as every stream's name is.
    /// `max_clients` applies: past it the stream is not opened.
    ///
    /// # Errors
    ///
    /// [`OpenError::BadName`] when `name` is not a stream name (too long,
    /// or holding control characters): nothing is counted or logged, the
    /// transport refuses its peer in its own terms;
    /// [`OpenError::Busy`] when `max_clients` streams are open,
    /// [`OpenError::Stopping`] once the receiver is stopping.
    pub fn open(&self, name: Option<&str>, peer: SocketAddr) -> Result<IngestStream, OpenError> {
        if self.is_stopping() {
            return Err(OpenError::Stopping);
        }
        let name = match name {
            Some(name) if !name.is_empty() => Some(StreamName::new(name)?),
            _ => None,
        };
        let state = self
            .shared
            .registry
            .register(name, peer)
            .map_err(|busy| OpenError::Busy {
                max_clients: busy.max_clients,
            })?;
        self.shared.event(&ReceiverEvent::StreamStarted {
            id: state.id,
            name: &state.name,
            peer,
        });
        Ok(IngestStream {
            shared: Arc::clone(&self.shared),
            state,
            ended: false,
        })
    }

    /// Reports a peer refused by its transport (the receiver busy, a
    /// missing token, the receiver stopping): counted in
    /// [`ReceiverStats::refused`](crate::ReceiverStats::refused) and passed
    /// to the event hook or the log as [`ReceiverEvent::Refused`].
    pub fn refuse(&self, peer: SocketAddr, code: StatusCode, reason: &str) {
        self.shared.refuse(peer, code, reason);
    }
}

/// What became of one payload fed to a stream.
#[derive(Debug)]
#[non_exhaustive]
pub enum Fed {
    /// Checked and delivered.
    Accepted,
    /// Not a good frame: counted as corrupt and dropped; the stream goes
    /// on.
    Corrupt(FeedError),
    /// Fed (accepted or corrupt), and the receiver's frame count
    /// ([`ReceiverBuilder::count`](crate::ReceiverBuilder::count)) is
    /// reached: it is stopping, and the transport should end its streams.
    CountReached,
}

/// Why a payload fed to a stream is not a frame.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FeedError {
    /// Longer than the receiver's frame limit.
    #[error("a frame of {len} bytes exceeds the {max}-byte limit")]
    TooLong {
        /// The payload's length.
        len: usize,
        /// [`IngestLimits::max_frame_len`].
        max: usize,
    },
    /// Not a frame the receiver accepts (see [`check_frame`]).
    #[error(transparent)]
    Frame(#[from] FrameError),
}

/// One open stream, fed by its transport. Dropping it ends the stream
/// ([`EndCause::Stopping`]); [`end`](Self::end) ends it with a cause.
pub struct IngestStream {
    shared: Arc<Shared>,
    state: Arc<StreamState>,
    ended: bool,
}

impl std::fmt::Debug for IngestStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestStream")
            .field("id", &self.state.id)
            .field("name", &self.state.name)
            .finish_non_exhaustive()
    }
}

impl IngestStream {
    /// Its number.
    pub fn id(&self) -> StreamId {
        self.state.id
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.state.name
    }

    /// One payload (an encoded `Video` message, without framing) for this
    /// stream: counted as received, checked (length, then
    /// [`check_frame`]) and delivered to the subscribers of every frame and
    /// the workers' latest-wins slot, or counted as corrupt. The
    /// latest-frame watch and the subscribers of shown frames get it once a
    /// worker has shown it. Allocates nothing.
    pub fn feed(&self, payload: Bytes) -> Fed {
        self.feed_sequence(payload).0
    }

    /// [`feed`](Self::feed), also saying the frame's sequence number when it
    /// was a good one (for the TCP connection's feedback).
    pub(crate) fn feed_sequence(&self, payload: Bytes) -> (Fed, Option<u64>) {
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
        let (fed, sequence) = match checked {
            Ok(frame) => {
                let sequence = frame.sequence();
                stream.note(&frame);
                shared.deliver(stream, frame);
                (Fed::Accepted, Some(sequence))
            }
            Err(e) => {
                stream.corrupt.fetch_add(1, Ordering::Relaxed);
                (Fed::Corrupt(e), None)
            }
        };
        if shared.count_received() {
            return (Fed::CountReached, sequence);
        }
        (fed, sequence)
    }

    /// Says that this stream's transport carries the receiver's asks
    /// ([`StreamHandle::ask_sender`](crate::StreamHandle::ask_sender)) to
    /// its sender: the transport takes each new one with
    /// [`take_ask`](Self::take_ask) and hands it over. A stream opened here
    /// carries none until told.
    pub fn carry_asks(&self) {
        self.state.feedback.store(true, Ordering::Relaxed);
    }

    /// Says that this stream's sender cannot be asked anything, and why (a
    /// sentence for whoever asked, e.g. "the stream comes from NATS, whose
    /// publishers hear nothing from a receiver"; see
    /// [`StreamHandle::asks_refused`](crate::StreamHandle::asks_refused)).
    pub fn refuse_asks(&self, reason: impl Into<std::borrow::Cow<'static, str>>) {
        self.state.feedback.store(false, Ordering::Relaxed);
        *crate::util::lock(&self.state.no_asks) = reason.into();
    }

    /// The receiver's newest ask of the sender, once: `None` when there is
    /// none new since the previous call. A transport that
    /// [carries asks](Self::carry_asks) calls it before each frame.
    pub fn take_ask(&self) -> Option<framecast_proto::handshake::Settings> {
        let mut asked = crate::util::lock(&self.state.asked);
        if asked.1 {
            asked.1 = false;
            asked.0
        } else {
            None
        }
    }

    /// The stream's state, for the connection that feeds it.
    pub(crate) fn state(&self) -> &Arc<StreamState> {
        &self.state
    }

    /// Ends the stream: its place is free at once, its end is reported
    /// (subscribers, the event hook or the log), and the workers show what
    /// is left of it before it is retired. A timeout counts in
    /// [`ReceiverStats::timeouts`](crate::ReceiverStats::timeouts).
    pub fn end(mut self, cause: EndCause) {
        self.finish(&cause);
    }

    fn finish(&mut self, cause: &EndCause) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        let counters = &self.shared.counters;
        if let EndCause::Timeout { kind, .. } = cause {
            match kind {
                TimeoutKind::Idle => &counters.timeout_idle,
                TimeoutKind::Trickle => &counters.timeout_trickle,
                TimeoutKind::Handshake => &counters.timeout_handshake,
            }
            .fetch_add(1, Ordering::Relaxed);
        }
        self.shared.registry.disconnect(&self.state);
        self.shared.end_stream(&self.state, cause);
    }
}

impl Drop for IngestStream {
    fn drop(&mut self) {
        self.finish(&EndCause::Stopping);
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
    fn an_ingested_stream_is_a_stream_like_any_other() {
        let receiver = ReceiverBuilder::new("127.0.0.1:0".parse().unwrap())
            .max_clients(1)
            .workers(1)
            .start()
            .unwrap();
        let mut events = receiver.subscribe();
        let ingest = receiver.handle().ingest();
        let peer: SocketAddr = "127.0.0.1:4222".parse().unwrap();
        // Every name is checked (StreamName::new), before max_clients.
        assert_eq!(
            ingest.open(Some("\u{1b}[2Jevil"), peer).unwrap_err(),
            OpenError::BadName(NameError::Control)
        );
        let stream = ingest.open(Some("cams.door"), peer).expect("a free place");
        // max_clients applies: a second stream is not opened.
        assert_eq!(
            ingest.open(Some("cams.yard"), peer).unwrap_err(),
            OpenError::Busy { max_clients: 1 }
        );
        ingest.refuse(peer, StatusCode::Busy, "busy");
        assert_eq!(receiver.stats().refused, 1);

        assert!(matches!(stream.feed(video(32, 16)), Fed::Accepted));
        assert!(matches!(
            stream.feed(Bytes::from_static(b"not a frame")),
            Fed::Corrupt(FeedError::Frame(FrameError::NotVideo(_)))
        ));
        let long = Bytes::from(vec![0; ingest.limits().max_frame_len + 1]);
        assert!(matches!(
            stream.feed(long),
            Fed::Corrupt(FeedError::TooLong { .. })
        ));
        let live = receiver.streams();
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].name(), "cams.door");
        assert_eq!(live[0].peer(), peer);
        // The newest frame is there once a worker has shown it.
        wait_for(|| live[0].latest().is_some());
        assert_eq!(live[0].latest().map(|f| f.width()), Some(32));
        match events.try_recv().unwrap() {
            crate::StreamEvent::Frame(f) => assert_eq!(f.name(), "cams.door"),
            other => panic!("{other:?}"),
        }

        let id = stream.id();
        stream.end(EndCause::Timeout {
            kind: TimeoutKind::Idle,
            after: Duration::from_secs(3),
        });
        assert!(matches!(
            events.try_recv().unwrap(),
            crate::StreamEvent::Ended(ended) if ended == id
        ));
        // Its place is free again at once.
        let again = ingest
            .open(Some("cams.yard"), peer)
            .expect("the place was freed");
        drop(again);
        wait_for(|| receiver.streams().is_empty());
        let stats = receiver.shutdown().unwrap();
        assert_eq!((stats.received, stats.corrupt, stats.frames), (3, 2, 1));
        assert_eq!((stats.streams, stats.timeouts.idle), (2, 1));
        assert_eq!(
            ingest.open(None, peer).unwrap_err(),
            OpenError::Stopping,
            "a stopped receiver opens nothing"
        );
    }

    #[test]
    fn the_count_stops_the_receiver_and_the_workers_wait_for_spawned_tasks() {
        let receiver = ReceiverBuilder::new("127.0.0.1:0".parse().unwrap())
            .count(3)
            .workers(1)
            .start()
            .unwrap();
        let handle = receiver.handle();
        let feeder = handle.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        assert!(handle.spawn(async move {
            let stream = feeder
                .ingest()
                .open(Some("nats"), "127.0.0.1:4222".parse().unwrap())
                .unwrap();
            let mut outcomes = Vec::new();
            for _ in 0..3 {
                outcomes.push(matches!(stream.feed(video(16, 16)), Fed::CountReached));
            }
            feeder.stopped().await;
            // Late work still counts: the workers wait for this task.
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(stream);
            let _ = tx.send(outcomes);
        }));
        let stats = receiver.wait().unwrap();
        assert_eq!(rx.recv().unwrap(), [false, false, true]);
        assert_eq!((stats.received, stats.frames + stats.dropped), (3, 3));
        assert_eq!(stats.active_streams, 0);
        assert!(!handle.spawn(async {}), "nothing starts once stopped");
    }
}
