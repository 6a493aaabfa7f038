//! [`serve`]: the catalog's gRPC server, with health and reflection, TLS,
//! token authentication and connection limits.

use std::{fmt, future::Future, io, net::SocketAddr, pin::pin, sync::Arc, time::Duration};

use framecast_net::Acceptor;
use framecast_proto::ecommerce::{FILE_DESCRIPTOR_SET, product_info_server::ProductInfoServer};
use framecast_tls::{HandshakeFailure, Token};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{mpsc, oneshot},
};
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{service::interceptor::InterceptedService, transport::Server};
use tonic_health::ServingStatus;

use crate::{
    ProductInfoService, ProductStore, ServeError,
    auth::TokenCheck,
    conn::{Conn, InFlightLayer, Io, Registry, Slot},
    deadline::DeadlineLayer,
};

/// Default for [`ServerConfig::max_request_bytes`]: 64 KiB, room for the
/// largest product the default [`RequestLimits`](crate::RequestLimits) allow (under 5 KiB)
/// and for any reflection or health request.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 64 * 1024;

/// Default for [`ServerConfig::max_request_duration`]: 30 seconds.
pub const DEFAULT_MAX_REQUEST_DURATION: Duration = Duration::from_secs(30);

/// Default for [`ServerConfig::max_concurrent_streams`]: 256 requests in
/// flight per connection.
pub const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 256;

/// Default for [`ServerConfig::shutdown_grace`]: 10 seconds.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Default for [`ServerConfig::max_connections`]: 1024 open connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// Default for [`ServerConfig::idle_timeout`]: 60 seconds.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Default for [`ServerConfig::handshake_timeout`]: 10 seconds.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Default for [`ServerConfig::keepalive_interval`]: 60 seconds.
pub const DEFAULT_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(60);

/// Default for [`ServerConfig::keepalive_timeout`]: 20 seconds.
pub const DEFAULT_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// How [`serve`] runs the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The largest request message accepted, in bytes, checked before it is
    /// decoded. A larger one is refused with tonic's code for it,
    /// `OUT_OF_RANGE` (where the gRPC spec suggests `RESOURCE_EXHAUSTED`).
    pub max_request_bytes: usize,
    /// The longest any request may run; a request also ends at the client's
    /// own deadline (`grpc-timeout`) if that is sooner. Either way the client
    /// gets `DEADLINE_EXCEEDED`. `None`: only client deadlines apply.
    ///
    /// A write whose deadline expires may still complete: the client cannot
    /// tell, as with any gRPC server.
    pub max_request_duration: Option<Duration>,
    /// The most requests in flight on one HTTP/2 connection (announced to
    /// clients in HTTP/2 settings; their further requests wait). A
    /// connection that reaches it is logged.
    pub max_concurrent_streams: u32,
    /// The most connections open at once, TLS handshakes included. At the
    /// cap, a new connection closes the connection idle the longest (no
    /// request in flight) to take its place, or is refused if every
    /// connection is busy. Both are logged with the peer. Keep it below the
    /// process's open-file limit.
    pub max_connections: usize,
    /// How long a connection may stay without a request in flight (from
    /// accept to its first request, and between requests) before it is
    /// closed (logged). `None`: idle connections stay until evicted.
    pub idle_timeout: Option<Duration>,
    /// The longest a TLS handshake may take; a client that does not finish
    /// in time is disconnected (logged).
    pub handshake_timeout: Duration,
    /// How often an HTTP/2 PING checks that a connection's peer is still
    /// there. `None`: never.
    pub keepalive_interval: Option<Duration>,
    /// How long a PING may go unanswered before the connection is closed.
    pub keepalive_timeout: Duration,
    /// How long [`serve`] waits, after its shutdown signal, for requests in
    /// flight to finish. After that it returns and leaves what is still open
    /// to end with the runtime.
    pub shutdown_grace: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            max_request_duration: Some(DEFAULT_MAX_REQUEST_DURATION),
            max_concurrent_streams: DEFAULT_MAX_CONCURRENT_STREAMS,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            keepalive_interval: Some(DEFAULT_KEEPALIVE_INTERVAL),
            keepalive_timeout: DEFAULT_KEEPALIVE_TIMEOUT,
        }
    }
}

/// The name health checks use for the product service.
pub const SERVICE_NAME: &str = "ecommerce.ProductInfo";

