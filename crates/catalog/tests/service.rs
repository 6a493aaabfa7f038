//! Every RPC and every status code through the tonic client, against a real
//! server on a loopback port, for each store: memory, redb, and PostgreSQL
//! (a throwaway server; see `pg/mod.rs`). One set of checks, instantiated
//! per store by `for_each_store!`.

mod pg;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use framecast_catalog::{
    MemoryStore, PostgresOptions, PostgresStore, ProductInfoService, ProductStore, RedbStore,
    RequestLimits, ServerConfig, StoreError, async_trait, serve,
};
use framecast_proto::ecommerce::{
    ListProductsRequest, Product, ProductId, product_info_client::ProductInfoClient,
};
use tokio::{sync::oneshot, task::JoinHandle};
use tonic::{Code, transport::Channel};

/// A running server; stops it when dropped.
struct Running {
    url: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), framecast_catalog::ServeError>>>,
}

impl Running {
    async fn start<S: ProductStore>(service: ProductInfoService<S>, config: ServerConfig) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, service, config, async {
            let _ = stopped.await;
        }));
        Self {
            url,
            stop: Some(stop),
            task: Some(task),
        }
    }

    async fn channel(&self) -> Channel {
        Channel::from_shared(self.url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    async fn client(&self) -> ProductInfoClient<Channel> {
        ProductInfoClient::new(self.channel().await)
    }

    /// Stops the server and checks it shut down cleanly.
    async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        self.task.take().unwrap().await.unwrap().unwrap();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn product(id: &str, name: &str, price: f32) -> Product {
    Product {
        id: id.into(),
        name: name.into(),
        description: format!("the {name}"),
        price,
    }
}

fn pid(id: &str) -> ProductId {
    ProductId { value: id.into() }
}

/// Runs `check` against a fresh server over each store.
macro_rules! for_each_store {
    ($($name:ident => $check:ident;)*) => {
        mod memory {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$check(Arc::new(MemoryStore::new())).await;
                }
            )*
        }
        mod redb {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    super::$check(Arc::new(RedbStore::open(dir.path().join("c.redb")).unwrap())).await;
                }
            )*
        }
        mod postgres {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(server) = pg::shared() else { return };
                    let url = server.new_database();
                    let store = PostgresStore::connect(&url, PostgresOptions::default())
                        .await
                        .unwrap();
                    super::$check(Arc::new(store)).await;
                }
            )*
        }
    };
}

for_each_store! {
    store_contract => contract;
    store_races => store_races;
    add_get_del_round_trip => round_trip;
    client_chosen_ids => client_chosen_ids;
    missing_products_are_not_found => not_found;
    bad_input_is_invalid_argument => invalid_argument;
    many_clients_at_once => many_clients;
    one_id_raced_by_many_clients => racing_one_id;
    oversized_requests_are_refused => oversized_request;
    slow_requests_hit_the_deadline => deadline;
    listing_pages_through_every_product_once => listing;
    a_page_ends_early_to_stay_under_the_byte_limit => listing_bytes;
}

fn page(size: i32, token: &str) -> ListProductsRequest {
    ListProductsRequest {
        page_size: size,
        page_token: token.into(),
    }
}

/// Pages through the whole catalog `size` at a time; returns each page's ids.
async fn all_pages(client: &mut ProductInfoClient<Channel>, size: i32) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut token = String::new();
    loop {
        let answer = client
            .list_products(page(size, &token))
            .await
            .unwrap()
            .into_inner();
        pages.push(answer.products.into_iter().map(|p| p.id).collect());
        if answer.next_page_token.is_empty() {
            return pages;
        }
        assert!(pages.len() < 1000, "paging never ends");
        token = answer.next_page_token;
    }
}

