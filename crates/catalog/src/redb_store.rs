//! [`RedbStore`]: the persistent [`ProductStore`] in one redb file.

use std::{
    path::Path,
    sync::{
        Arc, Mutex,
        mpsc::{self, SyncSender},
    },
};

use async_trait::async_trait;
use framecast_proto::ecommerce::Product;
use prost::Message;
use redb::{
    Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, Table, TableDefinition,
};

use crate::util::lock;
use crate::{ProductStore, StoreError};

/// The one table: product id (UTF-8) to the protobuf encoding of the whole
/// `ecommerce.Product` message, id included.
///
/// Storing the wire encoding keeps the file readable by any protobuf tool and
/// lets later versions add fields the way protobuf does.
const PRODUCTS: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("products");

/// A [`ProductStore`] in a single [redb](redb) database file: ACID, and every
/// [`insert`](ProductStore::insert) and [`remove`](ProductStore::remove) is
/// committed durably (fsynced) before it returns, so an acknowledged write
/// survives a crash of the process or the machine.
///
/// Values are the protobuf encoding of `ecommerce.Product`, keyed by its id.
/// Reads run concurrently on snapshots. Writes use group commit: redb allows
/// one write transaction at a time, so writes that arrive while one commits
/// queue up, and the next writer to get the transaction applies the whole
/// queue, in arrival order, in one transaction with one fsync. Each write
/// still gets its own result, and none is acknowledged before its commit.
#[derive(Debug)]
pub struct RedbStore {
    inner: Arc<Inner>,
}

/// The store's state, shared with the blocking tasks that use it.
#[derive(Debug)]
struct Inner {
    db: Database,
    /// Writes waiting for a transaction.
    queue: Mutex<Vec<Pending>>,
    /// Held by the thread running the current write transaction.
    writer: Mutex<()>,
}

/// One queued write and where its result goes.
#[derive(Debug)]
struct Pending {
    op: Op,
    reply: SyncSender<Result<Option<Product>, StoreError>>,
}

#[derive(Debug)]
enum Op {
    /// Insert the encoded product under its id, unless the id is taken.
    Insert {
        id: String,
        value: Vec<u8>,
    },
    Remove(String),
}

impl RedbStore {
    /// Opens the database file at `path`, creating it (but not its parent
    /// directory) if it does not exist. After a crash, redb repairs the file
    /// on open; only committed transactions remain.
    ///
    /// Fails with [`StoreError::Locked`] if another process has the file
    /// open. Blocks on disk I/O: in async code, call it on the blocking pool.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let db = Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Locked {
                path: path.to_owned(),
            },
            e => StoreError::db(e),
        })?;
        // Create the table up front so readers never meet a missing table.
        let txn = db.begin_write().map_err(StoreError::db)?;
        txn.open_table(PRODUCTS).map_err(StoreError::db)?;
        txn.commit().map_err(StoreError::db)?;
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                queue: Mutex::new(Vec::new()),
                writer: Mutex::new(()),
            }),
        })
    }

    /// Runs `op` on tokio's blocking pool, where disk I/O cannot stall the
    /// runtime.
    async fn blocking<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || op(&inner))
            .await
            .map_err(StoreError::Task)?
    }
}

impl Inner {
    /// Queues `op` and returns its result once it is committed, leading the
    /// commit of everything queued if no other thread is.
    fn write(&self, op: Op) -> Result<Option<Product>, StoreError> {
        let (reply, result) = mpsc::sync_channel(1);
        lock(&self.queue).push(Pending { op, reply });
        let writer = lock(&self.writer);
        // The previous writer may have committed our op while we waited.
        if let Ok(done) = result.try_recv() {
            return done;
        }
        // Not served, so still queued: a writer empties the queue and replies
        // to all it took before it lets go of `writer`.
        let batch = std::mem::take(&mut *lock(&self.queue));
        self.commit(batch);
        drop(writer);
        result.recv().unwrap_or_else(|_| Err(StoreError::WriteLost))
    }

