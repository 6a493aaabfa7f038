//! Connection limits: the [`Registry`] of open connections (a cap enforced
//! at accept), the [`Conn`] I/O type that closes itself when idle or evicted,
//! and [`InFlightLayer`], which tells a connection when it has requests in
//! flight.
//!
//! A connection is *idle* while it has no request in flight: from accept
//! (or TLS handshake) to its first request, and between requests. Idle
//! connections are what an attacker holds open cheaply, so:
//! - once [`ServerConfig::max_connections`](crate::ServerConfig) are open,
//!   a new connection closes the connection idle the longest to make room
//!   (a client with a request in flight is never cut off); if none is idle,
//!   the new connection is refused;
//! - a connection idle for [`ServerConfig::idle_timeout`](crate::ServerConfig)
//!   is closed.
//!
//! Each of these is logged with the peer's address, at most once per
//! [`LOG_EVERY`](crate::throttle::LOG_EVERY) with a count of the rest.

use std::{
    collections::HashMap,
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    sync::Notify,
    time::{Instant, Sleep},
};
use tokio_rustls::server::TlsStream;
use tonic::transport::server::Connected;
use tower_layer::Layer;
use tower_service::Service;

use crate::throttle::{KeyedThrottle, Throttle};
use crate::util::lock;

/// How long a new connection waits, at the cap, for the idle connection it
/// evicted to close before it is refused instead: one second.
const EVICTION_WAIT: Duration = Duration::from_secs(1);

/// Every open connection, and the cap on their number.
#[derive(Debug)]
pub(crate) struct Registry {
    conns: Mutex<HashMap<u64, Arc<ConnState>>>,
    max: usize,
    next_id: AtomicU64,
    /// Signalled whenever a connection is removed.
    released: Notify,
    pub(crate) evicted_log: Throttle,
    pub(crate) refused_log: Throttle,
    pub(crate) idle_log: Throttle,
    pub(crate) handshake_log: KeyedThrottle,
    pub(crate) streams_log: Throttle,
    pub(crate) accept_log: Throttle,
}

/// What a connection shares with the registry and the request layer.
#[derive(Debug)]
pub(crate) struct ConnState {
    pub(crate) peer: SocketAddr,
    /// Requests whose response has not been sent in full.
    in_flight: AtomicUsize,
    /// When the last request started or ended (or the connection opened).
    last_active: Mutex<Instant>,
    /// Set when the connection must close (evicted).
    closing: AtomicBool,
    /// Wakes the connection's I/O so that it notices `closing`.
    waker: AtomicWaker,
    /// Wakes a TLS handshake in progress so that it notices `closing`.
    close_handshake: Notify,
    /// Whether hitting the stream cap was logged for this connection.
    streams_logged: AtomicBool,
}

impl ConnState {
    fn new(peer: SocketAddr) -> Self {
        Self {
            peer,
            in_flight: AtomicUsize::new(0),
            last_active: Mutex::new(Instant::now()),
            closing: AtomicBool::new(false),
            waker: AtomicWaker::new(),
            close_handshake: Notify::new(),
            streams_logged: AtomicBool::new(false),
        }
    }

    fn last_active(&self) -> Instant {
        *lock(&self.last_active)
    }

    fn touch(&self) {
        *lock(&self.last_active) = Instant::now();
    }

    fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
    }

    /// Asks the connection to close.
    fn close(&self) {
        self.closing.store(true, Ordering::Release);
        self.waker.wake();
        self.close_handshake.notify_one();
    }

    fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Completes when the connection is asked to close; for the TLS
    /// handshake, which has no `poll_read` of ours to notice it.
    pub(crate) async fn closed(&self) {
        while !self.is_closing() {
            self.close_handshake.notified().await;
        }
    }
}

