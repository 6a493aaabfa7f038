//! [`RedbStore`]: the persistent [`ProductStore`] in one redb file.

use std::path::Path;

use framecast_proto::ecommerce::Product;
use prost::Message;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

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
/// Writes are serialised by redb (one write transaction at a time); reads run
/// concurrently with them on a snapshot.
#[derive(Debug)]
pub struct RedbStore {
    db: Database,
}

impl RedbStore {
    /// Opens the database file at `path`, creating it (but not its parent
    /// directory) if it does not exist. After a crash, redb repairs the file
    /// on open; only committed transactions remain.
    ///
    /// Fails if another process has the file open.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(StoreError::db)?;
        // Create the table up front so readers never meet a missing table.
        let txn = db.begin_write().map_err(StoreError::db)?;
        txn.open_table(PRODUCTS).map_err(StoreError::db)?;
        txn.commit().map_err(StoreError::db)?;
        Ok(Self { db })
    }
}

fn decode(id: &str, bytes: &[u8]) -> Result<Product, StoreError> {
    Product::decode(bytes).map_err(|source| StoreError::Corrupt {
        id: id.to_owned(),
        source,
    })
}

impl ProductStore for RedbStore {
    fn insert(&self, product: &Product) -> Result<(), StoreError> {
        let value = product.encode_to_vec();
        let txn = self.db.begin_write().map_err(StoreError::db)?;
        {
            let mut table = txn.open_table(PRODUCTS).map_err(StoreError::db)?;
            if table
                .get(product.id.as_str())
                .map_err(StoreError::db)?
                .is_some()
            {
                // Dropping `txn` uncommitted aborts it: nothing is written.
                return Err(StoreError::AlreadyExists {
                    id: product.id.clone(),
                });
            }
            table
                .insert(product.id.as_str(), value.as_slice())
                .map_err(StoreError::db)?;
        }
        // Durability::Immediate (redb's default): fsynced when this returns.
        txn.commit().map_err(StoreError::db)
    }

    fn get(&self, id: &str) -> Result<Option<Product>, StoreError> {
        let txn = self.db.begin_read().map_err(StoreError::db)?;
        let table = txn.open_table(PRODUCTS).map_err(StoreError::db)?;
        match table.get(id).map_err(StoreError::db)? {
            Some(value) => decode(id, value.value()).map(Some),
            None => Ok(None),
        }
    }

    fn remove(&self, id: &str) -> Result<Option<Product>, StoreError> {
        let txn = self.db.begin_write().map_err(StoreError::db)?;
        let removed = {
            let mut table = txn.open_table(PRODUCTS).map_err(StoreError::db)?;
            let old = table.remove(id).map_err(StoreError::db)?;
            match old {
                // A value that does not decode aborts the removal (by dropping
                // `txn`), so nothing is lost without being seen.
                Some(value) => Some(decode(id, value.value())?),
                None => None,
            }
        };
        if removed.is_some() {
            txn.commit().map_err(StoreError::db)?;
        }
        Ok(removed)
    }

    fn count(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read().map_err(StoreError::db)?;
        let table = txn.open_table(PRODUCTS).map_err(StoreError::db)?;
        table.len().map_err(StoreError::db)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::{exercise, product};

    #[test]
    fn redb_store_keeps_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        exercise(&RedbStore::open(dir.path().join("c.redb")).unwrap());
    }

    #[test]
    fn products_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.redb");
        {
            let store = RedbStore::open(&path).unwrap();
            store.insert(&product("a", "apple")).unwrap();
            store.insert(&product("b", "banana")).unwrap();
            store.remove("b").unwrap();
        }
        let store = RedbStore::open(&path).unwrap();
        assert_eq!(store.get("a").unwrap(), Some(product("a", "apple")));
        assert_eq!(store.get("b").unwrap(), None);
        assert_eq!(store.count().unwrap(), 1);
    }

    #[test]
    fn values_are_the_protobuf_encoding_of_the_product() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path().join("c.redb")).unwrap();
        let p = product("a", "apple");
        store.insert(&p).unwrap();
        let txn = store.db.begin_read().unwrap();
        let table = txn.open_table(PRODUCTS).unwrap();
        assert_eq!(table.get("a").unwrap().unwrap().value(), p.encode_to_vec());
    }

    #[test]
    fn a_corrupt_value_is_reported_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path().join("c.redb")).unwrap();
        let txn = store.db.begin_write().unwrap();
        {
            let mut table = txn.open_table(PRODUCTS).unwrap();
            // Field 2 (name) claims 100 bytes but none follow.
            table.insert("bad", &b"\x12\x64"[..]).unwrap();
        }
        txn.commit().unwrap();
        let err = store.get("bad").unwrap_err();
        assert!(
            matches!(err, StoreError::Corrupt { ref id, .. } if id == "bad"),
            "{err}"
        );
        let err = store.remove("bad").unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert_eq!(
            store.count().unwrap(),
            1,
            "the corrupt value was not dropped"
        );
    }

    #[test]
    fn a_second_open_of_the_same_file_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.redb");
        let _first = RedbStore::open(&path).unwrap();
        let err = RedbStore::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::Database(_)), "{err}");
    }
}
