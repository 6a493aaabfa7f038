//! Running a receiver from the command line (`recv`, `demo`): what it
//! writes besides the screen, the loop with the stats line, and the
//! summary; and what to do about what it reports, in this program's flags.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context, Result};
use framecast_http::StatsDocument;
use framecast_net::HostPort;
use framecast_stream::events::ReceiverEvent;
use framecast_stream::handshake::PeerGuess;
use framecast_stream::{
    Receiver, ReceiverBuilder, ReceiverStats, Recording, RecordingStats, StreamError,
};

use crate::flags::{bind_hint, bound};
use crate::output::{JsonOut, StatsPrinter, out};
use crate::probe::Probe;
use crate::report::hinted;
use crate::stats_lines::StatsLines;
use crate::{INTERRUPTED, TICK, http, nats, notify};

/// What a receiver writes besides the screen, checked when the command
/// starts so that a bad path fails before any work.
pub(crate) struct Outputs {
    json: Option<JsonOut>,
    lines: Option<StatsLines>,
    record: Option<framecast_stream::RecordTarget>,
    probe: Option<Probe>,
    http: Option<http::HttpPlan>,
    nats: Option<nats::NatsPlan>,
    /// The listen address as the user wrote it, to show with the bound one.
    listen: Option<HostPort>,
}

impl Outputs {
    /// `--stats-jsonl`, opened.
    pub(crate) fn with_lines(mut self, path: Option<&Path>) -> Result<Self> {
        self.lines = StatsLines::open(path)?;
        Ok(self)
    }

    /// `--stats-json`, `--record` and `--record-segment`, opened and
    /// checked.
    pub(crate) fn open(
        json: Option<&Path>,
        record: Option<&str>,
        segment: Option<framecast_stream::Segment>,
    ) -> Result<Self> {
        let json = JsonOut::open(json)?;
        let record = match record {
            Some(template) => {
                let mut target = framecast_stream::RecordTarget::new(template)?;
                if let Some(segment) = segment {
                    target = target.with_segment(segment);
                }
                target.check().context("--record")?;
                Some(target)
            }
            None => None,
        };
        Ok(Self {
            json,
            lines: None,
            record,
            probe: None,
            http: None,
            nats: None,
            listen: None,
        })
    }

    pub(crate) fn with_nats(mut self, nats: Option<nats::NatsPlan>) -> Self {
        self.nats = nats;
        self
    }

    /// Shows the bound address with the host name in `listen`, if any.
    pub(crate) fn with_listen(mut self, listen: Option<HostPort>) -> Self {
        self.listen = listen;
        self
    }

    pub(crate) fn with_http(mut self, http: Option<http::HttpPlan>) -> Self {
        self.http = http;
        self
    }

    /// `--stats-json`, taken for writing at the end.
    pub(crate) fn take_json(&mut self) -> Option<JsonOut> {
        self.json.take()
    }

    /// `--bench-report`.
    pub(crate) fn with_probe(mut self, report: Option<&Path>) -> Self {
        self.probe = report.map(|p| Probe::new(p.to_owned()));
        self
    }
}

/// Starts the receiver `builder` describes, with what to do when its
/// address is taken.
pub(crate) fn start(builder: ReceiverBuilder) -> Result<Receiver> {
    builder.start().map_err(|e| {
        let hint = match &e {
            StreamError::Bind { source, .. } => bind_hint(source.kind(), "--listen"),
            _ => None,
        };
        hinted(e, hint)
    })
}

/// What runs beside a started receiver: its recording, HTTP viewer and
/// NATS links. They stop with the receiver.
pub(crate) struct Attached {
    recording: Option<Recording>,
    http: Option<framecast_http::HttpViewer>,
    pub(crate) nats: Arc<nats::NatsRunning>,
}