/// `listProducts` over a store: every product once, in pages of the size
/// asked, the same order every time; bad requests refused naming the field.
async fn listing<S: ProductStore>(store: Arc<S>) {
    let server = Running::start(ProductInfoService::from_arc(store), Default::default()).await;
    let mut client = server.client().await;
    let empty = client
        .list_products(page(0, ""))
        .await
        .unwrap()
        .into_inner();
    assert!(empty.products.is_empty() && empty.next_page_token.is_empty());
    let mut ids: Vec<String> = (0..23).map(|i| format!("sku-{i:02}")).collect();
    ids.extend(["A", "a", "Z:1", "z~2", "m_3", "m.4"].map(String::from));
    for id in &ids {
        client.add_product(product(id, id, 1.5)).await.unwrap();
    }
    let pages = all_pages(&mut client, 7).await;
    assert_eq!(pages.len(), 5, "{pages:?}");
    assert!(pages[..4].iter().all(|p| p.len() == 7), "{pages:?}");
    let seen: Vec<String> = pages.concat();
    let mut sorted_seen = seen.clone();
    sorted_seen.sort();
    let mut all = ids.clone();
    all.sort();
    assert_eq!(sorted_seen, all, "each product once");
    // One page of everything (the default size is larger), in the same order.
    assert_eq!(all_pages(&mut client, 0).await, std::slice::from_ref(&seen));
    // A page size over the maximum gets the maximum.
    assert_eq!(
        all_pages(&mut client, i32::MAX).await,
        std::slice::from_ref(&seen)
    );
    // Paging on after the token's product was deleted skips nothing.
    let first = client
        .list_products(page(5, ""))
        .await
        .unwrap()
        .into_inner();
    let token = first.next_page_token;
    assert_eq!(token, seen[4]);
    client.del_product(pid(&token)).await.unwrap();
    let rest = client
        .list_products(page(100, &token))
        .await
        .unwrap()
        .into_inner();
    let rest: Vec<String> = rest.products.into_iter().map(|p| p.id).collect();
    assert_eq!(rest, seen[5..]);
    // Bad requests name the field.
    for (request, says) in [
        (page(-1, ""), "page_size: must be zero or more; got -1"),
        (page(1, "a/b"), "page_token: character '/' is not allowed"),
    ] {
        let status = client.list_products(request).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().starts_with(says), "{}", status.message());
    }
}

/// A page stops short of the byte limit, and the next page goes on from there.
async fn listing_bytes<S: ProductStore>(store: Arc<S>) {
    let mut limits = RequestLimits::default();
    limits.max_page_bytes = 10_000;
    let service = ProductInfoService::from_arc(store).with_limits(limits);
    let server = Running::start(service, Default::default()).await;
    let mut client = server.client().await;
    for i in 0..10 {
        let mut p = product(&format!("p{i}"), "big", 1.0);
        p.description = "d".repeat(3000);
        client.add_product(p).await.unwrap();
    }
    let pages = all_pages(&mut client, 100).await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [3, 3, 3, 1], "{pages:?}");
}

/// The store contract, straight on the store.
async fn contract<S: ProductStore>(store: Arc<S>) {
    let p = |id: &str, name: &str| product(id, name, 9.5);
    assert_eq!(store.count().await.unwrap(), 0);
    assert_eq!(store.get("a").await.unwrap(), None);
    store.insert(&p("a", "apple")).await.unwrap();
    store.insert(&p("b", "banana")).await.unwrap();
    assert_eq!(store.count().await.unwrap(), 2);
    assert_eq!(store.get("a").await.unwrap(), Some(p("a", "apple")));

    let err = store.insert(&p("a", "avocado")).await.unwrap_err();
    assert!(
        matches!(err, StoreError::AlreadyExists { ref id } if id == "a"),
        "{err}"
    );
    // The refused insert wrote nothing.
    assert_eq!(store.get("a").await.unwrap(), Some(p("a", "apple")));

    assert_eq!(store.remove("a").await.unwrap(), Some(p("a", "apple")));
    assert_eq!(store.remove("a").await.unwrap(), None);
    assert_eq!(store.get("a").await.unwrap(), None);
    assert_eq!(store.count().await.unwrap(), 1);
    // A removed id is free again.
    store.insert(&p("a", "apricot")).await.unwrap();
    assert_eq!(store.get("a").await.unwrap(), Some(p("a", "apricot")));

    // Every value a product may hold comes back exactly.
    let edge = Product {
        id: "x".repeat(128),
        name: "é\u{1b}[2J\n\0名".into(),
        description: "d".repeat(4096),
        price: f32::MAX,
    };
    store.insert(&edge).await.unwrap();
    assert_eq!(store.get(&edge.id).await.unwrap(), Some(edge.clone()));
    let tiny = Product {
        price: f32::MIN_POSITIVE,
        ..p("tiny", "t")
    };
    store.insert(&tiny).await.unwrap();
    assert_eq!(store.get("tiny").await.unwrap(), Some(tiny));
}

