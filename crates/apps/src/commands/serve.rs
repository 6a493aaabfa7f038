//! `framecast serve`: one source, encoded once, served from one process:
//! the stream port, and with `--http` the viewer, snapshots and `/metrics`.
//!
//! The same engines as `send` and `recv`, joined in memory: the sender's
//! frames go to the receiver's ingest port (`in_process`), with no
//! connection between them. Other senders can still connect to the stream
//! port, and everything the receiver does (recording, NATS) works on the
//! served stream as on any other.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use framecast_stream::{Destination, SenderBuilder};

use crate::flags::Quiet;
use crate::flags::receiver::ReceiverArgs;
use crate::flags::sender::SourceArgs;
use crate::in_process::InProcess;
use crate::{notify, receiver};

/// `framecast serve --help`'s examples.
pub(crate) const EXAMPLES: &str = "\
Examples:
  framecast serve --http 8080                          the test pattern at http://127.0.0.1:8080/
  framecast serve --source camera --http :8080         a webcam, in any browser on this machine
  framecast serve --source camera --size 1280x720 --quality 75 --fps 15 \\
      --http 0.0.0.0:8080 --token-file token --tls-cert certs/server.pem \\
      --tls-key certs/server-key.pem                   to other machines, with HTTPS and a token
  framecast serve --source mjpeg:clip.mjpeg --loop --http 8080 --record 'clip-{name}.mkv'
";

/// `framecast serve`'s flags.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    source: SourceArgs,

    #[command(flatten)]
    receiver: ReceiverArgs,

    /// Write the receiver's totals as JSON to this file on exit.
    #[arg(long, value_name = "PATH")]
    stats_json: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) quiet: Quiet,
}

/// Runs `framecast serve`.
pub(crate) fn run(args: ServeArgs) -> Result<()> {
    let quiet = args.quiet.quiet;
    // Everything that can be wrong is found before anything starts.
    let mut outputs = args.receiver.outputs(args.stats_json.as_deref())?;
    let (frames, _) = args.source.open()?;
    let receiver = receiver::start(
        args.receiver
            .builder()?
            .sinks(|_| Ok(Box::new(framecast_display::NullSink::decode_only()))),
    )?;
    let mut attached = outputs.attach(&receiver, "")?;
    let sender = args
        .source
        .apply(SenderBuilder::new(
            Destination::transport(InProcess::new(receiver.handle())),
            frames,
        ))
        .start()
        .map_err(crate::sender::error)?;
    notify::ready(&format!(
        "serving {:?}; listening on {}",
        args.source.stream_name(),
        receiver.local_addr()
    ));
    // The source ending (a file without --loop) ends the command, as it
    // ends `send`.
    let run = receiver::run_receiver(receiver, quiet, None, None, || sender.is_finished());
    let sent = sender.shutdown();
    let recorded = attached.finish_recording();
    receiver::finish(run, outputs.take_json(), &attached.nats, attached.http())?;
    if let Some(r) = recorded? {
        receiver::print_recorded(&r)?;
    }
    sent.map_err(crate::sender::error)?;
    Ok(())
}
