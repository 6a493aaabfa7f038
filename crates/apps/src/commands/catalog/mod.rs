//! `framecast catalog`: the `ecommerce.ProductInfo` server and its client
//! commands.
//!
//! - `serve` ([`serve`]) runs the server (health and reflection included)
//!   until Ctrl-C or SIGTERM (then exits 0). Once listening it prints
//!   `listening on ADDR:PORT` on stdout.
//! - `add`, `get`, `del` and `list` ([`client`]) call a server through
//!   `framecast_catalog::client` and print the result readably, control
//!   characters escaped, or as one line of JSON with `--json`. A failed
//!   call prints the RPC, the gRPC status code and the server's message,
//!   such as `getProduct failed: NOT_FOUND: no product with id "x"`, and
//!   exits with status 1.

use anyhow::{Context, Result};
use clap::Subcommand;

mod client;
mod serve;

/// `framecast catalog --help`'s examples.
pub(crate) const EXAMPLES: &str = "\
Examples:
  framecast catalog serve --db products.redb &
  id=$(framecast catalog add --name \"Sony Xperia\" --description phone --price 799.5)
  framecast catalog get \"$id\" --json
  framecast catalog del \"$id\"
  framecast catalog list --limit 20
";

/// The `ecommerce.ProductInfo` catalog: a gRPC server and a client for it.
#[derive(Debug, Subcommand)]
pub(crate) enum CatalogArgs {
    /// Run the catalog server until Ctrl-C or SIGTERM.
    #[command(after_help = serve::EXAMPLES)]
    Serve(Box<serve::ServeArgs>),
    /// Add a product; prints its id.
    #[command(after_help = client::ADD_EXAMPLES)]
    Add(client::AddArgs),
    /// Show a product.
    #[command(after_help = client::GET_EXAMPLES)]
    Get(client::IdArgs),
    /// Delete a product; prints what was deleted.
    #[command(after_help = client::DEL_EXAMPLES)]
    Del(client::IdArgs),
    /// List the products in id order, page by page: id, price and name on
    /// a line each.
    #[command(after_help = client::LIST_EXAMPLES)]
    List(client::ListArgs),
}

/// Runs a `framecast catalog` command.
pub(crate) fn run(args: CatalogArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        match args {
            CatalogArgs::Serve(args) => serve::run(*args).await,
            CatalogArgs::Add(args) => client::add(args).await,
            CatalogArgs::Get(args) => client::get(args).await,
            CatalogArgs::Del(args) => client::del(args).await,
            CatalogArgs::List(args) => client::list(args).await,
        }
    })
}
