//! How fast one connection drains: what an MJPEG body needs to hand over
//! a frame only when the previous one has left, and what `?quality=auto`
//! measures a link by.
//!
//! ```text
//!  hyper ──writes──▶ Metered (counts flushes) ──▶ [TLS] ──▶ Tuned (sets the
//!    ▲                   │ hyper flushes only once      socket's unsent
//!    │ polls the body    │ its whole queue is written:  allowance the body
//!    └── woken ◀─────────┘ "the previous part has left" asks for) ──▶ socket
//! ```
//!
//! hyper calls its connection's `poll_flush` only once everything it had
//! queued is written, so a flush after a part was handed over means the
//! part is in the kernel, with at most the socket's unsent allowance
//! (`TCP_NOTSENT_LOWAT`) not yet on the network. The body waits for that
//! before taking the newest frame: a frame is chosen when the link can take
//! it, never queued behind another. The time from handing a part over to
//! that flush is the part's drain time.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// One connection's drain signal, shared by its MJPEG body (through the
/// request's extensions) and its byte stream.
#[derive(Debug)]
pub(crate) struct Meter {
    epoch: Instant,
    /// Flushes completed: each one means everything written before it has
    /// been taken by the socket.
    flushes: AtomicU64,
    /// When the last flush completed, µs since `epoch`.
    flushed_at: AtomicU64,
    /// The body waiting for the next flush.
    waiter: Mutex<Option<Waker>>,
    /// The unsent allowance the body asks for (bytes); 0: as configured.
    unsent: AtomicU32,
}

impl Meter {
    pub(crate) fn new() -> Self {
        Self {
            epoch: Instant::now(),
            flushes: AtomicU64::new(0),
            flushed_at: AtomicU64::new(0),
            waiter: Mutex::new(None),
            unsent: AtomicU32::new(0),
        }
    }

    /// Microseconds since this connection's meter was made.
    pub(crate) fn now_us(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Flushes completed so far.
    pub(crate) fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Acquire)
    }

    /// When the last flush completed (µs, [`now_us`](Self::now_us)'s clock).
    pub(crate) fn flushed_at(&self) -> u64 {
        self.flushed_at.load(Ordering::Acquire)
    }

    /// Wakes `waker` at the next flush.
    pub(crate) fn wait(&self, waker: &Waker) {
        let mut w = self
            .waiter
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match w.as_ref() {
            Some(old) if old.will_wake(waker) => {}
            _ => *w = Some(waker.clone()),
        }
    }

    /// Asks the socket to hold at most `bytes` unsent (applied at the next
    /// write).
    pub(crate) fn set_unsent(&self, bytes: u32) {
        self.unsent.store(bytes, Ordering::Relaxed);
    }

    fn flushed(&self) {
        self.flushed_at.store(self.now_us(), Ordering::Release);
        self.flushes.fetch_add(1, Ordering::AcqRel);
        let waiter = self
            .waiter
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(w) = waiter {
            w.wake();
        }
    }
}

/// The byte stream hyper writes to: counts its completed flushes.
pub(crate) struct Metered<S> {
    inner: S,
    meter: std::sync::Arc<Meter>,
}

impl<S> Metered<S> {
    pub(crate) fn new(inner: S, meter: std::sync::Arc<Meter>) -> Self {
        Self { inner, meter }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Metered<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Metered<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let done = Pin::new(&mut self.inner).poll_flush(cx);
        if let Poll::Ready(Ok(())) = done {
            self.meter.flushed();
        }
        done
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The TCP socket: applies the unsent allowance the body asks for.
pub(crate) struct Tuned {
    inner: TcpStream,
    meter: std::sync::Arc<Meter>,
    applied: u32,
}

impl Tuned {
    pub(crate) fn new(inner: TcpStream, meter: std::sync::Arc<Meter>) -> Self {
        Self {
            inner,
            meter,
            applied: 0,
        }
    }

    fn tune(&mut self) {
        let want = self.meter.unsent.load(Ordering::Relaxed);
        if want != 0 && want != self.applied {
            self.applied = want;
            #[cfg(any(target_os = "linux", target_os = "android"))]
            let set = socket2::SockRef::from(&self.inner).set_tcp_notsent_lowat(want);
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            let set = socket2::SockRef::from(&self.inner).set_send_buffer_size(want as usize);
            if let Err(e) = set {
                tracing::debug!("cannot change a viewer's unsent allowance: {e}");
            }
        }
    }
}

impl AsyncRead for Tuned {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tuned {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.tune();
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.tune();
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
