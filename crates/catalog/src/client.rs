//! [`CatalogClient`]: a client for `ecommerce.ProductInfo`, over plaintext
//! HTTP/2 or TLS, with a bearer token and a deadline on every call, and
//! errors a program can act on ([`ClientError`]).
//!
//! Errors are told apart by type, never by the words of the gRPC library:
//! a status the server sent has no source; a status tonic made locally
//! carries the transport error that caused it, and a deadline that ran out
//! carries tonic's [`TimeoutExpired`](tonic::TimeoutExpired).

use std::{error::Error as _, io, time::Duration};

use framecast_net::HostPort;
use framecast_proto::ecommerce::{
    ListProductsRequest, ListProductsResponse, Product, ProductId,
    product_info_client::ProductInfoClient,
};
use framecast_tls::{HandshakeFailure, Token};
use tonic::{
    Status,
    metadata::{Ascii, MetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Channel, Endpoint},
};

mod connector;

/// gRPC status codes, as [`ClientError::code`] returns them.
pub use tonic::Code;

use connector::TlsConnector;

/// Default for [`ClientConfig::timeout`]: 10 seconds to connect, and 10 for
/// each call.
pub const DEFAULT_CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how a [`CatalogClient`] connects.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    address: HostPort,
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    token: Option<Token>,
    timeout: Duration,
}

impl ClientConfig {
    /// Plaintext HTTP/2 to `address`, no token, [`DEFAULT_CLIENT_TIMEOUT`].
    pub fn new(address: HostPort) -> Self {
        Self {
            address,
            tls: None,
            token: None,
            timeout: DEFAULT_CLIENT_TIMEOUT,
        }
    }

