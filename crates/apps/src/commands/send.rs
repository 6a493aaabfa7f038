//! `framecast send`: capture frames, JPEG-encode them and stream them to a
//! receiver (or to NATS).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use framecast_stream::SenderBuilder;

use crate::flags::Quiet;
use crate::flags::sender::{DestinationArgs, SourceArgs};
use crate::output::JsonOut;
use crate::probe::Probe;
#[cfg(feature = "window")]
use crate::report::HintExt;
use crate::sender;
use crate::stats_lines::StatsLines;

/// `framecast send --help`'s examples.
pub(crate) const EXAMPLES: &str = "\
Examples:
  framecast send --to 5252                                the test pattern to a receiver here
  framecast send --to cam-hub.lan --name porch --source camera
  framecast send --to 192.168.1.20:5252 --source mjpeg:clip.mjpeg --loop
  framecast send --to cam-hub.lan --tls-ca certs/ca.pem --token-file token
  framecast send --to 127.0.0.1:5252 --framing legacy --stretch   exactly as client.py sent
  framecast send --to nats://127.0.0.1:4222/framecast.door
";

/// `framecast send`'s flags.
#[derive(Debug, Args)]
#[command(mut_arg("to", |a| a.required(true)))]
pub(crate) struct SendArgs {
    #[command(flatten)]
    destination: DestinationArgs,

    #[command(flatten)]
    source: SourceArgs,

    /// Stop after this many frames were sent to a receiver that accepted the
    /// session; the exit status is 0 only if all of them were.
    #[arg(long, value_name = "N")]
    count: Option<u64>,

    /// Show what is being captured in a local window; q or Esc in it stops
    /// the sender.
    #[arg(long)]
    preview: bool,

    /// Write the sender's totals as JSON to this file on exit.
    #[arg(long, value_name = "PATH")]
    stats_json: Option<PathBuf>,

    /// Write the sender's counters and what its rate control chose, once a
    /// second, as JSON lines (one object a line) to this file.
    #[arg(long, value_name = "PATH")]
    stats_jsonl: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) quiet: Quiet,

    /// For `framecast bench`: write this process's CPU time and heap
    /// allocations, at warm-up and at the end, to this file.
    #[arg(long, hide = true, value_name = "PATH")]
    bench_report: Option<PathBuf>,
}

/// Runs `framecast send`.
pub(crate) fn run(args: SendArgs) -> Result<()> {
    // Checked before any work, so a bad path cannot lose the numbers.
    let json = JsonOut::open(args.stats_json.as_deref())?;
    let quiet = args.quiet.quiet;
    if args.preview {
        return run_with_preview(args, json);
    }
    let (builder, frames) = build(&args)?;
    let sender = builder.start().map_err(sender::error)?;
    let probe = args.bench_report.clone().map(Probe::new);
    let lines = StatsLines::open(args.stats_jsonl.as_deref())?;
    let run = sender::run(sender, quiet, frames, probe, lines, || false);
    sender::finish(run, json, args.count)
}

/// A sender ready to start, and how many frames its source holds (a file
/// that does not loop).
fn build(args: &SendArgs) -> Result<(SenderBuilder, Option<u64>)> {
    let (source, frames) = args.source.open()?;
    let mut builder = args.destination.builder(&args.source, source)?;
    if let Some(n) = args.count {
        builder = builder.count(n);
    }
    Ok((builder, frames))
}

#[cfg(feature = "window")]
fn run_with_preview(args: SendArgs, json: Option<JsonOut>) -> Result<()> {
    use framecast_capture::Picture;
    use framecast_display::{EncodedFrame, FrameSink};

    let (builder, frames) = build(&args)?;
    let (count, quiet) = (args.count, args.quiet.quiet);
    let options = framecast_display::WindowOptions::default()
        .with_title("framecast preview")
        .with_keep_aspect(true);
    let run = framecast_display::run_window(options, move |handle| -> Result<sender::SenderRun> {
        let preview = handle.clone();
        // JPEG frames (an MJPEG camera or file) are shown through a window
        // sink, which decodes them; raw frames are copied in directly.
        let mut jpeg_sink = handle.sink();
        let sender = builder
            .on_frame(move |frame| {
                // A closed window stops the sender through `is_closed`; a
                // frame the preview cannot show is no reason to stop.
                let _ = match frame.picture() {
                    Picture::Jpeg { data, .. } => jpeg_sink.show(
                        &EncodedFrame::new(0, "preview", data)
                            .with_sequence(frame.sequence)
                            .with_capture_time_us(Some(frame.capture_time_us)),
                    ),
                    Picture::Pixels(image) => preview.show_pixels(0, "preview", image),
                    _ => Ok(()),
                };
            })
            .start()
            .map_err(sender::error)?;
        Ok(sender::run(sender, quiet, frames, None, None, || {
            handle.is_closed()
        }))
    })
    .hint("send without --preview to run without a window")??;
    sender::finish(run, json, count)
}

#[cfg(not(feature = "window"))]
fn run_with_preview(_args: SendArgs, _json: Option<JsonOut>) -> Result<()> {
    anyhow::bail!("--preview needs a build with the window feature (the default)")
}
