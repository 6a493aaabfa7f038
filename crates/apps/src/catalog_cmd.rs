//! `framecast catalog`: the `ecommerce.ProductInfo` server and its client
//! commands.
//!
//! - `serve` runs the server (health and reflection included) until Ctrl-C or
//!   SIGTERM (then exits 0), over a redb file (by default [`DEFAULT_DB`] in
//!   the current directory), a PostgreSQL database (`--db postgres://…`) or,
//!   with `--memory`, a store that lives and dies with the process. Once
//!   listening it prints `listening on ADDR:PORT` on stdout. It listens on
//!   loopback unless told otherwise, and refuses any other address without
//!   a token (`--token-file`) unless `--allow-anonymous` is given.
//! - `add`, `get` and `del` call the server at `--server` (`HOST:PORT`,
//!   `http://HOST:PORT` or `https://HOST:PORT`) and print the result
//!   readably, control characters escaped, or as one line of JSON with
//!   `--json`.
//!
//! A failed call returns an error naming the RPC, the gRPC status code and
//! the server's message, such as
//! `getProduct failed: NOT_FOUND: no product with id "x"`; `main` prints it
//! on stderr and exits with status 1.

use std::{
    borrow::Cow,
    future::Future,
    io,
    net::SocketAddr,
    path::{Path, PathBuf},
    pin::Pin,
    sync::Arc,
    task::{Context as TaskContext, Poll},
    time::Duration,
};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use framecast_catalog::{
    Access, MemoryStore, PostgresOptions, PostgresStore, ProductInfoService, RedbStore,
    ServerConfig, StoreError,
};
use framecast_proto::ecommerce::{Product, ProductId, product_info_client::ProductInfoClient};
use framecast_tls::{ClientTls, Exposure, HandshakeFailure, ServerTls, TOKEN_ENV, Token};
use hyper_util::rt::TokioIo;
use tonic::{
    Code, Status,
    metadata::MetadataValue,
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Channel, Endpoint, Uri},
};

/// The database file `serve` uses without `--db` or `--memory`.
pub(crate) const DEFAULT_DB: &str = "framecast-catalog.redb";

/// The port of `--server` and `--listen` when none is given.
pub(crate) const DEFAULT_PORT: u16 = 50051;

/// File descriptors kept free for everything but client connections
/// (standard streams, the runtime, the listener, the database, logs) when
/// the connection cap is fitted to the open-file limit.
pub(crate) const RESERVED_FDS: u64 = 32;

