//! Requests per second for `addProduct` and `getProduct` over loopback, with
//! 1 and 16 concurrent clients (each on its own connection), for each store:
//! memory, redb, and PostgreSQL (a throwaway local server, started as the
//! tests start it, when PostgreSQL is installed; `fsync` is on for it here,
//! as redb fsyncs every commit).
//!
//! Server and clients share one tokio runtime and the machine's cores, so
//! the figures are for the whole round trip, client included. Criterion's
//! "thrpt" line is requests per second.

#![allow(missing_docs)]

#[path = "../tests/pg/mod.rs"]
mod pg;

use std::{sync::Arc, time::Duration, time::Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use framecast_catalog::{
    MemoryStore, PostgresOptions, PostgresStore, ProductInfoService, ProductStore, RedbStore,
    ServerConfig, serve,
};
use framecast_proto::ecommerce::{Product, ProductId, product_info_client::ProductInfoClient};
use tokio::runtime::Runtime;
use tonic::transport::Channel;

/// Products stored before the `get` runs; the gets cycle through them.
const PRELOADED: usize = 1000;

fn product(id: String) -> Product {
    Product {
        id,
        name: "Desk lamp".into(),
        description: "An adjustable LED desk lamp".into(),
        price: 24.5,
    }
}

/// Starts a server over `store` and connects `clients` clients to it.
fn start<S: ProductStore>(
    rt: &Runtime,
    store: S,
    clients: usize,
) -> Vec<ProductInfoClient<Channel>> {
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let service = ProductInfoService::new(store);
        tokio::spawn(serve(
            listener,
            service,
            ServerConfig::default(),
            std::future::pending(),
        ));
        let mut out = Vec::new();
        for _ in 0..clients {
            let channel = Channel::from_shared(url.clone())
                .unwrap()
                .connect()
                .await
                .unwrap();
            out.push(ProductInfoClient::new(channel));
        }
        let mut first = out[0].clone();
        for i in 0..PRELOADED {
            first.add_product(product(format!("p{i}"))).await.unwrap();
        }
        out
    })
}

/// Runs `iters` requests split over the clients; returns the wall time.
fn run(rt: &Runtime, clients: &[ProductInfoClient<Channel>], iters: u64, add: bool) -> Duration {
    let n = clients.len() as u64;
    rt.block_on(async {
        let start = Instant::now();
        let tasks: Vec<_> = clients
            .iter()
            .enumerate()
            .map(|(c, client)| {
                let mut client = client.clone();
                let share = iters / n + u64::from((c as u64) < iters % n);
                tokio::spawn(async move {
                    for i in 0..share {
                        if add {
                            client.add_product(product(String::new())).await.unwrap();
                        } else {
                            let value = format!("p{}", (i as usize + c) % PRELOADED);
                            client.get_product(ProductId { value }).await.unwrap();
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        start.elapsed()
    })
}

fn bench(c: &mut Criterion) {
    let rt = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("catalog_rpc");
    group
        .throughput(Throughput::Elements(1))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    let postgres = pg::PgServer::start_durable();
    let mut stores = vec!["memory", "redb"];
    if postgres.is_some() {
        stores.push("postgres");
    }
    for clients in [1, 16] {
        for &store in &stores {
            let connected = match store {
                "memory" => start(&rt, MemoryStore::new(), clients),
                "redb" => {
                    let path = dir.path().join(format!("bench-{clients}.redb"));
                    start(&rt, RedbStore::open(path).unwrap(), clients)
                }
                _ => {
                    let url = postgres.as_ref().unwrap().new_database();
                    let pg = rt
                        .block_on(PostgresStore::connect(&url, PostgresOptions::default()))
                        .unwrap();
                    start(&rt, pg, clients)
                }
            };
            for (op, add) in [("get", false), ("add", true)] {
                let id = BenchmarkId::new(format!("{op}/{store}"), format!("{clients}_clients"));
                group.bench_function(id, |b| {
                    b.iter_custom(|iters| run(&rt, &connected, iters, add));
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
