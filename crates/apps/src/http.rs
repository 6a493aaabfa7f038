//! `--http ADDR`: the HTTP viewer beside a receiver (`recv`, `demo`).
//!
//! Browsers watch each stream at `http://ADDR/`; monitoring reads
//! `/stats.json` and `/metrics`. Once listening the command prints
//! `HTTP viewer on http://ADDR:PORT/` on stderr (tests and scripts read the
//! port from it when they asked for port 0).

use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use framecast_http::limits::DEFAULT_MAX_VIEWERS;
use framecast_http::{HttpConfig, HttpError, HttpViewer};
use framecast_net::HostPort;
use framecast_stream::Receiver;
use framecast_tls::Token;

use crate::flags::listen_addr;
use crate::report::HintExt;

/// The port `--http HOST` listens on when it names none.
const DEFAULT_HTTP_PORT: u16 = 8080;

/// The HTTP viewer's flags.
#[derive(Debug, Clone, Args)]
pub(crate) struct HttpArgs {
    /// Serve the streams to browsers and monitoring at this address: PORT
    /// or :PORT (on loopback), HOST:PORT, or HOST (port 8080); port 0 picks
    /// a free one. A page per stream, /streams/ID.mjpg, /streams/ID.jpg,
    /// /stats.json, /metrics, /healthz.
    #[arg(long, value_name = "ADDRESS", value_parser = listen_addr(DEFAULT_HTTP_PORT))]
    pub(crate) http: Option<HostPort>,

    /// How many MJPEG viewers are served at once; the next one is answered
    /// 503 (too many viewers).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_VIEWERS, requires = "http")]
    max_viewers: usize,
}

/// What the viewer is asked for, resolved and checked before anything
/// starts.
#[derive(Debug)]
pub(crate) struct HttpPlan(HttpConfig);

impl HttpPlan {
    /// With a section `key` of `/stats.json` made by `section`.
    pub(crate) fn stats_section(self, key: &str, section: framecast_http::StatsSection) -> Self {
        Self(self.0.stats_section(key, section))
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
        let addr = address
            .resolve()
            .with_context(|| format!("--http {address}"))?[0];
        let mut config = HttpConfig::new(addr)
            .max_viewers(self.max_viewers)
            .allow_anonymous(allow_anonymous);
        if let Some(token) = token {
            config = config.token(token);
        }
        if let Some(tls) = tls {
            config = config.tls(tls);
        }
        Ok(Some(HttpPlan(config)))
    }
}

/// Starts the viewer `plan` describes, if any; it stops with `receiver`
/// or when dropped.
pub(crate) fn start(receiver: &Receiver, plan: Option<HttpPlan>) -> Result<Option<HttpViewer>> {
    let Some(HttpPlan(config)) = plan else {
        return Ok(None);
    };
    let viewer = match HttpViewer::start(receiver, config) {
        Ok(viewer) => viewer,
        Err(e @ HttpError::Anonymous { .. }) => {
            return Err(e).hint(
                "require a token with --token-file FILE (or FRAMECAST_TOKEN), ideally with \
                 --tls-cert and --tls-key; serve it on 127.0.0.1; or accept anyone with \
                 --allow-anonymous",
            );
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
    eprintln!("HTTP viewer on {scheme}://{addr}/");
    Ok(Some(viewer))
}
