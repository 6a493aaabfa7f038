//! rustls configurations from PEM files: [`ServerTls`], [`ClientTls`], and
//! [`HandshakeFailure`] to explain a failed handshake.

use std::{fmt, io, path::Path, sync::Arc};

use rustls::{
    CertificateError, ClientConfig, RootCertStore, ServerConfig,
    crypto::CryptoProvider,
    pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject},
    server::WebPkiClientVerifier,
};

use crate::TlsError;

/// The crypto provider every configuration here uses: *ring*.
///
/// Configurations are built with it explicitly rather than through rustls'
/// process-wide default, which is ambiguous (and panics) when a dependency
/// enables a second provider.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Every `CERTIFICATE` block of a PEM file, in order.
fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Pem {
            path: path.to_owned(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) of a PEM file.
fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|source| match source {
        rustls_pki_types::pem::Error::NoItemsFound => TlsError::NoPrivateKey {
            path: path.to_owned(),
        },
        source => TlsError::Pem {
            path: path.to_owned(),
            source,
        },
    })
}

/// A root store holding every certificate of a PEM CA bundle.
fn load_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(path)? {
        roots.add(cert).map_err(|source| TlsError::BadCa {
            path: path.to_owned(),
            source,
        })?;
    }
    Ok(roots)
}

/// A server's TLS identity: its certificate chain and private key, and,
/// optionally, the CA its clients' certificates must chain to (mutual TLS).
///
/// ```no_run
/// # fn main() -> Result<(), framecast_tls::TlsError> {
/// let config = framecast_tls::ServerTls::from_pem_files("server.pem", "server-key.pem")?
///     .with_alpn(&[framecast_tls::ALPN_H2])
///     .config()?;
/// # let _ = config; Ok(()) }
/// ```
#[derive(Clone)]
pub struct ServerTls {
    chain: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
    client_roots: Option<Arc<RootCertStore>>,
    alpn: Vec<Vec<u8>>,
}

impl ServerTls {
    /// Reads the certificate chain (server certificate first) and the
    /// private key from PEM files.
    pub fn from_pem_files(cert: impl AsRef<Path>, key: impl AsRef<Path>) -> Result<Self, TlsError> {
        Ok(Self {
            chain: load_certs(cert.as_ref())?,
            key: Arc::new(load_key(key.as_ref())?),
            client_roots: None,
            alpn: Vec::new(),
        })
    }

    /// Requires every client to present a certificate that chains to a CA in
    /// the PEM bundle at `ca` (mutual TLS).
    pub fn require_client_certs(mut self, ca: impl AsRef<Path>) -> Result<Self, TlsError> {
        self.client_roots = Some(Arc::new(load_roots(ca.as_ref())?));
        Ok(self)
    }

    /// The application protocols offered in ALPN, most preferred first
    /// ([`ALPN_H2`](crate::ALPN_H2) for gRPC). None by default.
    pub fn with_alpn(mut self, protocols: &[&[u8]]) -> Self {
        self.alpn = protocols.iter().map(|p| p.to_vec()).collect();
        self
    }

    /// The rustls configuration: TLS 1.3 and 1.2, the ring provider.
    ///
    /// Fails if the key does not match the certificate or is of a kind ring
    /// cannot use.
    pub fn config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?;
        let builder = match &self.client_roots {
            None => builder.with_no_client_auth(),
            Some(roots) => {
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::clone(roots), provider())
                        .build()
                        .map_err(|e| TlsError::Config(rustls::Error::General(e.to_string())))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(TlsError::Config)?;
        config.alpn_protocols = self.alpn.clone();
        Ok(Arc::new(config))
    }
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.debug_struct("ServerTls")
            .field("chain_len", &self.chain.len())
            .field("client_certs_required", &self.client_roots.is_some())
            .finish_non_exhaustive()
    }
}

/// What a client trusts, and optionally the certificate it presents.
///
/// ```no_run
/// # fn main() -> Result<(), framecast_tls::TlsError> {
/// // Trust only the CA that `framecast cert` made.
/// let private = framecast_tls::ClientTls::with_ca_file("ca.pem")?.config()?;
/// // Trust the operating system's roots (a server with a public certificate).
/// let public = framecast_tls::ClientTls::with_system_roots()?.config()?;
/// # let _ = (private, public); Ok(()) }
/// ```
#[derive(Clone)]
pub struct ClientTls {
    roots: Arc<RootCertStore>,
    identity: Option<(Vec<CertificateDer<'static>>, Arc<PrivateKeyDer<'static>>)>,
    alpn: Vec<Vec<u8>>,
}

