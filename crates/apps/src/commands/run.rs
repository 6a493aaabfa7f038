//! `framecast run --config FILE`: every receiver and sender of a
//! configuration file (`docs/config.md`) in one process, as a service.
//!
//! SIGHUP reloads the file: what it no longer holds stops, what is new
//! starts, what changed restarts, and everything else carries on
//! untouched (its connections, frames and counters). A file that does not
//! read or check is refused whole, and what runs goes on as it was.
//! SIGINT and SIGTERM stop it: senders first, so the receivers record and
//! serve their last frames.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use framecast_stream::{Destination, Receiver, Sender};

use crate::config::{Config, Entry, SenderEntry};
use crate::flags::Quiet;
use crate::flags::receiver::ReceiverArgs;
use crate::in_process::InProcess;
use crate::output::out;
use crate::receiver::{self, Attached};
use crate::{INTERRUPTED, TICK, notify};

/// `framecast run --help`'s examples.
pub(crate) const EXAMPLES: &str = "\
Examples:
  framecast run --config /etc/framecast/framecast.toml
  framecast run --config framecast.toml --check       read and check it, then exit
";

/// How long a sender that failed (it gave up on its receiver, its camera
/// went away) waits before it is started again, as systemd's
/// `Restart=on-failure` would. A sender whose source ended (a file without
/// `loop`) is not restarted.
pub(crate) const SENDER_RESTART_DELAY: Duration = Duration::from_secs(5);

/// How often the status line for the service manager is refreshed.
const STATUS_EVERY: Duration = Duration::from_secs(5);

/// Set by SIGHUP: reload the file.
static RELOAD: AtomicBool = AtomicBool::new(false);

/// `framecast run`'s flags.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The configuration file (TOML): its [receivers.NAME] and
    /// [senders.NAME] tables take the flags of recv and send under the
    /// same names (see docs/config.md).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,

    /// Read and check the file (its syntax, keys and values, and the
    /// certificates, tokens and addresses it names), say what it would
    /// run, and exit: 0 if it is good.
    #[arg(long)]
    check: bool,

    #[command(flatten)]
    pub(crate) quiet: Quiet,
}

/// Runs `framecast run`.
pub(crate) fn run(args: RunArgs) -> Result<()> {
    let config = Config::load(&args.config)?;
    if args.check {
        check(&config)?;
        return out(format_args!(
            "{}: good: {} receivers, {} senders\n",
            config.path.display(),
            config.receivers.len(),
            config.senders.len()
        ));
    }
    install_signals()?;
    let mut service = Service::default();
    // At start every part must start: a service that comes up half-way
    // looks healthy to its supervisor while it is not.
    if let Err(e) = service.apply(config, true) {
        service.stop_all();
        return Err(e);
    }
    notify::ready(&service.status());
    let mut last_status = Instant::now();
    while !INTERRUPTED.load(Ordering::SeqCst) {
        if RELOAD.swap(false, Ordering::SeqCst) {
            service.reload(&args.config);
        }
        if let Err(e) = service.tend() {
            service.stop_all();
            return Err(e);
        }
        if last_status.elapsed() >= STATUS_EVERY {
            last_status = Instant::now();
            notify::status(&service.status());
        }
        std::thread::sleep(TICK);
    }
    notify::stopping();
    tracing::info!("stopping");
    service.stop_all();
    Ok(())
}

/// `--check`: what starting would check, without starting anything: the
/// certificates, tokens and NATS URLs each part names, its recording's
/// path, and each sender's source.
fn check(config: &Config) -> Result<()> {
    for entry in config.receivers.values() {
        let at = &entry.at;
        entry
            .args
            .builder()
            .and_then(|_| entry.args.outputs(None))
            .with_context(|| at.to_string())?;
    }
    for entry in config.senders.values() {
        let at = &entry.at;
        let args = &entry.args;
        if args.destination.to.is_some() {
            args.destination
                .auth
                .token()
                .and_then(|_| {
                    if args.destination.tls || args.destination.auth.tls_ca.is_some() {
                        args.destination.auth.tls(&[]).map(drop)
                    } else {
                        Ok(())
                    }
                })
                .with_context(|| at.to_string())?;
        }
        // A camera is not opened (it may be in use by the running
        // service); a file is.
        if !matches!(args.source.source, framecast_capture::SourceSpec::Camera(_)) {
            args.source.open().with_context(|| at.to_string())?;
        }
    }
    Ok(())
}

fn install_signals() -> Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    for signal in [SIGINT, SIGTERM] {
        signal_hook::flag::register(signal, &INTERRUPTED)
            .context("cannot install the signal handlers")?;
    }
    signal_hook::flag::register(SIGHUP, &RELOAD).context("cannot install the SIGHUP handler")?;
    Ok(())
}