/// Many tasks insert, read and remove at once, straight on the store: no
/// loss, no double, each raced id goes to exactly one.
async fn store_races<S: ProductStore>(store: Arc<S>) {
    let tasks: Vec<_> = (0..16)
        .map(|t| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut won = 0;
                for i in 0..10 {
                    let own = product(&format!("t{t}-{i}"), "x", 1.0);
                    store.insert(&own).await.unwrap();
                    let shared = product(&format!("shared-{i}"), &format!("{t}"), 1.0);
                    match store.insert(&shared).await {
                        Ok(()) => won += 1,
                        Err(StoreError::AlreadyExists { .. }) => {}
                        Err(e) => panic!("{e}"),
                    }
                    if i % 2 == 0 {
                        let gone = store.remove(&own.id).await.unwrap();
                        assert_eq!(gone, Some(own));
                    }
                }
                won
            })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        won += task.await.unwrap();
    }
    assert_eq!(won, 10, "each shared id went to exactly one task");
    assert_eq!(store.count().await.unwrap(), 16 * 5 + 10);
}

async fn round_trip<S: ProductStore>(store: Arc<S>) {
    let server = Running::start(
        ProductInfoService::from_arc(store.clone()),
        Default::default(),
    )
    .await;
    let mut client = server.client().await;

    let id = client
        .add_product(product("", "lamp", 24.5))
        .await
        .unwrap()
        .into_inner()
        .value;
    let uuid = uuid::Uuid::parse_str(&id).expect("a fresh id is a UUID");
    assert_eq!(uuid.get_version_num(), 4);
    assert_eq!(store.count().await.unwrap(), 1);

    let got = client.get_product(pid(&id)).await.unwrap().into_inner();
    assert_eq!(got, product(&id, "lamp", 24.5));

    // Two adds without an id get two different ids.
    let other = client.add_product(product("", "lamp", 24.5)).await.unwrap();
    assert_ne!(other.into_inner().value, id);

    let deleted = client.del_product(pid(&id)).await.unwrap().into_inner();
    assert_eq!(deleted, got);
    assert_eq!(store.get(&id).await.unwrap(), None);
    assert_eq!(store.count().await.unwrap(), 1);
    server.stop().await;
}

async fn client_chosen_ids<S: ProductStore>(store: Arc<S>) {
    let server = Running::start(
        ProductInfoService::from_arc(store.clone()),
        Default::default(),
    )
    .await;
    let mut client = server.client().await;

    let id = client
        .add_product(product("sku-1", "desk", 120.0))
        .await
        .unwrap();
    assert_eq!(id.into_inner().value, "sku-1");

    let status = client
        .add_product(product("sku-1", "chair", 40.0))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);
    assert!(
        status.message().contains("\"sku-1\""),
        "{}",
        status.message()
    );
    // The refused add changed nothing.
    let kept = client.get_product(pid("sku-1")).await.unwrap().into_inner();
    assert_eq!(kept, product("sku-1", "desk", 120.0));

    // A deleted id can be used again.
    client.del_product(pid("sku-1")).await.unwrap();
    client
        .add_product(product("sku-1", "chair", 40.0))
        .await
        .unwrap();
    let now = client.get_product(pid("sku-1")).await.unwrap().into_inner();
    assert_eq!(now.name, "chair");
}

