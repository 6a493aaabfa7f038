//! The receiving engine: accept → read → (decode in the sinks) → show.
//!
//! ```text
//!  accept thread ──▶ one reader thread per connection ──▶ mailbox ──▶ sink thread
//!   (max_clients,     read frame, parse Video, check       (one slot     sinks decode,
//!    refuse extra)    the JPEG header; count corrupt       per stream:   scale, show,
//!                                                          latest wins)  record
//! ```
//!
//! Each connection has its own reader thread, so one sender's bad data or
//! disconnect touches only its own stream: a frame that is not a valid
//! message or JPEG is counted as corrupt and skipped; a framing violation
//! (a length over the limit) closes that connection alone. The mailbox keeps
//! at most one unshown frame per stream and a newer frame replaces it
//! (counted as dropped), so a slow sink never lets latency build up.

use std::io::ErrorKind;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use framecast_display::{DisplayError, EncodedFrame, FrameSink};
use framecast_proto::video::{PayloadFormat, Video};
use framecast_wire::{FrameCodec, FrameReader, Prefix};
use prost::Message;

use crate::StopHandle;
use crate::error::AppError;
use crate::stats::{LatencyHistogram, ReceiverStats, RecentLatency, StreamStats, secs};

/// The default number of senders a receiver serves at once.
pub const DEFAULT_MAX_CLIENTS: usize = 16;

/// How often the accept loop looks at the stop flag.
const ACCEPT_POLL: Duration = Duration::from_millis(20);

/// How long the sink thread waits for a frame before looking at the stop
/// flag again.
const SINK_POLL: Duration = Duration::from_millis(100);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The counters stay consistent between statements, so a lock poisoned
    // by a panicking stage is still usable (and the panic is reported when
    // the engine is joined).
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Configures and starts a [`Receiver`].
pub struct ReceiverBuilder {
    listen: SocketAddr,
    prefix: Prefix,
    max_frame_len: usize,
    max_clients: usize,
    count: Option<u64>,
    sink_delay: Duration,
    sinks: Vec<Box<dyn FrameSink>>,
}

impl std::fmt::Debug for ReceiverBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiverBuilder")
            .field("listen", &self.listen)
            .field("prefix", &self.prefix)
            .field("max_frame_len", &self.max_frame_len)
            .field("max_clients", &self.max_clients)
            .field("count", &self.count)
            .field("sinks", &self.sinks.len())
            .finish()
    }
}

