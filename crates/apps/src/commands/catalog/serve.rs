//! `framecast catalog serve`: the catalog's gRPC server, over a redb file
//! (by default [`DEFAULT_DB`] in the current directory), a PostgreSQL
//! database (`--db postgres://…`) or, with `--memory`, a store that lives
//! and dies with the process. It listens on loopback unless told
//! otherwise, and refuses any other address without a token unless
//! `--allow-anonymous` is given.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use framecast_catalog::{
    Access, MemoryStore, PostgresOptions, PostgresStore, ProductInfoService, ProductStore,
    RedbStore, ServerConfig, StoreError,
};
use framecast_net::HostPort;

use crate::flags::auth::ServerAuthArgs;
use crate::flags::{ByteSize, bind_hint, bound, listen_addr, resolve, seconds, seconds_or_never};
use crate::report::{HintExt, hinted};

/// The database file `serve` uses without `--db` or `--memory`.
pub(crate) const DEFAULT_DB: &str = "framecast-catalog.redb";

/// The port of `--listen` and `--server` when none is given.
pub(crate) const DEFAULT_PORT: u16 = 50051;

/// File descriptors kept free for everything but client connections
/// (standard streams, the runtime, the listener, the database, logs) when
/// the connection cap is fitted to the open-file limit.
pub(crate) const RESERVED_FDS: u64 = 32;

/// `framecast catalog serve --help`'s examples.
pub(crate) const EXAMPLES: &str = "\
Examples:
  framecast catalog serve                                  127.0.0.1:50051, framecast-catalog.redb
  framecast catalog serve --memory --listen :50052
  framecast catalog serve --db postgres://app@db.lan/shop --db-password-file pw
  framecast catalog serve --listen 0.0.0.0:50051 --tls-cert certs/server.pem \\
      --tls-key certs/server-key.pem --token-file token
";

/// `framecast catalog serve`'s flags.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The address to listen on: PORT or :PORT (on loopback), HOST:PORT or
    /// HOST (port 50051), HOST a name or an IP address, IPv6 in brackets
    /// (`[::1]:50051`). Port 0 picks a free port. Any address but loopback needs
    /// --token-file (or --allow-anonymous).
    #[arg(long, default_value = "127.0.0.1:50051", value_name = "ADDRESS", value_parser = listen_addr(DEFAULT_PORT))]
    listen: HostPort,

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

    #[command(flatten)]
    auth: ServerAuthArgs,

    /// The largest request accepted (64KiB, 1MiB, or bytes).
    #[arg(long, default_value_t = ByteSize(framecast_catalog::DEFAULT_MAX_REQUEST_BYTES as u64), value_name = "SIZE")]
    max_request_bytes: ByteSize,

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

/// Runs `framecast catalog serve`.
pub(crate) async fn run(args: ServeArgs) -> Result<()> {
    let listen = args.listen.clone();
    let addresses = tokio::task::spawn_blocking(move || resolve("--listen", &listen)).await??;
    let token = args.auth.token()?;
    args.auth.check_exposure(
        &addresses,
        &args.listen,
        token.as_ref(),
        "add and delete products",
    )?;
    let mut access = Access::new();
    if let Some(tls) = args.auth.tls(&[framecast_tls::ALPN_H2])? {
        access = access.with_tls(tls);
    }
    if let Some(token) = token {
        access = access.with_token(token);
    }
    let mut config = ServerConfig::default();
    config.max_request_bytes = args.max_request_bytes.to_usize("--max-request-bytes")?;
    config.max_concurrent_streams = args.max_concurrent_streams;
    config.idle_timeout = seconds_or_never("--idle-timeout", args.idle_timeout)?;
    config.handshake_timeout = seconds("--handshake-timeout", args.handshake_timeout)?;
    config.keepalive_interval = seconds_or_never("--keepalive-interval", args.keepalive_interval)?;
    config.keepalive_timeout = seconds("--keepalive-timeout", args.keepalive_timeout)?;
    let is_postgres = args
        .db
        .as_deref()
        .is_some_and(|db| db.starts_with("postgres://") || db.starts_with("postgresql://"));
    let pool = if is_postgres { args.db_pool_size } else { 0 };
    config.max_connections = fit_connections_to_fd_limit(args.max_connections, pool);

    // Open the store before listening, so "listening" means ready.
    let (store, described) = open_store(&args, is_postgres).await?;
    let listener = bind(&addresses).await?;
    announce(&listener, &args.listen, &described)?;
    let service = ProductInfoService::new(store);
    framecast_catalog::serve_with(listener, service, config, access, shutdown_signal())
        .await
        .context("the catalog server failed")?;
    tracing::info!("catalog server stopped");
    Ok(())
}

/// The store `--memory`, `--db postgres://…` or `--db PATH` asks for, and
/// how to describe it in the log.
async fn open_store(
    args: &ServeArgs,
    is_postgres: bool,
) -> Result<(Box<dyn ProductStore>, String)> {
    if args.memory {
        return Ok((
            Box::new(MemoryStore::new()),
            "memory (nothing is kept after exit)".to_owned(),
        ));
    }
    if is_postgres {
        let url = args.db.clone().unwrap_or_default();
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
                StoreError::Unavailable(_) => hinted(
                    anyhow::Error::new(e).context("cannot reach the catalog database"),
                    Some(
                        "is PostgreSQL running at that address, and do the user, password and \
                         database exist?",
                    ),
                ),
                e => anyhow::Error::new(e).context("cannot use the catalog database"),
            })?;
        let described = store.target().to_owned();
        return Ok((Box::new(store), described));
    }
    let path = PathBuf::from(args.db.clone().unwrap_or_else(|| DEFAULT_DB.to_owned()));
    let store = tokio::task::spawn_blocking({
        let path = path.clone();
        move || RedbStore::open(path)
    })
    .await?
    .map_err(|e| match e {
        StoreError::Locked { .. } => hinted(
            e,
            Some(
                "another `framecast catalog serve` holds it: stop that one, or give this one \
                 another --db (several servers can share a PostgreSQL database instead)",
            ),
        ),
        e => {
            // redb creates the file, not the folders above it.
            let folder = path.parent().filter(|p| !p.as_os_str().is_empty());
            let hint = folder.filter(|p| !p.is_dir()).map(|p| {
                format!(
                    "the folder {} does not exist: create it, or give another --db",
                    p.display()
                )
            });
            hinted(
                anyhow::Error::new(e).context(format!(
                    "cannot open the catalog database {}",
                    path.display()
                )),
                hint,
            )
        }
    })?;
    Ok((Box::new(store), path.display().to_string()))
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

/// Binds the first of `addresses` that can be bound.
async fn bind(addresses: &[SocketAddr]) -> Result<tokio::net::TcpListener> {
    let mut last = None;
    for address in addresses {
        match tokio::net::TcpListener::bind(address).await {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some((address, e)),
        }
    }
    let (address, e) = last.context("no address to listen on")?;
    let hint = bind_hint(e.kind(), "--listen");
    Err(e)
        .with_context(|| format!("cannot listen on {address}"))
        .maybe_hint(hint)
}

fn announce(listener: &tokio::net::TcpListener, asked: &HostPort, store: &str) -> Result<()> {
    use std::io::Write;
    let address = listener.local_addr()?;
    tracing::info!(%address, store, "catalog server ready");
    // A stable line for scripts (and tests) that start the server on port 0.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {}", bound(address, Some(asked)));
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