async fn not_found<S: ProductStore>(store: Arc<S>) {
    let server = Running::start(ProductInfoService::from_arc(store), Default::default()).await;
    let mut client = server.client().await;
    let status = client.get_product(pid("nope")).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(status.message(), "no product with id \"nope\"");
    let status = client.del_product(pid("nope")).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert!(status.message().contains("\"nope\""));
}

async fn invalid_argument<S: ProductStore>(store: Arc<S>) {
    let server = Running::start(
        ProductInfoService::from_arc(store.clone()),
        Default::default(),
    )
    .await;
    let mut client = server.client().await;

    let long = |n: usize| "x".repeat(n);
    let cases = [
        (product("", "", 1.0), "name: must not be empty"),
        (product("", "   ", 1.0), "name: must not be empty"),
        (product("", "a", -1.0), "price: "),
        (product("", "a", f32::NAN), "price: "),
        (product("", "a", f32::INFINITY), "price: "),
        (product("", "a", f32::NEG_INFINITY), "price: "),
        (
            product("", &long(257), 1.0),
            "name: 257 bytes exceeds the 256-byte limit",
        ),
        (
            product(&long(129), "a", 1.0),
            "id: 129 bytes exceeds the 128-byte limit",
        ),
        (product("a b", "a", 1.0), "id: character ' ' is not allowed"),
        (
            Product {
                description: long(4097),
                ..product("", "a", 1.0)
            },
            "description: 4097 bytes exceeds the 4096-byte limit",
        ),
    ];
    for (p, message) in cases {
        let status = client.add_product(p).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{message}");
        assert!(
            status.message().starts_with(message),
            "{}",
            status.message()
        );
    }
    assert_eq!(
        store.count().await.unwrap(),
        0,
        "nothing invalid was stored"
    );

    for id in ["", "a/b", &long(129)] {
        for status in [
            client.get_product(pid(id)).await.unwrap_err(),
            client.del_product(pid(id)).await.unwrap_err(),
        ] {
            assert_eq!(status.code(), Code::InvalidArgument);
            assert!(
                status.message().starts_with("value: "),
                "{}",
                status.message()
            );
        }
    }

    // Zero is a price; negative zero is stored as zero.
    let id = client.add_product(product("", "free", -0.0)).await.unwrap();
    let got = client
        .get_product(id.into_inner())
        .await
        .unwrap()
        .into_inner();
    assert!(got.price == 0.0 && got.price.is_sign_positive());
}

