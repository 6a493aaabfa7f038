//! Frames over NATS on the command line: `recv --publish nats://…`,
//! `recv --from nats://…` and `send --to nats://…`, with
//! `--nats-token-file` for a token and `--allow-anonymous` for servers
//! beyond loopback without credentials.
//!
//! The URL is `nats://[USER:PASSWORD@]HOST[:PORT][,HOST[:PORT]…][/SUBJECT]`
//! (see `framecast_nats::NatsUrl`); a password or token is never
//! printed.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use framecast_nats::{NatsError, NatsSource, NatsSourceStats, NatsUrl, Publisher, PublisherStats};
use framecast_stream::Receiver;

use crate::report::{HintExt, hinted};

/// The scheme that makes an address a NATS URL.
const SCHEME: &str = "nats://";

/// Whether `s` is a NATS URL rather than `HOST:PORT`.
pub(crate) fn is_nats(s: &str) -> bool {
    s.trim()
        .get(..SCHEME.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(SCHEME))
}

/// clap's parser for a NATS URL.
pub(crate) fn parse_url(s: &str) -> Result<NatsUrl, String> {
    s.parse::<NatsUrl>().map_err(|e| e.to_string())
}

/// The receiver's NATS flags.
#[derive(Debug, Clone, Args)]
pub(crate) struct NatsRecvArgs {
    /// Publish every frame this receiver accepts, its Video message
    /// unchanged, to the NATS servers of this URL, to the subject
    /// PREFIX.NAME: PREFIX defaults to framecast, NAME is the stream's name
    /// with each byte other than letters, digits, - and _ written ~ and two
    /// hex digits (a.b is a~2eb: two names never share a subject). Several
    /// servers, comma separated, fail over: nats://a:4222,b:4222/site1. A
    /// slow or absent server costs frames for NATS only (latest frame
    /// wins).
    #[arg(long, value_name = "nats://HOST:4222[/PREFIX]", value_parser = parse_url)]
    publish: Option<NatsUrl>,

    /// Take streams from the NATS subscription SUBJECT (wildcards allowed;
    /// default framecast.>, every stream published with the default
    /// prefix): each subject is a stream, named by the name its subject was
    /// made from (framecast.a~2eb is a.b), checked and shown, recorded and
    /// counted as a TCP sender is, ended after --idle-timeout without
    /// frames. Without --listen the TCP listener takes a free loopback
    /// port.
    #[arg(long, value_name = "nats://HOST:4222[/SUBJECT]", value_parser = parse_url)]
    from: Option<NatsUrl>,

    /// A file holding the token the NATS servers require (one line). A
    /// user and password go in the URL instead: nats://USER:PASSWORD@HOST.
    #[arg(long, value_name = "PATH")]
    nats_token_file: Option<PathBuf>,
}

/// What a receiver's NATS flags ask for, checked before anything starts.
#[derive(Debug)]
pub(crate) struct NatsPlan {
    publish: Option<NatsUrl>,
    from: Option<NatsUrl>,
}

impl NatsRecvArgs {
    /// Whether `--from` was given.
    pub(crate) fn takes_from_nats(&self) -> bool {
        self.from.is_some()
    }

    /// The URLs with their credentials, checked: no loop, and no server
    /// beyond loopback without credentials unless `allow_anonymous`.
    pub(crate) fn plan(&self, allow_anonymous: bool) -> Result<Option<NatsPlan>> {
        if self.publish.is_none() && self.from.is_none() {
            if self.nats_token_file.is_some() {
                anyhow::bail!("--nats-token-file needs --publish or --from");
            }
            return Ok(None);
        }
        let publish = self
            .publish
            .clone()
            .map(|u| with_token(u, self.nats_token_file.as_ref()))
            .transpose()?;
        let from = self
            .from
            .clone()
            .map(|u| with_token(u, self.nats_token_file.as_ref()))
            .transpose()?;
        if let (Some(p), Some(f)) = (&publish, &from) {
            framecast_nats::check_no_loop(p, f).hint(
                "give --publish a prefix that --from does not match, e.g. nats://HOST:4222/relay",
            )?;
        }
        for (flag, url, what) in [
            (
                "--publish",
                &publish,
                "anyone who can reach them can watch every stream",
            ),
            (
                "--from",
                &from,
                "anyone who can reach them can send frames to this receiver",
            ),
        ] {
            if let Some(url) = url {
                exposure(flag, url, allow_anonymous, what)?;
            }
        }
        Ok(Some(NatsPlan { publish, from }))
    }
}

