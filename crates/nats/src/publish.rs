//! [`Publisher`]: a receiver's shown frames, published to NATS.
//!
//! ```text
//!  subscribe_shown() ─────▶ intake ──▶ one slot per stream ──▶ publish ──▶ NATS client
//!  (every frame decoded)    (never     (latest wins: a frame    (round      (≤ NATS_CLIENT_
//!                            waits)     not yet published is    robin;      CAPACITY queued)
//!                                       replaced, counted)      skipped
//!                                                               while
//!                                                               disconnected)
//! ```
//!
//! The intake only moves frames into slots, so it keeps up with the
//! receiver whatever NATS does; the publish loop is the one that waits for
//! the server. A frame is a handle on the receiver's own buffer: nothing is
//! copied, and the `Video` message goes out byte for byte as it arrived.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_nats::Subject;
use framecast_stream::{Frame, ReceiverHandle, StreamEvent, StreamId};
use tokio::sync::Notify;
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio::time::timeout;

use super::client::NATS_LOG_EVERY;
use super::{
    DEFAULT_PREFIX, Link, NatsError, NatsUrl, Role, check_subject, lock, run_on, subject_token,
};

/// What a [`Publisher`] has done so far.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[non_exhaustive]
pub struct PublisherStats {
    /// Frames handed to the NATS connection.
    pub published: u64,
    /// Their bytes (the `Video` messages).
    pub bytes: u64,
    /// Frames not published: replaced in their slot by a newer frame of
    /// the same stream before NATS took them (a slow server), skipped while
    /// no server was connected, or refused by a full client queue.
    pub dropped: u64,
    /// Frames larger than the server's `max_payload`, not published.
    pub too_large: u64,
    /// Whether a server is connected now.
    pub connected: bool,
    /// Connections made to NATS servers (the first included).
    pub connections: u64,
    /// Connections lost.
    pub disconnections: u64,
}

#[derive(Debug, Default)]
struct Counters {
    published: AtomicU64,
    bytes: AtomicU64,
    dropped: AtomicU64,
    too_large: AtomicU64,
}

/// One stream's place in front of NATS.
#[derive(Debug)]
struct Slot {
    subject: Subject,
    pending: Option<Frame>,
    queued: bool,
    ended: bool,
}

/// The slots and the order in which streams with a frame are published.
#[derive(Debug, Default)]
struct Slots {
    by_stream: HashMap<StreamId, Slot>,
    ready: VecDeque<StreamId>,
    /// No frame will come any more.
    closed: bool,
}

#[derive(Debug)]
struct State {
    prefix: String,
    link: Link,
    counters: Counters,
    slots: Mutex<Slots>,
    wake: Notify,
    closed: AtomicBool,
}

/// Publishes every frame a receiver shows to NATS, to
/// `PREFIX.<stream name>` (see [`subject_token`]), the `Video` message byte
/// for byte as it arrived. Only frames its workers decoded without error
/// are published
/// ([`ReceiverHandle::subscribe_shown`](framecast_stream::ReceiverHandle::subscribe_shown)):
/// a frame found damaged when decoded is counted as corrupt by the
/// receiver and never published, and a frame the workers dropped (a newer
/// one came before a worker was free) is not published either.
///
/// It runs on the receiver's runtime and stops with the receiver (after
/// publishing what it holds and flushing, within its flush timeout,
/// [`NATS_FLUSH_TIMEOUT`](super::NATS_FLUSH_TIMEOUT) by default).
/// It never slows the receiver: each stream has one latest-wins slot in
/// front of NATS, so when the server is slow or gone, frames are dropped
/// for NATS only (counted in [`PublisherStats::dropped`]).
#[derive(Debug, Clone)]
pub struct Publisher {
    state: Arc<State>,
}