    /// Applies `batch` in one transaction and replies to each write: its own
    /// outcome if the commit succeeded, else the commit's error.
    fn commit(&self, batch: Vec<Pending>) {
        let mut outcomes = Vec::with_capacity(batch.len());
        let committed = (|| -> Result<(), redb::Error> {
            let txn = self.db.begin_write()?;
            {
                let mut table = txn.open_table(PRODUCTS)?;
                for pending in &batch {
                    outcomes.push(apply(&mut table, &pending.op)?);
                }
            }
            // Durability::Immediate (redb's default): fsynced when this returns.
            Ok(txn.commit()?)
        })();
        match committed {
            Ok(()) => {
                for (pending, outcome) in batch.into_iter().zip(outcomes) {
                    // A writer that went away no longer needs its reply.
                    let _ = pending.reply.send(outcome);
                }
            }
            Err(e) => {
                // One failed commit fails every write grouped into it.
                let shared = Arc::new(e);
                for pending in batch {
                    let _ = pending
                        .reply
                        .send(Err(StoreError::Database(Arc::clone(&shared))));
                }
            }
        }
    }
}

/// Applies one write inside the transaction. The outer error aborts the
/// whole transaction (a database failure); the inner result is the write's
/// own outcome, which leaves the table untouched when it is an error.
fn apply(
    table: &mut Table<'_, &'static str, &'static [u8]>,
    op: &Op,
) -> Result<Result<Option<Product>, StoreError>, redb::Error> {
    match op {
        Op::Insert { id, value } => {
            if table.get(id.as_str())?.is_some() {
                return Ok(Err(StoreError::AlreadyExists { id: id.clone() }));
            }
            table.insert(id.as_str(), value.as_slice())?;
            Ok(Ok(None))
        }
        Op::Remove(id) => {
            let old = match table.get(id.as_str())? {
                None => return Ok(Ok(None)),
                Some(value) => decode(id, value.value()),
            };
            // A value that does not decode is reported and kept, so nothing
            // is lost without being seen.
            if old.is_ok() {
                table.remove(id.as_str())?;
            }
            Ok(old.map(Some))
        }
    }
}

fn decode(id: &str, bytes: &[u8]) -> Result<Product, StoreError> {
    Product::decode(bytes).map_err(|source| StoreError::Corrupt {
        id: id.to_owned(),
        source,
    })
}

impl Inner {
    fn get(&self, id: &str) -> Result<Option<Product>, StoreError> {
        let txn = self.db.begin_read().map_err(StoreError::db)?;
        let table = txn.open_table(PRODUCTS).map_err(StoreError::db)?;
        match table.get(id).map_err(StoreError::db)? {
            Some(value) => decode(id, value.value()).map(Some),
            None => Ok(None),
        }
    }

    fn count(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read().map_err(StoreError::db)?;
        let table = txn.open_table(PRODUCTS).map_err(StoreError::db)?;
        table.len().map_err(StoreError::db)
    }

    fn list(&self, after: &str, limit: usize) -> Result<Vec<Product>, StoreError> {
        let txn = self.db.begin_read().map_err(StoreError::db)?;
        let table = txn.open_table(PRODUCTS).map_err(StoreError::db)?;
        let from = if after.is_empty() {
            std::ops::Bound::Unbounded
        } else {
            std::ops::Bound::Excluded(after)
        };
        let mut products = Vec::with_capacity(limit.min(1024));
        for entry in table
            .range::<&str>((from, std::ops::Bound::Unbounded))
            .map_err(StoreError::db)?
            .take(limit)
        {
            let (id, value) = entry.map_err(StoreError::db)?;
            products.push(decode(id.value(), value.value())?);
        }
        Ok(products)
    }
}

#[async_trait]
impl ProductStore for RedbStore {
    async fn insert(&self, product: &Product) -> Result<(), StoreError> {
        // Encoded here, outside the commit, which is the bottleneck.
        let op = Op::Insert {
            id: product.id.clone(),
            value: product.encode_to_vec(),
        };
        self.blocking(move |inner| inner.write(op))
            .await
            .map(|_| ())
    }

    async fn get(&self, id: &str) -> Result<Option<Product>, StoreError> {
        let id = id.to_owned();
        self.blocking(move |inner| inner.get(&id)).await
    }

    async fn remove(&self, id: &str) -> Result<Option<Product>, StoreError> {
        let op = Op::Remove(id.to_owned());
        self.blocking(move |inner| inner.write(op)).await
    }