/// The `ecommerce.ProductInfo` catalog: a gRPC server and a client for it.
#[derive(Debug, Subcommand)]
pub(crate) enum CatalogArgs {
    /// Run the catalog server until Ctrl-C or SIGTERM.
    Serve(Box<ServeArgs>),
    /// Add a product; prints its id.
    Add(AddArgs),
    /// Show a product.
    Get(IdArgs),
    /// Delete a product; prints what was deleted.
    Del(IdArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The address to listen on: HOST:PORT, with a host name (localhost) or
    /// an address, IPv6 in brackets (`[::1]:50051`). Port 0 picks a free port. Any address but loopback
    /// needs --token-file (or --allow-anonymous).
    #[arg(long, default_value = "127.0.0.1:50051", value_name = "HOST:PORT")]
    listen: String,

    /// The database: a redb file, created if missing, or a PostgreSQL URL,
    /// postgres://USER@HOST:PORT/DB, the port optional (the password from the URL,
    /// --db-password-file or PGPASSWORD) [default: framecast-catalog.redb].
    #[arg(long, value_name = "PATH|URL", conflicts_with = "memory")]
    db: Option<String>,

    /// A file holding the PostgreSQL password (when the URL has none).
    #[arg(long, value_name = "PATH")]
    db_password_file: Option<PathBuf>,

    /// The most connections to PostgreSQL this server opens.
    #[arg(long, default_value_t = framecast_catalog::DEFAULT_POOL_SIZE, value_name = "N")]
    db_pool_size: usize,

    /// Keep products in memory only: they are gone when the server stops.
    #[arg(long)]
    memory: bool,

    /// The server's TLS certificate chain, PEM (with --tls-key): clients
    /// then connect with https://.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// The server's TLS private key, PEM (with --tls-cert).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// A file holding the access token clients must present (at least 16
    /// characters); without it, the FRAMECAST_TOKEN environment variable.
    /// Health checks stay open.
    #[arg(long, value_name = "PATH")]
    token_file: Option<PathBuf>,

    /// Listen beyond loopback with no token: anyone who can reach the port
    /// can add and delete products.
    #[arg(long)]
    allow_anonymous: bool,

    /// The largest request accepted, in bytes.
    #[arg(long, default_value_t = framecast_catalog::DEFAULT_MAX_REQUEST_BYTES, value_name = "BYTES")]
    max_request_bytes: usize,

    /// The most client connections open at once; at the cap a new one
    /// replaces the connection idle the longest. Lowered to fit the
    /// process's open-file limit.
    #[arg(long, default_value_t = framecast_catalog::DEFAULT_MAX_CONNECTIONS, value_name = "N")]
    max_connections: usize,

    /// Close a connection with no request in flight for this long (0: never).
    #[arg(long, default_value_t = framecast_catalog::DEFAULT_IDLE_TIMEOUT.as_secs_f64(), value_name = "SECONDS")]
    idle_timeout: f64,

    /// The longest a TLS handshake may take.
    #[arg(long, default_value_t = framecast_catalog::DEFAULT_HANDSHAKE_TIMEOUT.as_secs_f64(), value_name = "SECONDS")]
    handshake_timeout: f64,

    /// How often HTTP/2 pings check that a client is still there (0: never).
    #[arg(long, default_value_t = framecast_catalog::DEFAULT_KEEPALIVE_INTERVAL.as_secs_f64(), value_name = "SECONDS")]
    keepalive_interval: f64,

    /// How long a ping may go unanswered before the connection is closed.
    #[arg(long, default_value_t = framecast_catalog::DEFAULT_KEEPALIVE_TIMEOUT.as_secs_f64(), value_name = "SECONDS")]
    keepalive_timeout: f64,

    /// The most requests in flight on one connection.
    #[arg(long, default_value_t = framecast_catalog::DEFAULT_MAX_CONCURRENT_STREAMS, value_name = "N")]
    max_concurrent_streams: u32,
}

/// Options every client command takes.
#[derive(Debug, Args)]
pub(crate) struct ClientArgs {
    /// The catalog server: HOST:PORT (as grpcurl takes it), http://HOST:PORT
    /// (plaintext) or https://HOST:PORT (TLS). HOST:PORT means TLS when
    /// --tls-ca is given.
    #[arg(long, default_value = "127.0.0.1:50051", value_name = "SERVER")]
    server: String,

    /// The CA certificate(s), PEM, that the server's certificate must chain
    /// to (from `framecast cert`); without it, https:// trusts the system's
    /// roots.
    #[arg(long, value_name = "PEM")]
    tls_ca: Option<PathBuf>,

    /// A file holding the server's access token; without it, the
    /// FRAMECAST_TOKEN environment variable.
    #[arg(long, value_name = "PATH")]
    token_file: Option<PathBuf>,

    /// Print one line of JSON instead of readable text.
    #[arg(long)]
    json: bool,

    /// Give up on connecting or on the call after this many seconds.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    timeout: f64,
}

#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// The product name.
    #[arg(long)]
    name: String,

    /// The product description.
    #[arg(long, default_value = "")]
    description: String,

    /// The price, a number zero or more.
    #[arg(long, allow_negative_numbers = true)]
    price: f32,

    /// The id to store it under; by default the server assigns a UUID.
    #[arg(long)]
    id: Option<String>,

    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Args)]
pub(crate) struct IdArgs {
    /// The product id.
    id: String,

    #[command(flatten)]
    client: ClientArgs,
}

/// Runs a `framecast catalog` command.
pub(crate) fn run(args: CatalogArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        match args {
            CatalogArgs::Serve(args) => serve(*args).await,
            CatalogArgs::Add(args) => add(args).await,
            CatalogArgs::Get(args) => get(args).await,
            CatalogArgs::Del(args) => del(args).await,
        }
    })
}

pub(crate) use crate::addr::HostPort;

/// Seconds from the command line as a duration; 0 is `None` when `zero_is_none`.
fn seconds(flag: &str, value: f64, zero_is_none: bool) -> Result<Option<Duration>> {
    let d = Duration::try_from_secs_f64(value)
        .ok()
        .with_context(|| format!("{flag} {value} is not a number of seconds, 0 or more"))?;
    if d.is_zero() {
        if zero_is_none {
            return Ok(None);
        }
        bail!("{flag} must be more than 0 seconds");
    }
    Ok(Some(d))
}

