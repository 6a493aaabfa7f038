//! Tiers encoded once, shared by every viewer of the tier: a per-stream
//! registry of the tiers being watched, fed each new frame, and a small
//! pool of threads of its own that decodes each frame once and encodes it
//! at every tier watched.
//!
//! ```text
//!  stream's latest-frame watch ──▶ feeder task (one per stream with tier
//!                                  viewers): puts the frame in the
//!                                  stream's slot (latest wins) ──▶ ready queue
//!  transcode thread (N):  pop a stream ─▶ decode its newest frame once
//!                         ─▶ for each tier watched: scale, encode
//!                         ─▶ the tier's watch ──▶ its viewers (shared Bytes)
//! ```
//!
//! Viewers wait on a tier's watch exactly as original-bytes viewers wait on
//! the stream's: a slow viewer skips encoded frames, nothing queues per
//! viewer. A tier is encoded only while someone watches it (or a snapshot
//! waits for it); N viewers in M tiers cost M encodes a frame. The threads
//! are not the receiver's network threads: a burst of encoding delays the
//! tiers' frames, never another connection. A stream's frames are encoded
//! in order by one thread at a time; streams take turns.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use framecast_codec::{
    AreaResizer, DecodeLimits, Decoder, Encoder, ImageBuf, PixelFormat, Resizer, TurboEncoder,
    ZuneDecoder,
};
use framecast_stream::{Frame, StreamHandle, StreamId};
use tokio::sync::watch;

use super::tier::Tier;

/// A picture re-encoded at a tier.
#[derive(Debug, Clone)]
pub(crate) struct TierFrame {
    /// The JPEG, shared by every viewer of the tier.
    pub(crate) jpeg: Bytes,
    /// The source frame's sequence number.
    pub(crate) sequence: u64,
    /// The source frame's capture time (µs since the epoch), as the part
    /// headers give it.
    pub(crate) captured_us: u64,
    pub(crate) tier: Tier,
}

/// Why a tier cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum TierError {
    /// The stream already has the most tiers allowed.
    #[error("stream {stream} already serves {max} tiers, the most allowed: {in_use}")]
    TooMany {
        /// The stream.
        stream: StreamId,
        /// The cap.
        max: usize,
        /// The tiers being served, for the answer.
        in_use: String,
    },
}

/// Counters of the transcode pool.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Frames decoded for tiers.
    pub(crate) decodes: AtomicU64,
    /// Tier pictures encoded.
    pub(crate) encodes: AtomicU64,
    /// Frames that could not be decoded or encoded.
    pub(crate) failures: AtomicU64,
    /// Frames replaced by a newer one before a thread got to them.
    pub(crate) skipped: AtomicU64,
}

struct Slot {
    tier: Tier,
    /// MJPEG viewers of this tier.
    viewers: usize,
    /// Snapshots waiting for this tier's picture of a given frame.
    snapshots: usize,
    latest: watch::Sender<Option<TierFrame>>,
    /// The newest source frame encoded at this tier.
    encoded: Option<u64>,
    /// When it was last watched or asked for.
    used: Instant,
    encodes: u64,
}

impl Slot {
    fn wanted(&self) -> bool {
        self.viewers > 0 || self.snapshots > 0
    }
}

struct StreamSlots {
    slots: Vec<Slot>,
    /// The newest frame not yet encoded (latest wins).
    pending: Option<Frame>,
    /// In the ready queue or being worked on.
    scheduled: bool,
    /// A feeder task follows the stream.
    fed: bool,
}

/// The tiers of one stream.
pub(crate) struct StreamTiers {
    id: StreamId,
    state: Mutex<StreamSlots>,
    /// Wakes the feeder when the last viewer leaves.
    idle: tokio::sync::Notify,
}

/// One tier of a stream as a viewer sees it: its pictures, and its place
/// in the tier's count (given back on drop).
pub(crate) struct TierLease {
    stream: Arc<StreamTiers>,
    tier: Tier,
    pub(crate) frames: watch::Receiver<Option<TierFrame>>,
}

impl Drop for TierLease {
    fn drop(&mut self) {
        let mut st = lock(&self.stream.state);
        if let Some(slot) = st.slots.iter_mut().find(|s| s.tier == self.tier) {
            slot.viewers -= 1;
            slot.used = Instant::now();
        }
        if !st.slots.iter().any(|s| s.viewers > 0) {
            drop(st);
            self.stream.idle.notify_one();
        }
    }
}