/// A receiver of the file, running.
struct RunningReceiver {
    entry: Entry<ReceiverArgs>,
    receiver: Receiver,
    attached: Attached,
}

/// A sender of the file: running, or waiting to be started again.
struct RunningSender {
    entry: Entry<SenderEntry>,
    sender: Option<Sender>,
    /// When a failed sender starts again.
    restart_at: Option<Instant>,
}

/// Everything `run` runs.
#[derive(Default)]
struct Service {
    receivers: BTreeMap<String, RunningReceiver>,
    senders: BTreeMap<String, RunningSender>,
    /// Senders of the last file that could not start, by name: tried again
    /// at the next reload.
    config_senders: usize,
}

impl Service {
    /// Rereads the file and applies it; a file that does not read or check
    /// changes nothing.
    fn reload(&mut self, path: &std::path::Path) {
        notify::reloading();
        tracing::info!("reloading {}", path.display());
        match Config::load(path) {
            Ok(config) => {
                if let Err(e) = self.apply(config, false) {
                    tracing::error!("{e:#}");
                }
            }
            Err(e) => tracing::error!("not reloaded, still running the previous file: {e}"),
        }
        notify::ready(&self.status());
    }

    /// Makes what runs match `config`. At start (`strict`) the first part
    /// that cannot start is an error; on a reload it is logged and the
    /// others go on.
    fn apply(&mut self, config: Config, strict: bool) -> Result<()> {
        let Config {
            receivers, senders, ..
        } = config;
        self.config_senders = senders.len();
        // Receivers that go or change.
        let restarted: Vec<String> = self
            .receivers
            .iter()
            .filter(|(name, r)| !receivers.get(*name).is_some_and(|e| e.same_as(&r.entry)))
            .map(|(name, _)| name.clone())
            .collect();
        // Senders that go or change, or feed a receiver that restarts.
        let stopping: Vec<String> = self
            .senders
            .iter()
            .filter(|(name, s)| {
                !senders.get(*name).is_some_and(|e| e.same_as(&s.entry))
                    || s.entry
                        .args
                        .in_process()
                        .is_some_and(|r| restarted.iter().any(|n| n == r))
            })
            .map(|(name, _)| name.clone())
            .collect();
        for name in &stopping {
            if let Some(s) = self.senders.remove(name) {
                tracing::info!("sender {name:?}: stopping");
                stop_sender(name, s);
            }
        }
        for name in &restarted {
            if let Some(r) = self.receivers.remove(name) {
                tracing::info!("receiver {name:?}: stopping");
                stop_receiver(name, r);
            }
        }
        let mut failed = None;
        for (name, entry) in receivers {
            if self.receivers.contains_key(&name) {
                continue;
            }
            match start_receiver(&name, &entry) {
                Ok((receiver, attached)) => {
                    self.receivers.insert(
                        name,
                        RunningReceiver {
                            entry,
                            receiver,
                            attached,
                        },
                    );
                }
                Err(e) => {
                    let e = e.context(entry.at.to_string());
                    if strict {
                        return Err(e);
                    }
                    tracing::error!("{e:#}");
                    failed = Some(());
                }
            }
        }
        for (name, entry) in senders {
            if self.senders.contains_key(&name) {
                continue;
            }
            match self.start_sender(&entry) {
                Ok(sender) => {
                    self.senders.insert(
                        name,
                        RunningSender {
                            entry,
                            sender: Some(sender),
                            restart_at: None,
                        },
                    );
                }
                Err(e) => {
                    let e = e.context(entry.at.to_string());
                    if strict {
                        return Err(e);
                    }
                    tracing::error!("{e:#}");
                    failed = Some(());
                }
            }
        }
        if failed.is_some() {
            anyhow::bail!("some parts of the file did not start (see above); the others run");
        }
        Ok(())
    }

    /// Starts the sender `entry` describes.
    fn start_sender(&self, entry: &Entry<SenderEntry>) -> Result<Sender> {
        let args = &entry.args;
        let (frames, _) = args.source.open()?;
        let builder = match args.in_process() {
            Some(receiver) => {
                let running = self
                    .receivers
                    .get(receiver)
                    .with_context(|| format!("its receiver {receiver:?} is not running"))?;
                let handle = running.receiver.handle();
                args.source.apply(framecast_stream::SenderBuilder::new(
                    Destination::transport(InProcess::new(handle)),
                    frames,
                ))
            }
            None => args.destination.builder(&args.source, frames)?,
        };
        let sender = builder.start().map_err(crate::sender::error)?;
        tracing::info!("sender {:?}: started", args.source.stream_name());
        Ok(sender)
    }

