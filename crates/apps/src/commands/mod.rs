//! One module per subcommand, each with its flags beside its run function
//! and its `--help` examples.

use anyhow::Result;
use clap::Subcommand;

pub(crate) mod bench;
pub(crate) mod catalog;
pub(crate) mod cert;
pub(crate) mod demo;
pub(crate) mod devices;
pub(crate) mod recv;
pub(crate) mod run;
pub(crate) mod send;
pub(crate) mod serve;

/// The subcommands; each variant's doc comment is its `--help` first line.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Capture frames (camera, test pattern or file), JPEG-encode them and
    /// stream them to a receiver.
    #[command(after_help = send::EXAMPLES)]
    Send(Box<send::SendArgs>),
    /// Receive frames from one or more senders: show them in a window,
    /// record them, serve them to browsers, or just measure them.
    #[command(after_help = recv::EXAMPLES)]
    Recv(Box<recv::RecvArgs>),
    /// Capture, encode once and serve, from one process: the stream port,
    /// and with --http the viewer, snapshots and /metrics.
    #[command(after_help = serve::EXAMPLES)]
    Serve(Box<serve::ServeArgs>),
    /// Run every receiver and sender of a configuration file in one
    /// process, as a service; SIGHUP reloads the file.
    #[command(after_help = run::EXAMPLES)]
    Run(run::RunArgs),
    /// A receiver and a sender in one process over loopback, with the test
    /// pattern: a window when there is a display, else the stats line.
    #[command(after_help = demo::EXAMPLES)]
    Demo(demo::DemoArgs),
    /// List the cameras and their formats.
    #[command(after_help = devices::EXAMPLES)]
    Devices,
    /// Measure the whole pipeline: natural frames through resize, JPEG,
    /// framing, loopback TCP, decode and scale, in two processes.
    #[command(after_help = bench::EXAMPLES)]
    Bench(bench::BenchArgs),
    /// The product catalog (the lab's ecommerce.ProductInfo gRPC service):
    /// run the server, or add, get, delete and list products on one.
    #[command(subcommand, after_help = catalog::EXAMPLES)]
    Catalog(catalog::CatalogArgs),
    /// Make a throwaway CA and a server certificate for TLS, and print the
    /// flags that use them.
    #[command(after_help = cert::EXAMPLES)]
    Cert(cert::CertArgs),
}

impl Command {
    /// Whether the command streams frames and stops cleanly on Ctrl-C
    /// (recorder flushed, summary printed, stats written).
    pub(crate) fn streams(&self) -> bool {
        // `run` handles its signals itself: SIGHUP reloads it.
        matches!(
            self,
            Self::Send(_) | Self::Recv(_) | Self::Serve(_) | Self::Demo(_)
        )
    }

    /// The command's `-q`, if it takes one.
    pub(crate) fn quiet_mut(&mut self) -> Option<&mut bool> {
        match self {
            Self::Send(a) => Some(&mut a.quiet.quiet),
            Self::Recv(a) => Some(&mut a.quiet.quiet),
            Self::Serve(a) => Some(&mut a.quiet.quiet),
            Self::Run(a) => Some(&mut a.quiet.quiet),
            Self::Demo(a) => Some(&mut a.quiet.quiet),
            Self::Bench(a) => Some(&mut a.quiet.quiet),
            Self::Devices | Self::Catalog(_) | Self::Cert(_) => None,
        }
    }

    /// Runs the command.
    pub(crate) fn run(self) -> Result<()> {
        match self {
            Self::Send(args) => send::run(*args),
            Self::Recv(args) => recv::run(*args),
            Self::Serve(args) => serve::run(*args),
            Self::Run(args) => run::run(args),
            Self::Demo(args) => demo::run(args),
            Self::Devices => devices::run(),
            Self::Bench(args) => bench::run(args),
            Self::Catalog(args) => catalog::run(args),
            Self::Cert(args) => cert::run(args),
        }
    }
}
