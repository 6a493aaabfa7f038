//! The client's TLS connector for tonic: TCP, then TLS with the server's
//! name checked, so the client never depends on tonic's own TLS features.

use std::{
    future::Future,
    io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use framecast_net::HostPort;
use hyper_util::rt::TokioIo;
use tonic::transport::Uri;

/// Connects TCP to one address, then TLS with its host name checked.
#[derive(Clone)]
pub(super) struct TlsConnector {
    config: Arc<rustls::ClientConfig>,
    address: HostPort,
}

impl TlsConnector {
    pub(super) fn new(config: Arc<rustls::ClientConfig>, address: HostPort) -> Self {
        Self { config, address }
    }
}

impl tower_service::Service<Uri> for TlsConnector {
    type Response = TokioIo<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Uri) -> Self::Future {
        let connector = tokio_rustls::TlsConnector::from(Arc::clone(&self.config));
        let address = self.address.clone();
        Box::pin(async move {
            let host = address.host().to_string();
            let name = framecast_tls::server_name(&host)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            let tcp = tokio::net::TcpStream::connect((host.as_str(), address.port())).await?;
            // Small requests and answers: do not wait to fill a segment.
            let _ = tcp.set_nodelay(true);
            Ok(TokioIo::new(connector.connect(name, tcp).await?))
        })
    }
}