impl Outputs {
    /// Starts what these outputs ask for beside `receiver` (the recording
    /// first, then the viewer and NATS), and says where the receiver
    /// listens, after `label` (empty, or which receiver this is); the
    /// stats file and the bench probe stay here.
    pub(crate) fn attach(&mut self, receiver: &Receiver, label: &str) -> Result<Attached> {
        // Subscribe the recording first: a sender that connects at once
        // must not have its first frames shown but not recorded.
        let recording = match self.record.take() {
            Some(target) => Some(Recording::start(receiver, target)?),
            None => None,
        };
        // Tests and scripts read the port from here when they asked for
        // port 0.
        eprintln!(
            "{label}listening on {}",
            bound(receiver.local_addr(), self.listen.as_ref())
        );
        let nats = Arc::new(nats::start(receiver, self.nats.take())?);
        // /stats.json carries the NATS section too: the page and
        // --stats-json give one object.
        let plan = self.http.take().map(|plan| {
            let nats = Arc::clone(&nats);
            plan.stats_section(
                "nats",
                Arc::new(move || nats.stats().and_then(|s| serde_json::to_value(s).ok())),
            )
        });
        let http = http::start(receiver, plan)?;
        Ok(Attached {
            recording,
            http,
            nats,
        })
    }
}

impl Attached {
    /// The HTTP viewer, when one runs.
    pub(crate) fn http(&self) -> Option<&framecast_http::HttpViewer> {
        self.http.as_ref()
    }

    /// Ends the recording, if any (call it once the receiver has
    /// stopped), and says what it wrote.
    pub(crate) fn finish_recording(&mut self) -> Result<Option<RecordingStats>> {
        Ok(self.recording.take().map(Recording::finish).transpose()?)
    }
}

/// Prints what a recording wrote; an error when a stream could not be
/// recorded in full (the run then exits with status 1).
pub(crate) fn print_recorded(r: &RecordingStats) -> Result<()> {
    let files: Vec<String> = r.files.iter().map(|p| p.display().to_string()).collect();
    out(format_args!(
        "recorded {} frames to {}{}{}\n",
        r.frames,
        if files.is_empty() {
            "no file".to_owned()
        } else {
            files.join(", ")
        },
        if r.lost > 0 {
            format!("; {} lost (the disk fell behind)", r.lost)
        } else {
            String::new()
        },
        if r.failed > 0 {
            format!("; {} streams not recorded in full (see the log)", r.failed)
        } else {
            String::new()
        },
    ))?;
    if r.failed > 0 {
        anyhow::bail!(
            "{} stream{} could not be recorded in full (the log says which and why)",
            r.failed,
            if r.failed == 1 { "" } else { "s" }
        );
    }
    Ok(())
}

/// Runs a started receiver (and its recording, viewer and NATS links) to
/// the end, then writes the JSON and the summary.
pub(crate) fn run_and_finish(
    receiver: Receiver,
    mut outputs: Outputs,
    quiet: bool,
    closed: impl Fn() -> bool,
) -> Result<()> {
    let mut attached = outputs.attach(&receiver, "")?;
    notify::ready(&format!("listening on {}", receiver.local_addr()));
    let run = run_receiver(
        receiver,
        quiet,
        outputs.probe.take(),
        outputs.lines.take(),
        closed,
    );
    let recorded = attached.finish_recording();
    finish(run, outputs.json.take(), &attached.nats, attached.http())?;
    if let Some(r) = recorded? {
        print_recorded(&r)?;
    }
    Ok(())
}

/// How a receiver's run ended: its final counters (or the last seen, when
/// it failed), and its error.
pub(crate) type Run = (ReceiverStats, std::result::Result<(), StreamError>);

/// Runs `receiver` until it finishes, a signal, or `closed()`.
pub(crate) fn run_receiver(
    receiver: Receiver,
    quiet: bool,
    mut probe: Option<Probe>,
    mut lines: Option<StatsLines>,
    closed: impl Fn() -> bool,
) -> Run {
    let mut printer = StatsPrinter::new(quiet);
    while !receiver.is_finished() {
        if INTERRUPTED.load(Ordering::SeqCst) || closed() {
            receiver.stop();
            break;
        }
        if let Some(p) = probe.as_mut() {
            p.observe(receiver.frames_received());
        }
        if let Some(l) = lines.as_mut()
            && let Err(e) = l.receiver(|| receiver.stats())
        {
            tracing::warn!("{e:#}");
            lines = None;
        }
        printer.receiver(|| receiver.stats());
        std::thread::sleep(TICK);
    }
    printer.finish();
    notify::stopping();
    let last = receiver.stats();
    let (stats, result) = match receiver.wait() {
        Ok(stats) => (stats, Ok(())),
        Err(e) => (last, Err(e)),
    };
    if let Some(l) = lines.as_mut()
        && let Err(e) = l.receiver_end(&stats)
    {
        tracing::warn!("{e:#}");
    }
    if let Some(mut p) = probe {
        p.observe(stats.received);
        p.finish(stats.received, stats.bytes);
    }
    (stats, result)
}

