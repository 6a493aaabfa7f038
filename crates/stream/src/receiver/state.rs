//! Per-stream state ([`StreamState`]) and the registry of streams: the live
//! ones, and what is kept of the ended ones (their totals in aggregate, and
//! the last few streams' own counters).
//!
//! Counters are atomics bumped by the stream's connection task (received,
//! bytes, corrupt, dropped) or by the worker that shows its frames (shown,
//! latency); a snapshot reads them without stopping anyone.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use framecast_proto::handshake::Settings;

use super::pool::Cost;
use crate::frame::{Frame, StreamId};
use crate::name::StreamName;
use crate::stats::{LatencyHistogram, RecentLatency, StreamStats, secs};

pub(crate) use crate::util::lock;

/// Where a stream is in the worker pool's schedule (changed only under the
/// pool's lock).
pub(crate) const IDLE: u8 = 0;
pub(crate) const QUEUED: u8 = 1;
pub(crate) const RUNNING: u8 = 2;

#[derive(Debug)]
pub(crate) struct Latency {
    pub(crate) whole: LatencyHistogram,
    pub(crate) recent: RecentLatency,
}

/// One stream: a sender's session.
#[derive(Debug)]
pub(crate) struct StreamState {
    pub(crate) id: StreamId,
    pub(crate) name: Arc<str>,
    pub(crate) peer: SocketAddr,
    started: Instant,
    ended_at: Mutex<Option<Instant>>,
    connected: AtomicBool,
    pub(crate) received: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) corrupt: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) shown: AtomicU64,
    pub(crate) clock_skew: AtomicU64,
    pub(crate) latency: Mutex<Latency>,
    /// The newest frame no worker has taken yet (latest wins).
    pub(crate) pending: Mutex<Option<Frame>>,
    /// [`IDLE`], [`QUEUED`] or [`RUNNING`].
    pub(crate) sched: AtomicU8,
    /// Set once the workers were told the stream ended.
    pub(crate) end_reported: AtomicBool,
    /// What its frames cost the workers (the pool's fairness).
    pub(crate) cost: Cost,
    /// The newest accepted frame, for consumers other than the workers
    /// (viewers, snapshots).
    pub(crate) latest: watch::Sender<Option<Frame>>,
    /// Whether the sender reads feedback (it asked in its hello).
    pub(crate) feedback: AtomicBool,
    /// What this receiver asks of the sender, and whether the ask is new
    /// (not yet sent).
    pub(crate) asked: Mutex<(Option<Settings>, bool)>,
    /// Why the sender cannot be asked anything, while `feedback` is off:
    /// a sentence set by whatever opened the stream.
    pub(crate) no_asks: Mutex<std::borrow::Cow<'static, str>>,
    /// What the newest frame said of itself: quality (0 unknown), and the
    /// sender's estimate of the link's rate (bits/s, 0 none).
    pub(crate) quality: AtomicU64,
    pub(crate) link_rate_bps: AtomicU64,
    /// The newest frame's size, `width << 32 | height`.
    pub(crate) size: AtomicU64,
}

/// Why a stream's sender cannot be asked anything, when its transport said
/// nothing more.
pub(crate) const NO_ASKS_TRANSPORT: &str =
    "the transport this stream comes over carries nothing back to its sender";

/// Why a legacy-framed sender cannot be asked anything.
pub(crate) const NO_ASKS_LEGACY: &str = "the sender uses the legacy framing (an 8-byte length, \
     no session handshake), which carries nothing back to it";

/// Why a sender that did not ask for feedback cannot be asked anything.
pub(crate) const NO_ASKS_NOT_NEGOTIATED: &str = "the sender did not ask for feedback in its \
     handshake (an older sender, or one started with --adapt off), so it reads nothing back";

impl StreamState {
    pub(crate) fn new(id: StreamId, name: Arc<str>, peer: SocketAddr) -> Self {
        Self {
            id,
            name,
            peer,
            started: Instant::now(),
            ended_at: Mutex::new(None),
            connected: AtomicBool::new(true),
            received: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            corrupt: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            shown: AtomicU64::new(0),
            clock_skew: AtomicU64::new(0),
            latency: Mutex::new(Latency {
                whole: LatencyHistogram::new(),
                recent: RecentLatency::new(),
            }),
            pending: Mutex::new(None),
            sched: AtomicU8::new(IDLE),
            end_reported: AtomicBool::new(false),
            cost: Cost::default(),
            latest: watch::Sender::new(None),
            feedback: AtomicBool::new(false),
            asked: Mutex::new((None, false)),
            no_asks: Mutex::new(std::borrow::Cow::Borrowed(NO_ASKS_TRANSPORT)),
            quality: AtomicU64::new(0),
            link_rate_bps: AtomicU64::new(0),
            size: AtomicU64::new(0),
        }
    }

