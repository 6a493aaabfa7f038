//! `framecast catalog add|get|del`: calls to a catalog server through
//! [`framecast_catalog::client`], printed readably or as JSON, with what to
//! do about a failure on a `hint:` line.

use anyhow::{Context, Result, bail};
use clap::Args;
use framecast_catalog::client::{
    CatalogClient, ClientConfig, ClientError, Code, ConnectError, printable,
};
use framecast_net::HostPort;
use framecast_proto::ecommerce::Product;
use framecast_tls::HandshakeFailure;

use super::serve::DEFAULT_PORT;
use crate::flags::auth::ClientAuthArgs;
use crate::flags::seconds;
use crate::output::out;
use crate::report::hinted;

/// `framecast catalog add --help`'s examples.
pub(crate) const ADD_EXAMPLES: &str = "\
Examples:
  framecast catalog add --name \"Desk lamp\" --price 24.5            prints the new id
  framecast catalog add --name Chair --price 40 --id sku-7 --json
  framecast catalog add --name Lamp --price 5 --server https://shop.lan:50051 --tls-ca ca.pem
";

/// `framecast catalog get --help`'s examples.
pub(crate) const GET_EXAMPLES: &str = "\
Examples:
  framecast catalog get sku-7
  framecast catalog get sku-7 --json --server 10.0.0.5:50051
";

/// `framecast catalog del --help`'s examples.
pub(crate) const DEL_EXAMPLES: &str = "\
Examples:
  framecast catalog del sku-7
  framecast catalog del sku-7 --json
";

/// `framecast catalog list --help`'s examples.
pub(crate) const LIST_EXAMPLES: &str = "\
Examples:
  framecast catalog list                                  every product, in id order
  framecast catalog list --limit 20                       the first 20
  framecast catalog list --after sku-7 --limit 20         the 20 after sku-7
  framecast catalog list --json > products.jsonl          one JSON object per line
";

/// What a server is asked when nothing answers.
const IS_IT_RUNNING: &str = "is `framecast catalog serve` running at that address?";

/// Options every client command takes.
#[derive(Debug, Args)]
#[command(mut_arg("tls_ca", |a| a.help(
    "The CA certificate(s), PEM, that the server's certificate must chain to (from `framecast \
     cert`); without it, https:// trusts the system's roots."
)))]
pub(crate) struct ClientArgs {
    /// The catalog server: HOST:PORT (as grpcurl takes it), PORT or :PORT
    /// (on this machine), http://HOST:PORT (plaintext) or https://HOST:PORT
    /// (TLS). HOST:PORT means TLS when --tls-ca is given.
    #[arg(long, default_value = "127.0.0.1:50051", value_name = "SERVER")]
    server: String,

    #[command(flatten)]
    auth: ClientAuthArgs,

    /// Print one line of JSON instead of readable text.
    #[arg(long)]
    json: bool,

    /// Give up on connecting or on the call after this many seconds.
    #[arg(long, default_value_t = framecast_catalog::client::DEFAULT_CLIENT_TIMEOUT.as_secs_f64(), value_name = "SECONDS")]
    timeout: f64,
}

/// `framecast catalog add`'s flags.
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

/// `framecast catalog get` and `del`'s flags.
#[derive(Debug, Args)]
pub(crate) struct IdArgs {
    /// The product id.
    id: String,

    #[command(flatten)]
    client: ClientArgs,
}

/// `framecast catalog list`'s flags.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Start after this id (the last one of an earlier listing) [default:
    /// from the first product].
    #[arg(long, value_name = "ID")]
    after: Option<String>,

    /// Stop after this many products [default: all of them].
    #[arg(long, value_name = "N")]
    limit: Option<u64>,

    /// How many products to ask for in each call; 0 takes the server's
    /// default (100), and the server caps it (1000).
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(i32).range(0..))]
    page_size: i32,

    #[command(flatten)]
    client: ClientArgs,
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
        let address = HostPort::parse_connect(rest, DEFAULT_PORT)
            .with_context(|| format!("--server {server:?} is not a usable address"))?;
        Ok(Self { address, tls })
    }
}

/// Connects as `args` ask.
async fn connect(args: &ClientArgs) -> Result<CatalogClient> {
    let timeout = seconds("--timeout", args.timeout)?;
    let target = Target::parse(&args.server, args.auth.tls_ca.is_some())?;
    if !target.tls && args.auth.tls_ca.is_some() {
        bail!(
            "--tls-ca is given but --server {} is http://: use https://",
            args.server
        );
    }
    let mut config = ClientConfig::new(target.address.clone()).timeout(timeout);
    if let Some(token) = args.auth.token()? {
        if !target.tls && !target.address.is_loopback() {
            tracing::warn!(
                server = %target.address,
                "sending the access token in plaintext; use https:// if the server has TLS"
            );
        }
        config = config.token(token);
    }
    if target.tls {
        config = config.tls(args.auth.tls(&[framecast_tls::ALPN_H2])?);
    }
    CatalogClient::connect(config)
        .await
        .map_err(|e| client_error(e, args))
}

