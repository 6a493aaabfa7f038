//! [`serve`]: the catalog's gRPC server, with health and reflection.

use std::{future::Future, pin::pin, time::Duration};

use framecast_proto::ecommerce::{FILE_DESCRIPTOR_SET, product_info_server::ProductInfoServer};
use tokio::{net::TcpListener, sync::oneshot};
use tonic::transport::{Server, server::TcpIncoming};
use tonic_health::ServingStatus;

use crate::{ProductInfoService, ProductStore, ServeError, deadline::DeadlineLayer};

/// Default for [`ServerConfig::max_request_bytes`]: 64 KiB, room for the
/// largest product the default [`Limits`](crate::Limits) allow (under 5 KiB)
/// and for any reflection or health request.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 64 * 1024;

/// Default for [`ServerConfig::max_request_duration`]: 30 seconds.
pub const DEFAULT_MAX_REQUEST_DURATION: Duration = Duration::from_secs(30);

/// Default for [`ServerConfig::max_concurrent_streams`]: 256 requests in
/// flight per connection.
pub const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 256;

/// Default for [`ServerConfig::shutdown_grace`]: 10 seconds.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How [`serve`] runs the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The largest request message accepted, in bytes, checked before it is
    /// decoded. A larger one is refused with tonic's code for it,
    /// `OUT_OF_RANGE` (where the gRPC spec suggests `RESOURCE_EXHAUSTED`).
    pub max_request_bytes: usize,
    /// The longest any request may run; a request also ends at the client's
    /// own deadline (`grpc-timeout`) if that is sooner. Either way the client
    /// gets `DEADLINE_EXCEEDED`. `None`: only client deadlines apply.
    ///
    /// A write whose deadline expires may still complete: the client cannot
    /// tell, as with any gRPC server.
    pub max_request_duration: Option<Duration>,
    /// The most requests in flight on one HTTP/2 connection.
    pub max_concurrent_streams: u32,
    /// How long [`serve`] waits, after its shutdown signal, for requests in
    /// flight to finish. After that it returns and leaves what is still open
    /// to end with the runtime.
    pub shutdown_grace: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            max_request_duration: Some(DEFAULT_MAX_REQUEST_DURATION),
            max_concurrent_streams: DEFAULT_MAX_CONCURRENT_STREAMS,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

/// The name health checks use for the product service.
pub const SERVICE_NAME: &str = "ecommerce.ProductInfo";

/// Serves `service` on `listener` until `shutdown` completes.
///
/// Beside `ecommerce.ProductInfo` it serves `grpc.health.v1.Health` (the
/// server, `""`, and [`SERVICE_NAME`] report `SERVING`) and server
/// reflection in both `grpc.reflection.v1` and `grpc.reflection.v1alpha`,
/// describing all three services, so stock tools work without the `.proto`
/// file. Every service has the request-size cap and deadlines of `config`.
///
/// When `shutdown` completes, health turns to `NOT_SERVING` (and health
/// watch streams end), the listener closes, requests in flight get up to
/// [`ServerConfig::shutdown_grace`] to finish, and `serve` returns.
pub async fn serve<S, F>(
    listener: TcpListener,
    service: ProductInfoService<S>,
    config: ServerConfig,
    shutdown: F,
) -> Result<(), ServeError>
where
    S: ProductStore,
    F: Future<Output = ()> + Send,
{
    let max = config.max_request_bytes;
    let (mut health, health_service) = tonic_health::server::health_reporter();
    health
        .set_service_status(SERVICE_NAME, ServingStatus::Serving)
        .await;

    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            // Each reflection service describes itself by default; describe
            // both, so either version lists everything served.
            .include_reflection_service(false)
            .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(
                tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
            )
    };
    let reflection_v1 = reflection().build_v1()?.max_decoding_message_size(max);
    let reflection_v1alpha = reflection().build_v1alpha()?.max_decoding_message_size(max);

    tracing::info!(address = %listener.local_addr()?, "catalog server listening");
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let (stop, stopped) = oneshot::channel::<()>();
    let server = Server::builder()
        .max_concurrent_streams(config.max_concurrent_streams)
        .layer(DeadlineLayer::new(config.max_request_duration))
        .add_service(ProductInfoServer::new(service).max_decoding_message_size(max))
        .add_service(health_service.max_decoding_message_size(max))
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .serve_with_incoming_shutdown(incoming, async {
            let _ = stopped.await;
        });
    let mut server = pin!(server);
    tokio::select! {
        // Only an error ends the server before the stop signal.
        result = &mut server => return Ok(result?),
        () = shutdown => {}
    }

    tracing::info!("catalog server shutting down");
    for name in ["", SERVICE_NAME] {
        health
            .set_service_status(name, ServingStatus::NotServing)
            .await;
    }
    // Health `Watch` streams never end on their own and would hold the
    // graceful shutdown open; dropping the statuses ends them, each after it
    // has delivered NOT_SERVING.
    for name in ["", SERVICE_NAME] {
        health.clear_service_status(name).await;
    }
    let _ = stop.send(());
    match tokio::time::timeout(config.shutdown_grace, server).await {
        Ok(result) => result?,
        Err(_) => tracing::warn!(
            grace = ?config.shutdown_grace,
            "connections still open after the shutdown grace period; abandoning them"
        ),
    }
    Ok(())
}