    /// Keeps what an accepted frame says of itself (quality, size, the
    /// sender's link estimate) for the stats.
    pub(crate) fn note(&self, frame: &Frame) {
        self.quality
            .store(u64::from(frame.quality().unwrap_or(0)), Ordering::Relaxed);
        self.link_rate_bps
            .store(frame.link_rate_bps().unwrap_or(0), Ordering::Relaxed);
        self.size.store(
            (u64::from(frame.width()) << 32) | u64::from(frame.height()),
            Ordering::Relaxed,
        );
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    /// Marks the session closed (its last frames may still be shown);
    /// returns whether it was open. Use [`Registry::disconnect`].
    fn disconnect(&self) -> bool {
        let was = self.connected.swap(false, Ordering::SeqCst);
        if was {
            *lock(&self.ended_at) = Some(Instant::now());
        }
        was
    }

    pub(crate) fn connected_for(&self) -> Duration {
        let end = lock(&self.ended_at).unwrap_or_else(Instant::now);
        end.saturating_duration_since(self.started)
    }

    pub(crate) fn snapshot(&self) -> StreamStats {
        let seconds = secs(self.connected_for());
        let frames = self.shown.load(Ordering::SeqCst);
        let (latency_ms, recent_latency_ms) = {
            let l = lock(&self.latency);
            (l.whole.summary(), l.recent.summary())
        };
        StreamStats {
            id: self.id,
            name: self.name.to_string(),
            peer: self.peer.to_string(),
            connected: self.is_connected(),
            frames,
            received: self.received.load(Ordering::SeqCst),
            dropped: self.dropped.load(Ordering::SeqCst),
            corrupt: self.corrupt.load(Ordering::SeqCst),
            clock_skew: self.clock_skew.load(Ordering::SeqCst),
            bytes: self.bytes.load(Ordering::SeqCst),
            seconds,
            fps: rate(frames, seconds),
            cost_ms: self.cost.mean_ms(),
            latency_ms,
            recent_latency_ms,
            quality: match self.quality.load(Ordering::Relaxed) {
                0 => None,
                q => Some(q as u8),
            },
            width: (self.size.load(Ordering::Relaxed) >> 32) as u32,
            height: self.size.load(Ordering::Relaxed) as u32,
            link_rate_kbps: match self.link_rate_bps.load(Ordering::Relaxed) {
                0 => None,
                r => Some(r / 1000),
            },
            feedback: self.feedback.load(Ordering::Relaxed),
            latency_histogram: Some(Arc::new(lock(&self.latency).whole.clone())),
        }
    }
}

/// `n / seconds`, rounded to hundredths; 0 for no time.
pub(crate) fn rate(n: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        ((n as f64 / seconds) * 100.0).round() / 100.0
    } else {
        0.0
    }
}

/// Totals over streams.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Totals {
    pub(crate) frames: u64,
    pub(crate) received: u64,
    pub(crate) dropped: u64,
    pub(crate) corrupt: u64,
    pub(crate) clock_skew: u64,
    pub(crate) bytes: u64,
}

impl Totals {
    pub(crate) fn add(&mut self, s: &StreamStats) {
        self.frames += s.frames;
        self.received += s.received;
        self.dropped += s.dropped;
        self.corrupt += s.corrupt;
        self.clock_skew += s.clock_skew;
        self.bytes += s.bytes;
    }
}

/// Why a session could not be registered.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Busy {
    pub(crate) max_clients: usize,
}

#[derive(Debug)]
struct RegistryInner {
    next_id: StreamId,
    /// Streams not yet retired (their last frames may still be showing).
    live: Vec<Arc<StreamState>>,
    /// Streams whose session is open: what `max_clients` limits. A stream
    /// whose sender left frees its place at once, before it is retired.
    connected: usize,
    ended: VecDeque<StreamStats>,
    ended_totals: Totals,
    ended_latency: LatencyHistogram,
    accepted: u64,
    /// Since when at least one stream has been connected.
    busy_since: Option<Instant>,
    /// Connected time before `busy_since`.
    busy_total: Duration,
}

