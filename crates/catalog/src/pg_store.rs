//! [`PostgresStore`]: the [`ProductStore`] on a PostgreSQL server, which
//! several catalog servers can share.

use std::{fmt, str::FromStr, time::Duration};

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use framecast_proto::ecommerce::Product;
use prost::Message;
use tokio_postgres::{NoTls, Row, config::SslMode, error::SqlState};

use crate::{ProductStore, StoreError};

/// Default for [`PostgresOptions::pool_size`]: 16 connections per catalog
/// server.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// Default for [`PostgresOptions::connect_timeout`]: 5 seconds.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Default for [`PostgresOptions::pool_wait_timeout`]: 5 seconds.
pub const DEFAULT_POOL_WAIT_TIMEOUT: Duration = Duration::from_secs(5);

/// The newest schema version of the catalog tables this program knows.
pub const SCHEMA_VERSION: i32 = 1;

/// The migrations, in order: entry `i` takes the schema from version `i` to
/// `i + 1`. Each runs in the start-up transaction, under the advisory lock.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [
    // 1: one row per product: its id, and the protobuf encoding of the
    // whole `ecommerce.Product` (id included), as in the redb file. Bytes
    // rather than text columns, so that every string a product may hold
    // comes back exactly (PostgreSQL's text cannot hold NUL) and later
    // versions can add fields the way protobuf does.
    "CREATE TABLE framecast_products (
        id text PRIMARY KEY,
        product bytea NOT NULL
    )",
];

/// The key of the transaction-level advisory lock that serialises schema
/// set-up when several catalog servers start at once ("framecat" in ASCII).
const MIGRATION_LOCK: i64 = 0x6672_616d_6563_6174;

/// How [`PostgresStore::connect`] connects.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PostgresOptions {
    /// The most connections this store holds open to the database; requests
    /// beyond that wait for a free one.
    pub pool_size: usize,
    /// The longest a new connection to the database may take.
    pub connect_timeout: Duration,
    /// The longest a request waits for a free connection before it fails
    /// with [`StoreError::Unavailable`].
    pub pool_wait_timeout: Duration,
    /// The password, when the URL has none (from a password file, say).
    /// Without either, the `PGPASSWORD` environment variable is used, if set.
    pub password: Option<String>,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            pool_size: DEFAULT_POOL_SIZE,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            pool_wait_timeout: DEFAULT_POOL_WAIT_TIMEOUT,
            password: None,
        }
    }
}

/// A [`ProductStore`] in a PostgreSQL database, through a pool of
/// connections.
///
/// - Products live in the table `framecast_products`: the id, and the
///   protobuf encoding of the whole `Product` (as in the redb file), created
///   on first start; the schema version is
///   kept in `framecast_schema` and migrated on start-up under an advisory
///   lock, so servers starting together do it once.
/// - An insert is one `INSERT … ON CONFLICT DO NOTHING`: the primary key
///   makes exactly one of several concurrent inserts of an id succeed, across
///   any number of catalog servers. An acknowledged write is committed, and
///   as durable as the server's settings make commits (`fsync` and
///   `synchronous_commit` on, their defaults).
/// - When the database cannot be reached, operations fail with
///   [`StoreError::Unavailable`]; broken connections are dropped from the
///   pool and replaced, so the store works again as soon as the database is
///   back, without a restart.
/// - Unlike [`MemoryStore`](crate::MemoryStore) it has no product count
///   limit: the database's disk is the limit, as for
///   [`RedbStore`](crate::RedbStore).
/// - It connects without TLS: run it on a trusted network (see the
///   catalog's security notes). A URL asking for `sslmode=require` is
///   refused rather than silently used in plaintext.
///
/// ```no_run
/// use framecast_catalog::{PostgresOptions, PostgresStore, ProductInfoService};
///
/// # async fn run() -> Result<(), framecast_catalog::StoreError> {
/// let store = PostgresStore::connect(
///     "postgres://catalog@db.internal:5432/catalog",
///     PostgresOptions::default(),
/// )
/// .await?;
/// println!("products in {}", store.target()); // no password shown
/// let service = ProductInfoService::new(store);
/// # let _ = service; Ok(()) }
/// ```
pub struct PostgresStore {
    pool: Pool,
    target: String,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://USER[:PASSWORD]@HOST[:PORT]/DB`
    /// or `postgresql://…`, or libpq's `key=value` form), checks it can
    /// be reached, and creates or migrates the schema.
    pub async fn connect(url: &str, options: PostgresOptions) -> Result<Self, StoreError> {
        let mut config =
            tokio_postgres::Config::from_str(url).map_err(|e| StoreError::Url(describe(&e)))?;
        if config.get_ssl_mode() == SslMode::Require {
            return Err(StoreError::Url(
                "sslmode=require: this program connects to PostgreSQL without TLS".into(),
            ));
        }
        if config.get_hosts().is_empty() {
            return Err(StoreError::Url("no host given".into()));
        }
        if config.get_password().is_none() {
            let password = options
                .password
                .clone()
                .or_else(|| std::env::var("PGPASSWORD").ok());
            if let Some(password) = password {
                config.password(password);
            }
        }
        config.ssl_mode(SslMode::Disable);
        config.connect_timeout(options.connect_timeout);
        config.application_name("framecast-catalog");
        let target = redacted(&config);

        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // A connection whose socket closed (the server restarted)
                // is dropped from the pool instead of being handed out.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.pool_wait_timeout))
            .create_timeout(Some(options.connect_timeout))
            .recycle_timeout(Some(options.connect_timeout))
            .build()
            .map_err(|e| StoreError::Url(e.to_string()))?;
        let store = Self { pool, target };
        store.migrate().await?;
        Ok(store)
    }