/// The token from `--token-file`, else from `FRAMECAST_TOKEN`, if any.
pub(crate) fn read_token(file: Option<&Path>) -> Result<Option<Token>> {
    match file {
        Some(path) => Token::from_file(path)
            .map(Some)
            .with_context(|| format!("--token-file {} is not usable", path.display())),
        None => Token::from_env(TOKEN_ENV).with_context(|| format!("{TOKEN_ENV} is not usable")),
    }
}

/// Raises the soft open-file limit to the hard one, then lowers
/// `requested` so that the connections fit in it beside what the process
/// already holds and [`RESERVED_FDS`] (plus `extra` for a database pool).
fn fit_connections_to_fd_limit(requested: usize, extra: usize) -> usize {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(maximum)) = (limit.current, limit.maximum)
        && current < maximum
    {
        let raised = rustix::process::Rlimit {
            current: Some(maximum),
            maximum: Some(maximum),
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            limit.current = Some(maximum);
        }
    }
    let Some(current) = limit.current else {
        return requested;
    };
    let open = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as u64)
        .unwrap_or(16);
    let room = current.saturating_sub(open + RESERVED_FDS + extra as u64);
    let fit = usize::try_from(room).unwrap_or(usize::MAX).max(1);
    if fit < requested {
        tracing::warn!(
            requested,
            max_connections = fit,
            open_file_limit = current,
            "lowering --max-connections to fit the open-file limit (raise it with `ulimit -n`)"
        );
        fit
    } else {
        requested
    }
}

async fn serve(args: ServeArgs) -> Result<()> {
    let listen = HostPort::parse(&args.listen, DEFAULT_PORT, true)
        .map_err(anyhow::Error::msg)
        .context("--listen is not a usable address")?;
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((listen.host.as_str(), listen.port))
        .await
        .with_context(|| format!("cannot resolve --listen {listen}"))?
        .collect();
    if addresses.is_empty() {
        bail!("--listen {listen} resolves to no address");
    }
    let token = read_token(args.token_file.as_deref())?;
    let exposure =
        Exposure::check(&addresses, token.is_some(), args.allow_anonymous).map_err(|e| {
            anyhow::anyhow!(
                "{e}; give clients a token with --token-file FILE (or {TOKEN_ENV}), \
                 ideally with --tls-cert/--tls-key, or run open with --allow-anonymous"
            )
        })?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(
            ServerTls::from_pem_files(cert, key)
                .and_then(|t| t.with_alpn(&[framecast_tls::ALPN_H2]).config())
                .context("cannot use --tls-cert/--tls-key")?,
        ),
        _ => None,
    };
    match exposure {
        Exposure::Anonymous => tracing::warn!(
            address = %listen,
            "listening beyond loopback without authentication (--allow-anonymous): anyone who can reach this port can add and delete products"
        ),
        Exposure::Authenticated if tls.is_none() => tracing::warn!(
            address = %listen,
            "the access token will cross the network in plaintext: add --tls-cert and --tls-key"
        ),
        _ => {}
    }

    let mut config = ServerConfig::default();
    config.max_request_bytes = args.max_request_bytes;
    config.max_concurrent_streams = args.max_concurrent_streams;
    config.idle_timeout = seconds("--idle-timeout", args.idle_timeout, true)?;
    config.handshake_timeout = seconds("--handshake-timeout", args.handshake_timeout, false)?
        .unwrap_or(framecast_catalog::DEFAULT_HANDSHAKE_TIMEOUT);
    config.keepalive_interval = seconds("--keepalive-interval", args.keepalive_interval, true)?;
    config.keepalive_timeout = seconds("--keepalive-timeout", args.keepalive_timeout, false)?
        .unwrap_or(framecast_catalog::DEFAULT_KEEPALIVE_TIMEOUT);
    let is_postgres = args
        .db
        .as_deref()
        .is_some_and(|db| db.starts_with("postgres://") || db.starts_with("postgresql://"));
    let pool = if is_postgres { args.db_pool_size } else { 0 };
    config.max_connections = fit_connections_to_fd_limit(args.max_connections, pool);

    let mut access = Access::new();
    if let Some(tls) = tls {
        access = access.with_tls(tls);
    }
    if let Some(token) = token {
        access = access.with_token(token);
    }

    // Open the store before listening, so "listening" means ready.
    if args.memory {
        let listener = bind(&addresses).await?;
        let service = ProductInfoService::new(MemoryStore::new());
        announce(&listener, "memory (nothing is kept after exit)")?;
        framecast_catalog::serve_with(listener, service, config, access, shutdown_signal()).await
    } else if is_postgres {
        let url = args.db.unwrap_or_default();
        let mut options = PostgresOptions::default();
        options.pool_size = args.db_pool_size;
        if let Some(path) = &args.db_password_file {
            let password = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --db-password-file {}", path.display()))?;
            options.password = Some(password.trim_end_matches(['\n', '\r']).to_owned());
        }
        let store = PostgresStore::connect(&url, options)
            .await
            .map_err(|e| match e {
                StoreError::Unavailable(_) => anyhow::Error::new(e).context(
                    "cannot reach the catalog database: is PostgreSQL running at that address, \
                     and do the user, password and database exist?",
                ),
                e => anyhow::Error::new(e).context("cannot use the catalog database"),
            })?;
        let listener = bind(&addresses).await?;
        announce(&listener, store.target())?;
        let service = ProductInfoService::new(store);
        framecast_catalog::serve_with(listener, service, config, access, shutdown_signal()).await
    } else {
        let path = PathBuf::from(args.db.unwrap_or_else(|| DEFAULT_DB.to_owned()));
        let store = tokio::task::spawn_blocking({
            let path = path.clone();
            move || RedbStore::open(path)
        })
        .await?
        .map_err(|e| match e {
            StoreError::Locked { .. } => anyhow::anyhow!(
                "{e}: another `framecast catalog serve` holds it; stop that one, or give this \
                 one another --db (several servers can share a PostgreSQL database instead)"
            ),
            e => anyhow::Error::new(e).context(format!(
                "cannot open the catalog database {}",
                path.display()
            )),
        })?;
        let listener = bind(&addresses).await?;
        announce(&listener, &path.display().to_string())?;
        let service = ProductInfoService::new(store);
        framecast_catalog::serve_with(listener, service, config, access, shutdown_signal()).await
    }
    .context("the catalog server failed")?;
    tracing::info!("catalog server stopped");
    Ok(())
}