/// Who may use the server: TLS, and the token clients must present.
///
/// The default is plaintext with no token, for loopback. Health checks
/// (`grpc.health.v1.Health`) never need the token, so that load balancers
/// can probe the server; the product service and reflection do.
///
/// ```
/// use framecast_catalog::{Access, MemoryStore, ProductInfoService, ServerConfig, serve_with};
/// use framecast_proto::ecommerce::{ProductId, product_info_client::ProductInfoClient};
/// use framecast_tls::Token;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let token = Token::new("a-long-enough-secret")?;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let url = format!("http://{}", listener.local_addr()?);
/// let access = Access::new().with_token(token.clone());
/// let service = ProductInfoService::new(MemoryStore::new());
/// tokio::spawn(serve_with(listener, service, ServerConfig::default(), access, std::future::pending()));
///
/// let channel = tonic::transport::Channel::from_shared(url)?.connect().await?;
/// let mut client = ProductInfoClient::new(channel);
/// let id = ProductId { value: "sku-1".into() };
/// let refused = client.get_product(id.clone()).await.unwrap_err();
/// assert_eq!(refused.code(), tonic::Code::Unauthenticated);
///
/// let mut request = tonic::Request::new(id);
/// request.metadata_mut().insert("authorization", token.bearer().parse()?);
/// let missing = client.get_product(request).await.unwrap_err();
/// assert_eq!(missing.code(), tonic::Code::NotFound); // in, and no such product
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct Access {
    /// The TLS configuration; `None` serves plaintext HTTP/2. If it offers
    /// no ALPN protocol, `h2` is offered (gRPC clients require it).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The token every request but health checks must bear, as
    /// `authorization: Bearer <token>`; `None` lets everyone in.
    pub token: Option<Token>,
}

impl Access {
    /// Plaintext, no token.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves TLS with `config`.
    pub fn with_tls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Requires `token`.
    pub fn with_token(mut self, token: Token) -> Self {
        self.token = Some(token);
        self
    }
}

impl fmt::Debug for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Access")
            .field("tls", &self.tls.is_some())
            .field("token", &self.token.is_some())
            .finish()
    }
}

/// Serves `service` on `listener` until `shutdown` completes, in plaintext
/// and without authentication: [`serve_with`] and [`Access::new`].
pub async fn serve<S, F>(
    listener: TcpListener,
    service: ProductInfoService<S>,
    config: ServerConfig,
    shutdown: F,
) -> Result<(), ServeError>
where
    S: ProductStore,
    F: Future<Output = ()> + Send,
{
    serve_with(listener, service, config, Access::new(), shutdown).await
}

/// Serves `service` on `listener` until `shutdown` completes.
///
/// Beside `ecommerce.ProductInfo` it serves `grpc.health.v1.Health` (the
/// server, `""`, and [`SERVICE_NAME`] report `SERVING`) and server
/// reflection in both `grpc.reflection.v1` and `grpc.reflection.v1alpha`,
/// describing all three services, so stock tools work without the `.proto`
/// file. Every service has the request-size cap and deadlines of `config`;
/// every connection its limits (see [`ServerConfig`]). With a token in
/// `access`, the product service and reflection answer requests without it
/// `UNAUTHENTICATED`; health stays open.
///
/// When `shutdown` completes, health turns to `NOT_SERVING` (and health
/// watch streams end), the listener closes, requests in flight get up to
/// [`ServerConfig::shutdown_grace`] to finish, and `serve` returns.
pub async fn serve_with<S, F>(
    listener: TcpListener,
    service: ProductInfoService<S>,
    config: ServerConfig,
    access: Access,
    shutdown: F,
) -> Result<(), ServeError>
where
    S: ProductStore,
    F: Future<Output = ()> + Send,
{
    let max = config.max_request_bytes;
    let (mut health, health_service) = tonic_health::server::health_reporter();
    health
        .set_service_status(SERVICE_NAME, ServingStatus::Serving)
        .await;

    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            // Each reflection service describes itself by default; describe
            // both, so either version lists everything served.
            .include_reflection_service(false)
            .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(
                tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
            )
    };
    let reflection_v1 = reflection().build_v1()?.max_decoding_message_size(max);
    let reflection_v1alpha = reflection().build_v1alpha()?.max_decoding_message_size(max);
    let check = TokenCheck::new(access.token.clone());

    let address = listener.local_addr()?;
    tracing::info!(
        %address,
        tls = access.tls.is_some(),
        token = access.token.is_some(),
        max_connections = config.max_connections,
        "catalog server listening"
    );
    let tls = access.tls.map(|tls| {
        let mut tls = Arc::unwrap_or_clone(tls);
        if tls.alpn_protocols.is_empty() {
            tls.alpn_protocols = vec![framecast_tls::ALPN_H2.to_vec()];
        }
        TlsAcceptor::from(Arc::new(tls))
    });
    let registry = Registry::new(config.max_connections);
    // Connections reach tonic through this channel once admitted (and past
    // their TLS handshake); tonic dropping the receiver ends the accept loop.
    let (conns, incoming) = mpsc::channel::<Conn>(64);
    let accepting = tokio::spawn(accept_loop(listener, registry, tls, config, conns));
    let incoming = tokio_stream::StreamExt::map(ReceiverStream::new(incoming), Ok::<_, io::Error>);

    let (stop, stopped) = oneshot::channel::<()>();
    let server = Server::builder()
        .max_concurrent_streams(config.max_concurrent_streams)
        .http2_keepalive_interval(config.keepalive_interval)
        .http2_keepalive_timeout(Some(config.keepalive_timeout))
        .layer(InFlightLayer::new(config.max_concurrent_streams))
        .layer(DeadlineLayer::new(config.max_request_duration))
        .add_service(InterceptedService::new(
            ProductInfoServer::new(service).max_decoding_message_size(max),
            check.clone(),
        ))
        .add_service(health_service.max_decoding_message_size(max))
        .add_service(InterceptedService::new(reflection_v1, check.clone()))
        .add_service(InterceptedService::new(reflection_v1alpha, check))
        .serve_with_incoming_shutdown(incoming, async {
            let _ = stopped.await;
        });
    let mut server = pin!(server);
    tokio::select! {
        // Only an error ends the server before the stop signal.
        result = &mut server => {
            accepting.abort();
            return Ok(result?);
        }
        () = shutdown => {}
    }

    tracing::info!("catalog server shutting down");
    for name in ["", SERVICE_NAME] {
        health
            .set_service_status(name, ServingStatus::NotServing)
            .await;
    }
    // Health `Watch` streams never end on their own and would hold the
    // graceful shutdown open; dropping the statuses ends them, each after it
    // has delivered NOT_SERVING.
    for name in ["", SERVICE_NAME] {
        health.clear_service_status(name).await;
    }
    let _ = stop.send(());
    let finished = tokio::time::timeout(config.shutdown_grace, server).await;
    // tonic dropped the incoming stream when it stopped accepting; make sure
    // the listener is closed before returning.
    accepting.abort();
    let _ = accepting.await;
    match finished {
        Ok(result) => result?,
        Err(_) => tracing::warn!(
            grace = ?config.shutdown_grace,
            "connections still open after the shutdown grace period; abandoning them"
        ),
    }
    Ok(())
}