impl ClientTls {
    /// Trusts exactly the CA certificates in the PEM bundle at `path`.
    pub fn with_ca_file(path: impl AsRef<Path>) -> Result<Self, TlsError> {
        Ok(Self::with_roots(load_roots(path.as_ref())?))
    }

    /// Trusts the operating system's root certificates (on Linux, the
    /// bundle of `ca-certificates`, or `SSL_CERT_FILE`/`SSL_CERT_DIR`), read
    /// by `rustls-native-certs`. Unreadable entries are skipped; fails only
    /// if none is usable.
    pub fn with_system_roots() -> Result<Self, TlsError> {
        let found = rustls_native_certs::load_native_certs();
        let mut roots = RootCertStore::empty();
        let (added, _ignored) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            return Err(TlsError::NoSystemRoots);
        }
        Ok(Self::with_roots(roots))
    }

    fn with_roots(roots: RootCertStore) -> Self {
        Self {
            roots: Arc::new(roots),
            identity: None,
            alpn: Vec::new(),
        }
    }

    /// Presents the certificate chain and key in these PEM files to servers
    /// that ask for one (mutual TLS).
    pub fn with_client_cert(
        mut self,
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self, TlsError> {
        let chain = load_certs(cert.as_ref())?;
        let key = load_key(key.as_ref())?;
        self.identity = Some((chain, Arc::new(key)));
        Ok(self)
    }

    /// The application protocols offered in ALPN, most preferred first.
    pub fn with_alpn(mut self, protocols: &[&[u8]]) -> Self {
        self.alpn = protocols.iter().map(|p| p.to_vec()).collect();
        self
    }

    /// The rustls configuration. The server's certificate is verified
    /// against the roots and must be valid for the name the caller connects
    /// to (see [`server_name`]).
    pub fn config(&self) -> Result<Arc<ClientConfig>, TlsError> {
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?
            .with_root_certificates(Arc::clone(&self.roots));
        let mut config = match &self.identity {
            None => builder.with_no_client_auth(),
            Some((chain, key)) => builder
                .with_client_auth_cert(chain.clone(), key.clone_key())
                .map_err(TlsError::Config)?,
        };
        config.alpn_protocols = self.alpn.clone();
        Ok(Arc::new(config))
    }
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls")
            .field("roots", &self.roots.len())
            .field("client_cert", &self.identity.is_some())
            .finish_non_exhaustive()
    }
}

/// The name a client checks the server's certificate against: an IP
/// address (matched against IP SANs) or a DNS name. IPv6 addresses may come
/// in brackets, as in a URL.
pub fn server_name(host: &str) -> Result<ServerName<'static>, TlsError> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    ServerName::try_from(bare.to_owned()).map_err(|_| {
        TlsError::Config(rustls::Error::General(format!(
            "{host:?} is not a valid host name or IP address"
        )))
    })
}

/// Why a TLS handshake failed, in words a user can act on; see
/// [`HandshakeFailure::of`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeFailure {
    /// The peer's certificate does not chain to a trusted CA.
    UnknownIssuer,
    /// The peer's certificate is not valid for the name connected to.
    WrongName {
        /// The names the certificate holds, when rustls reported them.
        presented: Vec<String>,
    },
    /// The peer's certificate has expired or is not valid yet.
    Expired,
    /// The peer did not answer with TLS: it speaks plaintext.
    NotTls,
    /// The peer refused our certificate, or the handshake, with this alert.
    Refused(String),
    /// The peer closed the connection during the handshake.
    Closed,
    /// Any other TLS error, as rustls words it.
    Other(String),
}