impl ReceiverBuilder {
    /// A receiver that will listen on `listen` (port 0 picks a free port;
    /// see [`Receiver::local_addr`]), with the framecast framing, the wire's
    /// default frame length limit, [`DEFAULT_MAX_CLIENTS`], and no sink.
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            prefix: Prefix::U32Le,
            max_frame_len: framecast_wire::DEFAULT_MAX_FRAME_LEN,
            max_clients: DEFAULT_MAX_CLIENTS,
            count: None,
            sink_delay: Duration::ZERO,
            sinks: Vec::new(),
        }
    }

    /// The length prefix senders use ([`Prefix::LegacyI64Le`] for the
    /// original Python client).
    pub fn framing(mut self, prefix: Prefix) -> Self {
        self.prefix = prefix;
        self
    }

    /// The largest frame accepted; a sender announcing a longer one is
    /// disconnected.
    pub fn max_frame_len(mut self, len: usize) -> Self {
        self.max_frame_len = len;
        self
    }

    /// How many senders are served at once; further connections are
    /// refused (closed at once, counted).
    pub fn max_clients(mut self, n: usize) -> Self {
        self.max_clients = n.max(1);
        self
    }

    /// Stops after `n` frames were shown, over all streams.
    pub fn count(mut self, n: u64) -> Self {
        self.count = Some(n);
        self
    }

    /// Adds a sink; every shown frame goes to every sink, in order.
    pub fn sink(mut self, sink: impl FrameSink + 'static) -> Self {
        self.sinks.push(Box::new(sink));
        self
    }

    /// Adds an already boxed sink.
    pub fn boxed_sink(mut self, sink: Box<dyn FrameSink>) -> Self {
        self.sinks.push(sink);
        self
    }

    /// Makes the sink stage sleep this long per frame: a test knob that
    /// simulates a slow display.
    pub fn sink_delay(mut self, delay: Duration) -> Self {
        self.sink_delay = delay;
        self
    }

    /// Binds the address and starts the threads.
    pub fn start(self) -> Result<Receiver, AppError> {
        let listener = TcpListener::bind(self.listen).map_err(|source| AppError::Bind {
            addr: self.listen,
            source,
        })?;
        let local_addr = listener.local_addr().map_err(|source| AppError::Bind {
            addr: self.listen,
            source,
        })?;
        listener
            .set_nonblocking(true)
            .map_err(|source| AppError::Bind {
                addr: self.listen,
                source,
            })?;
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            mailbox: Mailbox::default(),
            streams: Mutex::new(Vec::new()),
            conns: Mutex::new(Vec::new()),
            readers: Mutex::new(Vec::new()),
            active: AtomicUsize::new(0),
            refused: AtomicU64::new(0),
            latency: Mutex::new(LatencyHistogram::new()),
            shown: AtomicU64::new(0),
            started: Instant::now(),
            error: Mutex::new(None),
        });
        let config = Arc::new(Config {
            prefix: self.prefix,
            max_frame_len: self.max_frame_len,
            max_clients: self.max_clients,
            count: self.count,
            sink_delay: self.sink_delay,
        });

        let sink_thread = {
            let (shared, config, sinks) = (Arc::clone(&shared), Arc::clone(&config), self.sinks);
            thread::Builder::new()
                .name("framecast-sink".into())
                .spawn(move || sink_loop(&shared, &config, sinks))
                .map_err(|source| AppError::Spawn {
                    what: "sink",
                    source,
                })?
        };
        let accept_thread = {
            let accepting = Arc::clone(&shared);
            thread::Builder::new()
                .name("framecast-accept".into())
                .spawn(move || accept_loop(&accepting, &config, listener))
                .map_err(|source| {
                    shared_stop(&shared);
                    AppError::Spawn {
                        what: "accept",
                        source,
                    }
                })?
        };
        tracing::info!(%local_addr, "listening");
        Ok(Receiver {
            local_addr,
            shared,
            accept_thread: Some(accept_thread),
            sink_thread: Some(sink_thread),
        })
    }
}

struct Config {
    prefix: Prefix,
    max_frame_len: usize,
    max_clients: usize,
    count: Option<u64>,
    sink_delay: Duration,
}

/// A running receiver. Dropping it stops it.
///
/// See the [crate docs](crate) for an example.
#[derive(Debug)]
pub struct Receiver {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
    sink_thread: Option<JoinHandle<()>>,
}

impl Receiver {
    /// The address it listens on (with the real port when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The counters now.
    pub fn stats(&self) -> ReceiverStats {
        self.shared.snapshot()
    }

    /// Asks every thread to stop; returns at once (see [`Receiver::wait`]).
    pub fn stop(&self) {
        shared_stop(&self.shared);
    }

    /// A handle that can stop this receiver from another thread (e.g. a
    /// Ctrl-C handler).
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle::new(Arc::clone(&self.shared) as Arc<dyn crate::Stop>)
    }

    /// Whether it has stopped or is stopping (asked to, `count` reached, or
    /// a sink failed).
    pub fn is_finished(&self) -> bool {
        self.shared.stop.load(Ordering::SeqCst)
    }

    /// Waits until it has stopped, flushes the sinks, and returns the final
    /// counters (or the error that stopped it).
    pub fn wait(mut self) -> Result<ReceiverStats, AppError> {
        self.join()
    }

    /// [`Receiver::stop`] then [`Receiver::wait`].
    pub fn shutdown(self) -> Result<ReceiverStats, AppError> {
        self.stop();
        self.wait()
    }

    fn join(&mut self) -> Result<ReceiverStats, AppError> {
        let mut panicked = None;
        if let Some(t) = self.sink_thread.take()
            && t.join().is_err()
        {
            panicked = Some("sink");
        }
        // The sink thread ends only once stopping; make sure everyone knows.
        shared_stop(&self.shared);
        if let Some(t) = self.accept_thread.take()
            && t.join().is_err()
        {
            panicked = Some("accept");
        }
        let readers = std::mem::take(&mut *lock(&self.shared.readers));
        for t in readers {
            if t.join().is_err() {
                panicked = Some("reader");
            }
        }
        if let Some(e) = lock(&self.shared.error).take() {
            return Err(e);
        }
        if let Some(what) = panicked {
            return Err(AppError::Panicked(what));
        }
        Ok(self.shared.snapshot())
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if self.sink_thread.is_some() {
            shared_stop(&self.shared);
            let _ = self.join();
        }
    }
}

