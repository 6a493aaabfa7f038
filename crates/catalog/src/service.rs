//! [`ProductInfoService`]: `ecommerce.ProductInfo` over any [`ProductStore`].

use std::{fmt, sync::Arc};

use framecast_proto::ecommerce::{
    ListProductsRequest, ListProductsResponse, Product, ProductId, product_info_server::ProductInfo,
};
use prost::Message;
use tonic::{Request, Response, Status};

use crate::{
    ProductStore, RequestLimits, StoreError,
    limits::{check_id, check_product, page_size},
    throttle::Throttle,
};

/// How many fresh ids `addProduct` draws before giving up, should each one
/// already be taken (which, for random UUIDs, does not happen).
pub const MAX_ID_ATTEMPTS: usize = 4;

type IdSource = Arc<dyn Fn() -> String + Send + Sync>;

/// The `ecommerce.ProductInfo` service over the store `S`.
///
/// - `addProduct` checks the product (see [`check_product`] and [`check_id`])
///   and stores it under its id, or under a fresh UUID v4 when the id is empty,
///   and returns the id. A client-chosen id already in use is refused with
///   `ALREADY_EXISTS`.
/// - `getProduct` returns the product, or `NOT_FOUND` naming the id.
/// - `delProduct` removes the product and returns it, or `NOT_FOUND`.
/// - `listProducts` returns a page of products in id order (see
///   [`ProductStore::list`]) and the token of the next page: `page_size` 0
///   is [`RequestLimits::default_page_size`], more than
///   [`RequestLimits::max_page_size`] is that many, and a page ends early
///   rather than hold more than [`RequestLimits::max_page_bytes`]. The
///   token is the last id of the page; one that is not a valid id is
///   refused with `INVALID_ARGUMENT` naming `page_token`.
/// - Bad input is refused with `INVALID_ARGUMENT` naming the field (`id`,
///   `name`, `description`, `price`, or `value` for a `ProductID`); a full
///   store gives `RESOURCE_EXHAUSTED`; a storage failure gives `INTERNAL` and
///   is logged.
///
/// A store failure gives `INTERNAL`, or `UNAVAILABLE` when the store's
/// backend cannot be reached (a database server that is down); the client
/// may retry the latter. Wrap it in
/// [`ProductInfoServer`](framecast_proto::ecommerce::product_info_server::ProductInfoServer)
/// to serve it, or let [`serve`](crate::serve) do everything.
pub struct ProductInfoService<S> {
    store: Arc<S>,
    limits: RequestLimits,
    new_id: IdSource,
}

impl<S: ProductStore> ProductInfoService<S> {
    /// The service over `store`, with default [`RequestLimits`] and random UUID v4 ids.
    pub fn new(store: S) -> Self {
        Self::from_arc(Arc::new(store))
    }

    /// The service over a store shared with the caller.
    pub fn from_arc(store: Arc<S>) -> Self {
        Self {
            store,
            limits: RequestLimits::default(),
            new_id: Arc::new(|| uuid::Uuid::new_v4().to_string()),
        }
    }

