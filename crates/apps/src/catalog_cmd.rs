//! `framecast catalog`: the `ecommerce.ProductInfo` server and its client
//! commands.
//!
//! - `serve` runs the server (health and reflection included) until Ctrl-C or
//!   SIGTERM, over a redb file (by default [`DEFAULT_DB`] in the current
//!   directory) or, with `--memory`, over a store that lives and dies with
//!   the process. Once listening it prints `listening on ADDR:PORT` on
//!   stdout.
//! - `add`, `get` and `del` call the server at `--server` and print the
//!   result readably, or as one line of JSON with `--json`.
//!
//! A failed call returns an error naming the RPC, the gRPC status code and
//! the server's message, such as
//! `getProduct failed: NOT_FOUND: no product with id "x"`; `main` prints it
//! on stderr and exits with status 1.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use framecast_catalog::{MemoryStore, ProductInfoService, RedbStore, ServerConfig};
use framecast_proto::ecommerce::{Product, ProductId, product_info_client::ProductInfoClient};
use tonic::{Code, transport::Channel};

/// The database file `serve` uses without `--db` or `--memory`.
pub(crate) const DEFAULT_DB: &str = "framecast-catalog.redb";

/// The `ecommerce.ProductInfo` catalog: a gRPC server and a client for it.
#[derive(Debug, Subcommand)]
pub(crate) enum CatalogArgs {
    /// Run the catalog server until Ctrl-C or SIGTERM.
    Serve(ServeArgs),
    /// Add a product; prints its id.
    Add(AddArgs),
    /// Show a product.
    Get(IdArgs),
    /// Delete a product; prints what was deleted.
    Del(IdArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The address to listen on. Port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:50051", value_name = "ADDR:PORT")]
    listen: SocketAddr,

    /// The database file, created if missing [default: framecast-catalog.redb].
    #[arg(long, value_name = "PATH", conflicts_with = "memory")]
    db: Option<PathBuf>,

    /// Keep products in memory only: they are gone when the server stops.
    #[arg(long)]
    memory: bool,

    /// The largest request accepted, in bytes.
    #[arg(long, default_value_t = framecast_catalog::DEFAULT_MAX_REQUEST_BYTES, value_name = "BYTES")]
    max_request_bytes: usize,
}

/// Options every client command takes.
#[derive(Debug, Args)]
pub(crate) struct ClientArgs {
    /// The catalog server.
    #[arg(long, default_value = "http://127.0.0.1:50051", value_name = "URL")]
    server: String,

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
            CatalogArgs::Serve(args) => serve(args).await,
            CatalogArgs::Add(args) => add(args).await,
            CatalogArgs::Get(args) => get(args).await,
            CatalogArgs::Del(args) => del(args).await,
        }
    })
}

async fn serve(args: ServeArgs) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    let mut config = ServerConfig::default();
    config.max_request_bytes = args.max_request_bytes;

    // Each branch announces once its store is open, so "listening" means
    // ready.
    if args.memory {
        let service = ProductInfoService::new(MemoryStore::new());
        announce(address, "memory (nothing is kept after exit)");
        framecast_catalog::serve(listener, service, config, shutdown_signal()).await
    } else {
        let path = args.db.unwrap_or_else(|| PathBuf::from(DEFAULT_DB));
        let store = tokio::task::spawn_blocking({
            let path = path.clone();
            move || RedbStore::open(path)
        })
        .await?
        .with_context(|| format!("cannot open the catalog database {}", path.display()))?;
        announce(address, &path.display().to_string());
        let service = ProductInfoService::new(store);
        framecast_catalog::serve(listener, service, config, shutdown_signal()).await
    }
    .context("the catalog server failed")?;
    tracing::info!("catalog server stopped");
    Ok(())
}

fn announce(address: SocketAddr, store: &str) {
    use std::io::Write;
    tracing::info!(%address, store, "catalog server ready");
    // A stable line for scripts (and tests) that start the server on port 0.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {address}");
    let _ = out.flush();
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

async fn connect(args: &ClientArgs) -> Result<(ProductInfoClient<Channel>, Duration)> {
    let timeout = Duration::try_from_secs_f64(args.timeout)
        .ok()
        .filter(|t| !t.is_zero())
        .with_context(|| {
            format!(
                "--timeout {} is not a positive number of seconds",
                args.timeout
            )
        })?;
    let channel = Channel::from_shared(args.server.clone())
        .with_context(|| format!("{:?} is not a server URL", args.server))?
        .connect_timeout(timeout)
        .connect()
        .await
        .with_context(|| format!("cannot connect to the catalog server at {}", args.server))?;
    Ok((ProductInfoClient::new(channel), timeout))
}

/// A request carrying the deadline.
fn request<T>(message: T, timeout: Duration) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(timeout);
    request
}

async fn add(args: AddArgs) -> Result<()> {
    let (mut client, timeout) = connect(&args.client).await?;
    let product = Product {
        id: args.id.unwrap_or_default(),
        name: args.name,
        description: args.description,
        price: args.price,
    };
    let id = client
        .add_product(request(product, timeout))
        .await
        .map_err(|s| rpc_error("addProduct", s))?
        .into_inner()
        .value;
    if args.client.json {
        println!("{}", serde_json::json!({ "id": id }));
    } else {
        println!("{id}");
    }
    Ok(())
}

async fn get(args: IdArgs) -> Result<()> {
    let (mut client, timeout) = connect(&args.client).await?;
    let product = client
        .get_product(request(ProductId { value: args.id }, timeout))
        .await
        .map_err(|s| rpc_error("getProduct", s))?
        .into_inner();
    print_product(&product, args.client.json);
    Ok(())
}

async fn del(args: IdArgs) -> Result<()> {
    let (mut client, timeout) = connect(&args.client).await?;
    let product = client
        .del_product(request(ProductId { value: args.id }, timeout))
        .await
        .map_err(|s| rpc_error("delProduct", s))?
        .into_inner();
    print_product(&product, args.client.json);
    Ok(())
}

fn print_product(product: &Product, json: bool) {
    if json {
        println!("{}", product_json(product));
    } else {
        println!("id:          {}", product.id);
        println!("name:        {}", product.name);
        println!("description: {}", product.description);
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
fn rpc_error(rpc: &str, status: tonic::Status) -> anyhow::Error {
    // tonic's client enforces the deadline itself and reports it as
    // CANCELLED; say what happened.
    if status.code() == Code::Cancelled && status.message() == "Timeout expired" {
        return anyhow::anyhow!("{rpc} failed: DEADLINE_EXCEEDED: no answer within --timeout");
    }
    anyhow::anyhow!(
        "{rpc} failed: {}: {}",
        code_name(status.code()),
        status.message()
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
        );
        assert_eq!(
            e.to_string(),
            "getProduct failed: NOT_FOUND: no product with id \"x\""
        );
        assert_eq!(code_name(Code::from(4)), "DEADLINE_EXCEEDED");
        let e = rpc_error("addProduct", tonic::Status::cancelled("Timeout expired"));
        assert_eq!(
            e.to_string(),
            "addProduct failed: DEADLINE_EXCEEDED: no answer within --timeout"
        );
    }
}