/// A sender's NATS URL with its token; a warning when its servers are
/// beyond loopback without credentials (a sender publishes; it does not
/// open a door to this machine, so it is not refused).
pub(crate) fn sender_url(url: &NatsUrl, token_file: Option<&PathBuf>) -> Result<NatsUrl> {
    let url = with_token(url.clone(), token_file)?;
    if !url.is_loopback() {
        if url.has_credentials() {
            tracing::warn!(
                "--to {url}: the NATS credentials and frames cross the network in plaintext; \
                 keep the NATS servers on a trusted network"
            );
        } else {
            tracing::warn!(
                "--to {url}: NATS servers without credentials: anyone who can reach them can \
                 watch this stream"
            );
        }
    }
    Ok(url)
}

/// Adds the token of `file`, if given.
pub(crate) fn with_token(url: NatsUrl, file: Option<&PathBuf>) -> Result<NatsUrl> {
    match file {
        Some(path) => url
            .with_token_file(path)
            .context("--nats-token-file is not usable"),
        None => Ok(url),
    }
}

/// Protected mode for NATS: servers beyond loopback need credentials, or
/// the user's explicit `--allow-anonymous`; then a warning says what that
/// means. Credentials beyond loopback cross the network in plaintext.
fn exposure(flag: &str, url: &NatsUrl, allow_anonymous: bool, what: &str) -> Result<()> {
    if url.is_loopback() {
        return Ok(());
    }
    if !url.has_credentials() {
        if !allow_anonymous {
            return Err(anyhow::anyhow!(
                "{flag} {url}: NATS servers beyond this machine without credentials: {what}"
            ))
            .hint(
                "give credentials (nats://USER:PASSWORD@HOST or --nats-token-file FILE), or \
                 accept this with --allow-anonymous",
            );
        }
        tracing::warn!(
            "{flag} {url}: NATS servers without credentials (--allow-anonymous): {what}"
        );
    } else {
        tracing::warn!(
            "{flag} {url}: the NATS credentials and frames cross the network in plaintext; \
             keep the NATS servers on a trusted network"
        );
    }
    Ok(())
}

/// The NATS side of a running receiver: what it publishes to and takes
/// from. Both stop with the receiver.
#[derive(Debug, Default)]
pub(crate) struct NatsRunning {
    publisher: Option<Publisher>,
    source: Option<NatsSource>,
}

/// The NATS part of `--stats-json`: `"nats": {"publish": …, "from": …}`,
/// each present only when its flag was given.
#[derive(Debug, Default, serde::Serialize)]
pub(crate) struct NatsStats {
    #[serde(skip_serializing_if = "Option::is_none")]
    publish: Option<PublisherStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<NatsSourceStats>,
}

/// Connects what `plan` asks for to `receiver`.
pub(crate) fn start(receiver: &Receiver, plan: Option<NatsPlan>) -> Result<NatsRunning> {
    let Some(plan) = plan else {
        return Ok(NatsRunning::default());
    };
    let publisher = plan
        .publish
        .as_ref()
        .map(|url| {
            let p = Publisher::start(receiver, url).map_err(|e| nats_error(e, "--publish"))?;
            eprintln!("publishing to NATS under {}.<stream name>", p.prefix());
            Ok::<_, anyhow::Error>(p)
        })
        .transpose()?;
    let source = plan
        .from
        .as_ref()
        .map(|url| {
            let s = NatsSource::start(receiver, url).map_err(|e| nats_error(e, "--from"))?;
            eprintln!("receiving from NATS subject {}", s.subscription());
            Ok::<_, anyhow::Error>(s)
        })
        .transpose()?;
    Ok(NatsRunning { publisher, source })
}