impl Registry {
    pub(crate) fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            conns: Mutex::new(HashMap::new()),
            max: max.max(1),
            next_id: AtomicU64::new(0),
            released: Notify::new(),
            evicted_log: Throttle::default(),
            refused_log: Throttle::default(),
            idle_log: Throttle::default(),
            handshake_log: KeyedThrottle::default(),
            streams_log: Throttle::default(),
            accept_log: Throttle::default(),
        })
    }

    /// How many connections are open.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        lock(&self.conns).len()
    }

    /// Admits a connection from `peer`, making room at the cap by closing
    /// the connection idle the longest; `None` (logged) if every connection
    /// is busy.
    pub(crate) async fn admit(self: &Arc<Self>, peer: SocketAddr) -> Option<Slot> {
        for _ in 0..2 {
            // Registered before the eviction, so the release cannot be missed.
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            {
                let mut conns = lock(&self.conns);
                if conns.len() < self.max {
                    return Some(self.insert(&mut conns, peer));
                }
                let victim = conns
                    .values()
                    .filter(|c| c.is_idle() && !c.is_closing())
                    .min_by_key(|c| c.last_active())
                    .cloned();
                let Some(victim) = victim else {
                    drop(conns);
                    if let Some(held) = self.refused_log.allow() {
                        tracing::warn!(
                            %peer,
                            limit = self.max,
                            refused_since_last_report = held,
                            "connection limit reached and every connection has a request in flight: refusing the new connection"
                        );
                    }
                    return None;
                };
                victim.close();
                if let Some(held) = self.evicted_log.allow() {
                    tracing::warn!(
                        %peer,
                        closed = %victim.peer,
                        limit = self.max,
                        evicted_since_last_report = held,
                        "connection limit reached: closing the connection idle the longest to admit a new one"
                    );
                }
            }
            // Closing any connection (the victim or another) frees a place.
            let _ = tokio::time::timeout(EVICTION_WAIT, released).await;
        }
        let mut conns = lock(&self.conns);
        if conns.len() < self.max {
            return Some(self.insert(&mut conns, peer));
        }
        drop(conns);
        if let Some(held) = self.refused_log.allow() {
            tracing::warn!(%peer, limit = self.max, refused_since_last_report = held,
                "connection limit reached: refusing the new connection");
        }
        None
    }

    fn insert(
        self: &Arc<Self>,
        conns: &mut HashMap<u64, Arc<ConnState>>,
        peer: SocketAddr,
    ) -> Slot {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(ConnState::new(peer));
        conns.insert(id, Arc::clone(&state));
        Slot {
            registry: Arc::clone(self),
            state,
            id,
        }
    }

    /// Closes the connection idle the longest, to free a file descriptor
    /// when the process has none left; whether there was one.
    pub(crate) fn evict_one(&self) -> bool {
        let conns = lock(&self.conns);
        let victim = conns
            .values()
            .filter(|c| c.is_idle() && !c.is_closing())
            .min_by_key(|c| c.last_active());
        match victim {
            Some(v) => {
                v.close();
                true
            }
            None => false,
        }
    }
}

/// A connection's place in the registry; dropping it frees the place.
#[derive(Debug)]
pub(crate) struct Slot {
    registry: Arc<Registry>,
    pub(crate) state: Arc<ConnState>,
    id: u64,
}

impl Slot {
    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        lock(&self.registry.conns).remove(&self.id);
        self.registry.released.notify_waiters();
    }
}

/// The transport under one connection.
#[derive(Debug)]
pub(crate) enum Io {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// One accepted connection, handed to tonic: closes itself (its reads end)
/// when evicted or when idle for too long.
#[derive(Debug)]
pub(crate) struct Conn {
    io: Io,
    info: ConnInfo,
    idle: Option<(Duration, Pin<Box<Sleep>>)>,
    slot: Slot,
}

/// What tonic puts in every request's extensions for this connection.
#[derive(Clone, Debug)]
pub(crate) struct ConnInfo {
    pub(crate) peer: SocketAddr,
    pub(crate) state: Arc<ConnState>,
    pub(crate) registry: Arc<Registry>,
}

impl Conn {
    pub(crate) fn new(io: Io, slot: Slot, idle_timeout: Option<Duration>) -> Self {
        slot.state.touch();
        let info = ConnInfo {
            peer: slot.state.peer,
            state: Arc::clone(&slot.state),
            registry: Arc::clone(&slot.registry),
        };
        Self {
            io,
            info,
            idle: idle_timeout.map(|t| (t, Box::pin(tokio::time::sleep(t)))),
            slot,
        }
    }

    /// Whether the connection must end now: evicted, or idle past the
    /// timeout. Registers the task for both.
    fn must_close(&mut self, cx: &mut Context<'_>) -> bool {
        let state = &self.slot.state;
        state.waker.register(cx.waker());
        if state.is_closing() {
            return true;
        }
        let Some((timeout, sleep)) = &mut self.idle else {
            return false;
        };
        while sleep.as_mut().poll(cx).is_ready() {
            let now = Instant::now();
            let deadline = if state.is_idle() {
                state.last_active() + *timeout
            } else {
                now + *timeout
            };
            if deadline <= now {
                if let Some(held) = self.slot.registry.idle_log.allow() {
                    tracing::info!(
                        peer = %state.peer,
                        idle_timeout = ?timeout,
                        closed_since_last_report = held,
                        "closing an idle connection: no request within the idle timeout"
                    );
                }
                state.closing.store(true, Ordering::Release);
                return true;
            }
            sleep.as_mut().reset(deadline);
        }
        false
    }
}

impl Connected for Conn {
    type ConnectInfo = ConnInfo;

