//! `framecast recv`: receive frames from one or more senders and show,
//! record or measure them.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Result;
use clap::{Args, ValueEnum};
use framecast_stream::ReceiverBuilder;

use crate::display_available;
use crate::flags::receiver::ReceiverArgs;
use crate::flags::{Quiet, Size};
use crate::receiver::{self, Outputs};

/// `framecast recv --help`'s examples.
pub(crate) const EXAMPLES: &str = "\
Examples:
  framecast recv                                      a window (or headless) on 127.0.0.1:5252
  framecast recv --display none --count 300 --stats-json stats.json
  framecast recv --record 'cam-{name}.mkv' --http 8080
  framecast recv --listen 0.0.0.0:5252 --tls-cert certs/server.pem \\
      --tls-key certs/server-key.pem --token-file token
  framecast recv --framing legacy                     for the original client.py
  framecast recv --publish nats://127.0.0.1:4222      relay every frame to NATS
";

/// Where frames are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DisplayMode {
    /// A window when a display is available, else none.
    Auto,
    /// A window (needs a display).
    Window,
    /// No window: every frame is still decoded (so it is checked whole and
    /// timed), then discarded; it is not scaled, since nothing shows it.
    None,
    /// No window, but every frame is decoded and scaled to --size off
    /// screen, exactly as a window would, then discarded: a window's CPU
    /// cost without a screen, for benchmarks.
    Offscreen,
}

/// `framecast recv`'s flags.
#[derive(Debug, Args)]
pub(crate) struct RecvArgs {
    #[command(flatten)]
    pub(crate) receiver: ReceiverArgs,

    /// auto (a window when there is a display, else none), window, none
    /// (decode each frame to check and time it, without showing or scaling
    /// it), or offscreen (decode and scale to --size as a window would,
    /// without showing: for benchmarks).
    // The text above names every value: clap's list of them, one variant
    // doc each, would turn the whole of `--help` into its long form.
    #[arg(long, value_enum, default_value_t = DisplayMode::Auto, hide_possible_values = true)]
    display: DisplayMode,

    /// The size frames are scaled to for showing.
    #[arg(long, default_value = "800x600", value_name = "WxH")]
    size: Size,

    /// Exit after this many frames were received over all streams (shown,
    /// dropped or corrupt), so a script that sends N frames always ends.
    #[arg(long, value_name = "N")]
    count: Option<u64>,

    /// Write the totals as JSON to this file on exit.
    #[arg(long, value_name = "PATH")]
    stats_json: Option<PathBuf>,

    /// Write, once a second, what each stream did in that second (frames
    /// shown, bytes, JPEG quality and size in use, the sender's estimate of
    /// the link's rate, latency p50/p99/max) as JSON lines (one object a
    /// line) to this file.
    #[arg(long, value_name = "PATH")]
    stats_jsonl: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) quiet: Quiet,

    /// For `framecast bench`: write this process's CPU time and heap
    /// allocations, at warm-up and at the end, to this file.
    #[arg(long, hide = true, value_name = "PATH")]
    bench_report: Option<PathBuf>,

    /// Test knob: sleep this long per shown frame (a slow display).
    #[arg(long, hide = true, default_value_t = 0)]
    sink_delay_ms: u64,
}

/// Runs `framecast recv`.
pub(crate) fn run(args: RecvArgs) -> Result<()> {
    let outputs = outputs(&args)?;
    let quiet = args.quiet.quiet;
    let windowed = match args.display {
        DisplayMode::None | DisplayMode::Offscreen => false,
        DisplayMode::Window => true,
        DisplayMode::Auto => cfg!(feature = "window") && display_available(),
    };
    if !windowed {
        return run_headless(&args, outputs, quiet);
    }
    // Handed to the window's thread if it opens, and taken back if not, so
    // that running headless instead loses none of them (the bench probe
    // included).
    let handoff = Arc::new(Mutex::new(Some(outputs)));
    match run_window(&args, Arc::clone(&handoff), quiet) {
        Ok(done) => done,
        Err(e) if args.display == DisplayMode::Auto => {
            let outputs = receiver::headless_instead(&e, &handoff, || self::outputs(&args))?;
            run_headless(&args, outputs, quiet)
        }
        Err(e) => Err(receiver::no_window(e)),
    }
}

/// What `recv` writes besides the screen, and its viewer and NATS links,
/// checked before anything starts.
fn outputs(args: &RecvArgs) -> Result<Outputs> {
    Ok(args
        .receiver
        .outputs(args.stats_json.as_deref())?
        .with_lines(args.stats_jsonl.as_deref())?
        .with_probe(args.bench_report.as_deref()))
}

fn run_headless(args: &RecvArgs, outputs: Outputs, quiet: bool) -> Result<()> {
    let builder = builder(args)?;
    let builder = if args.display == DisplayMode::Offscreen {
        let (w, h) = (args.size.width, args.size.height);
        framecast_display::NullSink::new(w, h)?;
        builder.sinks(move |_| Ok(Box::new(framecast_display::NullSink::new(w, h)?)))
    } else {
        // Nothing shows the picture: decoding checks and times each frame,
        // and the scale would be work for nobody.
        builder.sinks(|_| Ok(Box::new(framecast_display::NullSink::decode_only())))
    };
    let receiver = receiver::start(builder)?;
    receiver::run_and_finish(receiver, outputs, quiet, || false)
}

/// Runs the receiver with a window; the outer error is the window's (it
/// could not open), the inner one the run's.
#[cfg(feature = "window")]
fn run_window(
    args: &RecvArgs,
    outputs: Arc<Mutex<Option<Outputs>>>,
    quiet: bool,
) -> std::result::Result<Result<()>, framecast_display::DisplayError> {
    let builder = match builder(args) {
        Ok(b) => b,
        Err(e) => return Ok(Err(e)),
    };
    // Every tile shows its stream at its own shape, letterboxed, also when
    // the sender did not say the captured size (the original programs).
    let options = framecast_display::WindowOptions::default()
        .with_size(args.size.width, args.size.height)
        .with_keep_aspect(true);
    framecast_display::run_window(options, move |handle| {
        let outputs = outputs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or_else(|| anyhow::anyhow!("the outputs were taken before the window opened"))?;
        let window = handle.clone();
        let receiver = receiver::start(builder.sinks(move |_| Ok(Box::new(window.sink()))))?;
        receiver::run_and_finish(receiver, outputs, quiet, || handle.is_closed())
    })
}

#[cfg(not(feature = "window"))]
fn run_window(
    _args: &RecvArgs,
    _outputs: Arc<Mutex<Option<Outputs>>>,
    _quiet: bool,
) -> std::result::Result<Result<()>, framecast_display::DisplayError> {
    use crate::report::HintExt;
    Ok(Err(anyhow::anyhow!("this build has no window support")).hint("use --display none"))
}

/// The receiver `args` ask for (its display sinks are added by the caller).
fn builder(args: &RecvArgs) -> Result<ReceiverBuilder> {
    let mut builder = args
        .receiver
        .builder()?
        .sink_delay(Duration::from_millis(args.sink_delay_ms));
    if let Some(n) = args.count {
        builder = builder.count(n);
    }
    Ok(builder)
}