/// State every thread of one receiver shares.
#[derive(Debug)]
struct Shared {
    stop: AtomicBool,
    mailbox: Mailbox,
    /// Every stream since the start, for the stats.
    streams: Mutex<Vec<Arc<StreamCell>>>,
    /// Clones of the open connections, so that stopping can unblock their
    /// readers.
    conns: Mutex<Vec<(u32, TcpStream)>>,
    readers: Mutex<Vec<JoinHandle<()>>>,
    active: AtomicUsize,
    refused: AtomicU64,
    /// Latency over every stream (recorded by the sink thread alone).
    latency: Mutex<LatencyHistogram>,
    shown: AtomicU64,
    started: Instant,
    error: Mutex<Option<AppError>>,
}

impl crate::Stop for Shared {
    fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.mailbox.close();
        for (_, c) in lock(&self.conns).iter() {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}

fn shared_stop(shared: &Shared) {
    crate::Stop::stop(shared);
}

impl Shared {
    fn snapshot(&self) -> ReceiverStats {
        let elapsed = self.started.elapsed();
        let per_stream: Vec<StreamStats> = lock(&self.streams)
            .iter()
            .map(|cell| cell.snapshot())
            .collect();
        let sum = |f: fn(&StreamStats) -> u64| per_stream.iter().map(f).sum::<u64>();
        let frames = self.shown.load(Ordering::SeqCst);
        let seconds = secs(elapsed);
        ReceiverStats {
            frames,
            received: sum(|s| s.received),
            dropped: sum(|s| s.dropped),
            corrupt: sum(|s| s.corrupt),
            bytes: sum(|s| s.bytes),
            seconds,
            fps: if seconds > 0.0 {
                ((frames as f64 / seconds) * 100.0).round() / 100.0
            } else {
                0.0
            },
            latency_ms: lock(&self.latency).summary(),
            streams: per_stream.len() as u64,
            refused: self.refused.load(Ordering::SeqCst),
            per_stream,
        }
    }
}

/// One stream's counters.
#[derive(Debug)]
struct StreamCell {
    id: u32,
    label: String,
    counters: Mutex<Counters>,
}

#[derive(Debug)]
struct Counters {
    connected: bool,
    frames: u64,
    received: u64,
    dropped: u64,
    corrupt: u64,
    bytes: u64,
    started: Instant,
    ended: Option<Instant>,
    latency: LatencyHistogram,
    recent: RecentLatency,
}

impl StreamCell {
    fn new(id: u32, label: String) -> Self {
        Self {
            id,
            label,
            counters: Mutex::new(Counters {
                connected: true,
                frames: 0,
                received: 0,
                dropped: 0,
                corrupt: 0,
                bytes: 0,
                started: Instant::now(),
                ended: None,
                latency: LatencyHistogram::new(),
                recent: RecentLatency::new(),
            }),
        }
    }

    fn snapshot(&self) -> StreamStats {
        let c = lock(&self.counters);
        let end = c.ended.unwrap_or_else(Instant::now);
        StreamStats {
            id: self.id,
            label: self.label.clone(),
            connected: c.connected,
            frames: c.frames,
            received: c.received,
            dropped: c.dropped,
            corrupt: c.corrupt,
            bytes: c.bytes,
            seconds: secs(end.saturating_duration_since(c.started)),
            latency_ms: c.latency.summary(),
            recent_latency_ms: c.recent.summary(),
        }
    }
}

/// A frame waiting for the sinks.
///
/// The picture is copied out of the wire's buffer into `jpeg`, a buffer
/// recycled through the stream's slot, so that the reader's own buffer is
/// free again before the next read and can be reused instead of
/// reallocated (a `Bytes` kept alive would pin it).
#[derive(Debug)]
struct Pending {
    /// The frame's metadata; its `video_data` is empty.
    meta: Video,
    jpeg: Vec<u8>,
    received: Instant,
}

/// Recycled picture buffers kept per stream: one being filled, one
/// pending, one being shown.
const SPARE_BUFFERS: usize = 3;

/// One slot per stream; a newer frame replaces an unshown one.
#[derive(Debug, Default)]
struct Mailbox {
    state: Mutex<MailState>,
    cv: Condvar,
}

#[derive(Debug, Default)]
struct MailState {
    slots: Vec<Slot>,
    closed: bool,
}

#[derive(Debug)]
struct Slot {
    cell: Arc<StreamCell>,
    pending: Option<Pending>,
    ended: bool,
    spare: Vec<Vec<u8>>,
}

enum Mail {
    Frame(Arc<StreamCell>, Pending),
    Ended(u32),
    Idle,
    Closed,
}

impl Mailbox {
    fn open_stream(&self, cell: Arc<StreamCell>) {
        lock(&self.state).slots.push(Slot {
            cell,
            pending: None,
            ended: false,
            spare: Vec::with_capacity(SPARE_BUFFERS),
        });
    }

