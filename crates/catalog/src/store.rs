//! The [`ProductStore`] trait and the in-memory [`MemoryStore`].

use std::{
    collections::{BTreeMap, btree_map::Entry},
    ops::Bound,
    sync::{Arc, PoisonError, RwLock},
};

use async_trait::async_trait;
use framecast_proto::ecommerce::Product;

use crate::StoreError;

/// The default cap on the number of products a [`MemoryStore`] holds
/// (one million: a few hundred MB at the largest allowed product).
pub const DEFAULT_MAX_PRODUCTS: u64 = 1_000_000;

/// A map from product id to [`Product`]: the storage behind the service.
///
/// The methods are async: a store that blocks on disk I/O moves that work
/// off the runtime itself (as [`RedbStore`](crate::RedbStore) does, on
/// tokio's blocking pool), and a networked store awaits its server.
/// Implementations take `&self` and do their own locking, so one store
/// serves many requests at once. Ids and products arrive already validated
/// by the service. Implement it with the [`async_trait`](macro@crate::async_trait) attribute:
///
/// ```
/// use framecast_catalog::{MemoryStore, ProductStore, StoreError, async_trait};
/// use framecast_proto::ecommerce::Product;
///
/// /// A store that forwards to another and counts the reads.
/// struct Counting<S> {
///     inner: S,
///     reads: std::sync::atomic::AtomicU64,
/// }
///
/// #[async_trait]
/// impl<S: ProductStore> ProductStore for Counting<S> {
///     async fn insert(&self, product: &Product) -> Result<(), StoreError> {
///         self.inner.insert(product).await
///     }
///     async fn get(&self, id: &str) -> Result<Option<Product>, StoreError> {
///         self.reads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
///         self.inner.get(id).await
///     }
///     async fn remove(&self, id: &str) -> Result<Option<Product>, StoreError> {
///         self.inner.remove(id).await
///     }
///     async fn count(&self) -> Result<u64, StoreError> {
///         self.inner.count().await
///     }
///     async fn list(&self, after: &str, limit: usize) -> Result<Vec<Product>, StoreError> {
///         self.inner.list(after, limit).await
///     }
/// }
/// # let _ = Counting { inner: MemoryStore::new(), reads: Default::default() };
/// ```
#[async_trait]
pub trait ProductStore: Send + Sync + 'static {
    /// Stores `product` under `product.id`, or fails with
    /// [`StoreError::AlreadyExists`] (writing nothing) when the id is taken.
    /// When this returns `Ok`, the write is as durable as the store promises.
    ///
    /// If the returned future is dropped before it completes, the write may
    /// or may not have happened.
    async fn insert(&self, product: &Product) -> Result<(), StoreError>;

    /// Returns the product stored under `id`, if any.
    async fn get(&self, id: &str) -> Result<Option<Product>, StoreError>;

    /// Removes the product stored under `id` and returns it, if there was one.
    async fn remove(&self, id: &str) -> Result<Option<Product>, StoreError>;

    /// Returns how many products the store holds.
    async fn count(&self) -> Result<u64, StoreError>;

    /// Returns at most `limit` products whose ids come after `after` (all
    /// of them when `after` is empty), in id order: byte order, or for
    /// [`PostgresStore`](crate::PostgresStore) the database's collation.
    /// Calling it again with the last id returned pages through the whole
    /// store, each product once, even while others are added or removed.
    async fn list(&self, after: &str, limit: usize) -> Result<Vec<Product>, StoreError>;
}

#[async_trait]
impl<T: ProductStore + ?Sized> ProductStore for Arc<T> {
    async fn insert(&self, product: &Product) -> Result<(), StoreError> {
        (**self).insert(product).await
    }
    async fn get(&self, id: &str) -> Result<Option<Product>, StoreError> {
        (**self).get(id).await
    }
    async fn remove(&self, id: &str) -> Result<Option<Product>, StoreError> {
        (**self).remove(id).await
    }
    async fn count(&self) -> Result<u64, StoreError> {
        (**self).count().await
    }
    async fn list(&self, after: &str, limit: usize) -> Result<Vec<Product>, StoreError> {
        (**self).list(after, limit).await
    }
}

#[async_trait]
impl<T: ProductStore + ?Sized> ProductStore for Box<T> {
    async fn insert(&self, product: &Product) -> Result<(), StoreError> {
        (**self).insert(product).await
    }
    async fn get(&self, id: &str) -> Result<Option<Product>, StoreError> {
        (**self).get(id).await
    }
    async fn remove(&self, id: &str) -> Result<Option<Product>, StoreError> {
        (**self).remove(id).await
    }
    async fn count(&self) -> Result<u64, StoreError> {
        (**self).count().await
    }
    async fn list(&self, after: &str, limit: usize) -> Result<Vec<Product>, StoreError> {
        (**self).list(after, limit).await
    }
}