impl TierLease {
    /// The tier.
    pub(crate) fn tier(&self) -> Tier {
        self.tier
    }
}

struct Queue {
    ready: VecDeque<Arc<StreamTiers>>,
    closed: bool,
}

/// Every stream's tiers and the threads that encode them.
pub(crate) struct Tiers {
    streams: Mutex<HashMap<StreamId, Arc<StreamTiers>>>,
    queue: Mutex<Queue>,
    cv: Condvar,
    max_per_stream: usize,
    pub(crate) counters: Counters,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Tiers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tiers")
            .field("max_per_stream", &self.max_per_stream)
            .finish_non_exhaustive()
    }
}

/// A tier's figures, for the stats.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct TierStats {
    pub(crate) quality: u8,
    pub(crate) width: u32,
    pub(crate) viewers: usize,
    pub(crate) encodes: u64,
    pub(crate) bytes: Option<usize>,
}

impl Tiers {
    /// The registry and `threads` encoding threads (started at once; they
    /// sleep until a tier is watched).
    pub(crate) fn start(threads: usize, max_per_stream: usize) -> std::io::Result<Arc<Self>> {
        let tiers = Arc::new(Self {
            streams: Mutex::new(HashMap::new()),
            queue: Mutex::new(Queue {
                ready: VecDeque::new(),
                closed: false,
            }),
            cv: Condvar::new(),
            max_per_stream,
            counters: Counters::default(),
            threads: Mutex::new(Vec::new()),
        });
        for i in 0..threads {
            // The threads hold the registry weakly: dropping the viewer
            // ends them.
            let weak = Arc::downgrade(&tiers);
            let t = std::thread::Builder::new()
                .name(format!("framecast-tier-{i}"))
                .spawn(move || work(&weak))?;
            lock(&tiers.threads).push(t);
        }
        Ok(tiers)
    }

    /// Stops the threads once the work queued is done.
    pub(crate) fn close(&self) {
        lock(&self.queue).closed = true;
        self.cv.notify_all();
        lock(&self.streams).clear();
    }

    fn stream(&self, id: StreamId) -> Arc<StreamTiers> {
        Arc::clone(lock(&self.streams).entry(id).or_insert_with(|| {
            Arc::new(StreamTiers {
                id,
                state: Mutex::new(StreamSlots {
                    slots: Vec::new(),
                    pending: None,
                    scheduled: false,
                    fed: false,
                }),
                idle: tokio::sync::Notify::new(),
            })
        }))
    }

