//! `--stats-jsonl PATH`: the stats once a second as JSON lines, one object
//! a line, flushed as it is written, so a script can follow a run while it
//! goes (`tail -f`) and plot it afterwards.
//!
//! The receiver writes what happened in each second per stream (frames
//! shown, bytes, the quality and size in use, the sender's estimate of the
//! link's rate, latency p50/p99/max of the frames shown in that second):
//! `framecast_stream::IntervalStats`. The sender writes its counters and
//! what its rate control chose: `framecast_stream::SenderStats`, with
//! `seconds` since it started.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use framecast_stream::{IntervalMeter, ReceiverStats, SenderStats};

/// How often a line is written.
const EVERY: Duration = Duration::from_secs(1);

/// An open `--stats-jsonl` file.
pub(crate) struct StatsLines {
    path: PathBuf,
    file: BufWriter<std::fs::File>,
    meter: IntervalMeter,
    last: Instant,
}

impl StatsLines {
    /// Opens (creates or truncates) `path`, when given: a bad path fails
    /// before any work.
    pub(crate) fn open(path: Option<&Path>) -> Result<Option<Self>> {
        let Some(path) = path else {
            return Ok(None);
        };
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot write the stats file {}", path.display()))?;
        Ok(Some(Self {
            path: path.to_owned(),
            file: BufWriter::new(file),
            meter: IntervalMeter::new(),
            last: Instant::now(),
        }))
    }

    fn due(&mut self) -> bool {
        if self.last.elapsed() >= EVERY {
            // On the grid, not a second after the last write: lines stay a
            // second apart even when the loop is late.
            self.last += EVERY;
            if self.last.elapsed() >= EVERY {
                self.last = Instant::now();
            }
            true
        } else {
            false
        }
    }

    fn line(&mut self, value: &impl serde::Serialize) -> Result<()> {
        let written = serde_json::to_writer(&mut self.file, value)
            .map_err(std::io::Error::other)
            .and_then(|()| self.file.write_all(b"\n"))
            .and_then(|()| self.file.flush());
        written.with_context(|| format!("cannot write the stats file {}", self.path.display()))
    }

    /// A receiver's line, if a second has passed (the snapshot is taken
    /// only then: it allocates).
    pub(crate) fn receiver(&mut self, stats: impl FnOnce() -> ReceiverStats) -> Result<()> {
        if self.due() {
            let interval = self.meter.next(&stats());
            self.line(&interval)?;
        }
        Ok(())
    }

    /// The receiver's last, partial second.
    pub(crate) fn receiver_end(&mut self, stats: &ReceiverStats) -> Result<()> {
        let interval = self.meter.next(stats);
        self.line(&interval)
    }

    /// A sender's line, if a second has passed.
    pub(crate) fn sender(&mut self, stats: impl FnOnce() -> SenderStats) -> Result<()> {
        if self.due() {
            self.line(&stats())?;
        }
        Ok(())
    }
}