    /// Where the store connects, without the password:
    /// `postgres://USER@HOST:PORT/DB`.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Creates or upgrades the schema, in one transaction holding an
    /// advisory lock, so that concurrent start-ups wait for each other.
    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.pool.get().await.map_err(pool_error)?;
        let txn = client.transaction().await.map_err(pg_error)?;
        txn.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(pg_error)?;
        txn.batch_execute("CREATE TABLE IF NOT EXISTS framecast_schema (version integer NOT NULL)")
            .await
            .map_err(pg_error)?;
        let row = txn
            .query_opt("SELECT version FROM framecast_schema", &[])
            .await
            .map_err(pg_error)?;
        let found: i32 = match row {
            Some(row) => row.get(0),
            None => {
                txn.execute("INSERT INTO framecast_schema (version) VALUES (0)", &[])
                    .await
                    .map_err(pg_error)?;
                0
            }
        };
        if found > SCHEMA_VERSION {
            return Err(StoreError::Schema {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        for (from, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            txn.batch_execute(sql).await.map_err(pg_error)?;
            tracing::info!(version = from + 1, "catalog schema migrated");
        }
        txn.execute(
            "UPDATE framecast_schema SET version = $1",
            &[&SCHEMA_VERSION],
        )
        .await
        .map_err(pg_error)?;
        txn.commit().await.map_err(pg_error)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(pool_error)
    }
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// The product in column `product` of `row`.
fn decode(id: &str, row: &Row) -> Result<Product, StoreError> {
    let bytes: &[u8] = row.get("product");
    Product::decode(bytes).map_err(|source| StoreError::Corrupt {
        id: id.to_owned(),
        source,
    })
}

#[async_trait]
impl ProductStore for PostgresStore {
    async fn insert(&self, product: &Product) -> Result<(), StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "INSERT INTO framecast_products (id, product) VALUES ($1, $2) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .await
            .map_err(pg_error)?;
        let encoded = product.encode_to_vec();
        let inserted = client
            .execute(&statement, &[&product.id, &encoded])
            .await
            .map_err(pg_error)?;
        if inserted == 0 {
            return Err(StoreError::AlreadyExists {
                id: product.id.clone(),
            });
        }
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<Product>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("SELECT product FROM framecast_products WHERE id = $1")
            .await
            .map_err(pg_error)?;
        let row = client
            .query_opt(&statement, &[&id])
            .await
            .map_err(pg_error)?;
        row.map(|row| decode(id, &row)).transpose()
    }

    async fn remove(&self, id: &str) -> Result<Option<Product>, StoreError> {
        let mut client = self.client().await?;
        let statement = client
            .prepare_cached("DELETE FROM framecast_products WHERE id = $1 RETURNING product")
            .await
            .map_err(pg_error)?;
        // In a transaction, so that a value that does not decode is reported
        // and kept (rolled back), as the redb store does.
        let txn = client.transaction().await.map_err(pg_error)?;
        let Some(row) = txn.query_opt(&statement, &[&id]).await.map_err(pg_error)? else {
            return Ok(None);
        };
        let product = decode(id, &row)?;
        txn.commit().await.map_err(pg_error)?;
        Ok(Some(product))
    }

    async fn count(&self) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT count(*) FROM framecast_products", &[])
            .await
            .map_err(pg_error)?;
        let n: i64 = row.get(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn list(&self, after: &str, limit: usize) -> Result<Vec<Product>, StoreError> {
        let client = self.client().await?;
        // The primary key's index in the database's collation: each page is
        // a range scan, whatever the table's size.
        let statement = client
            .prepare_cached(
                "SELECT id, product FROM framecast_products WHERE id > $1 ORDER BY id LIMIT $2",
            )
            .await
            .map_err(pg_error)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = client
            .query(&statement, &[&after, &limit])
            .await
            .map_err(pg_error)?;
        rows.iter().map(|row| decode(row.get("id"), row)).collect()
    }
}

/// `postgres://USER@HOST:PORT/DB`, never the password.
fn redacted(config: &tokio_postgres::Config) -> String {
    use tokio_postgres::config::Host;
    let user = config.get_user().unwrap_or("");
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let port = config
                .get_ports()
                .get(i)
                .or(config.get_ports().first())
                .copied()
                .unwrap_or(5432);
            match host {
                Host::Tcp(name) if name.contains(':') => format!("[{name}]:{port}"),
                Host::Tcp(name) => format!("{name}:{port}"),
                #[cfg(unix)]
                Host::Unix(path) => format!("{}:{port}", path.display()),
            }
        })
        .collect();
    let db = config.get_dbname().unwrap_or(user);
    format!("postgres://{user}@{}/{db}", hosts.join(","))
}

/// A pool failure: the database could not be reached in time, or refused
/// the connection.
fn pool_error(err: PoolError) -> StoreError {
    match err {
        PoolError::Backend(e) => pg_error(e),
        PoolError::Timeout(_) => StoreError::Unavailable(
            "no database connection became free or could be made in time".into(),
        ),
        other => StoreError::Unavailable(other.to_string()),
    }
}

/// Sorts a database error: the server gone (or going) is
/// [`StoreError::Unavailable`]; anything it answered is
/// [`StoreError::Postgres`].
fn pg_error(err: tokio_postgres::Error) -> StoreError {
    let unavailable = match err.code() {
        // No SQLSTATE: the socket failed or closed, or a timeout.
        None => true,
        Some(code) => {
            code.code().starts_with("08") // connection exception
                || *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CRASH_SHUTDOWN
                || *code == SqlState::CANNOT_CONNECT_NOW
                || *code == SqlState::TOO_MANY_CONNECTIONS
        }
    };
    let why = describe(&err);
    if unavailable {
        StoreError::Unavailable(why)
    } else {
        StoreError::Postgres(why)
    }
}

/// tokio-postgres' own `Display` is terse ("db error"): spell out the
/// server's message, or the underlying I/O error.
fn describe(err: &tokio_postgres::Error) -> String {
    if let Some(db) = err.as_db_error() {
        return format!("{}: {} ({})", db.severity(), db.message(), db.code().code());
    }
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_never_shows_the_password() {
        let config =
            tokio_postgres::Config::from_str("postgres://app:hunter2-secret@db.example:6543/shop")
                .unwrap();
        let shown = redacted(&config);
        assert_eq!(shown, "postgres://app@db.example:6543/shop");
        let config = tokio_postgres::Config::from_str("postgresql://app@[::1]/shop").unwrap();
        assert_eq!(redacted(&config), "postgres://app@[::1]:5432/shop");
    }

    #[tokio::test]
    async fn bad_urls_are_refused_before_connecting() {
        for (url, expected) in [
            (
                "postgres://app@127.0.0.1:1/shop?sslmode=require",
                "sslmode=require",
            ),
            (
                "postgres://app@127.0.0.1:1/shop?nonsense=1",
                "invalid database URL",
            ),
        ] {
            let err = PostgresStore::connect(url, PostgresOptions::default())
                .await
                .unwrap_err();
            assert!(err.to_string().contains(expected), "{url}: {err}");
        }
    }

    #[tokio::test]
    async fn an_unreachable_server_is_unavailable() {
        // Nothing listens on port 1.
        let options = PostgresOptions {
            connect_timeout: Duration::from_secs(2),
            ..PostgresOptions::default()
        };
        let err = PostgresStore::connect("postgres://app:pw@127.0.0.1:1/shop", options)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
        assert!(!err.to_string().contains("pw"), "{err}");
    }
}