    /// The slot of `tier` in `st`, made if the cap allows.
    fn slot<'a>(
        &self,
        id: StreamId,
        st: &'a mut StreamSlots,
        tier: Tier,
    ) -> Result<&'a mut Slot, TierError> {
        if let Some(i) = st.slots.iter().position(|s| s.tier == tier) {
            return Ok(&mut st.slots[i]);
        }
        if st.slots.len() >= self.max_per_stream {
            // Make room: tiers nobody watches go first, oldest first.
            if let Some(i) = st
                .slots
                .iter()
                .enumerate()
                .filter(|(_, s)| !s.wanted())
                .min_by_key(|(_, s)| s.used)
                .map(|(i, _)| i)
            {
                st.slots.swap_remove(i);
            } else {
                let in_use: Vec<String> = st.slots.iter().map(|s| s.tier.to_string()).collect();
                return Err(TierError::TooMany {
                    stream: id,
                    max: self.max_per_stream,
                    in_use: in_use.join(", "),
                });
            }
        }
        st.slots.push(Slot {
            tier,
            viewers: 0,
            snapshots: 0,
            latest: watch::Sender::new(None),
            encoded: None,
            used: Instant::now(),
            encodes: 0,
        });
        Ok(st.slots.last_mut().expect("just pushed"))
    }

    /// Becomes a viewer of `tier` of `handle`'s stream: the lease's watch
    /// gets each new frame at that tier. `spawn` runs the stream's feeder
    /// task when none runs yet.
    pub(crate) fn watch(
        self: &Arc<Self>,
        handle: &StreamHandle,
        tier: Tier,
        spawn: impl FnOnce(std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>),
    ) -> Result<TierLease, TierError> {
        let stream = self.stream(handle.id());
        let mut st = lock(&stream.state);
        let slot = self.slot(handle.id(), &mut st, tier)?;
        slot.viewers += 1;
        slot.used = Instant::now();
        let frames = slot.latest.subscribe();
        // A new tier of a stream whose frames come slowly: encode the
        // newest frame now rather than at the next one.
        let fresh = slot.encoded.is_none();
        let feed = !st.fed;
        st.fed = true;
        if fresh && let Some(frame) = handle.latest() {
            self.put(&stream, &mut st, frame);
        }
        drop(st);
        if feed {
            spawn(Box::pin(feeder(
                Arc::downgrade(self),
                Arc::clone(&stream),
                handle.watch(),
            )));
        }
        Ok(TierLease {
            stream,
            tier,
            frames,
        })
    }

    /// `tier`'s picture of `handle`'s newest frame: already encoded, or
    /// encoded now; `None` when the stream has no frame within `wait`.
    pub(crate) async fn snapshot(
        &self,
        handle: &StreamHandle,
        tier: Tier,
        wait: Duration,
    ) -> Result<Option<TierFrame>, TierError> {
        let mut latest = handle.watch();
        let frame = match tokio::time::timeout(wait, latest.wait_for(Option::is_some)).await {
            Ok(Ok(f)) => f.clone(),
            _ => None,
        };
        let Some(frame) = frame else { return Ok(None) };
        let sequence = frame.sequence();
        let stream = self.stream(handle.id());
        let mut frames = {
            let mut st = lock(&stream.state);
            let slot = self.slot(handle.id(), &mut st, tier)?;
            slot.used = Instant::now();
            if let Some(done) = slot.latest.borrow().as_ref()
                && done.sequence >= sequence
            {
                return Ok(Some(done.clone()));
            }
            slot.snapshots += 1;
            let frames = slot.latest.subscribe();
            self.put(&stream, &mut st, frame);
            frames
        };
        let got = match tokio::time::timeout(
            wait,
            frames.wait_for(|f| f.as_ref().is_some_and(|f| f.sequence >= sequence)),
        )
        .await
        {
            Ok(Ok(f)) => f.clone(),
            _ => None,
        };
        let mut st = lock(&stream.state);
        if let Some(slot) = st.slots.iter_mut().find(|s| s.tier == tier) {
            slot.snapshots = slot.snapshots.saturating_sub(1);
        }
        Ok(got)
    }

    /// Puts `frame` in the stream's slot and makes sure a thread will
    /// encode it.
    fn put(&self, stream: &Arc<StreamTiers>, st: &mut StreamSlots, frame: Frame) {
        if let Some(old) = st.pending.replace(frame) {
            let _ = old;
            self.counters.skipped.fetch_add(1, Ordering::Relaxed);
        }
        if !st.scheduled {
            st.scheduled = true;
            lock(&self.queue).ready.push_back(Arc::clone(stream));
            self.cv.notify_one();
        }
    }

    /// The tiers of stream `id` now.
    pub(crate) fn stats(&self, id: StreamId) -> Vec<TierStats> {
        let Some(stream) = lock(&self.streams).get(&id).cloned() else {
            return Vec::new();
        };
        let st = lock(&stream.state);
        st.slots
            .iter()
            .map(|s| TierStats {
                quality: s.tier.quality,
                width: s.tier.width,
                viewers: s.viewers,
                encodes: s.encodes,
                bytes: s.latest.borrow().as_ref().map(|f| f.jpeg.len()),
            })
            .collect()
    }
}

/// Follows one stream while it has tier viewers: each new frame goes to
/// the stream's slot.
async fn feeder(
    tiers: Weak<Tiers>,
    stream: Arc<StreamTiers>,
    mut frames: watch::Receiver<Option<Frame>>,
) {
    loop {
        tokio::select! {
            changed = frames.changed() => {
                // The stream ended.
                if changed.is_err() {
                    break;
                }
            }
            () = stream.idle.notified() => {}
        }
        let Some(tiers) = tiers.upgrade() else { break };
        let mut st = lock(&stream.state);
        if !st.slots.iter().any(|s| s.viewers > 0) {
            st.fed = false;
            return;
        }
        let frame = frames.borrow_and_update().clone();
        if let Some(frame) = frame {
            tiers.put(&stream, &mut st, frame);
        }
    }
    // The stream ended: its tiers go, and their viewers' watches close.
    if let Some(tiers) = tiers.upgrade() {
        lock(&tiers.streams).remove(&stream.id);
    }
    let mut st = lock(&stream.state);
    st.fed = false;
    st.slots.clear();
}