/// Accepts connections until tonic stops taking them: admits each into the
/// registry (which enforces the cap), and hands it on, after its TLS
/// handshake when there is one, from a task of its own so that a slow
/// handshake never holds up the next accept.
async fn accept_loop(
    listener: TcpListener,
    registry: Arc<Registry>,
    tls: Option<TlsAcceptor>,
    config: ServerConfig,
    conns: mpsc::Sender<Conn>,
) {
    let mut acceptor = Acceptor::new(listener);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = acceptor.accept(|e| {
                // Out of file descriptors (EMFILE/ENFILE) is the one error
                // an attacker can cause; free one by closing an idle
                // connection.
                let freed = registry.evict_one();
                if let Some(held) = registry.accept_log.allow() {
                    tracing::warn!(
                        error = %e,
                        closed_an_idle_connection = freed,
                        errors_since_last_report = held,
                        "cannot accept a connection; lower max connections below the open-file limit"
                    );
                }
            }) => accepted,
            () = conns.closed() => return,
        };
        let _ = tcp.set_nodelay(true);
        let Some(slot) = registry.admit(peer).await else {
            continue;
        };
        let tls = tls.clone();
        let conns = conns.clone();
        tokio::spawn(async move {
            if let Some(conn) = open(tcp, peer, slot, tls, &config).await {
                let _ = conns.send(conn).await;
            }
        });
    }
}

/// Wraps an admitted connection, after its TLS handshake if any; `None`
/// (logged) if the handshake fails, times out or the connection is evicted
/// meanwhile.
async fn open(
    tcp: TcpStream,
    peer: SocketAddr,
    slot: Slot,
    tls: Option<TlsAcceptor>,
    config: &ServerConfig,
) -> Option<Conn> {
    let Some(acceptor) = tls else {
        return Some(Conn::new(Io::Plain(tcp), slot, config.idle_timeout));
    };
    let state = Arc::clone(&slot.state);
    let handshake = tokio::time::timeout(config.handshake_timeout, acceptor.accept(tcp));
    let outcome = tokio::select! {
        outcome = handshake => outcome,
        () = state.closed() => return None,
    };
    let log = |kind: &'static str, why: String| {
        if let Some(held) = slot.registry().handshake_log.allow(kind) {
            tracing::warn!(%peer, reason = %why, like_it_since_last_report = held, "TLS handshake failed");
        }
    };
    match outcome {
        Ok(Ok(stream)) => Some(Conn::new(
            Io::Tls(Box::new(stream)),
            slot,
            config.idle_timeout,
        )),
        Ok(Err(e)) => {
            match HandshakeFailure::of(&e) {
                Some(failure) => log(failure_kind(&failure), failure.to_string()),
                None => log("io", e.to_string()),
            }
            None
        }
        Err(_) => {
            log(
                "timeout",
                format!(
                    "not finished within the handshake timeout of {:?}",
                    config.handshake_timeout
                ),
            );
            None
        }
    }
}

/// A name per kind of handshake failure, for throttling their logs apart.
fn failure_kind(failure: &HandshakeFailure) -> &'static str {
    match failure {
        HandshakeFailure::UnknownIssuer => "unknown issuer",
        HandshakeFailure::WrongName { .. } => "wrong name",
        HandshakeFailure::Expired => "expired",
        HandshakeFailure::NotTls => "not tls",
        HandshakeFailure::Refused(_) => "refused",
        HandshakeFailure::Closed => "closed",
        _ => "other",
    }
}
