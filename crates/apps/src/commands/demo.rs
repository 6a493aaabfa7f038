//! `framecast demo`: a receiver and a sender in one process over loopback,
//! with the test pattern.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;
use framecast_capture::{SourceOptions, SourceSpec};
use framecast_stream::{Receiver, ReceiverBuilder, Sender, SenderBuilder, TcpDestination};

use crate::flags::Quiet;
use crate::receiver::{self, Outputs};
use crate::{http, sender};

/// `framecast demo --help`'s examples.
pub(crate) const EXAMPLES: &str = "\
Examples:
  framecast demo                      10 s of the test pattern, in a window if there is a display
  framecast demo --seconds 0          until Ctrl-C or the window is closed
  framecast demo --http 8080          and watch it at http://127.0.0.1:8080/
";

/// `framecast demo`'s flags.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// How long to run; 0 runs until Ctrl-C (or the window is closed).
    #[arg(long, default_value_t = 10)]
    seconds: u64,

    /// Write the receiver's totals as JSON to this file on exit.
    #[arg(long, value_name = "PATH")]
    stats_json: Option<PathBuf>,

    #[command(flatten)]
    http: http::HttpArgs,

    #[command(flatten)]
    pub(crate) quiet: Quiet,
}

/// The demo's receiver listens on a free loopback port.
const LOOPBACK: SocketAddr = SocketAddr::new(framecast_net::DEFAULT_HOST, 0);

/// Runs `framecast demo`.
pub(crate) fn run(args: DemoArgs) -> Result<()> {
    let quiet = args.quiet.quiet;
    let open = || -> Result<Outputs> {
        Ok(Outputs::open(args.stats_json.as_deref(), None, None)?
            .with_http(args.http.plan(false, None, None)?))
    };
    let outputs = open()?;
    let deadline = (args.seconds > 0).then(|| Instant::now() + Duration::from_secs(args.seconds));
    let expired = move || deadline.is_some_and(|d| Instant::now() >= d);
    #[cfg(feature = "window")]
    if crate::display_available() {
        use std::sync::{Arc, Mutex, PoisonError};

        // Handed to the window's thread if it opens, taken back if not.
        let handoff = Arc::new(Mutex::new(Some(outputs)));
        let given = Arc::clone(&handoff);
        let options = framecast_display::WindowOptions::default().with_keep_aspect(true);
        let result = framecast_display::run_window(options, move |handle| -> Result<()> {
            let outputs = given
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
                .ok_or_else(|| {
                    anyhow::anyhow!("the outputs were taken before the window opened")
                })?;
            let window = handle.clone();
            let receiver = receiver::start(
                ReceiverBuilder::new(LOOPBACK).sinks(move |_| Ok(Box::new(window.sink()))),
            )?;
            let sender = start_sender(&receiver)?;
            let done = receiver::run_and_finish(receiver, outputs, quiet, || {
                handle.is_closed() || expired()
            });
            sender.shutdown()?;
            done
        });
        let e = match result {
            Ok(done) => return done,
            Err(e) => e,
        };
        let outputs = receiver::headless_instead(&e, &handoff, open)?;
        return run_headless(outputs, quiet, expired);
    }
    run_headless(outputs, quiet, expired)
}

fn run_headless(outputs: Outputs, quiet: bool, expired: impl Fn() -> bool) -> Result<()> {
    let receiver = receiver::start(
        ReceiverBuilder::new(LOOPBACK)
            .sinks(|_| Ok(Box::new(framecast_display::NullSink::decode_only()))),
    )?;
    let sender = start_sender(&receiver)?;
    let done = receiver::run_and_finish(receiver, outputs, quiet, expired);
    sender.shutdown()?;
    done
}

/// The demo's sender: the test pattern at 640x480 and 30 fps, like a
/// webcam, into `receiver`.
fn start_sender(receiver: &Receiver) -> Result<Sender> {
    let source = framecast_capture::open_source(
        &SourceSpec::Pattern,
        &SourceOptions::new(640, 480).with_fps(30),
    )?;
    SenderBuilder::new(
        TcpDestination::new(receiver.local_addr().to_string())
            .retry(framecast_stream::Retry::Forever),
        source,
    )
    .name("demo")
    .start()
    .map_err(sender::error)
}
