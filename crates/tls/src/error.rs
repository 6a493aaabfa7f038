//! The crate's error types, one per concern: [`TlsError`] for loading
//! certificates and keys, [`TokenError`] for tokens, [`CertError`] for
//! making certificates.

use std::{io, path::PathBuf};

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A PEM file is not valid PEM, or holds something other than expected.
    #[error("{} is not a valid PEM file", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What the parser found.
        source: rustls_pki_types::pem::Error,
    },
    /// A certificate file holds no `CERTIFICATE` block.
    #[error("{} holds no certificate (expected a PEM `CERTIFICATE` block)", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// A key file holds no private key.
    #[error("{} holds no private key (expected a PEM `PRIVATE KEY` block)", path.display())]
    NoPrivateKey {
        /// The file.
        path: PathBuf,
    },
    /// A CA certificate could not be used as a trust anchor.
    #[error("{} holds a certificate that cannot be trusted as a CA", path.display())]
    BadCa {
        /// The file.
        path: PathBuf,
        /// rustls' reason.
        source: rustls::Error,
    },
    /// The operating system's trusted roots could not be loaded.
    #[error("no usable trusted root certificates found on this system")]
    NoSystemRoots,
    /// rustls refused the configuration (a key that does not match the
    /// certificate, an unsupported key type...).
    #[error("invalid TLS configuration")]
    Config(#[source] rustls::Error),
}

/// Why a [`Token`](crate::Token) could not be read or made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The token file could not be read.
    #[error("cannot read the token file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The token is empty (after trimming surrounding white space).
    #[error("the token is empty")]
    Empty,
    /// The token is shorter than [`MIN_TOKEN_BYTES`](crate::MIN_TOKEN_BYTES).
    #[error("the token is {len} bytes long; at least {min} are required")]
    TooShort {
        /// Its length.
        len: usize,
        /// The minimum.
        min: usize,
    },
    /// The token holds a character that cannot travel in an HTTP header
    /// (a control character or non-ASCII).
    #[error("the token may hold only printable ASCII characters")]
    BadCharacter,
    /// The token has too few distinct characters to be used beyond
    /// loopback (see [`Token::check_strength`](crate::Token::check_strength)).
    #[error(
        "the token has only {distinct} distinct characters; a server reachable from other hosts \
         needs at least {min} (a random token has far more): make one with `openssl rand -hex \
         32 > token`"
    )]
    Weak {
        /// Its distinct characters.
        distinct: usize,
        /// The fewest accepted.
        min: usize,
    },
    /// The environment variable holds something that is not UTF-8.
    #[error("the environment variable {name} is not valid UTF-8")]
    NotUnicode {
        /// The variable.
        name: String,
    },
}

/// Why certificates could not be made or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// No host name or address was given.
    #[error("at least one host name or IP address is needed")]
    NoHosts,
    /// A host is neither an IP address nor a valid DNS name.
    #[error("{host:?} is neither an IP address nor a valid DNS name")]
    BadHost {
        /// What was given.
        host: String,
    },
    /// rcgen could not make a key or a certificate (a host name that is not a
    /// valid DNS name, say).
    #[error("cannot make the certificate")]
    Generate(#[source] rcgen::Error),
    /// A file that would be written exists already.
    #[error("{} exists already", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// A file could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}