    async fn count(&self) -> Result<u64, StoreError> {
        self.blocking(Inner::count).await
    }

    async fn list(&self, after: &str, limit: usize) -> Result<Vec<Product>, StoreError> {
        let after = after.to_owned();
        self.blocking(move |inner| inner.list(&after, limit)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(id: &str, name: &str) -> Product {
        Product {
            id: id.into(),
            name: name.into(),
            description: format!("about {name}"),
            price: 9.5,
        }
    }

    #[tokio::test]
    async fn products_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.redb");
        {
            let store = RedbStore::open(&path).unwrap();
            store.insert(&product("a", "apple")).await.unwrap();
            store.insert(&product("b", "banana")).await.unwrap();
            store.remove("b").await.unwrap();
        }
        let store = RedbStore::open(&path).unwrap();
        assert_eq!(store.get("a").await.unwrap(), Some(product("a", "apple")));
        assert_eq!(store.get("b").await.unwrap(), None);
        assert_eq!(store.count().await.unwrap(), 1);
    }

    #[tokio::test]
    async fn values_are_the_protobuf_encoding_of_the_product() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path().join("c.redb")).unwrap();
        let p = product("a", "apple");
        store.insert(&p).await.unwrap();
        let txn = store.inner.db.begin_read().unwrap();
        let table = txn.open_table(PRODUCTS).unwrap();
        assert_eq!(table.get("a").unwrap().unwrap().value(), p.encode_to_vec());
    }

    #[tokio::test]
    async fn a_corrupt_value_is_reported_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path().join("c.redb")).unwrap();
        let txn = store.inner.db.begin_write().unwrap();
        {
            let mut table = txn.open_table(PRODUCTS).unwrap();
            // Field 2 (name) claims 100 bytes but none follow.
            table.insert("bad", &b"\x12\x64"[..]).unwrap();
        }
        txn.commit().unwrap();
        let err = store.get("bad").await.unwrap_err();
        assert!(
            matches!(err, StoreError::Corrupt { ref id, .. } if id == "bad"),
            "{err}"
        );
        let err = store.remove("bad").await.unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert_eq!(
            store.count().await.unwrap(),
            1,
            "the corrupt value was not dropped"
        );
    }

    #[test]
    fn concurrent_writes_are_grouped_without_loss_or_doubles() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path().join("c.redb")).unwrap();
        let inner = Arc::clone(&store.inner);
        let insert = |inner: &Inner, p: Product| {
            inner.write(Op::Insert {
                id: p.id.clone(),
                value: p.encode_to_vec(),
            })
        };
        let threads: Vec<_> = (0..16)
            .map(|t| {
                let inner = Arc::clone(&inner);
                std::thread::spawn(move || {
                    let mut won = 0;
                    for i in 0..20 {
                        insert(&inner, product(&format!("t{t}-{i}"), "x")).unwrap();
                        // Every thread races for the same shared ids too.
                        match insert(&inner, product(&format!("shared-{i}"), &format!("{t}"))) {
                            Ok(_) => won += 1,
                            Err(StoreError::AlreadyExists { .. }) => {}
                            Err(e) => panic!("{e}"),
                        }
                        if i % 2 == 0 {
                            let gone = inner.write(Op::Remove(format!("t{t}-{i}"))).unwrap();
                            assert_eq!(gone.unwrap().id, format!("t{t}-{i}"));
                        }
                    }
                    won
                })
            })
            .collect();
        let won: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(won, 20, "each shared id went to exactly one thread");
        assert_eq!(inner.count().unwrap(), 16 * 10 + 20);
        for t in 0..16 {
            for i in 0..20 {
                let kept = inner.get(&format!("t{t}-{i}")).unwrap().is_some();
                assert_eq!(kept, i % 2 == 1, "t{t}-{i}");
            }
        }
    }

    #[test]
    fn a_second_open_of_the_same_file_is_locked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.redb");
        let _first = RedbStore::open(&path).unwrap();
        let err = RedbStore::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::Locked { .. }), "{err}");
        assert!(err.to_string().contains("c.redb"), "{err}");
    }
}
