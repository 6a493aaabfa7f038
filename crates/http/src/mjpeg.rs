//! The MJPEG response body: one viewer's view of one stream.
//!
//! ```text
//! --B␍␊ Content-Type: image/jpeg␍␊ Content-Length: N␍␊ ␍␊ <JPEG, N bytes> ␍␊--B␍␊
//!       Content-Type: image/jpeg␍␊ Content-Length: M␍␊ ␍␊ <JPEG, M bytes> ␍␊--B␍␊ ...
//! └──────────────── header (per-viewer buffer) ─────────┘ └ shared Bytes ┘ └static┘
//! ```
//!
//! The boundary follows each JPEG at once (as mjpg-streamer does), so a
//! browser shows a frame as soon as it has arrived rather than when the
//! next one starts. hyper asks the body for more only when its connection
//! buffer has room ([`HTTP_CONNECTION_BUFFER`](crate::limits::HTTP_CONNECTION_BUFFER));
//! the body then hands over the newest frame from the stream's watch, so a
//! viewer that cannot keep up skips frames instead of queueing them.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use framecast_stream::{Frame, StreamId};
use tokio::sync::{OwnedSemaphorePermit, watch};
use tokio_stream::Stream;
use tokio_stream::wrappers::WatchStream;
use tokio_util::sync::WaitForCancellationFutureOwned;

use super::{State, lock, millis_since};

/// The boundary, as a literal (for `concat!`).
macro_rules! boundary {
    () => {
        "framecast-mjpeg-part-boundary"
    };
}
pub(crate) use boundary;

/// What follows every JPEG: the delimiter that ends its part and opens the
/// next.
const DELIMITER: &[u8] = concat!("\r\n--", boundary!(), "\r\n").as_bytes();

/// What opens the response.
const OPENING: &str = concat!("--", boundary!(), "\r\n");

/// Room for the longest part header (the opening, the two headers, a
/// 20-digit length).
const HEADER_ROOM: usize = 128;

/// When the part being written to a viewer started: the connection task
/// closes the viewer when one part takes longer than `part_timeout`.
#[derive(Debug)]
pub(crate) struct PartClock {
    epoch: Instant,
    /// Milliseconds since `epoch` plus one when the current part started;
    /// 0 while no part is being written.
    started: AtomicU64,
}

impl PartClock {
    pub(crate) fn new() -> Self {
        Self {
            epoch: Instant::now(),
            started: AtomicU64::new(0),
        }
    }

    fn start(&self) {
        self.started.store(
            millis_since(self.epoch).saturating_add(1),
            Ordering::Relaxed,
        );
    }

    fn done(&self) {
        self.started.store(0, Ordering::Relaxed);
    }

    /// Completes once a part has been in flight for `limit`; wakes about
    /// once per `limit` otherwise.
    pub(crate) async fn overdue(&self, limit: std::time::Duration) {
        let limit_ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
        loop {
            let wait = match self.started.load(Ordering::Relaxed) {
                0 => limit_ms,
                s => (s - 1)
                    .saturating_add(limit_ms)
                    .saturating_sub(millis_since(self.epoch)),
            };
            tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
            let s = self.started.load(Ordering::Relaxed);
            if s != 0 && millis_since(self.epoch) >= (s - 1).saturating_add(limit_ms) {
                return;
            }
        }
    }
}

/// One viewer's place: the permit that counts it against `max_viewers`,
/// and its entry in the per-stream counts. Both are given back on drop.
pub(crate) struct Viewer {
    state: Arc<State>,
    stream: StreamId,
    _permit: OwnedSemaphorePermit,
}

impl Viewer {
    pub(crate) fn new(state: Arc<State>, stream: StreamId, permit: OwnedSemaphorePermit) -> Self {
        *lock(&state.per_stream).entry(stream).or_insert(0) += 1;
        Self {
            state,
            stream,
            _permit: permit,
        }
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        let mut per_stream = lock(&self.state.per_stream);
        if let Some(n) = per_stream.get_mut(&self.stream) {
            *n -= 1;
            if *n == 0 {
                per_stream.remove(&self.stream);
            }
        }
    }
}

enum Next {
    /// The next frame from the watch.
    Frame,
    /// The JPEG whose header was just given.
    Jpeg,
    /// The delimiter after the JPEG.
    Delimiter,
}

/// The endless body of `GET /streams/{id}.mjpg`. It ends when the stream
/// ends (its watch closes) or the viewer stops.
pub(crate) struct MjpegBody {
    frames: WatchStream<Option<Frame>>,
    next: Next,
    jpeg: Bytes,
    /// Part headers are written here and split off; once hyper has sent
    /// and dropped a header, its room is reused for the next one.
    head: BytesMut,
    opened: bool,
    stop: Pin<Box<WaitForCancellationFutureOwned>>,
    clock: Option<Arc<PartClock>>,
    viewer: Viewer,
}

impl MjpegBody {
    pub(crate) fn new(
        frames: watch::Receiver<Option<Frame>>,
        viewer: Viewer,
        clock: Option<Arc<PartClock>>,
    ) -> Self {
        Self {
            frames: WatchStream::new(frames),
            next: Next::Frame,
            jpeg: Bytes::new(),
            head: BytesMut::with_capacity(2 * HEADER_ROOM),
            opened: false,
            stop: Box::pin(viewer.state.cancel.clone().cancelled_owned()),
            clock,
            viewer,
        }
    }

    fn header(&mut self, len: usize) -> Bytes {
        // Reclaims the buffer's room when the previous header was dropped.
        self.head.reserve(HEADER_ROOM);
        if !self.opened {
            self.head.extend_from_slice(OPENING.as_bytes());
            self.opened = true;
        }
        // Writing to a BytesMut cannot fail.
        let _ = write!(
            self.head,
            "Content-Type: image/jpeg\r\nContent-Length: {len}\r\n\r\n"
        );
        self.head.split().freeze()
    }
}

impl http_body::Body for MjpegBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        let data = |b: Bytes| Poll::Ready(Some(Ok(http_body::Frame::data(b))));
        match this.next {
            Next::Jpeg => {
                this.next = Next::Delimiter;
                return data(std::mem::take(&mut this.jpeg));
            }
            Next::Delimiter => {
                this.next = Next::Frame;
                if let Some(clock) = &this.clock {
                    clock.done();
                }
                this.viewer
                    .state
                    .counters
                    .parts
                    .fetch_add(1, Ordering::Relaxed);
                return data(Bytes::from_static(DELIMITER));
            }
            Next::Frame => {}
        }
        if this.stop.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        loop {
            match ready!(Pin::new(&mut this.frames).poll_next(cx)) {
                // The stream ended: its watch closed.
                None => return Poll::Ready(None),
                // No frame yet.
                Some(None) => {}
                Some(Some(frame)) => {
                    let header = this.header(frame.jpeg().len());
                    this.jpeg = frame.jpeg().clone();
                    this.next = Next::Jpeg;
                    if let Some(clock) = &this.clock {
                        clock.start();
                    }
                    return data(header);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_frame_every_part() {
        assert_eq!(
            DELIMITER,
            b"\r\n--framecast-mjpeg-part-boundary\r\n".as_slice()
        );
        // The longest header fits its room.
        let longest = OPENING.len()
            + "Content-Type: image/jpeg\r\nContent-Length: \r\n\r\n".len()
            + u64::MAX.to_string().len();
        assert!(longest <= HEADER_ROOM, "{longest}");
    }
}