    /// A recycled picture buffer for stream `id`, or a new one.
    fn buffer(&self, id: u32) -> Vec<u8> {
        let mut s = lock(&self.state);
        s.slots
            .iter_mut()
            .find(|s| s.cell.id == id)
            .and_then(|slot| slot.spare.pop())
            .unwrap_or_default()
    }

    /// Gives a picture buffer back to stream `id` (dropped if the stream is
    /// gone or has enough).
    fn recycle(&self, id: u32, buf: Vec<u8>) {
        let mut s = lock(&self.state);
        if let Some(slot) = s.slots.iter_mut().find(|s| s.cell.id == id)
            && slot.spare.len() < SPARE_BUFFERS
        {
            slot.spare.push(buf);
        }
    }

    fn put(&self, id: u32, frame: Pending) {
        let mut s = lock(&self.state);
        if let Some(slot) = s.slots.iter_mut().find(|s| s.cell.id == id)
            && let Some(old) = slot.pending.replace(frame)
        {
            lock(&slot.cell.counters).dropped += 1;
            if slot.spare.len() < SPARE_BUFFERS {
                slot.spare.push(old.jpeg);
            }
        }
        drop(s);
        self.cv.notify_one();
    }

    fn end_stream(&self, id: u32) {
        let mut s = lock(&self.state);
        if let Some(slot) = s.slots.iter_mut().find(|s| s.cell.id == id) {
            slot.ended = true;
        }
        drop(s);
        self.cv.notify_one();
    }

    fn close(&self) {
        lock(&self.state).closed = true;
        self.cv.notify_all();
    }