/// One encode job's tier: its index's tier and the source frame.
struct Job {
    tier: Tier,
}

/// A transcode thread: takes streams in turn, decodes each one's newest
/// frame once and encodes it at every tier wanted.
fn work(tiers: &Weak<Tiers>) {
    let mut decoder = ZuneDecoder::new(DecodeLimits::default());
    let mut resizer = AreaResizer::new();
    let mut encoder = TurboEncoder::new();
    let mut decoded = ImageBuf::empty(PixelFormat::Rgb8);
    let mut scaled = ImageBuf::empty(PixelFormat::Rgb8);
    let mut jobs: Vec<Job> = Vec::new();
    let mut done: Vec<(Tier, TierFrame)> = Vec::new();
    loop {
        let Some(t) = tiers.upgrade() else { return };
        let stream = {
            let mut q = lock(&t.queue);
            loop {
                if let Some(s) = q.ready.pop_front() {
                    break s;
                }
                if q.closed {
                    return;
                }
                // Waiting holds no strong reference to the registry.
                let cv = &t.cv;
                q = cv
                    .wait_timeout(q, Duration::from_secs(1))
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
        };
        let frame = {
            let mut st = lock(&stream.state);
            let Some(frame) = st.pending.take() else {
                st.scheduled = false;
                continue;
            };
            jobs.clear();
            for s in &st.slots {
                if s.wanted() && s.encoded.is_none_or(|e| e < frame.sequence()) {
                    jobs.push(Job { tier: s.tier });
                }
            }
            frame
        };
        done.clear();
        if !jobs.is_empty() {
            match decoder.decode(frame.jpeg(), &mut decoded) {
                Ok(_) => {
                    t.counters.decodes.fetch_add(1, Ordering::Relaxed);
                    let (w, h) = (decoded.width(), decoded.height());
                    for job in &jobs {
                        let (tw, th) = job.tier.size_for(w, h);
                        let encoded = if (tw, th) == (w, h) {
                            let mut out = Vec::new();
                            encoder
                                .encode(decoded.as_image(), job.tier.quality, &mut out)
                                .map(|()| out)
                        } else {
                            scaled.reshape(tw, th, PixelFormat::Rgb8);
                            resizer
                                .resize(decoded.as_image(), &mut scaled.as_image_mut())
                                .and_then(|()| {
                                    let mut out = Vec::new();
                                    encoder
                                        .encode(scaled.as_image(), job.tier.quality, &mut out)
                                        .map(|()| out)
                                })
                        };
                        match encoded {
                            Ok(jpeg) => {
                                t.counters.encodes.fetch_add(1, Ordering::Relaxed);
                                done.push((
                                    job.tier,
                                    TierFrame {
                                        jpeg: Bytes::from(jpeg),
                                        sequence: frame.sequence(),
                                        captured_us: super::stamp_us(&frame),
                                        tier: job.tier,
                                    },
                                ));
                            }
                            Err(e) => {
                                t.counters.failures.fetch_add(1, Ordering::Relaxed);
                                tracing::debug!(
                                    stream = %stream.id,
                                    "tier {} not encoded: {e}",
                                    job.tier
                                );
                            }
                        }
                    }
                }
                Err(e) => {
                    t.counters.failures.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(stream = %stream.id, "frame not decoded for tiers: {e}");
                }
            }
        }
        let mut st = lock(&stream.state);
        for (tier, picture) in done.drain(..) {
            if let Some(slot) = st.slots.iter_mut().find(|s| s.tier == tier) {
                slot.encoded = Some(picture.sequence);
                slot.encodes += 1;
                slot.latest.send_replace(Some(picture));
            }
        }
        if st.pending.is_some() {
            lock(&t.queue).ready.push_back(Arc::clone(&stream));
            t.cv.notify_one();
        } else {
            st.scheduled = false;
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
