//! The access flags, defined once: a server's TLS certificate, token and
//! `--allow-anonymous` (`recv`, `catalog serve`), and a client's CA and
//! token (`send`, the catalog client commands).

use std::fmt::Display;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use framecast_tls::{ClientTls, Exposure, ServerTls, TOKEN_ENV, Token};

use crate::report::HintExt;

/// What the refusal to listen beyond loopback without a token suggests.
const EXPOSURE_HINT: &str = "require a token with --token-file FILE (or FRAMECAST_TOKEN), ideally \
                             with --tls-cert and --tls-key; or accept anyone with --allow-anonymous";

/// A server's access flags.
#[derive(Debug, Clone, Args)]
pub(crate) struct ServerAuthArgs {
    /// Require TLS, with this certificate chain (PEM; with --tls-key).
    /// `framecast cert` makes one for a quick start.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,

    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,

    /// Require clients to present the access token in this file (at least
    /// 16 characters) [default: the FRAMECAST_TOKEN environment variable,
    /// if set]. Clients without it are refused as unauthenticated.
    #[arg(long, value_name = "PATH")]
    pub(crate) token_file: Option<PathBuf>,

    /// Listen beyond loopback with no token: anyone who can reach the port
    /// can use it. Without it, an address beyond loopback with no token
    /// refuses to start.
    #[arg(long)]
    pub(crate) allow_anonymous: bool,
}

impl ServerAuthArgs {
    /// The token of `--token-file`, else of `FRAMECAST_TOKEN`, if any.
    pub(crate) fn token(&self) -> Result<Option<Token>> {
        read_token(self.token_file.as_deref())
    }

    /// The TLS configuration of `--tls-cert`/`--tls-key`, if given,
    /// offering the ALPN protocols `alpn`.
    pub(crate) fn tls(&self, alpn: &[&[u8]]) -> Result<Option<Arc<rustls::ServerConfig>>> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        let config = ServerTls::from_pem_files(cert, key)
            .and_then(|t| t.with_alpn(alpn).config())
            .context("cannot use --tls-cert/--tls-key")?;
        Ok(Some(config))
    }

    /// Protected mode: a server on `addresses` (shown as `shown`) beyond
    /// loopback needs a token (not an obviously weak one) or
    /// `--allow-anonymous`; then a warning says what anyone can do there
    /// (`anyone_can`), or that the token crosses the network in plaintext.
    pub(crate) fn check_exposure(
        &self,
        addresses: &[SocketAddr],
        shown: &dyn Display,
        token: Option<&Token>,
        anyone_can: &str,
    ) -> Result<Exposure> {
        let exposure = Exposure::check(addresses, token.is_some(), self.allow_anonymous)
            .hint(EXPOSURE_HINT)?;
        if let (Exposure::Authenticated, Some(token)) = (exposure, token) {
            check_token_strength(token, shown)?;
        }
        match exposure {
            Exposure::Anonymous => tracing::warn!(
                "{shown} is open without authentication (--allow-anonymous): anyone who can reach \
                 it can {anyone_can}"
            ),
            Exposure::Authenticated if self.tls_cert.is_none() => tracing::warn!(
                "the access token will cross the network in plaintext: add --tls-cert and \
                 --tls-key"
            ),
            _ => {}
        }
        Ok(exposure)
    }
}

/// A client's access flags.
#[derive(Debug, Clone, Args)]
pub(crate) struct ClientAuthArgs {
    /// The CA certificate (PEM) the server's certificate must be signed
    /// by; without it, the system's trusted CAs. `framecast cert` makes
    /// one.
    #[arg(long, value_name = "PEM")]
    pub(crate) tls_ca: Option<PathBuf>,

    /// A file holding the server's access token [default: the
    /// FRAMECAST_TOKEN environment variable, if set].
    #[arg(long, value_name = "PATH")]
    pub(crate) token_file: Option<PathBuf>,
}

impl ClientAuthArgs {
    /// The token of `--token-file`, else of `FRAMECAST_TOKEN`, if any.
    pub(crate) fn token(&self) -> Result<Option<Token>> {
        read_token(self.token_file.as_deref())
    }

    /// The client TLS configuration: the CA of `--tls-ca`, else the
    /// system's; offering the ALPN protocols `alpn`.
    pub(crate) fn tls(&self, alpn: &[&[u8]]) -> Result<Arc<rustls::ClientConfig>> {
        let trust = match &self.tls_ca {
            Some(ca) => ClientTls::with_ca_file(ca).context("cannot use --tls-ca")?,
            None => ClientTls::with_system_roots()
                .context("cannot load the system's trusted CAs")
                .hint("give the CA that signed the server's certificate with --tls-ca")?,
        };
        Ok(trust.with_alpn(alpn).config()?)
    }
}

/// Refuses a token too weak for a server reachable from other hosts (on
/// `shown`).
pub(crate) fn check_token_strength(token: &Token, shown: &dyn Display) -> Result<()> {
    token
        .check_strength()
        .with_context(|| format!("refusing to listen on {shown} with a weak access token"))
        .hint(WEAK_TOKEN_HINT)
}

/// What the refusal of a weak token suggests.
const WEAK_TOKEN_HINT: &str = "write a random token into the token file: `openssl rand -hex 32 > \
                               token` (or serve on 127.0.0.1, where any token is accepted)";

/// The token in `file`, else in `FRAMECAST_TOKEN`, if any.
pub(crate) fn read_token(file: Option<&Path>) -> Result<Option<Token>> {
    match file {
        Some(path) => Token::from_file(path)
            .map(Some)
            .with_context(|| format!("--token-file {} is not usable", path.display())),
        None => Token::from_env(TOKEN_ENV).with_context(|| format!("{TOKEN_ENV} is not usable")),
    }
}