/// 16 clients, each on its own connection, add, read and delete at once.
async fn many_clients<S: ProductStore>(store: Arc<S>) {
    const CLIENTS: usize = 16;
    const EACH: usize = 24;
    let server = Running::start(
        ProductInfoService::from_arc(store.clone()),
        Default::default(),
    )
    .await;

    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let mut client = server.client().await;
        tasks.push(tokio::spawn(async move {
            let mut kept = Vec::new();
            for i in 0..EACH {
                // Half choose their id, half let the server choose.
                let chosen = if i % 2 == 0 {
                    format!("c{c}-{i}")
                } else {
                    String::new()
                };
                let p = product(&chosen, &format!("item {c}/{i}"), (c * 100 + i) as f32);
                let id = client
                    .add_product(p.clone())
                    .await
                    .unwrap()
                    .into_inner()
                    .value;
                if !chosen.is_empty() {
                    assert_eq!(id, chosen);
                }
                let got = client.get_product(pid(&id)).await.unwrap().into_inner();
                assert_eq!(
                    got,
                    Product {
                        id: id.clone(),
                        ..p
                    }
                );
                if i % 3 == 0 {
                    let gone = client.del_product(pid(&id)).await.unwrap().into_inner();
                    assert_eq!(gone, got);
                } else {
                    kept.push(got);
                }
            }
            kept
        }));
    }
    let mut kept = Vec::new();
    for task in tasks {
        kept.extend(task.await.unwrap());
    }

    // Nothing lost, nothing doubled: exactly the kept products remain.
    assert_eq!(kept.len(), CLIENTS * (EACH - EACH.div_ceil(3)));
    assert_eq!(store.count().await.unwrap(), kept.len() as u64);
    let mut ids: Vec<_> = kept.iter().map(|p| p.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), kept.len(), "every id is distinct");
    let mut client = server.client().await;
    for p in &kept {
        assert_eq!(
            &client.get_product(pid(&p.id)).await.unwrap().into_inner(),
            p
        );
    }
    for c in 0..CLIENTS {
        let status = client
            .get_product(pid(&format!("c{c}-0")))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::NotFound);
    }
}