    /// The oldest pending frame over all streams, else a stream that ended,
    /// else waits up to `timeout`. Once closed, the frames still pending
    /// (at most one per stream) come out before [`Mail::Closed`], so that a
    /// clean stop shows and records everything that was read.
    fn take(&self, timeout: Duration) -> Mail {
        let deadline = Instant::now() + timeout;
        let mut s = lock(&self.state);
        loop {
            let oldest = s
                .slots
                .iter()
                .enumerate()
                .filter_map(|(i, slot)| slot.pending.as_ref().map(|p| (i, p.received)))
                .min_by_key(|&(_, t)| t)
                .map(|(i, _)| i);
            if let Some(i) = oldest {
                let slot = &mut s.slots[i];
                if let Some(p) = slot.pending.take() {
                    return Mail::Frame(Arc::clone(&slot.cell), p);
                }
            }
            if s.closed {
                return Mail::Closed;
            }
            if let Some(i) = s.slots.iter().position(|slot| slot.ended) {
                let slot = s.slots.swap_remove(i);
                return Mail::Ended(slot.cell.id);
            }
            let now = Instant::now();
            if now >= deadline {
                return Mail::Idle;
            }
            s = self
                .cv
                .wait_timeout(s, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

fn accept_loop(shared: &Arc<Shared>, config: &Arc<Config>, listener: TcpListener) {
    let mut next_id: u32 = 1;
    while !shared.stop.load(Ordering::SeqCst) {
        let (stream, peer) = match listener.accept() {
            Ok(conn) => conn,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                thread::sleep(ACCEPT_POLL);
                continue;
            }
            Err(e) => {
                // Out of file descriptors and the like: transient, keep
                // serving the streams we have.
                tracing::warn!("accept failed: {e}");
                thread::sleep(ACCEPT_POLL);
                continue;
            }
        };
        if shared.active.load(Ordering::SeqCst) >= config.max_clients {
            shared.refused.fetch_add(1, Ordering::SeqCst);
            tracing::warn!(
                %peer,
                max_clients = config.max_clients,
                "refusing connection: already serving the maximum number of senders"
            );
            let _ = stream.shutdown(Shutdown::Both);
            continue;
        }
        // Accepted sockets may inherit the listener's non-blocking mode.
        if let Err(e) = stream.set_nonblocking(false) {
            tracing::warn!(%peer, "dropping connection: {e}");
            continue;
        }
        let _ = stream.set_nodelay(true);
        let Ok(clone) = stream.try_clone() else {
            tracing::warn!(%peer, "dropping connection: cannot clone its socket");
            continue;
        };
        let id = next_id;
        next_id = next_id.wrapping_add(1).max(1);
        let cell = Arc::new(StreamCell::new(id, peer.to_string()));
        lock(&shared.streams).push(Arc::clone(&cell));
        lock(&shared.conns).push((id, clone));
        shared.mailbox.open_stream(Arc::clone(&cell));
        shared.active.fetch_add(1, Ordering::SeqCst);
        tracing::info!(stream = id, %peer, "sender connected");
        let spawned = {
            let (shared, config) = (Arc::clone(shared), Arc::clone(config));
            thread::Builder::new()
                .name(format!("framecast-read-{id}"))
                .spawn(move || {
                    read_loop(&shared, &config, &cell, stream);
                    close_stream(&shared, &cell);
                })
        };
        match spawned {
            Ok(t) => {
                let mut readers = lock(&shared.readers);
                // Reap finished readers so the list stays as long as the
                // number of open connections.
                let mut i = 0;
                while i < readers.len() {
                    if readers[i].is_finished() {
                        let _ = readers.swap_remove(i).join();
                    } else {
                        i += 1;
                    }
                }
                readers.push(t);
            }
            Err(e) => {
                tracing::warn!(stream = id, "cannot start a reader thread: {e}");
                if let Some(cell) = lock(&shared.streams).iter().find(|c| c.id == id) {
                    close_stream(shared, cell);
                }
            }
        }
        // A stop that raced with this accept must still reach the new
        // connection.
        if shared.stop.load(Ordering::SeqCst) {
            shared_stop(shared);
        }
    }
}

fn close_stream(shared: &Shared, cell: &StreamCell) {
    {
        let mut c = lock(&cell.counters);
        c.connected = false;
        c.ended = Some(Instant::now());
    }
    let mut conns = lock(&shared.conns);
    if let Some(i) = conns.iter().position(|(id, _)| *id == cell.id) {
        let (_, c) = conns.swap_remove(i);
        let _ = c.shutdown(Shutdown::Both);
    }
    drop(conns);
    shared.active.fetch_sub(1, Ordering::SeqCst);
    shared.mailbox.end_stream(cell.id);
}

fn read_loop(shared: &Shared, config: &Config, cell: &StreamCell, stream: TcpStream) {
    let codec = FrameCodec::with_prefix(config.prefix).max_frame_len(config.max_frame_len);
    let mut reader = FrameReader::with_codec(stream, codec);
    loop {
        let payload = match reader.read_frame() {
            Ok(Some(p)) => p,
            Ok(None) => {
                tracing::info!(stream = cell.id, label = %cell.label, "sender disconnected");
                return;
            }
            Err(e) => {
                if !shared.stop.load(Ordering::SeqCst) {
                    tracing::warn!(
                        stream = cell.id,
                        label = %cell.label,
                        "closing connection: {e}"
                    );
                }
                return;
            }
        };
        let received = Instant::now();
        {
            let mut c = lock(&cell.counters);
            c.received += 1;
            c.bytes += payload.len() as u64;
        }
        match check_frame(payload) {
            Ok(mut meta) => {
                let mut jpeg = shared.mailbox.buffer(cell.id);
                jpeg.clear();
                jpeg.extend_from_slice(&meta.video_data);
                // Release the wire's buffer before the next read.
                meta.video_data = bytes::Bytes::new();
                shared.mailbox.put(
                    cell.id,
                    Pending {
                        meta,
                        jpeg,
                        received,
                    },
                );
            }
            Err(why) => {
                lock(&cell.counters).corrupt += 1;
                tracing::debug!(stream = cell.id, "corrupt frame skipped: {why}");
            }
        }
    }
}

/// Parses one payload and checks that it carries a JPEG whose header makes
/// sense, so that garbage never reaches a sink (the recorder stores what it
/// is given).
fn check_frame(payload: bytes::Bytes) -> Result<Video, String> {
    let video = Video::decode(payload).map_err(|e| format!("not a Video message: {e}"))?;
    if video.format() != PayloadFormat::Jpeg {
        return Err(format!("unsupported payload format {:?}", video.format()));
    }
    framecast_codec::probe_jpeg(&video.video_data).map_err(|e| e.to_string())?;
    Ok(video)
}

/// What a sink's error means for the receiver.
enum SinkVerdict {
    /// The frame was bad: count it as corrupt and go on.
    Corrupt,
    /// The frame was fine but could not be shown (no free tile): count it
    /// as dropped and go on.
    Skipped,
    /// The window was closed: stop, without an error.
    Closed,
    /// The sink itself failed (e.g. the disk is full): stop with the error.
    Fatal,
}

fn verdict(e: &DisplayError) -> SinkVerdict {
    match e {
        DisplayError::NotJpeg { .. } | DisplayError::Decode { .. } | DisplayError::Image(_) => {
            SinkVerdict::Corrupt
        }
        DisplayError::TooManyStreams { .. } => SinkVerdict::Skipped,
        DisplayError::Closed => SinkVerdict::Closed,
        _ => SinkVerdict::Fatal,
    }
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn sink_loop(shared: &Shared, config: &Config, mut sinks: Vec<Box<dyn FrameSink>>) {
    loop {
        match shared.mailbox.take(SINK_POLL) {
            Mail::Closed => break,
            Mail::Idle => {
                if shared.stop.load(Ordering::SeqCst) {
                    break;
                }
            }
            Mail::Ended(id) => {
                for sink in &mut sinks {
                    sink.stream_ended(id);
                }
            }
            Mail::Frame(cell, pending) => {
                let flow = show(shared, config, &mut sinks, &cell, &pending);
                shared.mailbox.recycle(cell.id, pending.jpeg);
                if flow.is_break() {
                    break;
                }
            }
        }
    }
    for sink in &mut sinks {
        if let Err(e) = sink.finish() {
            tracing::error!("sink could not finish: {e}");
            lock(&shared.error).get_or_insert(AppError::Display(e));
        }
    }
}

/// Hands one frame to every sink, in order, and counts the outcome; breaks
/// when the receiver must stop.
fn show(
    shared: &Shared,
    config: &Config,
    sinks: &mut [Box<dyn FrameSink>],
    cell: &StreamCell,
    pending: &Pending,
) -> ControlFlow<()> {
    if !config.sink_delay.is_zero() {
        thread::sleep(config.sink_delay);
    }
    let frame = EncodedFrame {
        stream: cell.id,
        label: &cell.label,
        sequence: pending.meta.sequence,
        capture_time_us: pending.meta.capture_time_us,
        jpeg: &pending.jpeg,
    };
    let mut shown = true;
    let mut failed = false;
    for sink in sinks.iter_mut() {
        let Err(e) = sink.show(&frame) else {
            continue;
        };
        shown = false;
        match verdict(&e) {
            SinkVerdict::Corrupt => {
                lock(&cell.counters).corrupt += 1;
                tracing::debug!(stream = cell.id, "corrupt frame skipped: {e}");
            }
            SinkVerdict::Skipped => {
                lock(&cell.counters).dropped += 1;
                tracing::debug!(stream = cell.id, "frame not shown: {e}");
            }
            SinkVerdict::Closed => {
                tracing::info!("the window was closed");
                shared_stop(shared);
                failed = true;
            }
            SinkVerdict::Fatal => {
                tracing::error!("sink failed: {e}");
                lock(&shared.error).get_or_insert(AppError::Display(e));
                shared_stop(shared);
                failed = true;
            }
        }
        break;
    }
    if failed {
        return ControlFlow::Break(());
    }
    if !shown {
        return ControlFlow::Continue(());
    }
    let latency = pending
        .meta
        .capture_time_us
        .map(|t| now_us().saturating_sub(t));
    {
        let mut c = lock(&cell.counters);
        c.frames += 1;
        if let Some(l) = latency {
            c.latency.record(l);
            c.recent.record(l);
        }
    }
    if let Some(l) = latency {
        lock(&shared.latency).record(l);
    }
    let total = shared.shown.fetch_add(1, Ordering::SeqCst) + 1;
    if config.count.is_some_and(|n| total >= n) {
        tracing::info!(frames = total, "frame count reached");
        shared_stop(shared);
        return ControlFlow::Break(());
    }
    ControlFlow::Continue(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(seq: u64) -> Pending {
        Pending {
            meta: Video {
                sequence: seq,
                ..Default::default()
            },
            jpeg: vec![seq as u8; 4],
            received: Instant::now(),
        }
    }

    fn mailbox_with(ids: &[u32]) -> Mailbox {
        let m = Mailbox::default();
        for &id in ids {
            m.open_stream(Arc::new(StreamCell::new(id, format!("peer {id}"))));
        }
        m
    }

    fn frame(mail: Mail) -> (u32, u64) {
        match mail {
            Mail::Frame(cell, p) => (cell.id, p.meta.sequence),
            _ => panic!("expected a frame"),
        }
    }

    #[test]
    fn newer_frame_replaces_an_unshown_one_and_is_counted() {
        let m = mailbox_with(&[1]);
        m.put(1, pending(0));
        m.put(1, pending(1));
        m.put(1, pending(2));
        assert_eq!(frame(m.take(Duration::ZERO)), (1, 2));
        assert!(matches!(m.take(Duration::ZERO), Mail::Idle));
        let s = lock(&m.state);
        assert_eq!(lock(&s.slots[0].cell.counters).dropped, 2);
        // The replaced frames' buffers were kept for reuse.
        assert_eq!(s.slots[0].spare.len(), 2);
    }

    #[test]
    fn streams_are_served_oldest_first() {
        let m = mailbox_with(&[1, 2]);
        m.put(2, pending(20));
        std::thread::sleep(Duration::from_millis(2));
        m.put(1, pending(10));
        assert_eq!(frame(m.take(Duration::ZERO)), (2, 20));
        assert_eq!(frame(m.take(Duration::ZERO)), (1, 10));
    }

    #[test]
    fn an_ended_stream_is_reported_after_its_last_frame() {
        let m = mailbox_with(&[1]);
        m.put(1, pending(5));
        m.end_stream(1);
        assert_eq!(frame(m.take(Duration::ZERO)), (1, 5));
        assert!(matches!(m.take(Duration::ZERO), Mail::Ended(1)));
        assert!(matches!(m.take(Duration::ZERO), Mail::Idle));
    }

    #[test]
    fn closing_drains_pending_frames_then_reports_closed() {
        let m = mailbox_with(&[1, 2]);
        m.put(1, pending(1));
        m.put(2, pending(2));
        m.close();
        let mut got = vec![frame(m.take(Duration::ZERO)), frame(m.take(Duration::ZERO))];
        got.sort_unstable();
        assert_eq!(got, [(1, 1), (2, 2)]);
        assert!(matches!(m.take(Duration::from_secs(5)), Mail::Closed));
    }

    #[test]
    fn buffers_are_recycled_per_stream_and_bounded() {
        let m = mailbox_with(&[1]);
        for _ in 0..SPARE_BUFFERS + 2 {
            m.recycle(1, Vec::with_capacity(64));
        }
        m.recycle(9, Vec::new()); // an unknown stream: dropped
        for _ in 0..SPARE_BUFFERS {
            assert!(m.buffer(1).capacity() >= 64);
        }
        assert_eq!(m.buffer(1).capacity(), 0, "bin exhausted: a new buffer");
    }

    #[test]
    fn check_frame_accepts_jpeg_and_rejects_the_rest() {
        let jpeg = {
            let mut out = Vec::new();
            framecast_codec::SenderPipeline::new(framecast_codec::SenderConfig {
                width: 16,
                height: 16,
                quality: 80,
            })
            .unwrap()
            .encode(
                framecast_codec::ImageBuf::new(16, 16, framecast_codec::PixelFormat::Rgb8)
                    .as_image(),
                &mut out,
            )
            .unwrap();
            out
        };
        let ok = Video {
            video_data: bytes::Bytes::from(jpeg),
            ..Default::default()
        };
        assert!(check_frame(ok.encode_to_vec().into()).is_ok());
        assert!(check_frame(bytes::Bytes::from_static(&[0xFF; 8])).is_err());
        let rgb = Video {
            video_data: bytes::Bytes::from_static(&[0; 12]),
            format: PayloadFormat::Rgb24 as i32,
            ..Default::default()
        };
        let err = check_frame(rgb.encode_to_vec().into()).unwrap_err();
        assert!(err.contains("unsupported"), "{err}");
    }
}