    /// Connects with TLS, checking the server's certificate for the host of
    /// the address. The configuration should offer the `h2` ALPN protocol
    /// ([`framecast_tls::ALPN_H2`]), which gRPC servers over TLS require.
    pub fn tls(mut self, config: std::sync::Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Sends `token` as `authorization: Bearer <token>` with every call.
    pub fn token(mut self, token: Token) -> Self {
        self.token = Some(token);
        self
    }

    /// How long connecting may take, and each call.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// A connected `ecommerce.ProductInfo` client.
///
/// ```no_run
/// use framecast_catalog::client::{CatalogClient, ClientConfig};
/// use framecast_net::HostPort;
/// use framecast_proto::ecommerce::Product;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let address = HostPort::parse_connect("127.0.0.1:50051", 50051)?;
/// let mut client = CatalogClient::connect(ClientConfig::new(address)).await?;
/// let id = client.add(Product { name: "Desk lamp".into(), price: 24.5, ..Default::default() }).await?;
/// let lamp = client.get(&id).await?;
/// assert_eq!(lamp.name, "Desk lamp");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct CatalogClient {
    client: ProductInfoClient<InterceptedService<Channel, Bearer>>,
    timeout: Duration,
    tls: bool,
}

impl CatalogClient {
    /// Connects to the server `config` names.
    ///
    /// # Errors
    ///
    /// [`ClientError::Connect`] saying why ([`ConnectError`]), or
    /// [`ClientError::Token`] for a token that cannot be sent in a header.
    pub async fn connect(config: ClientConfig) -> Result<Self, ClientError> {
        let ClientConfig {
            address,
            tls,
            token,
            timeout,
        } = config;
        let bearer = match &token {
            Some(token) => {
                let mut value = MetadataValue::try_from(token.bearer().as_str())
                    .map_err(|_| ClientError::Token)?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let is_tls = tls.is_some();
        let connect_error = |source| ClientError::Connect {
            address: address.clone(),
            tls: is_tls,
            source,
        };
        // A name that cannot be looked up is said as such (tonic would wrap
        // it in layers of "dns error"); the lookup counts against the
        // timeout.
        if let framecast_net::Host::Name(_) = address.host() {
            let lookup = {
                let address = address.clone();
                tokio::task::spawn_blocking(move || address.resolve())
            };
            match tokio::time::timeout(timeout, lookup).await {
                Ok(Ok(Ok(_))) => {}
                Ok(Ok(Err(e))) => return Err(connect_error(ConnectError::Resolve(e))),
                Ok(Err(join)) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
                Ok(Err(_)) | Err(_) => return Err(connect_error(ConnectError::TimedOut(timeout))),
            }
        }
        // tonic sees a plain http:// URI either way: TLS, when wanted, is
        // done by our connector, so it never depends on tonic's own TLS.
        let endpoint = Endpoint::from_shared(format!("http://{address}"))
            .map_err(|e| connect_error(ConnectError::Other(e)))?
            .connect_timeout(timeout);
        let connecting = async {
            match tls {
                Some(config) => {
                    endpoint
                        .connect_with_connector(TlsConnector::new(config, address.clone()))
                        .await
                }
                None => endpoint.connect().await,
            }
        };
        // The connect timeout covers TCP (and TLS); this covers a server that
        // accepts and then never completes the HTTP/2 handshake.
        let channel = match tokio::time::timeout(timeout, connecting).await {
            Ok(Ok(channel)) => channel,
            Ok(Err(e)) => return Err(connect_error(ConnectError::classify(e, timeout))),
            Err(_) => return Err(connect_error(ConnectError::TimedOut(timeout))),
        };
        Ok(Self {
            client: ProductInfoClient::with_interceptor(channel, Bearer(bearer)),
            timeout,
            tls: is_tls,
        })
    }

    /// Whether the connection is TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// `addProduct`: stores `product` (under a fresh id when its id is
    /// empty) and returns its id.
    ///
    /// # Errors
    ///
    /// [`ClientError`]: the server's status, a deadline, a broken connection.
    pub async fn add(&mut self, product: Product) -> Result<String, ClientError> {
        let request = self.request(product);
        let result = self.client.add_product(request).await;
        Ok(self.answer("addProduct", result)?.value)
    }

    /// `getProduct`: the product stored under `id`.
    ///
    /// # Errors
    ///
    /// [`ClientError`]; `NOT_FOUND` (see [`ClientError::code`]) when there is none.
    pub async fn get(&mut self, id: &str) -> Result<Product, ClientError> {
        let request = self.request(ProductId {
            value: id.to_owned(),
        });
        let result = self.client.get_product(request).await;
        self.answer("getProduct", result)
    }

    /// `delProduct`: removes the product stored under `id` and returns it.
    ///
    /// # Errors
    ///
    /// [`ClientError`]; `NOT_FOUND` when there is none.
    pub async fn delete(&mut self, id: &str) -> Result<Product, ClientError> {
        let request = self.request(ProductId {
            value: id.to_owned(),
        });
        let result = self.client.del_product(request).await;
        self.answer("delProduct", result)
    }

    /// `listProducts`: one page of products in id order, going on after
    /// `page_token` (empty: from the start), at most `page_size` of them
    /// (0: the server's default). The answer's `next_page_token` is empty
    /// on the last page.
    ///
    /// # Errors
    ///
    /// [`ClientError`]; `INVALID_ARGUMENT` for a negative size or a token
    /// the server did not make.
    pub async fn list(
        &mut self,
        page_size: i32,
        page_token: &str,
    ) -> Result<ListProductsResponse, ClientError> {
        let request = self.request(ListProductsRequest {
            page_size,
            page_token: page_token.to_owned(),
        });
        let result = self.client.list_products(request).await;
        self.answer("listProducts", result)
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.timeout);
        request
    }

    fn answer<T>(
        &self,
        rpc: &'static str,
        result: Result<tonic::Response<T>, Status>,
    ) -> Result<T, ClientError> {
        result
            .map(tonic::Response::into_inner)
            .map_err(|status| ClientError::from_status(rpc, status, self.timeout))
    }
}

/// Adds the bearer token to every request.
#[derive(Clone, Debug)]
struct Bearer(Option<MetadataValue<Ascii>>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// Why a [`CatalogClient`] call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server could not be reached.
    #[error("cannot connect to the catalog server at {address}{}", if *tls { " over TLS" } else { "" })]
    Connect {
        /// The server's address.
        address: HostPort,
        /// Whether TLS was asked for.
        tls: bool,
        /// Why.
        #[source]
        source: ConnectError,
    },
    /// The access token holds characters a header cannot carry.
    #[error("the access token cannot be sent in a header")]
    Token,
    /// The server answered the call with an error status (its message is
    /// shown with control characters escaped, see [`printable`]).
    #[error("{rpc} failed: {}: {}", code_name(status.code()), printable(status.message()))]
    Status {
        /// The method, as `ecommerce.proto` names it.
        rpc: &'static str,
        /// What the server answered.
        status: Status,
    },
    /// No answer came within the deadline.
    #[error("{rpc} failed: DEADLINE_EXCEEDED: no answer within {} s", timeout.as_secs_f64())]
    Deadline {
        /// The method.
        rpc: &'static str,
        /// The deadline.
        timeout: Duration,
    },
    /// The connection broke before the server answered: a server that
    /// went away, or a plaintext client talking to a TLS server.
    #[error("{rpc} failed: the connection broke before the server answered")]
    Broken {
        /// The method.
        rpc: &'static str,
        /// What broke.
        #[source]
        source: BrokenConnection,
    },
}

/// What broke under a call ([`ClientError::Broken`]): the transport error
/// under the status tonic made of it, shown as itself with its own causes
/// (the status's words and debug form only repeat them).
#[derive(Debug)]
pub struct BrokenConnection(Status);

impl BrokenConnection {
    /// The status tonic made of the failure.
    pub fn status(&self) -> &Status {
        &self.0
    }
}

impl std::fmt::Display for BrokenConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.source() {
            Some(cause) => std::fmt::Display::fmt(cause, f),
            None => f.write_str(self.0.message()),
        }
    }
}