    /// Looks after what runs: a receiver that stopped by itself is an
    /// error (the service manager restarts the whole); a sender that failed
    /// starts again after [`SENDER_RESTART_DELAY`].
    fn tend(&mut self) -> Result<()> {
        for (name, r) in &self.receivers {
            if r.receiver.is_finished() {
                anyhow::bail!("receiver {name:?} stopped by itself");
            }
        }
        let now = Instant::now();
        let mut restart = Vec::new();
        for (name, s) in &mut self.senders {
            if let Some(sender) = s.sender.take_if(|s| s.is_finished()) {
                match sender.wait() {
                    Ok(stats) if stats.source_ended => {
                        tracing::info!(
                            "sender {name:?}: its source ended ({} frames sent)",
                            stats.sent
                        );
                    }
                    Ok(stats) => {
                        tracing::warn!(
                            "sender {name:?}: stopped after {} frames; starting it again in {:?}",
                            stats.sent,
                            SENDER_RESTART_DELAY
                        );
                        s.restart_at = Some(now + SENDER_RESTART_DELAY);
                    }
                    Err(e) => {
                        tracing::error!(
                            "sender {name:?}: {}; starting it again in {:?}",
                            framecast_stream::Report(&e),
                            SENDER_RESTART_DELAY
                        );
                        s.restart_at = Some(now + SENDER_RESTART_DELAY);
                    }
                }
            }
            if s.restart_at.is_some_and(|t| now >= t) {
                s.restart_at = None;
                restart.push(name.clone());
            }
        }
        for name in restart {
            let Some(entry) = self.senders.get(&name).map(|s| &s.entry) else {
                continue;
            };
            match self.start_sender(entry) {
                Ok(sender) => {
                    if let Some(s) = self.senders.get_mut(&name) {
                        s.sender = Some(sender);
                    }
                }
                Err(e) => {
                    tracing::error!(
                        "sender {name:?}: {e:#}; trying again in {SENDER_RESTART_DELAY:?}"
                    );
                    if let Some(s) = self.senders.get_mut(&name) {
                        s.restart_at = Some(now + SENDER_RESTART_DELAY);
                    }
                }
            }
        }
        Ok(())
    }

    /// One line for `systemctl status`.
    fn status(&self) -> String {
        let streams: usize = self
            .receivers
            .values()
            .map(|r| r.receiver.streams().len())
            .sum();
        let sending = self.senders.values().filter(|s| s.sender.is_some()).count();
        format!(
            "{} receivers, {streams} streams; {sending} of {} senders running",
            self.receivers.len(),
            self.config_senders
        )
    }

    /// Stops everything: senders first, so their last frames reach the
    /// receivers' recordings and viewers.
    fn stop_all(&mut self) {
        for (name, s) in std::mem::take(&mut self.senders) {
            stop_sender(&name, s);
        }
        for (name, r) in std::mem::take(&mut self.receivers) {
            stop_receiver(&name, r);
        }
    }
}

/// Starts the receiver `entry` describes, with its recording, viewer and
/// NATS links.
fn start_receiver(name: &str, entry: &Entry<ReceiverArgs>) -> Result<(Receiver, Attached)> {
    let args = &entry.args;
    let mut outputs = args.outputs(None)?;
    let receiver = receiver::start(
        args.builder()?
            .sinks(|_| Ok(Box::new(framecast_display::NullSink::decode_only()))),
    )?;
    let attached = match outputs.attach(&receiver, &format!("receiver {name:?}: ")) {
        Ok(a) => a,
        Err(e) => {
            receiver.stop();
            let _ = receiver.wait();
            return Err(e);
        }
    };
    Ok((receiver, attached))
}

fn stop_sender(name: &str, s: RunningSender) {
    if let Some(sender) = s.sender {
        match sender.shutdown() {
            Ok(stats) => tracing::info!("sender {name:?}: stopped ({} frames sent)", stats.sent),
            Err(e) => tracing::warn!("sender {name:?}: {}", framecast_stream::Report(&e)),
        }
    }
}

fn stop_receiver(name: &str, r: RunningReceiver) {
    let RunningReceiver {
        receiver,
        mut attached,
        ..
    } = r;
    receiver.stop();
    match receiver.wait() {
        Ok(stats) => tracing::info!(
            "receiver {name:?}: stopped; {} frames received from {} streams",
            stats.received,
            stats.streams
        ),
        Err(e) => tracing::warn!("receiver {name:?}: {}", framecast_stream::Report(&e)),
    }
    match attached.finish_recording() {
        Ok(Some(r)) => {
            let _ = receiver::print_recorded(&r);
        }
        Ok(None) => {}
        Err(e) => tracing::warn!("receiver {name:?}: {e:#}"),
    }
}
