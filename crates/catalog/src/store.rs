//! The [`ProductStore`] trait and the in-memory [`MemoryStore`].

use std::{
    collections::{HashMap, hash_map::Entry},
    sync::{Arc, PoisonError, RwLock},
};

use framecast_proto::ecommerce::Product;

use crate::StoreError;

/// The default cap on the number of products a [`MemoryStore`] holds
/// (one million: a few hundred MB at the largest allowed product).
pub const DEFAULT_MAX_PRODUCTS: u64 = 1_000_000;

/// A map from product id to [`Product`]: the storage behind the service.
///
/// The methods are synchronous and may block on disk I/O; the service calls
/// them through [`tokio::task::spawn_blocking`] unless [`blocks`](Self::blocks)
/// says they never block. Implementations take `&self` and do their own
/// locking, so one store serves many requests at once. Ids and products
/// arrive already validated by the service.
pub trait ProductStore: Send + Sync + 'static {
    /// Stores `product` under `product.id`, or fails with
    /// [`StoreError::AlreadyExists`] (writing nothing) when the id is taken.
    /// When this returns `Ok`, the write is as durable as the store promises.
    fn insert(&self, product: &Product) -> Result<(), StoreError>;

    /// Returns the product stored under `id`, if any.
    fn get(&self, id: &str) -> Result<Option<Product>, StoreError>;

    /// Removes the product stored under `id` and returns it, if there was one.
    fn remove(&self, id: &str) -> Result<Option<Product>, StoreError>;

    /// Returns how many products the store holds.
    fn count(&self) -> Result<u64, StoreError>;

    /// Whether the methods may block the thread (on disk I/O, say). The
    /// default, `true`, makes the service run them on tokio's blocking pool.
    fn blocks(&self) -> bool {
        true
    }
}

impl<T: ProductStore + ?Sized> ProductStore for Arc<T> {
    fn insert(&self, product: &Product) -> Result<(), StoreError> {
        (**self).insert(product)
    }
    fn get(&self, id: &str) -> Result<Option<Product>, StoreError> {
        (**self).get(id)
    }
    fn remove(&self, id: &str) -> Result<Option<Product>, StoreError> {
        (**self).remove(id)
    }
    fn count(&self) -> Result<u64, StoreError> {
        (**self).count()
    }
    fn blocks(&self) -> bool {
        (**self).blocks()
    }
}

impl<T: ProductStore + ?Sized> ProductStore for Box<T> {
    fn insert(&self, product: &Product) -> Result<(), StoreError> {
        (**self).insert(product)
    }
    fn get(&self, id: &str) -> Result<Option<Product>, StoreError> {
        (**self).get(id)
    }
    fn remove(&self, id: &str) -> Result<Option<Product>, StoreError> {
        (**self).remove(id)
    }
    fn count(&self) -> Result<u64, StoreError> {
        (**self).count()
    }
    fn blocks(&self) -> bool {
        (**self).blocks()
    }
}

/// A [`ProductStore`] in a hash map: fast, and gone when the process exits.
///
/// It never blocks on I/O, so the service calls it inline on the runtime.
/// It holds at most [`DEFAULT_MAX_PRODUCTS`] products unless built with
/// [`with_max_products`](Self::with_max_products); an insert beyond that
/// fails with [`StoreError::Full`].
#[derive(Debug)]
pub struct MemoryStore {
    products: RwLock<HashMap<String, Product>>,
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
            products: RwLock::new(HashMap::new()),
            max_products,
        }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl ProductStore for MemoryStore {
    fn insert(&self, product: &Product) -> Result<(), StoreError> {
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

    fn get(&self, id: &str) -> Result<Option<Product>, StoreError> {
        let products = self.products.read().unwrap_or_else(PoisonError::into_inner);
        Ok(products.get(id).cloned())
    }

    fn remove(&self, id: &str) -> Result<Option<Product>, StoreError> {
        let mut products = self
            .products
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(products.remove(id))
    }

    fn count(&self) -> Result<u64, StoreError> {
        let products = self.products.read().unwrap_or_else(PoisonError::into_inner);
        Ok(products.len() as u64)
    }

    fn blocks(&self) -> bool {
        false
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn product(id: &str, name: &str) -> Product {
        Product {
            id: id.into(),
            name: name.into(),
            description: format!("about {name}"),
            price: 9.5,
        }
    }

    /// The contract every store must keep; run against each store.
    pub(crate) fn exercise(store: &dyn ProductStore) {
        assert_eq!(store.count().unwrap(), 0);
        assert_eq!(store.get("a").unwrap(), None);
        store.insert(&product("a", "apple")).unwrap();
        store.insert(&product("b", "banana")).unwrap();
        assert_eq!(store.count().unwrap(), 2);
        assert_eq!(store.get("a").unwrap(), Some(product("a", "apple")));

        let err = store.insert(&product("a", "avocado")).unwrap_err();
        assert!(
            matches!(err, StoreError::AlreadyExists { ref id } if id == "a"),
            "{err}"
        );
        // The refused insert wrote nothing.
        assert_eq!(store.get("a").unwrap(), Some(product("a", "apple")));

        assert_eq!(store.remove("a").unwrap(), Some(product("a", "apple")));
        assert_eq!(store.remove("a").unwrap(), None);
        assert_eq!(store.get("a").unwrap(), None);
        assert_eq!(store.count().unwrap(), 1);
        // A removed id is free again.
        store.insert(&product("a", "apricot")).unwrap();
        assert_eq!(store.get("a").unwrap(), Some(product("a", "apricot")));
    }

    #[test]
    fn memory_store_keeps_the_contract() {
        exercise(&MemoryStore::new());
    }

    #[test]
    fn memory_store_refuses_inserts_beyond_its_limit() {
        let store = MemoryStore::with_max_products(2);
        store.insert(&product("a", "a")).unwrap();
        store.insert(&product("b", "b")).unwrap();
        let err = store.insert(&product("c", "c")).unwrap_err();
        assert!(matches!(err, StoreError::Full { limit: 2 }), "{err}");
        // A duplicate is still reported as a duplicate when full.
        let err = store.insert(&product("a", "a")).unwrap_err();
        assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err}");
        store.remove("a").unwrap();
        store.insert(&product("c", "c")).unwrap();
    }

    #[test]
    fn shared_handles_see_the_same_store() {
        let store = Arc::new(MemoryStore::new());
        let boxed: Box<dyn ProductStore> = Box::new(Arc::clone(&store));
        boxed.insert(&product("x", "x")).unwrap();
        assert_eq!(store.count().unwrap(), 1);
        assert!(!boxed.blocks());
    }
}