impl Publisher {
    /// Connects to `url`'s servers and starts publishing under its subject
    /// (a prefix without wildcards; [`DEFAULT_PREFIX`] when it names none).
    ///
    /// When the server's `max_payload` is below the receiver's frame limit,
    /// the log says so (naming both sizes): larger frames will be counted
    /// as too large, not published, each time with a warning (at most one
    /// per 5 s).
    ///
    /// # Errors
    ///
    /// [`NatsError::Subject`] for a prefix with wildcards,
    /// [`NatsError::Connect`] when a server refuses the credentials,
    /// [`NatsError::Stopped`] when the receiver has stopped. When no server
    /// answers yet, it starts all the same and keeps trying in the
    /// background; frames are dropped for NATS (counted) until one does.
    pub fn start(receiver: &impl AsRef<ReceiverHandle>, url: &NatsUrl) -> Result<Self, NatsError> {
        let prefix = url.subject().unwrap_or(DEFAULT_PREFIX).to_owned();
        check_subject(&prefix, false)?;
        let handle = receiver.as_ref();
        if handle.is_stopping() {
            return Err(NatsError::Stopped);
        }
        let runtime = handle.runtime().ok_or(NatsError::Stopped)?;
        let to = url.clone();
        let link = run_on(
            runtime,
            // NATS not up yet is no reason not to start: frames are
            // published once a server answers, as after a loss.
            async move { Link::connect_or_keep_trying(&to, Role::Publisher).await },
        )
        .ok_or(NatsError::Stopped)??;
        let max_frame_len = handle.ingest().limits().max_frame_len;
        if link.is_connected() && link.max_payload() < max_frame_len {
            // Said once at start-up, at info: with stock settings (a 1 MiB
            // server limit, an 8 MiB frame limit) it is always so, and
            // frames that size are rare. A frame actually skipped is a
            // warning.
            tracing::info!(
                "the NATS server accepts messages of at most {} bytes and this receiver frames \
                 of up to {max_frame_len}: larger frames will not be published",
                link.max_payload()
            );
        }
        // Shown frames only: one found damaged when decoded is never
        // passed on.
        let events = handle.subscribe_shown();
        let state = Arc::new(State {
            prefix,
            link,
            counters: Counters::default(),
            slots: Mutex::new(Slots::default()),
            wake: Notify::new(),
            closed: AtomicBool::new(false),
        });
        let task = run(Arc::clone(&state), handle.clone(), events);
        if !handle.spawn(task) {
            return Err(NatsError::Stopped);
        }
        Ok(Self { state })
    }

    /// The subject prefix.
    pub fn prefix(&self) -> &str {
        &self.state.prefix
    }

    /// The subject a stream named `name` is published to.
    pub fn subject_for(&self, name: &str) -> String {
        format!("{}.{}", self.state.prefix, subject_token(name))
    }

    /// The counters now.
    pub fn stats(&self) -> PublisherStats {
        let c = &self.state.counters;
        let link = &self.state.link;
        PublisherStats {
            published: c.published.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            too_large: c.too_large.load(Ordering::Relaxed),
            connected: link.is_connected() && !self.state.closed.load(Ordering::Relaxed),
            connections: link.connects(),
            disconnections: link.disconnects(),
        }
    }
}

/// The publisher's task: intake and publishing side by side, until the
/// receiver stops; then what is left is published and flushed.
async fn run(
    state: Arc<State>,
    handle: ReceiverHandle,
    mut events: broadcast::Receiver<StreamEvent>,
) {
    let intake = async {
        let mut stopping = std::pin::pin!(handle.stopped());
        loop {
            tokio::select! {
                biased;
                () = &mut stopping => break,
                event = events.recv() => match event {
                    Ok(event) => state.take(event),
                    Err(RecvError::Lagged(n)) => state.lost(n),
                    Err(RecvError::Closed) => break,
                },
            }
        }
        // Stopping: the workers still show what is left of each stream
        // (they wait for this task only to close), so its frames are
        // published until every stream is retired, within the flush
        // timeout.
        let mut changes = handle.stream_changes();
        let deadline = tokio::time::sleep(state.link.limits.flush_timeout);
        let mut deadline = std::pin::pin!(deadline);
        loop {
            loop {
                match events.try_recv() {
                    Ok(event) => state.take(event),
                    Err(TryRecvError::Lagged(n)) => state.lost(n),
                    Err(_) => break,
                }
            }
            if handle.streams().is_empty() {
                // Retired: the last frames were sent before the change.
                while let Ok(event) = events.try_recv() {
                    state.take(event);
                }
                break;
            }
            tokio::select! {
                () = &mut deadline => break,
                changed = changes.changed() => if changed.is_err() { break },
                event = events.recv() => match event {
                    Ok(event) => state.take(event),
                    Err(RecvError::Lagged(n)) => state.lost(n),
                    Err(RecvError::Closed) => break,
                },
            }
        }
        lock(&state.slots).closed = true;
        state.wake.notify_one();
    };
    tokio::join!(intake, publish_loop(&state));
    let _ = timeout(state.link.limits.flush_timeout, state.link.client.flush()).await;
    state.closed.store(true, Ordering::Relaxed);
}

