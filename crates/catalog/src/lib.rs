//! The `ecommerce.ProductInfo` gRPC service: add, get and delete products.
//!
//! - [`ProductStore`]: the storage trait, with [`RedbStore`] (one durable
//!   file, the default), [`PostgresStore`] (a PostgreSQL database several
//!   servers share) and [`MemoryStore`].
//! - [`ProductInfoService`]: the tonic service over any store, with the
//!   request checks and status codes of the service contract.
//! - [`serve_with`]: a complete server, with health checking, server
//!   reflection (v1 and v1alpha), a request-size cap and deadlines, optional
//!   TLS and bearer-token authentication ([`Access`]), and connection limits
//!   ([`ServerConfig`]); [`serve`] is the same in plaintext with no token.
//! - `client::CatalogClient` (feature `client`): a client with TLS, a
//!   bearer token, a deadline on every call, and typed errors
//!   (`client::ClientError`) told apart by gRPC code and error source, not
//!   by message text.
//!
//! ```
//! use framecast_catalog::{MemoryStore, ProductInfoService, ServerConfig, serve};
//! use framecast_proto::ecommerce::{Product, ProductId, product_info_client::ProductInfoClient};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let url = format!("http://{}", listener.local_addr()?);
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let service = ProductInfoService::new(MemoryStore::new());
//! let server = tokio::spawn(serve(listener, service, ServerConfig::default(), async {
//!     let _ = stopped.await;
//! }));
//!
//! let channel = tonic::transport::Channel::from_shared(url)?.connect().await?;
//! let mut client = ProductInfoClient::new(channel);
//! let product = Product { name: "Desk lamp".into(), price: 24.5, ..Default::default() };
//! let id = client.add_product(product).await?.into_inner();
//! assert_eq!(id.value.len(), 36); // a fresh UUID v4
//! let stored = client.get_product(id.clone()).await?.into_inner();
//! assert_eq!(stored.name, "Desk lamp");
//! client.del_product(id.clone()).await?;
//! let gone = client.get_product(id).await.unwrap_err();
//! assert_eq!(gone.code(), tonic::Code::NotFound);
//!
//! stop.send(()).ok();
//! server.await??;
//! # Ok(())
//! # }
//! ```

// docs.rs labels each feature-gated item with its feature.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

mod auth;
#[cfg(feature = "client")]
#[cfg_attr(docsrs, doc(cfg(feature = "client")))]
pub mod client;
mod conn;
mod deadline;
mod error;
pub mod limits;
mod pg_store;
mod redb_store;
mod server;
mod service;
mod store;
mod throttle;
mod util;

pub use async_trait::async_trait;
pub use error::{ServeError, StoreError};
pub use limits::RequestLimits;
pub use pg_store::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_POOL_SIZE, DEFAULT_POOL_WAIT_TIMEOUT, PostgresOptions,
    PostgresStore, SCHEMA_VERSION,
};
pub use redb_store::RedbStore;
pub use server::{
    Access, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_KEEPALIVE_INTERVAL,
    DEFAULT_KEEPALIVE_TIMEOUT, DEFAULT_MAX_CONCURRENT_STREAMS, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_REQUEST_DURATION, DEFAULT_SHUTDOWN_GRACE, SERVICE_NAME,
    ServerConfig, serve, serve_with,
};
pub use service::{MAX_ID_ATTEMPTS, ProductInfoService};
pub use store::{DEFAULT_MAX_PRODUCTS, MemoryStore, ProductStore};