/// 16 clients add the same id at once: exactly one wins.
async fn racing_one_id<S: ProductStore>(store: Arc<S>) {
    let server = Running::start(
        ProductInfoService::from_arc(store.clone()),
        Default::default(),
    )
    .await;
    let mut tasks = Vec::new();
    for c in 0..16 {
        let mut client = server.client().await;
        tasks.push(tokio::spawn(async move {
            client
                .add_product(product("the-one", &format!("from {c}"), 1.0))
                .await
                .map(|_| c)
                .map_err(|s| s.code())
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(c) => winners.push(c),
            Err(code) => assert_eq!(code, Code::AlreadyExists),
        }
    }
    assert_eq!(winners.len(), 1);
    let stored = store.get("the-one").await.unwrap().unwrap();
    assert_eq!(stored.name, format!("from {}", winners[0]));
    assert_eq!(store.count().await.unwrap(), 1);
}

async fn oversized_request<S: ProductStore>(store: Arc<S>) {
    let mut config = ServerConfig::default();
    config.max_request_bytes = 1024;
    let server = Running::start(ProductInfoService::from_arc(store.clone()), config).await;
    let mut client = server.client().await;
    let big = Product {
        description: "d".repeat(2000),
        ..product("", "a", 1.0)
    };
    let status = client.add_product(big).await.unwrap_err();
    // tonic's code for an oversized message.
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    assert!(
        status.message().contains("the limit is: 1024 bytes"),
        "{status:?}"
    );
    assert_eq!(store.count().await.unwrap(), 0);
    // The connection is still good for requests within the cap.
    client.add_product(product("", "a", 1.0)).await.unwrap();
}

/// A real store made slow, standing in for a stalled disk or database.
struct Slow<S>(Arc<S>, Duration);

#[async_trait]
impl<S: ProductStore> ProductStore for Slow<S> {
    async fn insert(&self, product: &Product) -> Result<(), StoreError> {
        tokio::time::sleep(self.1).await;
        self.0.insert(product).await
    }
    async fn get(&self, id: &str) -> Result<Option<Product>, StoreError> {
        tokio::time::sleep(self.1).await;
        self.0.get(id).await
    }
    async fn remove(&self, id: &str) -> Result<Option<Product>, StoreError> {
        self.0.remove(id).await
    }
    async fn count(&self) -> Result<u64, StoreError> {
        self.0.count().await
    }
    async fn list(&self, after: &str, limit: usize) -> Result<Vec<Product>, StoreError> {
        self.0.list(after, limit).await
    }
}

async fn deadline<S: ProductStore>(store: Arc<S>) {
    let mut config = ServerConfig::default();
    config.max_request_duration = Some(Duration::from_millis(100));
    let slow = Slow(store.clone(), Duration::from_millis(600));
    let server = Running::start(ProductInfoService::new(slow), config).await;
    let mut client = server.client().await;
    let status = client.get_product(pid("x")).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    // A request within the deadline still works.
    let fast = Slow(store, Duration::ZERO);
    let server = Running::start(ProductInfoService::new(fast), config).await;
    let status = server
        .client()
        .await
        .get_product(pid("x"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
}

#[tokio::test]
async fn a_full_store_is_resource_exhausted() {
    let store = MemoryStore::with_max_products(1);
    let server = Running::start(ProductInfoService::new(store), Default::default()).await;
    let mut client = server.client().await;
    client.add_product(product("", "a", 1.0)).await.unwrap();
    let status = client.add_product(product("", "b", 1.0)).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert!(status.message().contains("limit of 1 products"));
}

#[tokio::test]
async fn limits_are_configurable() {
    let mut limits = RequestLimits::default();
    limits.max_name_bytes = 4;
    let service = ProductInfoService::new(MemoryStore::new()).with_limits(limits);
    let server = Running::start(service, Default::default()).await;
    let mut client = server.client().await;
    client.add_product(product("", "abcd", 1.0)).await.unwrap();
    let status = client
        .add_product(product("", "abcde", 1.0))
        .await
        .unwrap_err();
    assert_eq!(status.message(), "name: 5 bytes exceeds the 4-byte limit");
}

#[tokio::test]
async fn a_taken_fresh_id_is_redrawn() {
    let ids = Mutex::new(vec!["fresh", "dup", "dup"]);
    let service = ProductInfoService::new(MemoryStore::new())
        .with_id_source(move || ids.lock().unwrap().pop().unwrap_or("spare").to_owned());
    let server = Running::start(service, Default::default()).await;
    let mut client = server.client().await;
    let first = client.add_product(product("", "a", 1.0)).await.unwrap();
    assert_eq!(first.into_inner().value, "dup");
    let second = client.add_product(product("", "b", 1.0)).await.unwrap();
    assert_eq!(second.into_inner().value, "fresh");
    let got = client.get_product(pid("fresh")).await.unwrap().into_inner();
    assert_eq!(got, product("fresh", "b", 1.0));
}

#[tokio::test]
async fn an_id_source_that_never_finds_a_free_id_is_internal() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let service = ProductInfoService::new(MemoryStore::new()).with_id_source(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        "same".to_owned()
    });
    let server = Running::start(service, Default::default()).await;
    let mut client = server.client().await;
    client.add_product(product("", "a", 1.0)).await.unwrap();
    let status = client.add_product(product("", "b", 1.0)).await.unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    assert_eq!(
        calls.load(Ordering::Relaxed),
        1 + framecast_catalog::MAX_ID_ATTEMPTS
    );
}

#[tokio::test]
async fn an_invalid_generated_id_is_internal_not_stored() {
    let service = ProductInfoService::new(MemoryStore::new()).with_id_source(|| "no good".into());
    let store = service.store().clone();
    let server = Running::start(service, Default::default()).await;
    let status = server
        .client()
        .await
        .add_product(product("", "a", 1.0))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    assert_eq!(store.count().await.unwrap(), 0);
}

#[tokio::test]
async fn health_reports_serving() {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    };
    let server = Running::start(
        ProductInfoService::new(MemoryStore::new()),
        Default::default(),
    )
    .await;
    let mut health = HealthClient::new(server.channel().await);
    for service in ["", framecast_catalog::SERVICE_NAME] {
        let response = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(response.status(), ServingStatus::Serving, "{service:?}");
    }
    let status = health
        .check(HealthCheckRequest {
            service: "no.Such".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    server.stop().await;
}

const EXPECTED_SERVICES: [&str; 4] = [
    "ecommerce.ProductInfo",
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

#[tokio::test]
async fn reflection_v1_lists_and_describes_the_services() {
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let server = Running::start(
        ProductInfoService::new(MemoryStore::new()),
        Default::default(),
    )
    .await;
    let mut client = ServerReflectionClient::new(server.channel().await);
    let requests = [
        MessageRequest::ListServices(String::new()),
        MessageRequest::FileContainingSymbol("ecommerce.ProductInfo".into()),
    ]
    .map(|m| ServerReflectionRequest {
        host: String::new(),
        message_request: Some(m),
    });
    let mut responses = client
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .unwrap()
        .into_inner();

    let Some(MessageResponse::ListServicesResponse(list)) =
        responses.message().await.unwrap().unwrap().message_response
    else {
        panic!("expected a service list");
    };
    let mut names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
    names.sort();
    for expected in EXPECTED_SERVICES {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }

    let Some(MessageResponse::FileDescriptorResponse(files)) =
        responses.message().await.unwrap().unwrap().message_response
    else {
        panic!("expected a file descriptor");
    };
    let file = String::from_utf8_lossy(&files.file_descriptor_proto[0]).into_owned();
    assert!(file.contains("ecommerce.proto") && file.contains("addProduct"));
}

#[tokio::test]
async fn reflection_v1alpha_lists_the_services() {
    use tonic_reflection::pb::v1alpha::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let server = Running::start(
        ProductInfoService::new(MemoryStore::new()),
        Default::default(),
    )
    .await;
    let mut client = ServerReflectionClient::new(server.channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) =
        responses.message().await.unwrap().unwrap().message_response
    else {
        panic!("expected a service list");
    };
    let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
    for expected in EXPECTED_SERVICES {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
}

#[tokio::test]
async fn shutdown_is_graceful() {
    let server = Running::start(
        ProductInfoService::new(MemoryStore::new()),
        Default::default(),
    )
    .await;
    let url = server.url.clone();
    let mut client = server.client().await;
    client.add_product(product("", "a", 1.0)).await.unwrap();
    server.stop().await;
    // The listener is closed: new connections are refused.
    let endpoint = Channel::from_shared(url).unwrap();
    assert!(endpoint.connect().await.is_err());
}

#[tokio::test]
async fn shutdown_tells_health_watchers_and_is_not_held_open_by_them() {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    };
    let server = Running::start(
        ProductInfoService::new(MemoryStore::new()),
        Default::default(),
    )
    .await;
    let mut health = HealthClient::new(server.channel().await);
    let mut watch = health
        .watch(HealthCheckRequest {
            service: framecast_catalog::SERVICE_NAME.into(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.message().await.unwrap().unwrap();
    assert_eq!(first.status(), ServingStatus::Serving);

    // The default grace is 10 s; a watcher must not make shutdown wait it out.
    let started = std::time::Instant::now();
    server.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let last = watch.message().await.unwrap().unwrap();
    assert_eq!(last.status(), ServingStatus::NotServing);
    assert!(
        watch.message().await.unwrap_or(None).is_none(),
        "the watch ended"
    );
}

#[tokio::test]
async fn shutdown_gives_up_on_a_stuck_request_after_the_grace() {
    let mut config = ServerConfig::default();
    config.shutdown_grace = Duration::from_millis(200);
    config.max_request_duration = None;
    let slow = Slow(Arc::new(MemoryStore::new()), Duration::from_secs(3));
    let server = Running::start(ProductInfoService::new(slow), config).await;
    let mut client = server.client().await;
    let stuck = tokio::spawn(async move { client.get_product(pid("x")).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    server.stop().await;
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(200), "{waited:?}");
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    stuck.abort();
}

async fn pg_store(url: &str) -> PostgresStore {
    PostgresStore::connect(url, PostgresOptions::default())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_servers_on_one_database_share_one_catalog() {
    let Some(pg) = pg::shared() else { return };
    let url = pg.new_database();
    let a = Running::start(
        ProductInfoService::new(pg_store(&url).await),
        Default::default(),
    )
    .await;
    let b = Running::start(
        ProductInfoService::new(pg_store(&url).await),
        Default::default(),
    )
    .await;
    let (mut a, mut b) = (a.client().await, b.client().await);
    let id = a
        .add_product(product("", "lamp", 24.5))
        .await
        .unwrap()
        .into_inner();
    let got = b.get_product(id.clone()).await.unwrap().into_inner();
    assert_eq!(got.name, "lamp");
    b.del_product(id.clone()).await.unwrap();
    let status = a.get_product(id).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    // One id raced through both servers: exactly one success.
    let mut tasks = Vec::new();
    for (c, client) in [a, b].into_iter().cycle().take(8).enumerate() {
        let mut client = client.clone();
        tasks.push(tokio::spawn(async move {
            client
                .add_product(product("raced", &format!("{c}"), 1.0))
                .await
                .map_err(|s| s.code())
        }));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(code) => assert_eq!(code, Code::AlreadyExists),
        }
    }
    assert_eq!(ok, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_servers_starting_together_set_the_schema_up_once() {
    let Some(pg) = pg::shared() else { return };
    let url = pg.new_database();
    let starts: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(
                async move { PostgresStore::connect(&url, PostgresOptions::default()).await },
            )
        })
        .collect();
    let mut stores = Vec::new();
    for start in starts {
        stores.push(start.await.unwrap().unwrap());
    }
    let db = url.rsplit('/').next().unwrap();
    assert_eq!(
        pg.psql(db, "SELECT version FROM framecast_schema").trim(),
        framecast_catalog::SCHEMA_VERSION.to_string()
    );
    assert_eq!(
        pg.psql(db, "SELECT count(*) FROM framecast_schema").trim(),
        "1"
    );
    stores[0].insert(&product("a", "a", 1.0)).await.unwrap();
    assert_eq!(stores[5].count().await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refuses_a_newer_schema_and_keeps_a_corrupt_value() {
    let Some(pg) = pg::shared() else { return };
    let url = pg.new_database();
    let db = url.rsplit('/').next().unwrap().to_owned();
    let store = pg_store(&url).await;
    // Field 2 (name) claims 100 bytes but none follow.
    pg.psql(
        &db,
        "INSERT INTO framecast_products (id, product) VALUES ('bad', '\\x1264'::bytea)",
    );
    let err = store.get("bad").await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    let err = store.remove("bad").await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert_eq!(
        store.count().await.unwrap(),
        1,
        "the corrupt value was kept"
    );

    pg.psql(&db, "UPDATE framecast_schema SET version = 99");
    let err = PostgresStore::connect(&url, PostgresOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Schema { found: 99, .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_is_unavailable_and_recovers_without_a_restart() {
    // A server of its own: this test stops it.
    let Some(pg) = pg::PgServer::start() else {
        return;
    };
    let url = pg.new_database();
    let mut options = PostgresOptions::default();
    options.connect_timeout = Duration::from_secs(2);
    options.pool_wait_timeout = Duration::from_secs(2);
    let store = PostgresStore::connect(&url, options).await.unwrap();
    let server = Running::start(ProductInfoService::new(store), Default::default()).await;
    let mut client = server.client().await;
    client
        .add_product(product("before", "b", 1.0))
        .await
        .unwrap();

    pg.stop();
    for _ in 0..3 {
        let status = client
            .get_product(pid("before"))
            .await
            .expect_err("the database is down");
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        assert!(
            status.message().contains("database is unavailable"),
            "{status:?}"
        );
        let status = client
            .add_product(product("during", "d", 1.0))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    }

    pg.start_again();
    let got = client
        .get_product(pid("before"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.name, "b");
    client
        .add_product(product("after", "a", 1.0))
        .await
        .unwrap();
    let status = client.get_product(pid("during")).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "nothing was half-written");
}