/// Every stream of one receiver.
#[derive(Debug)]
pub(crate) struct Registry {
    inner: Mutex<RegistryInner>,
    max_clients: usize,
    max_ended: usize,
    /// Bumped whenever a stream starts or ends (for pages that list them).
    changes: watch::Sender<u64>,
}

impl Registry {
    pub(crate) fn new(max_clients: usize, max_ended: usize) -> Self {
        Self {
            inner: Mutex::new(RegistryInner {
                next_id: StreamId::new(1),
                live: Vec::with_capacity(max_clients),
                connected: 0,
                ended: VecDeque::with_capacity(max_ended),
                ended_totals: Totals::default(),
                ended_latency: LatencyHistogram::new(),
                accepted: 0,
                busy_since: None,
                busy_total: Duration::ZERO,
            }),
            max_clients,
            max_ended,
            changes: watch::Sender::new(0),
        }
    }

    /// Opens a stream, unless `max_clients` are open already.
    pub(crate) fn register(
        &self,
        name: Option<StreamName>,
        peer: SocketAddr,
    ) -> Result<Arc<StreamState>, Busy> {
        let state = {
            let mut r = lock(&self.inner);
            if r.connected >= self.max_clients {
                return Err(Busy {
                    max_clients: self.max_clients,
                });
            }
            let id = r.next_id;
            r.next_id = StreamId::new(r.next_id.get().wrapping_add(1).max(1));
            // Unnamed (an old or legacy sender): its address, without the
            // ephemeral port, and its number.
            let name = name
                .unwrap_or_else(|| StreamName::unnamed(peer, id))
                .into_arc();
            let state = Arc::new(StreamState::new(id, name, peer));
            r.live.push(Arc::clone(&state));
            r.connected += 1;
            r.accepted += 1;
            if r.busy_since.is_none() {
                r.busy_since = Some(Instant::now());
            }
            state
        };
        self.changes.send_modify(|n| *n += 1);
        Ok(state)
    }

    /// A stream's session closed: its place is free for another sender.
    pub(crate) fn disconnect(&self, state: &StreamState) {
        if state.disconnect() {
            let mut r = lock(&self.inner);
            r.connected = r.connected.saturating_sub(1);
        }
    }

    /// Moves a stream whose last frame has been dealt with to the ended
    /// ones: its counters join the totals, and it is kept among the last
    /// `max_ended` streams.
    pub(crate) fn retire(&self, state: &StreamState) {
        {
            let mut r = lock(&self.inner);
            let Some(i) = r.live.iter().position(|s| s.id == state.id) else {
                return;
            };
            r.live.remove(i);
            let stats = state.snapshot();
            r.ended_totals.add(&stats);
            let whole = lock(&state.latency).whole.clone();
            r.ended_latency.merge(&whole);
            if self.max_ended > 0 {
                if r.ended.len() == self.max_ended {
                    r.ended.pop_front();
                }
                r.ended.push_back(stats);
            }
            if r.live.is_empty()
                && let Some(since) = r.busy_since.take()
            {
                r.busy_total += since.elapsed();
            }
        }
        self.changes.send_modify(|n| *n += 1);
    }

    pub(crate) fn live(&self) -> Vec<Arc<StreamState>> {
        lock(&self.inner).live.clone()
    }

    pub(crate) fn get(&self, id: StreamId) -> Option<Arc<StreamState>> {
        lock(&self.inner)
            .live
            .iter()
            .find(|s| s.id == id)
            .map(Arc::clone)
    }

    /// Streams whose session is open.
    pub(crate) fn connected_count(&self) -> usize {
        lock(&self.inner).connected
    }

    pub(crate) fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Everything the stats need, in one consistent read: live streams'
    /// snapshots, the ended ones kept, the totals of all ended, the merged
    /// latency histogram, streams accepted, and connected time.
    pub(crate) fn snapshot(&self) -> RegistrySnapshot {
        let r = lock(&self.inner);
        let mut latency = r.ended_latency.clone();
        let mut totals = r.ended_totals;
        // Streams whose session is over but whose last frame a worker has
        // not dealt with yet count as ended here: `max_ended` bounds them
        // all together, however far the workers are behind (connection
        // churn), keeping the newest.
        let mut live = Vec::with_capacity(r.live.len());
        for s in &r.live {
            let stats = s.snapshot();
            totals.add(&stats);
            latency.merge(&lock(&s.latency).whole);
            live.push(stats);
        }
        let waiting = live.iter().filter(|s| !s.connected).count();
        let mut skip_waiting = waiting.saturating_sub(self.max_ended);
        let retired = self.max_ended.saturating_sub(waiting).min(r.ended.len());
        let mut all = Vec::with_capacity(retired + live.len() - skip_waiting);
        // Ended first (oldest first), then the live ones.
        all.extend(r.ended.iter().skip(r.ended.len() - retired).cloned());
        for stats in live {
            if !stats.connected && skip_waiting > 0 {
                skip_waiting -= 1;
                continue;
            }
            all.push(stats);
        }
        let connected = r.busy_total + r.busy_since.map_or(Duration::ZERO, |s| s.elapsed());
        RegistrySnapshot {
            per_stream: all,
            totals,
            latency,
            accepted: r.accepted,
            active: r.connected as u64,
            connected,
        }
    }
}