impl State {
    /// Puts an event in the slots; never waits.
    fn take(&self, event: StreamEvent) {
        let mut slots = lock(&self.slots);
        let slots = &mut *slots;
        match event {
            StreamEvent::Frame(frame) => {
                let id = frame.stream();
                let slot = slots.by_stream.entry(id).or_insert_with(|| {
                    let subject = format!("{}.{}", self.prefix, subject_token(frame.name()));
                    tracing::info!(
                        "publishing stream {id} \"{}\" to NATS subject {subject}",
                        frame.name()
                    );
                    Slot {
                        subject: Subject::from(subject),
                        pending: None,
                        queued: false,
                        ended: false,
                    }
                });
                if slot.pending.replace(frame).is_some() {
                    self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                }
                if !slot.queued {
                    slot.queued = true;
                    slots.ready.push_back(id);
                }
                self.wake.notify_one();
            }
            StreamEvent::Ended(id) => {
                let keep = match slots.by_stream.get_mut(&id) {
                    Some(slot) => {
                        slot.ended = true;
                        slot.pending.is_some()
                    }
                    None => true,
                };
                if !keep {
                    slots.by_stream.remove(&id);
                }
            }
            // Events added later carry no frame to publish.
            _ => {}
        }
    }

    /// Frames the intake fell too far behind to see.
    fn lost(&self, n: u64) {
        self.counters.dropped.fetch_add(n, Ordering::Relaxed);
    }

    /// The next frame to publish and its subject, or `None` once closed
    /// and empty.
    async fn next(&self) -> Option<(Subject, Frame)> {
        loop {
            // Registered before looking, so a frame put in between wakes us.
            let woken = self.wake.notified();
            {
                let mut slots = lock(&self.slots);
                let slots = &mut *slots;
                while let Some(id) = slots.ready.pop_front() {
                    let Some(slot) = slots.by_stream.get_mut(&id) else {
                        continue;
                    };
                    slot.queued = false;
                    let Some(frame) = slot.pending.take() else {
                        continue;
                    };
                    let subject = slot.subject.clone();
                    if slot.ended {
                        slots.by_stream.remove(&id);
                    }
                    return Some((subject, frame));
                }
                if slots.closed {
                    return None;
                }
            }
            woken.await;
        }
    }
}

/// Publishes frames as they come, round robin over the streams, until the
/// intake has closed and every slot is empty.
async fn publish_loop(state: &State) {
    let link = &state.link;
    let c = &state.counters;
    let mut warned: Option<Instant> = None;
    while let Some((subject, frame)) = state.next().await {
        if !link.is_connected() {
            // Queued now it would go out late, after the failover: the
            // newest frame will be published once a server is back.
            c.dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let len = frame.message().len();
        let max_payload = link.client.max_payload();
        if len > max_payload {
            c.too_large.fetch_add(1, Ordering::Relaxed);
            if warned.is_none_or(|t| t.elapsed() >= NATS_LOG_EVERY) {
                warned = Some(Instant::now());
                tracing::warn!(
                    "stream \"{}\": {}; not published",
                    frame.name(),
                    NatsError::PayloadTooLarge { len, max_payload }
                );
            }
            continue;
        }
        let message = frame.message().clone();
        drop(frame);
        match timeout(
            link.limits.publish_timeout,
            link.client.publish(subject, message),
        )
        .await
        {
            Ok(Ok(())) => {
                c.published.fetch_add(1, Ordering::Relaxed);
                c.bytes.fetch_add(len as u64, Ordering::Relaxed);
            }
            Ok(Err(e)) => {
                c.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::debug!("a frame was not published: {e}");
            }
            Err(_) => {
                c.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