    fn connect_info(&self) -> ConnInfo {
        self.info.clone()
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.must_close(cx) {
            // End of stream: the HTTP/2 connection ends and drops us.
            return Poll::Ready(Ok(()));
        }
        match &mut this.io {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            Io::Plain(s) => s.is_write_vectored(),
            Io::Tls(s) => s.is_write_vectored(),
        }
    }
}

/// Counts each connection's requests in flight, from the request's arrival
/// to the end of its response body, and logs a connection that reaches the
/// per-connection stream cap.
#[derive(Clone, Copy, Debug)]
pub(crate) struct InFlightLayer {
    max_streams: u32,
}

impl InFlightLayer {
    pub(crate) fn new(max_streams: u32) -> Self {
        Self { max_streams }
    }
}

impl<S> Layer<S> for InFlightLayer {
    type Service = InFlight<S>;

    fn layer(&self, inner: S) -> InFlight<S> {
        InFlight {
            inner,
            max_streams: self.max_streams,
        }
    }
}

/// See [`InFlightLayer`].
#[derive(Clone, Debug)]
pub(crate) struct InFlight<S> {
    inner: S,
    max_streams: u32,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> Service<http::Request<B>> for InFlight<S>
where
    S: Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
    RB: HttpBody<Data = Bytes> + Send + Unpin + 'static,
    RB::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let guard = request
            .extensions()
            .get::<ConnInfo>()
            .map(|info| RequestGuard::begin(info, self.max_streams));
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| tonic::body::Body::new(Guarded { body, guard })))
        })
    }
}

/// One request in flight on a connection.
#[derive(Debug)]
struct RequestGuard {
    state: Arc<ConnState>,
}

impl RequestGuard {
    fn begin(info: &ConnInfo, max_streams: u32) -> Self {
        let state = &info.state;
        state.touch();
        let now = state.in_flight.fetch_add(1, Ordering::AcqRel) + 1;
        if now >= max_streams as usize
            && !state.streams_logged.swap(true, Ordering::Relaxed)
            && let Some(held) = info.registry.streams_log.allow()
        {
            tracing::warn!(
                peer = %info.peer,
                limit = max_streams,
                others_since_last_report = held,
                "a connection reached its limit of concurrent requests; its further requests wait"
            );
        }
        Self {
            state: Arc::clone(state),
        }
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.state.touch();
        self.state.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that ends its request's [`RequestGuard`] when dropped.
struct Guarded<B> {
    body: B,
    guard: Option<RequestGuard>,
}

impl<B> HttpBody for Guarded<B>
where
    B: HttpBody + Unpin,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl<B> std::fmt::Debug for Guarded<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guarded")
            .field("guard", &self.guard)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[tokio::test(start_paused = true)]
    async fn the_cap_evicts_the_longest_idle_and_spares_busy_ones() {
        let registry = Registry::new(2);
        let a = registry.admit(peer(1)).await.unwrap();
        tokio::time::advance(Duration::from_secs(1)).await;
        let b = registry.admit(peer(2)).await.unwrap();
        // `a` is busy: it must not be the victim even though it is older.
        a.state.in_flight.fetch_add(1, Ordering::AcqRel);
        let admit = tokio::spawn({
            let registry = Arc::clone(&registry);
            async move { registry.admit(peer(3)).await }
        });
        tokio::task::yield_now().await;
        assert!(
            b.state.is_closing(),
            "the idle connection was asked to close"
        );
        assert!(!a.state.is_closing());
        drop(b);
        let c = admit.await.unwrap().expect("admitted once b closed");
        assert_eq!(registry.len(), 2);

        // Everyone busy: refused.
        c.state.in_flight.fetch_add(1, Ordering::AcqRel);
        assert!(registry.admit(peer(4)).await.is_none());
        assert_eq!(registry.len(), 2);
        drop(a);
        assert!(registry.admit(peer(5)).await.is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn an_evicted_connection_that_does_not_close_gets_the_newcomer_refused() {
        let registry = Registry::new(1);
        let _stuck = registry.admit(peer(1)).await.unwrap();
        let started = Instant::now();
        assert!(registry.admit(peer(2)).await.is_none());
        // Bounded: two waits of EVICTION_WAIT at most.
        assert!(started.elapsed() <= EVICTION_WAIT * 2);
    }
}