impl NatsRunning {
    /// The counters now, for the JSON; `None` when NATS is not used.
    pub(crate) fn stats(&self) -> Option<NatsStats> {
        if self.publisher.is_none() && self.source.is_none() {
            return None;
        }
        Some(NatsStats {
            publish: self.publisher.as_ref().map(Publisher::stats),
            from: self.source.as_ref().map(NatsSource::stats),
        })
    }

    /// The summary's NATS line, if NATS is used.
    pub(crate) fn summary(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(p) = &self.publisher {
            let s = p.stats();
            parts.push(format!(
                "published {} frames ({} bytes) to NATS under {}: dropped {}, too large {}, \
                 connections lost {}",
                s.published,
                s.bytes,
                p.prefix(),
                s.dropped,
                s.too_large,
                s.disconnections
            ));
        }
        if let Some(source) = &self.source {
            let s = source.stats();
            parts.push(format!(
                "took {} messages from NATS subject {}: dropped by the client {}, refused {}, \
                 connections lost {}",
                s.messages,
                source.subscription(),
                s.dropped,
                s.refused,
                s.disconnections
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// What the user can do about a NATS error, in this program's flags.
pub(crate) fn hint(e: &NatsError) -> Option<&'static str> {
    match e {
        _ if e.is_authorization() => Some(
            "give the servers' credentials: nats://USER:PASSWORD@HOST, or a token with \
             --nats-token-file",
        ),
        NatsError::Connect { .. } => {
            Some("is a nats-server running there? Several servers: nats://a:4222,b:4222")
        }
        NatsError::PayloadTooLarge { .. } => Some(
            "send smaller frames (a smaller --size or --quality), or raise max_payload in the \
             NATS servers' configuration",
        ),
        _ => None,
    }
}

/// A NATS error of `flag`, with what to do about it.
fn nats_error(e: NatsError, flag: &str) -> anyhow::Error {
    let hint = hint(&e);
    hinted(
        anyhow::Error::new(e).context(format!("{flag} cannot use NATS")),
        hint,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_told_from_addresses() {
        assert!(is_nats("nats://127.0.0.1"));
        assert!(is_nats(" NATS://h:1/x"));
        assert!(!is_nats("127.0.0.1:5252"));
        assert!(!is_nats("nats"));
    }

    #[test]
    fn servers_beyond_loopback_need_credentials_or_consent() {
        let url = |s: &str| s.parse::<NatsUrl>().unwrap();
        assert!(exposure("--from", &url("nats://127.0.0.1"), false, "").is_ok());
        let e = exposure("--from", &url("nats://10.0.0.1"), false, "").unwrap_err();
        assert!(format!("{e:#}").contains("--allow-anonymous"), "{e:#}");
        assert!(exposure("--from", &url("nats://10.0.0.1"), true, "").is_ok());
        let e = exposure("--from", &url("nats://u:s3cret@10.0.0.1"), false, "");
        assert!(e.is_ok());
    }

    #[test]
    fn a_receiver_cannot_take_what_it_publishes() {
        let args = NatsRecvArgs {
            publish: Some("nats://127.0.0.1".parse().unwrap()),
            from: Some("nats://127.0.0.1".parse().unwrap()),
            nats_token_file: None,
        };
        let e = args.plan(false).unwrap_err();
        assert!(format!("{e:#}").contains("loop"), "{e:#}");
        let args = NatsRecvArgs {
            publish: Some("nats://127.0.0.1/relay".parse().unwrap()),
            ..args
        };
        assert!(args.plan(false).unwrap().is_some());
    }
}