impl HandshakeFailure {
    /// Explains the error a tokio-rustls handshake (or the first read after
    /// it) returned; `None` if it is not a TLS error at all.
    pub fn of(err: &io::Error) -> Option<Self> {
        if let Some(tls) = err
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>())
        {
            return Some(Self::from_rustls(tls));
        }
        match err.kind() {
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => Some(Self::Closed),
            _ => None,
        }
    }

    /// Explains a rustls error.
    pub fn from_rustls(err: &rustls::Error) -> Self {
        use rustls::Error as E;
        match err {
            E::InvalidCertificate(cert) => match cert {
                // A bad signature means a certificate that names a trusted
                // CA as its issuer was not signed by it.
                CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                    Self::UnknownIssuer
                }
                CertificateError::NotValidForName => Self::WrongName {
                    presented: Vec::new(),
                },
                CertificateError::NotValidForNameContext { presented, .. } => Self::WrongName {
                    presented: presented.clone(),
                },
                CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. } => Self::Expired,
                other => Self::Other(format!("invalid certificate: {other:?}")),
            },
            E::InvalidMessage(_) => Self::NotTls,
            E::AlertReceived(alert) => Self::Refused(format!("{alert:?}")),
            other => Self::Other(other.to_string()),
        }
    }
}

impl fmt::Display for HandshakeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownIssuer => f.write_str("the certificate is not signed by a trusted CA"),
            Self::WrongName { presented } if presented.is_empty() => {
                f.write_str("the certificate is not valid for the name connected to")
            }
            Self::WrongName { presented } => write!(
                f,
                "the certificate is not valid for the name connected to (it is for {})",
                presented.join(", ")
            ),
            Self::Expired => f.write_str("the certificate has expired or is not valid yet"),
            Self::NotTls => f.write_str("the peer does not speak TLS (plaintext?)"),
            Self::Refused(alert) => write!(f, "the peer refused the handshake ({alert})"),
            Self::Closed => f.write_str("the peer closed the connection during the TLS handshake"),
            Self::Other(why) => write!(f, "TLS handshake failed: {why}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::{TcpListener, TcpStream},
    };
    use tokio_rustls::{TlsAcceptor, TlsConnector};

    use super::*;
    use crate::{CertificateSet, WrittenFiles};

    fn files(hosts: &[&str]) -> (tempfile::TempDir, WrittenFiles) {
        let dir = tempfile::tempdir().unwrap();
        let hosts: Vec<String> = hosts.iter().map(|h| (*h).to_owned()).collect();
        let files = CertificateSet::generate(&hosts)
            .unwrap()
            .write_to(dir.path(), false)
            .unwrap();
        (dir, files)
    }

    /// Runs one handshake and a ping-pong; returns the client's and the
    /// server's outcome.
    async fn handshake(
        server: Arc<ServerConfig>,
        client: Arc<ClientConfig>,
        name: &str,
    ) -> (io::Result<()>, io::Result<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut tls = TlsAcceptor::from(server).accept(tcp).await?;
            let mut buf = [0; 4];
            tls.read_exact(&mut buf).await?;
            tls.write_all(b"pong").await?;
            tls.flush().await
        });
        let tcp = TcpStream::connect(address).await.unwrap();
        let client = async {
            let mut tls = TlsConnector::from(client)
                .connect(server_name(name).unwrap(), tcp)
                .await?;
            tls.write_all(b"ping").await?;
            let mut buf = [0; 4];
            tls.read_exact(&mut buf).await?;
            assert_eq!(&buf, b"pong");
            Ok(())
        }
        .await;
        (client, server.await.unwrap())
    }

    #[tokio::test]
    async fn a_generated_set_handshakes_by_name_and_address() {
        let (_dir, f) = files(&["localhost", "127.0.0.1", "::1"]);
        let server = ServerTls::from_pem_files(&f.server_cert, &f.server_key)
            .unwrap()
            .config()
            .unwrap();
        let client = ClientTls::with_ca_file(&f.ca_cert)
            .unwrap()
            .config()
            .unwrap();
        for name in ["localhost", "127.0.0.1", "[::1]"] {
            let (c, s) = handshake(server.clone(), client.clone(), name).await;
            c.unwrap();
            s.unwrap();
        }
    }

    #[tokio::test]
    async fn a_wrong_ca_or_name_is_explained() {
        let (_dir, f) = files(&["localhost"]);
        let (_other_dir, other) = files(&["localhost"]);
        let server = ServerTls::from_pem_files(&f.server_cert, &f.server_key)
            .unwrap()
            .config()
            .unwrap();

        let stranger = ClientTls::with_ca_file(&other.ca_cert)
            .unwrap()
            .config()
            .unwrap();
        let (c, s) = handshake(server.clone(), stranger, "localhost").await;
        let failure = HandshakeFailure::of(&c.unwrap_err()).unwrap();
        assert_eq!(failure, HandshakeFailure::UnknownIssuer);
        // The server learns that its certificate was refused.
        assert!(
            matches!(HandshakeFailure::of(&s.unwrap_err()), Some(HandshakeFailure::Refused(a)) if a.contains("UnknownCA")),
        );

        let trusting = ClientTls::with_ca_file(&f.ca_cert)
            .unwrap()
            .config()
            .unwrap();
        let (c, _) = handshake(server, trusting, "example.org").await;
        let failure = HandshakeFailure::of(&c.unwrap_err()).unwrap();
        assert!(
            matches!(failure, HandshakeFailure::WrongName { .. }),
            "{failure}"
        );
        assert!(failure.to_string().contains("localhost"), "{failure}");
    }

    #[tokio::test]
    async fn plaintext_to_a_tls_server_is_recognised() {
        let (_dir, f) = files(&["localhost"]);
        let server = ServerTls::from_pem_files(&f.server_cert, &f.server_key)
            .unwrap()
            .config()
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            TlsAcceptor::from(server).accept(tcp).await.map(|_| ())
        });
        let mut tcp = TcpStream::connect(address).await.unwrap();
        tcp.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .await
            .unwrap();
        let err = task.await.unwrap().unwrap_err();
        assert_eq!(HandshakeFailure::of(&err), Some(HandshakeFailure::NotTls));
    }

    #[tokio::test]
    async fn mutual_tls_requires_a_client_certificate() {
        let (_dir, f) = files(&["localhost"]);
        let server = ServerTls::from_pem_files(&f.server_cert, &f.server_key)
            .unwrap()
            .require_client_certs(&f.ca_cert)
            .unwrap()
            .config()
            .unwrap();
        let anonymous = ClientTls::with_ca_file(&f.ca_cert)
            .unwrap()
            .config()
            .unwrap();
        let (_, s) = handshake(server.clone(), anonymous, "localhost").await;
        assert!(s.is_err(), "a client without a certificate was let in");

        // The server certificate doubles as a client certificate here: it
        // chains to the CA, which is all the server checks.
        let known = ClientTls::with_ca_file(&f.ca_cert)
            .unwrap()
            .with_client_cert(&f.server_cert, &f.server_key)
            .unwrap()
            .config()
            .unwrap();
        let (c, s) = handshake(server, known, "localhost").await;
        c.unwrap();
        s.unwrap();
    }

    #[test]
    fn bad_files_are_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = ServerTls::from_pem_files(&missing, &missing).unwrap_err();
        assert!(matches!(err, TlsError::Read { .. }), "{err}");
        assert!(err.to_string().contains("missing.pem"));

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "nothing here\n").unwrap();
        let err = ClientTls::with_ca_file(&empty).unwrap_err();
        assert!(matches!(err, TlsError::NoCertificate { .. }), "{err}");

        let (_d, f) = files(&["localhost"]);
        // A certificate where the key should be.
        let err = ServerTls::from_pem_files(&f.server_cert, &f.server_cert).unwrap_err();
        assert!(matches!(err, TlsError::NoPrivateKey { .. }), "{err}");
        // A key that does not match the certificate.
        let (_d2, g) = files(&["localhost"]);
        let err = ServerTls::from_pem_files(&f.server_cert, &g.server_key)
            .unwrap()
            .config()
            .unwrap_err();
        assert!(matches!(err, TlsError::Config(_)), "{err}");
    }

    #[test]
    fn server_names_take_ips_names_and_bracketed_ipv6() {
        assert!(matches!(
            server_name("127.0.0.1"),
            Ok(ServerName::IpAddress(_))
        ));
        assert!(matches!(server_name("[::1]"), Ok(ServerName::IpAddress(_))));
        assert!(matches!(server_name("::1"), Ok(ServerName::IpAddress(_))));
        assert!(matches!(
            server_name("localhost"),
            Ok(ServerName::DnsName(_))
        ));
        assert!(server_name("not a name").is_err());
    }
}
