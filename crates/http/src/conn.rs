//! The viewer's network side: the accept loop and one task per HTTP
//! connection, on the receiver's runtime.
//!
//! ```text
//! accept ──▶ max_connections open? ──yes──▶ evict the oldest connection without a
//!    │ no                                    complete request with the token, else the
//!    │                                       one idle the longest (connections_evicted);
//!    │                                       those not read yet: wait until they are;
//!    │                                       none (all busy): close the new one at once
//!    │                                       (connections_refused); see `slots`
//!    ▼
//! socket: TCP_NODELAY, unsent bytes bounded (viewer_unsent_bytes),
//!         writes fail after write_timeout without progress
//!    ▼
//! HTTPS only: the TLS handshake within tls_handshake_timeout, or closed
//!    (tls_failures)
//!    ▼
//! hyper HTTP/1: request head within header_timeout (also the keep-alive
//!    idle time), at most max_request_head bytes and max_headers headers,
//!    at most HTTP_CONNECTION_BUFFER bytes buffered, writes vectored (frames
//!    are never copied into hyper's buffer)
//!    ▼
//! the routes (axum); an MJPEG part slower than part_timeout closes the
//! connection
//! ```
//!
//! Two thin layers around each connection's bytes (`meter`) tell an MJPEG
//! body when the previous part has left (hyper flushed its whole queue) and
//! let it ask for a smaller unsent allowance (`?quality=auto`).

use std::convert::Infallible;
use std::error::Error as _;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Body;
use framecast_net::Acceptor;
use hyper::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_io_timeout::TimeoutStream;
use tokio_util::task::TaskTracker;
use tower_service::Service as _;

use super::State;
use super::meter::{Meter, Metered, Tuned};
use super::mjpeg::PartClock;
use super::slots::{Admission, Place, Slot};
use crate::limits::HTTP_CONNECTION_BUFFER;

/// Kinds of log line, each rate-limited on its own.
const LOG_ACCEPT: usize = 0;
const LOG_REFUSED: usize = 1;
const LOG_TIMEOUT: usize = 2;
const LOG_SOCKET: usize = 3;
pub(super) const LOG_VIEWER: usize = 4;
pub(super) const LOG_AUTH: usize = 5;
const LOG_TLS: usize = 6;
const LOG_EVICTED: usize = 7;
/// Settings asked and refused (sharing the viewers' budget: the limiter
/// tells `LOG_KINDS` kinds apart).
pub(super) const LOG_SETTINGS: usize = LOG_VIEWER;

/// The client's address, among a request's extensions.
#[derive(Debug, Clone, Copy)]
pub(super) struct Peer(pub(super) SocketAddr);

/// Accepts connections until the viewer stops, then waits for every
/// connection task to end.
pub(super) async fn serve(state: Arc<State>, listener: TcpListener, app: Router) {
    let tracker = TaskTracker::new();
    let mut acceptor = Acceptor::new(listener);
    loop {
        let (sock, peer) = tokio::select! {
            biased;
            () = state.cancel.cancelled() => break,
            // Out of file descriptors and the like: logged, and the viewers
            // we have are served on while the acceptor waits.
            accepted = acceptor.accept(|error| {
                state.log(
                    LOG_ACCEPT,
                    tracing::Level::WARN,
                    format_args!("HTTP viewer cannot accept a connection: {error}"),
                );
            }) => accepted,
        };
        state.counters.connections.fetch_add(1, Ordering::Relaxed);
        // Every place taken by connections not read yet: accept nothing
        // more until one has been (the kernel queues the newcomers).
        let admitted = loop {
            match state.slots.admit(peer) {
                Admission::In(slot, evicted) => break Some((slot, evicted)),
                Admission::Full => break None,
                Admission::Wait => tokio::select! {
                    biased;
                    () = state.cancel.cancelled() => break None,
                    () = state.slots.changed() => {}
                },
            }
        };
        if state.cancel.is_cancelled() {
            break;
        }
        let Some((slot, evicted)) = admitted else {
            state
                .counters
                .connections_refused
                .fetch_add(1, Ordering::Relaxed);
            state.log(
                LOG_REFUSED,
                tracing::Level::INFO,
                format_args!(
                    "HTTP connection from {peer} closed: {} connections are open, the most \
                     allowed, all of them viewers or requests with the token",
                    state.config.connections()
                ),
            );
            drop(sock);
            continue;
        };
        if let Some(evicted) = evicted {
            state
                .counters
                .connections_evicted
                .fetch_add(1, Ordering::Relaxed);
            let why = if evicted.proven {
                "it was the one idle the longest"
            } else {
                "it had sent no complete request with the access token"
            };
            state.log(
                LOG_EVICTED,
                tracing::Level::INFO,
                format_args!(
                    "HTTP connection from {} closed to make room ({} connections are open, the \
                     most allowed): {why}",
                    evicted.peer,
                    state.config.connections()
                ),
            );
        }
        tracker.spawn(connection(
            Arc::clone(&state),
            sock,
            peer,
            app.clone(),
            slot,
        ));
    }
    tracker.close();
    tracker.wait().await;
}

/// Bounds what the kernel queues for this client: at most
/// `unsent` bytes the network has not taken yet.
fn tune(state: &State, sock: &TcpStream, unsent: usize, peer: SocketAddr) {
    // Each part goes out as soon as it is written.
    let nodelay = sock.set_nodelay(true);
    let sock = socket2::SockRef::from(sock);
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let bounded = sock.set_tcp_notsent_lowat(u32::try_from(unsent).unwrap_or(u32::MAX));
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let bounded = sock.set_send_buffer_size(unsent);
    if let Err(e) = nodelay.and(bounded) {
        state.log(
            LOG_SOCKET,
            tracing::Level::DEBUG,
            format_args!("cannot tune the HTTP connection from {peer}: {e}"),
        );
    }
}

