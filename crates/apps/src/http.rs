//! `--http ADDR`: the HTTP viewer beside a receiver (`recv`, `demo`).
//!
//! Browsers watch each stream at `http://ADDR/`; monitoring reads
//! `/stats.json` and `/metrics`. Once listening the command prints
//! `HTTP viewer on http://ADDR:PORT/` on stderr (tests and scripts read the
//! port from it when they asked for port 0), followed by ` (NAME)` when
//! `--http` named the host.

use std::sync::Arc;

use anyhow::Result;
use clap::Args;
use framecast_http::limits::DEFAULT_MAX_VIEWERS;
use framecast_http::{HttpConfig, HttpError, HttpViewer};
use framecast_net::HostPort;
use framecast_stream::Receiver;
use framecast_tls::Token;

use crate::flags::{bind_hint, listen_addr, resolve};
use crate::report::HintExt;

/// The port `--http HOST` listens on when it names none.
const DEFAULT_HTTP_PORT: u16 = 8080;

/// The HTTP viewer's flags.
#[derive(Debug, Clone, Args)]
pub(crate) struct HttpArgs {
    /// Serve the streams to browsers and monitoring at this address: PORT
    /// or :PORT (on loopback), HOST:PORT or HOST (port 8080), HOST a name or
    /// an IP address, IPv6 in brackets (`[::1]:8080`); port 0 picks a free
    /// one. A page per stream, /streams/ID.mjpg, /streams/ID.jpg,
    /// /stats.json, /metrics, /healthz.
    #[arg(long, value_name = "ADDRESS", value_parser = listen_addr(DEFAULT_HTTP_PORT))]
    pub(crate) http: Option<HostPort>,

    /// How many MJPEG viewers are served at once; the next one is answered
    /// 503 (too many viewers).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_VIEWERS, requires = "http")]
    max_viewers: usize,

    /// How many HTTP connections are open at once, more than --max-viewers
    /// [default: 64 more than --max-viewers]. When all are taken, the
    /// oldest connection that has sent no complete request with the token
    /// gives way to a new one (never a viewer watching).
    #[arg(long, value_name = "N", requires = "http")]
    max_http_connections: Option<usize>,
}

/// What the refusal to serve the viewer beyond loopback without a token
/// suggests.
const ANONYMOUS_HINT: &str = "require a token with --token-file FILE (or FRAMECAST_TOKEN), ideally \
                              with --tls-cert and --tls-key; serve it on 127.0.0.1; or accept \
                              anyone with --allow-anonymous";

/// What the viewer is asked for, resolved and checked before anything
/// starts; with the address as the user wrote it.
#[derive(Debug)]
pub(crate) struct HttpPlan(HttpConfig, HostPort);

impl HttpPlan {
    /// With a section `key` of `/stats.json` made by `section`.
    pub(crate) fn stats_section(self, key: &str, section: framecast_http::StatsSection) -> Self {
        Self(self.0.stats_section(key, section), self.1)
    }
}

impl HttpArgs {
    /// The viewer these flags ask for, if any: with `token` it requires
    /// it, with `tls` it speaks HTTPS; `allow_anonymous` lets it serve
    /// beyond loopback without a token.
    pub(crate) fn plan(
        &self,
        allow_anonymous: bool,
        token: Option<Token>,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Result<Option<HttpPlan>> {
        let Some(address) = &self.http else {
            return Ok(None);
        };
        let addr = resolve("--http", address)?[0];
        // Refused here, before the receiver listens, as the viewer itself
        // would refuse it once started.
        if !framecast_net::is_loopback(addr.ip()) {
            match &token {
                None if !allow_anonymous => {
                    return Err(HttpError::Anonymous { addr }).hint(ANONYMOUS_HINT);
                }
                Some(token) => crate::flags::auth::check_token_strength(token, &addr)?,
                None => {}
            }
        }
        let mut config = HttpConfig::new(addr)
            .max_viewers(self.max_viewers)
            .allow_anonymous(allow_anonymous);
        if let Some(n) = self.max_http_connections {
            config = config.max_connections(n);
        }
        if let Some(token) = token {
            config = config.token(token);
        }
        if let Some(tls) = tls {
            config = config.tls(tls);
        }
        Ok(Some(HttpPlan(config, address.clone())))
    }
}

/// Starts the viewer `plan` describes, if any; it stops with `receiver`
/// or when dropped.
pub(crate) fn start(receiver: &Receiver, plan: Option<HttpPlan>) -> Result<Option<HttpViewer>> {
    let Some(HttpPlan(config, asked)) = plan else {
        return Ok(None);
    };
    let viewer = match HttpViewer::start(receiver, config) {
        Ok(viewer) => viewer,
        Err(e @ HttpError::Anonymous { .. }) => return Err(e).hint(ANONYMOUS_HINT),
        Err(HttpError::Bind { addr, source }) => {
            let hint = bind_hint(source.kind(), "--http");
            return Err(HttpError::Bind { addr, source }).maybe_hint(hint);
        }
        Err(e) => return Err(e.into()),
    };
    let addr = viewer.local_addr();
    if !framecast_net::is_loopback(addr.ip()) {
        if !viewer.requires_token() {
            tracing::warn!(
                "serving the HTTP viewer on {addr} without authentication (--allow-anonymous): \
                 anyone who can reach it can watch every stream"
            );
        } else if !viewer.is_tls() {
            tracing::warn!(
                "the HTTP viewer's access token will cross the network in plaintext: add \
                 --tls-cert and --tls-key"
            );
        }
    }
    let scheme = if viewer.is_tls() { "https" } else { "http" };
    let name = match asked.host() {
        framecast_net::Host::Name(name) => format!(" ({name})"),
        _ => String::new(),
    };
    eprintln!("HTTP viewer on {scheme}://{addr}/{name}");
    Ok(Some(viewer))
}