/// Binds the first of `addresses` that can be bound.
async fn bind(addresses: &[SocketAddr]) -> Result<tokio::net::TcpListener> {
    let mut last = None;
    for address in addresses {
        match tokio::net::TcpListener::bind(address).await {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some((address, e)),
        }
    }
    let (address, e) = last.expect("at least one address");
    let hint = if e.kind() == io::ErrorKind::AddrInUse {
        ": another program uses that port; pick another --listen port, or :0 for any free one"
    } else {
        ""
    };
    Err(anyhow::anyhow!("cannot listen on {address}: {e}{hint}"))
}

fn announce(listener: &tokio::net::TcpListener, store: &str) -> Result<()> {
    use std::io::Write;
    let address = listener.local_addr()?;
    tracing::info!(%address, store, "catalog server ready");
    // A stable line for scripts (and tests) that start the server on port 0.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {address}");
    let _ = out.flush();
    Ok(())
}

/// Completes on Ctrl-C or, on Unix, SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// Where and how a client command connects.
#[derive(Debug)]
struct Target {
    address: HostPort,
    tls: bool,
}

impl Target {
    /// `https://H:P` (TLS), `http://H:P` (plaintext), or `H:P` (TLS when a
    /// CA is given).
    fn parse(server: &str, has_ca: bool) -> Result<Self> {
        let (tls, rest) = if let Some(rest) = server.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = server.strip_prefix("http://") {
            (false, rest)
        } else if server.contains("://") {
            bail!("--server {server:?}: the scheme must be http:// or https://");
        } else {
            (has_ca, server)
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') {
            bail!("--server {server:?}: expected HOST:PORT, with no path");
        }
        let address = HostPort::parse(rest, DEFAULT_PORT, false)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("--server {server:?} is not a usable address"))?;
        Ok(Self { address, tls })
    }
}

/// Adds the bearer token to every request.
#[derive(Clone)]
struct Bearer(Option<MetadataValue<tonic::metadata::Ascii>>);

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