/// Serves one connection (after its TLS handshake, for HTTPS) until it
/// closes, times out or the viewer stops.
async fn connection(state: Arc<State>, sock: TcpStream, peer: SocketAddr, app: Router, slot: Slot) {
    tune(&state, &sock, state.config.viewer_unsent_bytes, peer);
    // Read at once below (the TLS handshake or the request head): from
    // here on it may be evicted.
    slot.place().started();
    let meter = Arc::new(Meter::new());
    let sock = Tuned::new(sock, Arc::clone(&meter));
    let Some(acceptor) = state.tls.clone() else {
        return serve_http(state, sock, meter, peer, app, slot).await;
    };
    let limit = state.config.tls_handshake_timeout;
    let accepted = tokio::select! {
        biased;
        () = state.cancel.cancelled() => return,
        () = slot.evicted().cancelled() => return,
        accepted = tokio::time::timeout(limit, acceptor.accept(sock)) => accepted,
    };
    let why = match accepted {
        Ok(Ok(tls)) => return serve_http(state, tls, meter, peer, app, slot).await,
        Ok(Err(e)) => match framecast_tls::HandshakeFailure::of(&e) {
            Some(failure) => failure.to_string(),
            None => e.to_string(),
        },
        Err(_) => format!("no TLS handshake within {limit:?}"),
    };
    state.counters.tls_failures.fetch_add(1, Ordering::Relaxed);
    state.log(
        LOG_TLS,
        tracing::Level::INFO,
        format_args!("HTTPS connection from {peer} closed: {why}"),
    );
}

/// Serves HTTP on one connection's byte stream, until it ends or is
/// evicted to make room for another.
async fn serve_http<S>(
    state: Arc<State>,
    sock: S,
    meter: Arc<Meter>,
    peer: SocketAddr,
    app: Router,
    slot: Slot,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let config = &state.config;
    let mut io = TimeoutStream::new(sock);
    io.set_write_timeout(Some(config.write_timeout));
    let io = TokioIo::new(Metered::new(Box::pin(io), Arc::clone(&meter)));

    // The MJPEG handler finds the connection's part clock and meter among
    // the request's extensions, the access check its place.
    let clock = Arc::new(PartClock::new());
    let service = {
        let clock = Arc::clone(&clock);
        let place = slot.place();
        hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(Arc::clone(&clock));
            request.extensions_mut().insert(Arc::clone(&meter));
            request.extensions_mut().insert(place.clone());
            request.extensions_mut().insert(Peer(peer));
            let response = app.clone().call(request);
            let place = place.clone();
            async move {
                // The request ends when its response body has been sent
                // (or the connection closed): the body is dropped then.
                let response = response.await?;
                Ok::<_, Infallible>(response.map(|body| Body::new(Ending::new(body, place))))
            }
        })
    };
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        .max_header_size(config.max_request_head)
        .max_headers(config.max_headers)
        .max_buf_size(HTTP_CONNECTION_BUFFER.max(config.max_request_head))
        .writev(true);
    let mut conn = pin!(http.serve_connection(io, service));
    let mut overdue = pin!(clock.overdue(config.part_timeout));
    let mut stopping = false;
    let result = loop {
        tokio::select! {
            result = conn.as_mut() => break result,
            () = slot.evicted().cancelled() => return,
            () = state.cancel.cancelled(), if !stopping => {
                // MJPEG bodies end on the same signal; other responses
                // finish, then the connection closes.
                conn.as_mut().graceful_shutdown();
                stopping = true;
            }
            () = overdue.as_mut() => {
                state.counters.part_timeouts.fetch_add(1, Ordering::Relaxed);
                state.log(
                    LOG_TIMEOUT,
                    tracing::Level::INFO,
                    format_args!(
                        "HTTP viewer {peer} closed: one frame took over {:?} to send",
                        config.part_timeout
                    ),
                );
                return;
            }
        }
    };
    let Err(e) = result else { return };
    if e.is_timeout() {
        state
            .counters
            .header_timeouts
            .fetch_add(1, Ordering::Relaxed);
        state.log(
            LOG_TIMEOUT,
            tracing::Level::DEBUG,
            format_args!(
                "HTTP connection from {peer} closed: no request within {:?}",
                config.header_timeout
            ),
        );
    } else if write_timed_out(&e) {
        state
            .counters
            .write_timeouts
            .fetch_add(1, Ordering::Relaxed);
        state.log(
            LOG_TIMEOUT,
            tracing::Level::INFO,
            format_args!(
                "HTTP connection from {peer} closed: it stopped reading for {:?}",
                config.write_timeout
            ),
        );
    } else {
        // Clients closing mid-response, bad requests (answered by hyper).
        tracing::debug!("HTTP connection from {peer} ended: {e}");
    }
}

/// Whether `e` is a write that made no progress within the write timeout.
fn write_timed_out(e: &hyper::Error) -> bool {
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            return io.kind() == io::ErrorKind::TimedOut;
        }
        source = s.source();
    }
    false
}

/// A response body that tells the connection's place its request ended
/// when it is dropped: hyper drops it once the last byte is written, or
/// when the connection closes.
struct Ending {
    body: Body,
    place: Place,
}

impl Ending {
    fn new(body: Body, place: Place) -> Self {
        Self { body, place }
    }
}

impl Drop for Ending {
    fn drop(&mut self) {
        self.place.done();
    }
}

impl http_body::Body for Ending {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