/// A [`ProductStore`] in an ordered map: fast, and gone when the process
/// exits.
///
/// It never blocks on I/O; its methods complete at once. It holds at most [`DEFAULT_MAX_PRODUCTS`] products unless built with
/// [`with_max_products`](Self::with_max_products); an insert beyond that
/// fails with [`StoreError::Full`].
#[derive(Debug)]
pub struct MemoryStore {
    products: RwLock<BTreeMap<String, Product>>,
    max_products: u64,
}

impl MemoryStore {
    /// An empty store holding at most [`DEFAULT_MAX_PRODUCTS`] products.
    pub fn new() -> Self {
        Self::with_max_products(DEFAULT_MAX_PRODUCTS)
    }

    /// An empty store holding at most `max_products` products.
    pub fn with_max_products(max_products: u64) -> Self {
        Self {
            products: RwLock::new(BTreeMap::new()),
            max_products,
        }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl ProductStore for MemoryStore {
    async fn insert(&self, product: &Product) -> Result<(), StoreError> {
        // A poisoned lock only means another thread panicked while holding
        // it; every operation below leaves the map whole, so carry on.
        let mut products = self
            .products
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let len = products.len() as u64;
        match products.entry(product.id.clone()) {
            Entry::Occupied(_) => Err(StoreError::AlreadyExists {
                id: product.id.clone(),
            }),
            Entry::Vacant(_) if len >= self.max_products => Err(StoreError::Full {
                limit: self.max_products,
            }),
            Entry::Vacant(slot) => {
                slot.insert(product.clone());
                Ok(())
            }
        }
    }

    async fn get(&self, id: &str) -> Result<Option<Product>, StoreError> {
        let products = self.products.read().unwrap_or_else(PoisonError::into_inner);
        Ok(products.get(id).cloned())
    }

    async fn remove(&self, id: &str) -> Result<Option<Product>, StoreError> {
        let mut products = self
            .products
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(products.remove(id))
    }

    async fn count(&self) -> Result<u64, StoreError> {
        let products = self.products.read().unwrap_or_else(PoisonError::into_inner);
        Ok(products.len() as u64)
    }

    async fn list(&self, after: &str, limit: usize) -> Result<Vec<Product>, StoreError> {
        let products = self.products.read().unwrap_or_else(PoisonError::into_inner);
        let from = if after.is_empty() {
            Bound::Unbounded
        } else {
            Bound::Excluded(after)
        };
        Ok(products
            .range::<str, _>((from, Bound::Unbounded))
            .take(limit)
            .map(|(_, p)| p.clone())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(id: &str) -> Product {
        Product {
            id: id.into(),
            name: id.into(),
            description: String::new(),
            price: 1.0,
        }
    }

    #[tokio::test]
    async fn memory_store_refuses_inserts_beyond_its_limit() {
        let store = MemoryStore::with_max_products(2);
        store.insert(&product("a")).await.unwrap();
        store.insert(&product("b")).await.unwrap();
        let err = store.insert(&product("c")).await.unwrap_err();
        assert!(matches!(err, StoreError::Full { limit: 2 }), "{err}");
        // A duplicate is still reported as a duplicate when full.
        let err = store.insert(&product("a")).await.unwrap_err();
        assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err}");
        store.remove("a").await.unwrap();
        store.insert(&product("c")).await.unwrap();
    }

    #[tokio::test]
    async fn lists_page_through_in_id_order() {
        let store = MemoryStore::new();
        for id in ["b", "a", "d", "c", "B"] {
            store.insert(&product(id)).await.unwrap();
        }
        let ids = |page: Vec<Product>| page.into_iter().map(|p| p.id).collect::<Vec<_>>();
        assert_eq!(ids(store.list("", 2).await.unwrap()), ["B", "a"]);
        assert_eq!(ids(store.list("a", 2).await.unwrap()), ["b", "c"]);
        assert_eq!(ids(store.list("c", 2).await.unwrap()), ["d"]);
        assert!(store.list("d", 2).await.unwrap().is_empty());
        // The id paged from need not exist any more.
        assert_eq!(ids(store.list("bb", 9).await.unwrap()), ["c", "d"]);
    }

    #[tokio::test]
    async fn shared_handles_see_the_same_store() {
        let store = Arc::new(MemoryStore::new());
        let boxed: Box<dyn ProductStore> = Box::new(Arc::clone(&store));
        boxed.insert(&product("x")).await.unwrap();
        assert_eq!(store.count().await.unwrap(), 1);
    }
}