/// Writes the JSON and prints the summary; the run's error, if any, comes
/// after both (so a failed run still leaves its numbers).
pub(crate) fn finish(
    (stats, result): Run,
    json: Option<JsonOut>,
    nats: &nats::NatsRunning,
    http: Option<&framecast_http::HttpViewer>,
) -> Result<()> {
    if let Some(json) = json {
        // The one stats object (docs/stats.schema.json), as /stats.json
        // serves it: the receiver's totals, the HTTP viewer's part and what
        // went over NATS.
        let mut doc = StatsDocument::new(stats.clone());
        if let Some(http) = http {
            doc = doc.with_http(http.report(&stats.per_stream));
        }
        if let Some(n) = nats.stats() {
            doc = doc.with_section("nats", &n);
        }
        json.write(&doc)?;
    }
    let latency = match stats.latency_ms {
        Some(l) => format!(
            "latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            l.p50, l.p99, l.max
        ),
        None => "no latency (frames carried no usable capture time)".to_owned(),
    };
    out(format_args!(
        "shown {} of {} frames received from {} streams in {:.1} s connected: {:.1} fps, \
         {} bytes, dropped {}, corrupt {}, {latency}\n",
        stats.frames,
        stats.received,
        stats.streams,
        stats.connected_seconds,
        stats.fps,
        stats.bytes,
        stats.dropped,
        stats.corrupt,
    ))?;
    if let Some(line) = nats.summary() {
        out(format_args!("{line}\n"))?;
    }
    Ok(result?)
}

/// What the user can do about a receiver event, in this program's flags.
pub(crate) fn event_hint(event: &ReceiverEvent<'_>) -> Option<&'static str> {
    use framecast_proto::handshake::StatusCode;
    match event {
        ReceiverEvent::HandshakeFailed { error, .. } => match error.peer_guess() {
            Some(PeerGuess::LegacyFraming) => Some(
                "to receive from the original client.py or `framecast send --framing legacy`, \
                 start the receiver with --framing legacy",
            ),
            Some(PeerGuess::NoHandshake) => Some(
                "upgrade the sender, or receive it with --framing legacy if it uses that framing",
            ),
            _ => None,
        },
        ReceiverEvent::HelloOnLegacyFraming { .. } => Some(
            "the sender uses the default framing: start the receiver without --framing legacy, \
             or the sender with --framing legacy",
        ),
        ReceiverEvent::Refused { code, .. } if *code == StatusCode::Busy => {
            Some("raise --max-clients to serve more senders at once")
        }
        ReceiverEvent::Refused { code, .. } if *code == StatusCode::Unauthenticated => {
            Some("the sender needs this receiver's token (--token-file)")
        }
        ReceiverEvent::PlaintextOnTls { .. } => {
            Some("the sender needs --tls (and --tls-ca with the CA of this receiver's certificate)")
        }
        ReceiverEvent::TlsOnPlaintext { .. } => {
            Some("start this receiver with --tls-cert and --tls-key, or send without --tls")
        }
        _ => None,
    }
}

/// A window's failure to open, with the way to run without one.
/// After a window could not open: says so, and takes back the outputs that
/// were handed to the window's thread (or opens them again with `reopen`
/// if that thread had taken them), so that running headless instead loses
/// none of them, the bench probe included.
pub(crate) fn headless_instead(
    why: &(dyn std::error::Error + 'static),
    handoff: &Mutex<Option<Outputs>>,
    reopen: impl FnOnce() -> Result<Outputs>,
) -> Result<Outputs> {
    tracing::warn!(
        "no window ({}); running headless",
        framecast_stream::Report(why)
    );
    let taken = handoff
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    match taken {
        Some(outputs) => Ok(outputs),
        None => reopen(),
    }
}

pub(crate) fn no_window(e: framecast_display::DisplayError) -> anyhow::Error {
    hinted(e, Some("use --display none to run without a window"))
}