type Client = ProductInfoClient<InterceptedService<Channel, Bearer>>;

/// A connected client, the call deadline, and whether it speaks TLS.
struct Connected {
    client: Client,
    timeout: Duration,
    tls: bool,
}

/// Connects TCP, then TLS with the server's name checked, for tonic.
#[derive(Clone)]
struct TlsConnector {
    config: Arc<rustls::ClientConfig>,
    address: HostPort,
}

impl tower_service::Service<Uri> for TlsConnector {
    type Response = TokioIo<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Uri) -> Self::Future {
        let connector = tokio_rustls::TlsConnector::from(Arc::clone(&self.config));
        let address = self.address.clone();
        Box::pin(async move {
            let name = framecast_tls::server_name(&address.host)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
            let tcp = tokio::net::TcpStream::connect((address.host.as_str(), address.port)).await?;
            let _ = tcp.set_nodelay(true);
            Ok(TokioIo::new(connector.connect(name, tcp).await?))
        })
    }
}

async fn connect(args: &ClientArgs) -> Result<Connected> {
    let timeout = seconds("--timeout", args.timeout, false)?.unwrap_or_default();
    let target = Target::parse(&args.server, args.tls_ca.is_some())?;
    let token = read_token(args.token_file.as_deref())?;
    let address = &target.address;
    if token.is_some() && !target.tls && !is_loopback_host(&address.host) {
        tracing::warn!(
            server = %address,
            "sending the access token in plaintext; use https:// if the server has TLS"
        );
    }
    if !target.tls && args.tls_ca.is_some() {
        bail!(
            "--tls-ca is given but --server {} is http://: use https://",
            args.server
        );
    }
    // tonic sees a plain http:// URI either way: TLS, when wanted, is done by
    // our connector, so it never depends on tonic's own TLS features.
    let endpoint = Endpoint::from_shared(format!("http://{address}"))
        .with_context(|| format!("--server {:?} is not a usable address", args.server))?
        .connect_timeout(timeout);
    let connected = if target.tls {
        let trust = match &args.tls_ca {
            Some(ca) => ClientTls::with_ca_file(ca).context("cannot use --tls-ca")?,
            None => ClientTls::with_system_roots()
                .context("cannot load the system's trusted certificates; give --tls-ca")?,
        };
        let config = trust
            .with_alpn(&[framecast_tls::ALPN_H2])
            .config()
            .context("cannot set up TLS")?;
        let connector = TlsConnector {
            config,
            address: address.clone(),
        };
        endpoint.connect_with_connector(connector).await
    } else {
        endpoint.connect().await
    };
    let channel = connected.map_err(|e| connect_error(&e, &target, args))?;
    let bearer = match &token {
        Some(token) => {
            let mut value = MetadataValue::try_from(token.bearer().as_str())
                .context("the access token cannot be sent in a header")?;
            value.set_sensitive(true);
            Some(value)
        }
        None => None,
    };
    Ok(Connected {
        client: ProductInfoClient::with_interceptor(channel, Bearer(bearer)),
        timeout,
        tls: target.tls,
    })
}

fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(framecast_tls::is_loopback)
}

/// Why connecting failed, in one line that says what to do.
fn connect_error(
    err: &tonic::transport::Error,
    target: &Target,
    args: &ClientArgs,
) -> anyhow::Error {
    let address = &target.address;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut io_error = None;
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            io_error = Some(io);
        }
        source = e.source();
    }
    let running = "is `framecast catalog serve` running at that address?";
    let Some(io) = io_error else {
        if target.tls {
            return anyhow::anyhow!(
                "cannot connect to the catalog server at {address}: {err}; {running}"
            );
        }
        return anyhow::anyhow!(
            "cannot connect to the catalog server at {address}: the connection failed during \
             the HTTP/2 handshake; if the server uses TLS, connect with https:// and --tls-ca"
        );
    };
    if let Some(failure) = HandshakeFailure::of(io) {
        let hint = match failure {
            HandshakeFailure::UnknownIssuer => match &args.tls_ca {
                Some(ca) => format!(
                    " (it does not chain to the CA in --tls-ca {})",
                    ca.display()
                ),
                None => {
                    " (not by a CA this system trusts; give the server's CA with --tls-ca)".into()
                }
            },
            HandshakeFailure::WrongName { .. } => format!(
                "; connect with a name the certificate is for, or remake it with `framecast cert --host {}`",
                address.host
            ),
            HandshakeFailure::NotTls | HandshakeFailure::Closed => {
                "; the server may not use TLS: try http://".into()
            }
            _ => String::new(),
        };
        return anyhow::anyhow!(
            "cannot connect to the catalog server at {address} over TLS: {failure}{hint}"
        );
    }
    match io.kind() {
        io::ErrorKind::ConnectionRefused => anyhow::anyhow!(
            "cannot connect to the catalog server at {address}: connection refused; {running}"
        ),
        io::ErrorKind::TimedOut => anyhow::anyhow!(
            "cannot connect to the catalog server at {address}: no answer within --timeout; {running}"
        ),
        _ => anyhow::anyhow!("cannot connect to the catalog server at {address}: {io}; {running}"),
    }
}