    /// Replaces the field limits.
    pub fn with_limits(mut self, limits: RequestLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Replaces the source of ids for products added without one (UUID v4 by
    /// default); for deterministic tests. Ids it returns must pass
    /// [`check_id`], or the add fails with `INTERNAL`.
    pub fn with_id_source(mut self, new_id: impl Fn() -> String + Send + Sync + 'static) -> Self {
        self.new_id = Arc::new(new_id);
        self
    }

    /// The store behind the service.
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    async fn insert(&self, product: Product) -> Result<Product, StoreError> {
        self.store.insert(&product).await.map(|()| product)
    }

    /// Stores `product` under ids from the id source until one is free.
    async fn add_with_fresh_id(&self, product: Product) -> Result<String, Status> {
        for _ in 0..MAX_ID_ATTEMPTS {
            let id = (self.new_id)();
            check_id(&id, "id", &self.limits).map_err(|status| {
                tracing::error!(%id, "the id source made an invalid id");
                Status::internal(format!("generated an invalid id: {}", status.message()))
            })?;
            // A clone per add without an id; the retry below needs the original.
            let candidate = Product {
                id,
                ..product.clone()
            };
            match self.insert(candidate).await {
                Ok(stored) => return Ok(stored.id),
                Err(StoreError::AlreadyExists { id }) => {
                    tracing::warn!(%id, "a freshly generated id was taken; drawing another");
                }
                Err(e) => return Err(store_status(e)),
            }
        }
        Err(Status::internal(format!(
            "{MAX_ID_ATTEMPTS} generated ids in a row were already taken"
        )))
    }
}

impl<S> Clone for ProductInfoService<S> {
    fn clone(&self) -> Self {
        Self {
            store: Arc::clone(&self.store),
            limits: self.limits,
            new_id: Arc::clone(&self.new_id),
        }
    }
}

impl<S> fmt::Debug for ProductInfoService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProductInfoService")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Maps a store failure to the status a client sees.
fn store_status(err: StoreError) -> Status {
    match err {
        StoreError::AlreadyExists { id } => {
            Status::already_exists(format!("a product with id {id:?} already exists"))
        }
        StoreError::Full { limit } => Status::resource_exhausted(format!(
            "the catalog is full: it holds its limit of {limit} products"
        )),
        StoreError::Unavailable(why) => {
            // Every request fails while the database is away: one line per
            // interval, not one per request.
            static LOG: Throttle = Throttle::new();
            if let Some(held) = LOG.allow() {
                tracing::warn!(error = %why, failed_since_last_report = held, "the product store is unavailable");
            }
            // The details (addresses, the server's words) stay in the log.
            Status::unavailable("the catalog's database is unavailable; retry later")
        }
        other => {
            // Details stay in the server log; the client learns only that the
            // server failed.
            static LOG: Throttle = Throttle::new();
            if let Some(held) = LOG.allow() {
                // As a `dyn Error`, so the log shows its causes too.
                let error: &(dyn std::error::Error + 'static) = &other;
                tracing::error!(
                    error,
                    failed_since_last_report = held,
                    "product store failed"
                );
            }
            Status::internal("the product store failed; see the server log")
        }
    }
}

fn not_found(id: &str) -> Status {
    Status::not_found(format!("no product with id {id:?}"))
}

#[tonic::async_trait]
impl<S: ProductStore> ProductInfo for ProductInfoService<S> {
    async fn add_product(&self, request: Request<Product>) -> Result<Response<ProductId>, Status> {
        let mut product = request.into_inner();
        check_product(&product, &self.limits)?;
        // -0.0 passes the check; store the plain zero.
        if product.price == 0.0 {
            product.price = 0.0;
        }
        let id = if product.id.is_empty() {
            self.add_with_fresh_id(product).await?
        } else {
            check_id(&product.id, "id", &self.limits)?;
            self.insert(product).await.map_err(store_status)?.id
        };
        tracing::debug!(%id, "product added");
        Ok(Response::new(ProductId { value: id }))
    }

    async fn get_product(&self, request: Request<ProductId>) -> Result<Response<Product>, Status> {
        let id = request.into_inner().value;
        check_id(&id, "value", &self.limits)?;
        match self.store.get(&id).await {
            Ok(Some(product)) => Ok(Response::new(product)),
            Ok(None) => Err(not_found(&id)),
            Err(e) => Err(store_status(e)),
        }
    }

    async fn list_products(
        &self,
        request: Request<ListProductsRequest>,
    ) -> Result<Response<ListProductsResponse>, Status> {
        let request = request.into_inner();
        let size = page_size(request.page_size, &self.limits)?;
        if !request.page_token.is_empty() {
            check_id(&request.page_token, "page_token", &self.limits)?;
        }
        // One more than asked: whether it comes says whether there is a
        // next page.
        let mut products = self
            .store
            .list(&request.page_token, size.saturating_add(1))
            .await
            .map_err(store_status)?;
        let mut bytes = 0;
        let mut fit = 0;
        for product in products.iter().take(size) {
            bytes += product.encoded_len();
            // At least one product, so that every page moves on.
            if fit > 0 && bytes > self.limits.max_page_bytes {
                break;
            }
            fit += 1;
        }
        let more = products.len() > fit;
        products.truncate(fit);
        let next_page_token = match products.last() {
            Some(last) if more => last.id.clone(),
            _ => String::new(),
        };
        Ok(Response::new(ListProductsResponse {
            products,
            next_page_token,
        }))
    }

    async fn del_product(&self, request: Request<ProductId>) -> Result<Response<Product>, Status> {
        let id = request.into_inner().value;
        check_id(&id, "value", &self.limits)?;
        match self.store.remove(&id).await {
            Ok(Some(product)) => {
                tracing::debug!(%id, "product deleted");
                Ok(Response::new(product))
            }
            Ok(None) => Err(not_found(&id)),
            Err(e) => Err(store_status(e)),
        }
    }
}
