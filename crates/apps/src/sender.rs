//! Running a sender from the command line (`send`): the loop with the
//! stats line or a progress bar, the summary and exit status, and what to
//! do about what the sender reports, in this program's flags.

use std::io::{self, IsTerminal};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Result;
use framecast_net::{Host, HostPort};
use framecast_stream::events::SenderEvent;
use framecast_stream::{Refused, Sender, SenderStats, SessionError, StreamError};
use framecast_wire::Prefix;

use crate::output::{JsonOut, StatsPrinter, out};
use crate::probe::Probe;
use crate::report::hinted;
use crate::stats_lines::StatsLines;
use crate::{INTERRUPTED, TICK, notify};

/// How often the progress bar of a file source is redrawn.
const BAR_EVERY: Duration = Duration::from_millis(100);

/// How a sender's run ended.
pub(crate) struct SenderRun {
    result: std::result::Result<SenderStats, StreamError>,
    /// The last counters seen (what a failed run is summarised with).
    last: SenderStats,
    interrupted: bool,
}

/// Runs `sender` until it finishes, a signal, or `closed()`, with the stats
/// line once a second (or, for a file of `frames` frames on a terminal, a
/// progress bar).
pub(crate) fn run(
    sender: Sender,
    quiet: bool,
    frames: Option<u64>,
    mut probe: Option<Probe>,
    mut lines: Option<StatsLines>,
    closed: impl Fn() -> bool,
) -> SenderRun {
    let mut printer = StatsPrinter::new(quiet);
    let bar = (!quiet && io::stderr().is_terminal())
        .then_some(frames)
        .flatten()
        .map(|n| {
            let bar = indicatif::ProgressBar::new(n);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:30} frame {pos} of {len} ({percent}%) {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
    let mut interrupted = false;
    let mut last_bar = Instant::now();
    notify::ready("sending");
    while !sender.is_finished() {
        if INTERRUPTED.load(Ordering::SeqCst) || closed() {
            interrupted = INTERRUPTED.load(Ordering::SeqCst);
            sender.stop();
            break;
        }
        if let Some(p) = probe.as_mut() {
            p.observe(sender.frames_sent());
        }
        if let Some(l) = lines.as_mut()
            && let Err(e) = l.sender(|| sender.stats())
        {
            tracing::warn!("{e:#}");
            lines = None;
        }
        match &bar {
            Some(bar) if last_bar.elapsed() >= BAR_EVERY => {
                last_bar = Instant::now();
                let stats = sender.stats();
                bar.set_position(stats.sent);
                bar.set_message(format!("{:.1} fps", stats.fps));
            }
            Some(_) => {}
            None => printer.sender(|| sender.stats()),
        }
        std::thread::sleep(TICK);
    }
    notify::stopping();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    printer.finish();
    let mut last = sender.stats();
    let result = sender.wait();
    if let Ok(stats) = &result {
        last = stats.clone();
    }
    if let Some(mut p) = probe {
        p.observe(last.sent);
        p.finish(last.sent, last.bytes);
    }
    SenderRun {
        result,
        last,
        interrupted,
    }
}

/// Writes the JSON and the summary, and decides the exit status: 0 only
/// when what was asked was done (with `--count N`, N frames sent to a
/// receiver that accepted the session).
pub(crate) fn finish(run: SenderRun, json: Option<JsonOut>, count: Option<u64>) -> Result<()> {
    let stats = &run.last;
    if let Some(json) = json {
        json.write(stats)?;
    }
    out(format_args!(
        "sent {} frames ({} bytes) in {:.1} s: {:.1} fps; captured {}, dropped {}, \
         sessions {}, refused {}, reconnects {}\n",
        stats.sent,
        stats.bytes,
        stats.seconds,
        stats.fps,
        stats.captured,
        stats.dropped,
        stats.sessions,
        stats.refused,
        stats.reconnects
    ))?;
    run.result.map_err(error)?;
    if let Some(n) = count
        && stats.sent < n
    {
        let why = if run.interrupted {
            " (stopped by a signal)"
        } else if stats.source_ended {
            " (the source ended; --loop repeats a file)"
        } else {
            ""
        };
        anyhow::bail!("sent {} of the {n} frames asked for{why}", stats.sent);
    }
    Ok(())
}

/// A sender's error, with what to do about it in this program's flags.
pub(crate) fn error(e: StreamError) -> anyhow::Error {
    let hint = match &e {
        StreamError::Rejected { cause, .. } => failure_hint(cause.as_ref(), None),
        StreamError::GaveUp { to, .. } if unresolvable(to) => {
            Some("check the host name in --to, or give an IP address")
        }
        StreamError::GaveUp { last, .. } => match last.downcast_ref::<Refused>() {
            Some(r) if r.code == framecast_proto::handshake::StatusCode::Busy => Some(
                "it serves as many senders as its --max-clients allows; --retry forever keeps \
                 trying",
            ),
            Some(_) => Some("it is stopping; --retry forever keeps trying"),
            None => failure_hint(last.as_ref(), None).or(Some(
                "is a receiver running there? --retry forever keeps trying",
            )),
        },
        StreamError::PictureTooLarge { .. } => Some("send smaller pictures with --size"),
        StreamError::Transport(e) => e
            .downcast_ref::<framecast_nats::NatsError>()
            .and_then(crate::nats::hint),
        _ => None,
    };
    hinted(e, hint)
}

/// What to do about a refusal or a failed session attempt (the cause of a
/// sender's error), when there is something to do; `framing` is ours, when
/// known.
fn failure_hint(
    cause: &(dyn std::error::Error + Send + Sync + 'static),
    framing: Option<Prefix>,
) -> Option<&'static str> {
    if let Some(refused) = cause.downcast_ref::<Refused>() {
        return refusal_hint(refused.code, framing);
    }
    cause.downcast_ref::<SessionError>().and_then(session_hint)
}

/// What to do about a receiver's refusal with `code`.
fn refusal_hint(
    code: framecast_proto::handshake::StatusCode,
    framing: Option<Prefix>,
) -> Option<&'static str> {
    use framecast_proto::handshake::StatusCode;
    match code {
        StatusCode::WrongFraming => Some(match framing {
            Some(Prefix::LegacyI64Le) => {
                "the receiver expects the default framing: send with --framing u32"
            }
            Some(_) => "the receiver uses the legacy framing: send with --framing legacy",
            None => "send with the framing the receiver uses (--framing legacy or --framing u32)",
        }),
        StatusCode::Busy => Some("it serves as many senders as its --max-clients allows"),
        StatusCode::Unauthenticated => {
            Some("give the receiver's token with --token-file (or FRAMECAST_TOKEN)")
        }
        StatusCode::TlsRequired => Some(
            "the receiver requires TLS: send with --tls (and --tls-ca with the CA that signed its \
             certificate)",
        ),
        StatusCode::UnsupportedVersion => {
            Some("the receiver speaks another version of framecast: use the same version on both")
        }
        _ => None,
    }
}

/// What to do about a session attempt that failed after connecting.
fn session_hint(error: &SessionError) -> Option<&'static str> {
    if error.peer_is_http_server() {
        return Some(
            "that is an HTTP server (a receiver's viewer?), not a frame port: send to the \
             receiver's frame port, 5252 unless it was started with another --listen",
        );
    }
    if error.peer_lacks_handshake() {
        return Some(
            "if the receiver is the original server.py or `framecast recv --framing legacy`, \
             send with --framing legacy",
        );
    }
    let SessionError::Tls { kind, .. } = error else {
        return None;
    };
    use framecast_stream::TlsFailureKind as K;
    match kind {
        K::NotTls => Some(
            "the receiver does not use TLS: send without --tls, or start it with --tls-cert and \
             --tls-key",
        ),
        K::UnknownIssuer => {
            Some("give the CA that signed the receiver's certificate with --tls-ca")
        }
        K::WrongName => Some(
            "connect with a name the receiver's certificate holds (framecast cert --host NAME \
             makes one)",
        ),
        K::Expired => Some("the receiver needs a new certificate (framecast cert --force)"),
        _ => None,
    }
}

/// Whether `to` names a host that cannot be looked up now: a sender that
/// gave up there was kept from the receiver by the name, not by the
/// receiver.
fn unresolvable(to: &str) -> bool {
    HostPort::parse_connect(to, framecast_stream::DEFAULT_PORT)
        .is_ok_and(|a| matches!(a.host(), Host::Name(_)) && a.resolve().is_err())
}

/// What the user can do about a sender event, in this program's flags.
pub(crate) fn event_hint(event: &SenderEvent<'_>, framing: Prefix) -> Option<&'static str> {
    match event {
        SenderEvent::Refused { code, .. } => refusal_hint(*code, Some(framing)),
        SenderEvent::HandshakeFailed { error, .. } => session_hint(error),
        _ => None,
    }
}