/// A request carrying the deadline.
fn request<T>(message: T, timeout: Duration) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(timeout);
    request
}

async fn add(args: AddArgs) -> Result<()> {
    let Connected {
        mut client,
        timeout,
        tls,
    } = connect(&args.client).await?;
    let product = Product {
        id: args.id.unwrap_or_default(),
        name: args.name,
        description: args.description,
        price: args.price,
    };
    let id = client
        .add_product(request(product, timeout))
        .await
        .map_err(|s| rpc_error("addProduct", s, tls))?
        .into_inner()
        .value;
    if args.client.json {
        println!("{}", serde_json::json!({ "id": id }));
    } else {
        println!("{}", escape(&id));
    }
    Ok(())
}

async fn get(args: IdArgs) -> Result<()> {
    let Connected {
        mut client,
        timeout,
        tls,
    } = connect(&args.client).await?;
    let product = client
        .get_product(request(ProductId { value: args.id }, timeout))
        .await
        .map_err(|s| rpc_error("getProduct", s, tls))?
        .into_inner();
    print_product(&product, args.client.json);
    Ok(())
}

async fn del(args: IdArgs) -> Result<()> {
    let Connected {
        mut client,
        timeout,
        tls,
    } = connect(&args.client).await?;
    let product = client
        .del_product(request(ProductId { value: args.id }, timeout))
        .await
        .map_err(|s| rpc_error("delProduct", s, tls))?
        .into_inner();
    print_product(&product, args.client.json);
    Ok(())
}

/// `text` with every character that could act on a terminal or fake a line
/// escaped: control characters (`\n`, `\t`, `\u{1b}` ...) and the Unicode
/// bidirectional controls, written as Rust escapes. Everything else, other
/// scripts included, is printed as is.
pub(crate) fn escape(text: &str) -> Cow<'_, str> {
    fn unsafe_char(c: char) -> bool {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    }
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn print_product(product: &Product, json: bool) {
    if json {
        println!("{}", product_json(product));
    } else {
        println!("id:          {}", escape(&product.id));
        println!("name:        {}", escape(&product.name));
        println!("description: {}", escape(&product.description));
        println!("price:       {}", product.price);
    }
}

/// The product as a JSON object. The price is written with the shortest
/// digits that read back as the same `f32` (24.1, not 24.100000381469727).
fn product_json(product: &Product) -> serde_json::Value {
    let price = product
        .price
        .to_string()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(serde_json::Value::Null, serde_json::Value::Number);
    serde_json::json!({
        "id": product.id,
        "name": product.name,
        "description": product.description,
        "price": price,
    })
}

/// A failed RPC as an error: the call, the status code's canonical name and
/// the server's message.
fn rpc_error(rpc: &str, status: tonic::Status, tls: bool) -> anyhow::Error {
    // tonic's client enforces the deadline itself and reports it as
    // CANCELLED; say what happened.
    if status.code() == Code::Cancelled && status.message() == "Timeout expired" {
        return anyhow::anyhow!("{rpc} failed: DEADLINE_EXCEEDED: no answer within --timeout");
    }
    // The connection broke before any answer (tonic's words for it): a
    // plaintext client talking to a TLS server ends this way.
    let broken = match (status.code(), status.message()) {
        (Code::Internal, m) => m.starts_with("h2 protocol error"),
        (Code::Unknown, m) => m == "transport error",
        (Code::Cancelled, m) => m == "operation was canceled",
        (Code::Unavailable, m) => m.contains("connection"),
        _ => false,
    };
    if broken && !tls {
        return anyhow::anyhow!(
            "{rpc} failed: the connection broke before the server answered; if the server \
             uses TLS, connect with https:// and --tls-ca"
        );
    }
    let hint = match status.code() {
        Code::Unauthenticated => {
            format!(" (give the server's token with --token-file FILE or {TOKEN_ENV})")
        }
        Code::Unavailable => "; retry later".to_owned(),
        _ => String::new(),
    };
    anyhow::anyhow!(
        "{rpc} failed: {}: {}{hint}",
        code_name(status.code()),
        // The server's words: never let them drive the terminal.
        escape(status.message())
    )
}