impl std::error::Error for BrokenConnection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source().and_then(|cause| cause.source())
    }
}

impl ClientError {
    /// Sorts a failed call's status by where it came from: the server sent
    /// it (no source), the deadline ran out (tonic's `TimeoutExpired` in
    /// the source chain), or the transport failed (any other source).
    fn from_status(rpc: &'static str, status: Status, timeout: Duration) -> Self {
        let Some(source) = status.source() else {
            return Self::Status { rpc, status };
        };
        let mut next = Some(source);
        while let Some(e) = next {
            if e.is::<tonic::TimeoutExpired>() {
                return Self::Deadline { rpc, timeout };
            }
            next = e.source();
        }
        Self::Broken {
            rpc,
            source: BrokenConnection(status),
        }
    }

    /// The gRPC status code of an error the server answered with.
    pub fn code(&self) -> Option<Code> {
        match self {
            Self::Status { status, .. } => Some(status.code()),
            Self::Deadline { .. } => Some(Code::DeadlineExceeded),
            _ => None,
        }
    }
}

/// Why connecting failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The host name cannot be looked up.
    #[error(transparent)]
    Resolve(framecast_net::AddrError),
    /// Nothing listens at the address.
    #[error("connection refused")]
    Refused,
    /// No answer within the timeout.
    #[error("no answer within {} s", .0.as_secs_f64())]
    TimedOut(Duration),
    /// The TLS handshake failed.
    #[error("{0}")]
    Tls(HandshakeFailure),
    /// The connection failed with no I/O error: the HTTP/2 handshake did
    /// not complete (a server that speaks TLS, or not HTTP/2).
    #[error("the HTTP/2 handshake failed")]
    Http2(#[source] tonic::transport::Error),
    /// Any other failure.
    #[error("the connection failed")]
    Other(#[source] tonic::transport::Error),
}

impl ConnectError {
    /// Finds the I/O error under tonic's and says what it means.
    fn classify(err: tonic::transport::Error, timeout: Duration) -> Self {
        let mut io_error = None;
        let mut next: Option<&(dyn std::error::Error + 'static)> = Some(&err);
        while let Some(e) = next {
            if let Some(io) = e.downcast_ref::<io::Error>() {
                io_error = Some(io);
            }
            next = e.source();
        }
        let Some(io) = io_error else {
            return Self::Http2(err);
        };
        if let Some(failure) = HandshakeFailure::of(io) {
            return Self::Tls(failure);
        }
        match io.kind() {
            io::ErrorKind::ConnectionRefused => Self::Refused,
            io::ErrorKind::TimedOut => Self::TimedOut(timeout),
            _ => Self::Other(err),
        }
    }
}

/// `text` with its control, bidirectional and zero-width characters
/// escaped (the one escaping every framecast program shows untrusted text
/// with). What a catalog server sends (product fields, status messages) is
/// untrusted: print it through this.
///
/// ```
/// use framecast_catalog::client::printable;
///
/// assert_eq!(printable("Desk lamp é 名"), "Desk lamp é 名");
/// assert_eq!(printable("red\u{1b}[2J\nprice: 0"), "red\\u{1b}[2J\\nprice: 0");
/// ```
pub use framecast_net::printable;

/// The canonical gRPC name of a status code, as other gRPC tools print it
/// (`NOT_FOUND`).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(printable("Desk lamp é 名"), "Desk lamp é 名");
        assert_eq!(
            printable("\u{1b}[2J\u{1b}[31mred"),
            "\\u{1b}[2J\\u{1b}[31mred"
        );
        assert_eq!(printable("a\nprice:       0"), "a\\nprice:       0");
        assert_eq!(printable("x\r\t\u{7f}\u{9b}"), "x\\r\\t\\u{7f}\\u{9b}");
        assert_eq!(printable("abc\u{202e}fed"), "abc\\u{202e}fed");
    }

    #[test]
    fn statuses_are_sorted_by_their_source_not_their_words() {
        let timeout = Duration::from_secs(3);
        // The server's answer: no source.
        let e = ClientError::from_status(
            "getProduct",
            Status::not_found("no product with id \"x\""),
            timeout,
        );
        assert_eq!(
            e.to_string(),
            "getProduct failed: NOT_FOUND: no product with id \"x\""
        );
        assert_eq!(e.code(), Some(Code::NotFound));
        // A server's status that merely reads like tonic's timeout is still
        // the server's.
        let e = ClientError::from_status("x", Status::cancelled("Timeout expired"), timeout);
        assert!(matches!(e, ClientError::Status { .. }), "{e:?}");
        // tonic's own deadline: TimeoutExpired in the source chain.
        let expired = Status::from_error(Box::new(tonic::TimeoutExpired(())));
        let e = ClientError::from_status("addProduct", expired, timeout);
        assert_eq!(
            e.to_string(),
            "addProduct failed: DEADLINE_EXCEEDED: no answer within 3 s"
        );
        // A transport failure: any other source.
        let broken = Status::from_error(Box::new(io::Error::from(io::ErrorKind::ConnectionReset)));
        let e = ClientError::from_status("delProduct", broken, timeout);
        assert!(matches!(e, ClientError::Broken { .. }), "{e:?}");
        // Shown as the transport error itself, not the status's debug form.
        let cause = e.source().unwrap().to_string();
        assert_eq!(
            cause,
            io::Error::from(io::ErrorKind::ConnectionReset).to_string()
        );
        // The server's words never drive a terminal.
        let e = ClientError::from_status("x", Status::internal("a\u{1b}[2Jb"), timeout);
        assert!(e.to_string().ends_with("a\\u{1b}[2Jb"), "{e}");
    }
}
