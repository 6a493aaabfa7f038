//! The crate's error types, grouped by concern: [`StoreError`] for the
//! stores, [`ServeError`] for setting up and running the server.

use std::{io, sync::Arc};

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
    #[error("database error: {0}")]
    Database(#[source] Arc<redb::Error>),
    /// A stored value did not decode as a `Product`.
    #[error("the stored product with id {id:?} is corrupt: {source}")]
    Corrupt {
        /// The key whose value is corrupt.
        id: String,
        /// What the decoder found.
        source: prost::DecodeError,
    },
    /// The blocking task running the operation panicked or was cancelled;
    /// whether a write it carried was applied is unknown.
    #[error("the storage task failed: {0}")]
    Task(String),
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
    #[error("cannot build the reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// Reading the listener's address failed.
    #[error("listener error: {0}")]
    Listener(#[from] io::Error),
    /// The HTTP/2 server failed.
    #[error("gRPC server error: {0}")]
    Transport(#[from] tonic::transport::Error),
}