/// The canonical gRPC name of a status code, as other gRPC tools print it.
fn code_name(code: Code) -> &'static str {
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
    fn addresses_take_names_ipv6_and_checked_ports() {
        let hp = |t: &str| HostPort::parse(t, DEFAULT_PORT, false).map_err(anyhow::Error::msg);
        assert_eq!(hp("localhost:5252").unwrap().to_string(), "localhost:5252");
        assert_eq!(hp("[::1]:5252").unwrap().host, "::1");
        assert_eq!(hp("[::1]:5252").unwrap().to_string(), "[::1]:5252");
        assert_eq!(hp("[::1]").unwrap().port, DEFAULT_PORT);
        assert_eq!(hp("cam.example.org").unwrap().port, DEFAULT_PORT);
        assert_eq!(hp("10.0.0.1:1").unwrap().port, 1);
        assert_eq!(hp("10.0.0.1:65535").unwrap().port, 65535);
        for (bad, says) in [
            ("127.0.0.1:99999", "out of range (1-65535)"),
            ("127.0.0.1:0", "out of range (1-65535)"),
            ("127.0.0.1:x", "not a number"),
            ("::1:50051", "in brackets"),
            ("[::1", "closing ']'"),
            (":50051", "host is missing"),
        ] {
            let err = format!("{:#}", hp(bad).unwrap_err());
            assert!(err.contains(says), "{bad}: {err}");
        }
        assert_eq!(HostPort::parse("127.0.0.1:0", 1, true).unwrap().port, 0);
    }

    #[test]
    fn server_schemes() {
        let t = Target::parse("127.0.0.1:50061", false).unwrap();
        assert!(!t.tls);
        assert_eq!(t.address.to_string(), "127.0.0.1:50061");
        assert!(Target::parse("127.0.0.1:50061", true).unwrap().tls);
        assert!(Target::parse("https://localhost:1", false).unwrap().tls);
        assert!(!Target::parse("http://[::1]:1/", false).unwrap().tls);
        assert!(Target::parse("ftp://x:1", false).is_err());
        assert!(Target::parse("http://x:1/path", false).is_err());
        assert!(Target::parse("https://x:99999", false).is_err());
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape("Desk lamp é 名"), "Desk lamp é 名");
        assert_eq!(escape("\u{1b}[2J\u{1b}[31mred"), "\\u{1b}[2J\\u{1b}[31mred");
        assert_eq!(escape("a\nprice:       0"), "a\\nprice:       0");
        assert_eq!(escape("x\r\t\u{7f}\u{9b}"), "x\\r\\t\\u{7f}\\u{9b}");
        assert_eq!(escape("abc\u{202e}fed"), "abc\\u{202e}fed");
    }

    #[test]
    fn json_prices_keep_their_short_form() {
        let product = Product {
            id: "a".into(),
            name: "n".into(),
            description: String::new(),
            price: 24.1,
        };
        assert_eq!(
            product_json(&product).to_string(),
            r#"{"description":"","id":"a","name":"n","price":24.1}"#
        );
    }

    #[test]
    fn errors_name_the_rpc_code_and_message() {
        let e = rpc_error(
            "getProduct",
            tonic::Status::not_found("no product with id \"x\""),
            false,
        );
        assert_eq!(
            e.to_string(),
            "getProduct failed: NOT_FOUND: no product with id \"x\""
        );
        assert_eq!(code_name(Code::from(4)), "DEADLINE_EXCEEDED");
        let e = rpc_error(
            "addProduct",
            tonic::Status::cancelled("Timeout expired"),
            false,
        );
        assert_eq!(
            e.to_string(),
            "addProduct failed: DEADLINE_EXCEEDED: no answer within --timeout"
        );
    }
}
