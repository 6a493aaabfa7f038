//! TLS, access tokens and the listen policy that framecast's servers and
//! clients share.
//!
//! - [`ServerTls`] and [`ClientTls`]: rustls configurations from PEM files,
//!   always on the *ring* crypto provider ([`provider`]). A client verifies
//!   the server against a given CA bundle or the operating system's roots,
//!   host name included.
//! - [`Token`]: a shared secret read from a file or an environment variable,
//!   compared in constant time, never shown by `Debug` or `Display`.
//! - [`CertificateSet`]: a throwaway CA and a server certificate for given
//!   host names and addresses (what `framecast cert` writes).
//! - [`Exposure`]: the "protected mode" rule for servers: loopback needs no
//!   set-up, any other address needs authentication or an explicit opt-out.
//!
//! ```
//! use std::net::SocketAddr;
//! use framecast_tls::{CertificateSet, ClientTls, Exposure, ServerTls, Token};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A CA and a certificate for localhost, written to a directory.
//! let dir = tempfile::tempdir()?;
//! let set = CertificateSet::generate(&["localhost".to_owned(), "127.0.0.1".to_owned()])?;
//! let files = set.write_to(dir.path(), false)?;
//!
//! // Both ends of a TLS connection, speaking HTTP/2.
//! let server = ServerTls::from_pem_files(&files.server_cert, &files.server_key)?
//!     .with_alpn(&[b"h2"])
//!     .config()?;
//! let client = ClientTls::with_ca_file(&files.ca_cert)?.with_alpn(&[b"h2"]).config()?;
//! assert_eq!(server.alpn_protocols, vec![b"h2".to_vec()]);
//! # let _ = client;
//!
//! // A token, compared in constant time and never printed.
//! let token = Token::new("correct-horse-battery-staple")?;
//! assert!(token.matches(b"correct-horse-battery-staple"));
//! assert_eq!(format!("{token:?}"), "Token(<redacted>)");
//!
//! // Protected mode: an open port off loopback needs a token or an opt-out.
//! let public: SocketAddr = "0.0.0.0:50051".parse()?;
//! assert!(Exposure::check(&[public], false, false).is_err());
//! assert_eq!(Exposure::check(&[public], true, false)?, Exposure::Authenticated);
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

mod certs;
mod config;
mod error;
mod exposure;
mod token;

pub use certs::{CA_VALIDITY_DAYS, CertificateSet, SERVER_VALIDITY_DAYS, WrittenFiles};
pub use config::{ClientTls, HandshakeFailure, ServerTls, provider, server_name};
pub use error::{CertError, TlsError, TokenError};
pub use exposure::{Exposure, ExposureError};
pub use token::{AuthFailure, MIN_TOKEN_BYTES, MIN_TOKEN_DISTINCT_CHARS, TOKEN_ENV, Token};

/// The ALPN protocol id of HTTP/2, which gRPC clients such as grpcio insist
/// on over TLS.
pub const ALPN_H2: &[u8] = b"h2";
