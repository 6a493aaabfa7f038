//! `--bench-report PATH` (hidden, for `framecast bench`): a `send` or
//! `recv` child measures its own CPU time and heap allocations at the end
//! of a warm-up and at the end, and writes them to PATH.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Frames each side lets pass before measuring (connection set-up,
/// buffers growing to their working size).
pub(crate) const WARM_UP: u64 = 30;

/// What a child process measured of itself (`--bench-report`).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct ChildReport {
    /// Frames at the end of the warm-up, and CPU time (µs) and allocations
    /// then.
    warm_frames: u64,
    warm_cpu_us: u64,
    warm_allocations: u64,
    /// The same at the end.
    pub(crate) frames: u64,
    cpu_us: u64,
    allocations: u64,
    /// Bytes moved (sent, or received).
    pub(crate) bytes: u64,
}

impl ChildReport {
    /// CPU µs and allocations per frame after the warm-up.
    pub(crate) fn per_frame(&self) -> Option<(f64, f64)> {
        let n = self
            .frames
            .checked_sub(self.warm_frames)
            .filter(|&n| n > 0)? as f64;
        Some((
            (self.cpu_us - self.warm_cpu_us) as f64 / n,
            (self.allocations - self.warm_allocations) as f64 / n,
        ))
    }
}

fn cpu_us() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    t.tv_sec as u64 * 1_000_000 + t.tv_nsec as u64 / 1000
}

/// The measuring side of `--bench-report`: fed the frame count as it
/// grows, it takes the warm-up snapshot once, then the final one.
#[derive(Debug)]
pub(crate) struct Probe {
    path: PathBuf,
    report: ChildReport,
    warm: bool,
}

impl Probe {
    /// A probe that writes its report to `path`.
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            report: ChildReport::default(),
            warm: false,
        }
    }

    /// Called as frames go by; cheap (no allocation).
    pub(crate) fn observe(&mut self, frames: u64) {
        if !self.warm && frames >= WARM_UP {
            self.warm = true;
            self.report.warm_frames = frames;
            self.report.warm_cpu_us = cpu_us();
            self.report.warm_allocations = crate::alloc_count::allocations();
        }
    }

    /// Takes the final snapshot and writes the report.
    pub(crate) fn finish(&mut self, frames: u64, bytes: u64) {
        self.report.frames = frames;
        self.report.cpu_us = cpu_us();
        self.report.allocations = crate::alloc_count::allocations();
        self.report.bytes = bytes;
        let written = serde_json::to_vec(&self.report)
            .map_err(std::io::Error::other)
            .and_then(|text| std::fs::write(&self.path, text));
        if let Err(e) = written {
            tracing::error!("cannot write {}: {e}", self.path.display());
        }
    }
}
