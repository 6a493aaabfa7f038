//! The crate's error types, grouped by concern: [`StoreError`] for the
//! stores, [`ServeError`] for setting up and running the server.

use std::{io, path::PathBuf, sync::Arc};

/// Why a [`ProductStore`](crate::ProductStore) operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// [`insert`](crate::ProductStore::insert) found the id already taken;
    /// nothing was written.
    #[error("a product with id {id:?} already exists")]
    AlreadyExists {
        /// The id that is taken.
        id: String,
    },
    /// The store already holds its configured maximum number of products;
    /// nothing was written.
    #[error("the store is full: it holds its limit of {limit} products")]
    Full {
        /// The configured limit.
        limit: u64,
    },
    /// The embedded database failed (I/O error, corruption, full disk...).
    /// Shared, because one failed commit fails every write grouped into it.
    #[error("database error")]
    Database(#[source] Arc<redb::Error>),
    /// The database file is open in another process (redb allows one).
    #[error("the database {} is in use by another process", path.display())]
    Locked {
        /// The file.
        path: PathBuf,
    },
    /// The database server cannot be reached, or dropped the connection;
    /// the operation may succeed once it is back. The text is the driver's
    /// error as `describe` digs it out (the driver's own `Display` says
    /// only "db error"), so it is kept as a message, not a source.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// The database server refused an operation (its message, as for
    /// [`StoreError::Unavailable`]).
    #[error("PostgreSQL error: {0}")]
    Postgres(String),
    /// The database holds a schema newer than this program knows.
    #[error(
        "the database's catalog schema is version {found}, newer than the {supported} this program knows"
    )]
    Schema {
        /// The version found in the database.
        found: i32,
        /// The newest version this program knows.
        supported: i32,
    },
    /// A `postgres://` URL that cannot be used.
    #[error("invalid database URL: {0}")]
    Url(String),
    /// A stored value did not decode as a `Product`.
    #[error("the stored product with id {id:?} is corrupt")]
    Corrupt {
        /// The key whose value is corrupt.
        id: String,
        /// What the decoder found.
        source: prost::DecodeError,
    },
    /// The blocking task running the operation panicked or was cancelled;
    /// whether a write it carried was applied is unknown.
    #[error("the storage task failed")]
    Task(#[source] tokio::task::JoinError),
    /// The thread committing a write stopped before it replied (it
    /// panicked); whether the write was applied is unknown.
    #[error("the write was lost: the thread committing it stopped before replying")]
    WriteLost,
}

impl StoreError {
    /// Wraps any of redb's error types.
    pub(crate) fn db(err: impl Into<redb::Error>) -> Self {
        Self::Database(Arc::new(err.into()))
    }
}

/// Why [`serve`](crate::serve) could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The reflection service rejected the embedded descriptor sets.
    #[error("cannot build the reflection service")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// Reading the listener's address failed.
    #[error("listener error")]
    Listener(#[from] io::Error),
    /// The HTTP/2 server failed.
    #[error("gRPC server error")]
    Transport(#[from] tonic::transport::Error),
}