pub(crate) struct RegistrySnapshot {
    pub(crate) per_stream: Vec<StreamStats>,
    pub(crate) totals: Totals,
    pub(crate) latency: LatencyHistogram,
    pub(crate) accepted: u64,
    pub(crate) active: u64,
    pub(crate) connected: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn ended_streams_are_bounded_and_totals_kept() {
        let reg = Registry::new(4, 3);
        for i in 0..10u16 {
            let s = reg.register(None, peer(1000 + i)).unwrap();
            s.received.store(u64::from(i) + 1, Ordering::SeqCst);
            s.shown.store(1, Ordering::SeqCst);
            reg.disconnect(&s);
            reg.retire(&s);
        }
        let snap = reg.snapshot();
        assert_eq!(snap.accepted, 10);
        assert_eq!(snap.per_stream.len(), 3, "only the last 3 ended kept");
        assert_eq!(snap.per_stream[2].id, StreamId::new(10));
        assert_eq!(snap.totals.received, (1..=10).sum::<u64>());
        assert_eq!(snap.totals.frames, 10);
        assert_eq!(snap.active, 0);
    }

    #[test]
    fn ended_streams_not_yet_retired_count_against_the_bound() {
        let reg = Registry::new(100, 3);
        let mut waiting = Vec::new();
        for i in 0..2u16 {
            let s = reg.register(None, peer(1000 + i)).unwrap();
            reg.disconnect(&s);
            reg.retire(&s);
        }
        let open = reg
            .register(Some(StreamName::new("open").unwrap()), peer(2000))
            .unwrap();
        // Sessions over, last frames not dealt with (the workers are
        // behind): never retired in this test.
        for i in 0..50u16 {
            let s = reg.register(None, peer(3000 + i)).unwrap();
            s.received.store(1, Ordering::SeqCst);
            reg.disconnect(&s);
            waiting.push(s);
        }
        let snap = reg.snapshot();
        let ended: Vec<_> = snap.per_stream.iter().filter(|s| !s.connected).collect();
        assert_eq!(
            ended.len(),
            3,
            "at most max_ended ended streams, waiting or not"
        );
        assert_eq!(
            ended.iter().map(|s| s.id.get()).collect::<Vec<_>>(),
            [51, 52, 53],
            "the newest kept"
        );
        assert!(
            snap.per_stream
                .iter()
                .any(|s| s.id == open.id && s.connected)
        );
        assert_eq!(snap.totals.received, 50, "the totals hold them all");
        assert_eq!(snap.accepted, 53);
        // Two waiting: one retired stream still fits beside them.
        let reg = Registry::new(100, 3);
        for i in 0..3u16 {
            let s = reg.register(None, peer(1000 + i)).unwrap();
            reg.disconnect(&s);
            if i == 0 {
                reg.retire(&s);
            }
        }
        let ids: Vec<u32> = reg
            .snapshot()
            .per_stream
            .iter()
            .map(|s| s.id.get())
            .collect();
        assert_eq!(ids, [1, 2, 3]);
    }

    #[test]
    fn registration_stops_at_max_clients_and_names_fall_back_to_the_peer() {
        let reg = Registry::new(2, 0);
        let a = reg
            .register(Some(StreamName::new("door").unwrap()), peer(1))
            .unwrap();
        let b = reg.register(None, peer(2)).unwrap();
        assert_eq!(&*a.name, "door");
        assert_eq!(&*b.name, "127.0.0.1 #2");
        assert!(reg.register(None, peer(3)).is_err());
        // A sender that left frees its place at once, before retirement.
        reg.disconnect(&a);
        assert!(reg.register(None, peer(3)).is_ok());
        assert_eq!(reg.connected_count(), 2);
        reg.retire(&a);
        assert_eq!(reg.snapshot().per_stream.len(), 2);
    }
}
