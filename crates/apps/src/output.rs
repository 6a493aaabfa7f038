//! What the commands print: results on stdout, the stats line on stderr,
//! and `--stats-json` files.

use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use framecast_stream::{ReceiverStats, SenderStats};

use crate::stats_line::RateMeter;

/// How often the stats line is printed.
const STATS_EVERY: Duration = Duration::from_secs(1);

/// Writes to stdout; a reader that went away (`| head`) is not an error.
pub(crate) fn out(text: fmt::Arguments<'_>) -> Result<()> {
    let mut stdout = io::stdout().lock();
    match stdout.write_fmt(text).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// The stats line on stderr: rewritten in place on a terminal when it is a
/// single line, else one line per stream per second.
pub(crate) struct StatsPrinter {
    quiet: bool,
    tty: bool,
    in_place: bool,
    last: Instant,
    meter: RateMeter,
}

impl StatsPrinter {
    pub(crate) fn new(quiet: bool) -> Self {
        Self {
            quiet,
            tty: io::stderr().is_terminal(),
            in_place: false,
            last: Instant::now(),
            meter: RateMeter::default(),
        }
    }

    fn due(&mut self) -> bool {
        if self.last.elapsed() >= STATS_EVERY {
            self.last = Instant::now();
            !self.quiet
        } else {
            false
        }
    }

    fn print(&mut self, lines: &[String]) {
        let mut err = io::stderr().lock();
        if self.tty && lines.len() == 1 {
            let _ = write!(err, "\r\x1b[2K{}", lines[0]);
            self.in_place = true;
        } else {
            self.end_line(&mut err);
            for l in lines {
                let _ = writeln!(err, "{l}");
            }
        }
        let _ = err.flush();
    }

    fn end_line(&mut self, err: &mut impl Write) {
        if self.in_place {
            let _ = writeln!(err);
            self.in_place = false;
        }
    }

    /// Prints the receiver's lines if a second has passed; the snapshot is
    /// taken only then (it allocates).
    pub(crate) fn receiver(&mut self, stats: impl FnOnce() -> ReceiverStats) {
        if self.due() {
            let lines = self.meter.receiver_lines(&stats());
            self.print(&lines);
        }
    }

    /// Prints the sender's line if a second has passed.
    pub(crate) fn sender(&mut self, stats: impl FnOnce() -> SenderStats) {
        if self.due() {
            let line = self.meter.sender_line(&stats());
            self.print(&[line]);
        }
    }

    /// Ends a line rewritten in place, so what follows starts on its own.
    pub(crate) fn finish(&mut self) {
        self.end_line(&mut io::stderr().lock());
    }
}

/// A `--stats-json` file, opened when the command starts (a bad path fails
/// before any work, not at the end when the numbers would be lost), written
/// when it ends.
pub(crate) struct JsonOut {
    path: PathBuf,
    file: std::fs::File,
}

impl JsonOut {
    pub(crate) fn open(path: Option<&Path>) -> Result<Option<Self>> {
        let Some(path) = path else {
            return Ok(None);
        };
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("cannot write the stats file {}", path.display()))?;
        Ok(Some(Self {
            path: path.to_owned(),
            file,
        }))
    }

    pub(crate) fn write(mut self, value: &impl serde::Serialize) -> Result<()> {
        let mut text = serde_json::to_string_pretty(value)?;
        text.push('\n');
        let written = self
            .file
            .set_len(0)
            .and_then(|()| self.file.write_all(text.as_bytes()))
            .and_then(|()| self.file.sync_data());
        written.with_context(|| format!("cannot write the stats file {}", self.path.display()))
    }
}