/// A failed call, with what to do about it in this program's flags.
fn client_error(e: ClientError, args: &ClientArgs) -> anyhow::Error {
    let hint = match &e {
        ClientError::Connect {
            source, address, ..
        } => match source {
            ConnectError::Tls(failure) => match failure {
                HandshakeFailure::UnknownIssuer => Some(match &args.auth.tls_ca {
                    Some(ca) => format!(
                        "the server's certificate does not chain to the CA in --tls-ca {}",
                        ca.display()
                    ),
                    None => "give the CA that signed the server's certificate with --tls-ca".into(),
                }),
                HandshakeFailure::WrongName { .. } => Some(format!(
                    "connect with a name the certificate is for, or remake it with `framecast \
                     cert --host {}`",
                    address.host()
                )),
                HandshakeFailure::NotTls | HandshakeFailure::Closed => {
                    Some("the server may not use TLS: try http://".into())
                }
                _ => None,
            },
            ConnectError::Http2(_) => Some(
                "if the server uses TLS, connect with https:// and --tls-ca; else, is it a \
                 catalog server?"
                    .into(),
            ),
            ConnectError::TimedOut(_) => Some(format!("{IS_IT_RUNNING} (or raise --timeout)")),
            _ => Some(IS_IT_RUNNING.into()),
        },
        ClientError::Broken { .. } => Some(
            "if the server uses TLS, connect with https:// and --tls-ca; else it may have \
             stopped: retry"
                .into(),
        ),
        ClientError::Deadline { .. } => Some("raise --timeout, or retry later".into()),
        e if e.code() == Some(Code::Unauthenticated) => {
            Some("give the server's token with --token-file FILE or FRAMECAST_TOKEN".into())
        }
        e if e.code() == Some(Code::Unavailable) => Some("retry later".into()),
        _ => None,
    };
    hinted(e, hint)
}

/// Runs `framecast catalog add`.
pub(crate) async fn add(args: AddArgs) -> Result<()> {
    let mut client = connect(&args.client).await?;
    let product = Product {
        id: args.id.unwrap_or_default(),
        name: args.name,
        description: args.description,
        price: args.price,
    };
    let id = client
        .add(product)
        .await
        .map_err(|e| client_error(e, &args.client))?;
    if args.client.json {
        out(format_args!("{}\n", serde_json::json!({ "id": id })))
    } else {
        out(format_args!("{}\n", printable(&id)))
    }
}

/// Runs `framecast catalog get`.
pub(crate) async fn get(args: IdArgs) -> Result<()> {
    let mut client = connect(&args.client).await?;
    let product = client
        .get(&args.id)
        .await
        .map_err(|e| client_error(e, &args.client))?;
    print_product(&product, args.client.json)
}

/// Runs `framecast catalog del`.
pub(crate) async fn del(args: IdArgs) -> Result<()> {
    let mut client = connect(&args.client).await?;
    let product = client
        .delete(&args.id)
        .await
        .map_err(|e| client_error(e, &args.client))?;
    print_product(&product, args.client.json)
}

/// Runs `framecast catalog list`: page by page, each printed as it comes
/// (one line per product), so that a catalog of any size lists in little
/// memory.
pub(crate) async fn list(args: ListArgs) -> Result<()> {
    let mut client = connect(&args.client).await?;
    let mut token = args.after.clone().unwrap_or_default();
    let mut left = args.limit.unwrap_or(u64::MAX);
    while left > 0 {
        // Never more than is left to print; the server caps it too.
        let left_i32 = i32::try_from(left).unwrap_or(i32::MAX);
        let size = match (args.page_size, args.limit) {
            (0, None) => 0,
            (0, Some(_)) => left_i32,
            (n, _) => n.min(left_i32),
        };
        let page = client
            .list(size, &token)
            .await
            .map_err(|e| client_error(e, &args.client))?;
        for product in page
            .products
            .iter()
            .take(usize::try_from(left).unwrap_or(usize::MAX))
        {
            if args.client.json {
                out(format_args!("{}\n", product_json(product)))?;
            } else {
                out(format_args!(
                    "{}  {}  {}\n",
                    printable(&product.id),
                    product.price,
                    printable(&product.name)
                ))?;
            }
            left -= 1;
        }
        if page.next_page_token.is_empty() {
            return Ok(());
        }
        token = page.next_page_token;
    }
    // Stopped by --limit with products left: say how to go on.
    eprintln!(
        "more products follow: go on with --after {}",
        printable(&token)
    );
    Ok(())
}

fn print_product(product: &Product, json: bool) -> Result<()> {
    if json {
        return out(format_args!("{}\n", product_json(product)));
    }
    out(format_args!(
        "id:          {}\nname:        {}\ndescription: {}\nprice:       {}\n",
        printable(&product.id),
        printable(&product.name),
        printable(&product.description),
        product.price
    ))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_schemes() {
        let t = Target::parse("127.0.0.1:50061", false).unwrap();
        assert!(!t.tls);
        assert_eq!(t.address.to_string(), "127.0.0.1:50061");
        assert!(Target::parse("127.0.0.1:50061", true).unwrap().tls);
        assert!(Target::parse("https://localhost:1", false).unwrap().tls);
        assert!(!Target::parse("http://[::1]:1/", false).unwrap().tls);
        assert_eq!(
            Target::parse(":50061", false).unwrap().address.to_string(),
            "127.0.0.1:50061"
        );
        assert!(Target::parse("ftp://x:1", false).is_err());
        assert!(Target::parse("http://x:1/path", false).is_err());
        assert!(Target::parse("https://x:99999", false).is_err());
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
}
