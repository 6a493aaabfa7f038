//! `framecast`: stream camera frames over TCP, and serve the product
//! catalog.
//!
//! A thin binary over the framecast libraries: `main` parses the command
//! line and dispatches to [`commands`], one module per subcommand with its
//! flags beside its run function. What a user sees (the stats line,
//! summaries, errors with their `hint:` lines) is printed here, never by
//! the libraries.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Parser;

mod alloc_count;
mod commands;
mod config;
mod flags;
mod http;
mod in_process;
mod nats;
mod notify;
mod output;
mod probe;
mod receiver;
mod report;
mod sender;
mod stats_line;
mod stats_lines;

/// Stream camera frames over TCP to windows, recordings and browsers, and
/// serve the product catalog.
#[derive(Debug, Parser)]
#[command(name = "framecast", version, propagate_version = true)]
#[command(after_help = "\
Examples:
  framecast demo                                   a sender and a receiver, to try it out
  framecast recv &  framecast send --to 5252       the test pattern over loopback
  framecast send --help                            every flag of one command, with examples
")]
struct Cli {
    /// `-q` before the command (`framecast -q demo`), as earlier versions
    /// took it; each command that prints a stats line has its own.
    #[arg(short, long, hide = true)]
    quiet: bool,

    #[command(subcommand)]
    command: commands::Command,
}

#[global_allocator]
static ALLOCATOR: alloc_count::Counting = alloc_count::Counting;

/// Set by the Ctrl-C handler; the command loops poll it.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// How often the command loops look at their engine and at Ctrl-C.
const TICK: Duration = Duration::from_millis(50);

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    let quiet = match cli.command.quiet_mut() {
        Some(quiet) => {
            *quiet |= cli.quiet;
            *quiet
        }
        None if cli.quiet => {
            report::report(&anyhow::anyhow!(
                "-q is for send, recv, serve, run, demo and bench"
            ));
            return ExitCode::from(2);
        }
        None => false,
    };
    report::init_logging(quiet);
    if cli.command.streams() {
        // The streaming commands poll this flag to stop cleanly (recorder
        // flushed, summary printed, stats written).
        if let Err(e) = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst)) {
            tracing::warn!("cannot install the Ctrl-C handler: {e}");
        }
    }
    match cli.command.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report::report(&e);
            ExitCode::FAILURE
        }
    }
}

/// Whether a window could open here: a display server is named in the
/// environment.
fn display_available() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}
