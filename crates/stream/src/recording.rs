//! [`Recording`]: every frame a receiver accepts, as it arrived, into one
//! file per stream, on a thread of its own.
//!
//! The recording follows [`Receiver::subscribe`](crate::Receiver::subscribe),
//! so it sees frames before the workers' drop policy: a slow display does
//! not thin out the recording. Where the files go is a [`RecordTarget`]: a
//! path, or a template with `{id}` and `{name}`; a `.mkv` path records
//! Matroska (each frame with its capture time, so players keep the pace),
//! anything else raw Motion-JPEG.
//!
//! A recording never destroys a file: a path that exists is refused (at
//! start for the first, later by skipping that stream). A file that cannot
//! be written (a full disk) ends that stream's recording with one line in
//! the log; the receiver and the other streams' recordings go on. A
//! recording that falls more than
//! [`SUBSCRIBER_BACKLOG`](crate::SUBSCRIBER_BACKLOG) events behind (a disk
//! slower than the network) loses the oldest frames and counts them.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io;
use std::path::{Path, PathBuf};
use std::thread::{self, JoinHandle};

use framecast_display::{DisplayError, EncodedFrame, FrameSink, MatroskaRecorder, Recorder};
use tokio::sync::broadcast::{self, error::RecvError};

use crate::error::Report;
use crate::frame::{StreamEvent, StreamId};
use crate::receiver::ReceiverHandle;

/// The file format of a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordFormat {
    /// The JPEGs back to back (`.mjpeg`): what `ffplay -f mjpeg` and the
    /// `mjpeg:` source read; no timing.
    Mjpeg,
    /// Matroska with a `V_MJPEG` track (`.mkv`): each frame at its capture
    /// time, so any player shows it at the captured pace and shape.
    Matroska,
}

/// Why a recording cannot start, or did not finish.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The file is there already.
    #[error("{} exists; a recording never replaces a file: remove it or choose another path", .0.display())]
    Exists(PathBuf),
    /// The folder the files would go to is missing or not writable.
    #[error("cannot write recordings in {}", dir.display())]
    Directory {
        /// The folder.
        dir: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The template has an unknown placeholder or none of its file name.
    #[error("bad recording path {template:?}: {reason}")]
    Template {
        /// The template as given.
        template: String,
        /// What is wrong.
        reason: String,
    },
    /// The recording's thread could not be started.
    #[error("cannot start the recording thread")]
    Spawn(#[source] io::Error),
    /// The recording's thread panicked (a bug).
    #[error("the recording thread panicked")]
    Panicked,
}

/// Where a recording's files go: a path, or a template.
///
/// In a template, `{id}` is the stream's number and `{name}` its name
/// (letters, digits, `.`, `-` and `_` kept, anything else made `_`). A path
/// without placeholders records the first stream to exactly that path and
/// each later stream to the same path with `-ID` before the extension
/// (`capture.mjpeg`, `capture-2.mjpeg`, ...), so two senders never share a
/// file.
///
/// ```
/// use framecast_stream::{RecordFormat, RecordTarget, StreamId};
///
/// let t = RecordTarget::new("rec/{name}-{id}.mkv")?;
/// assert_eq!(t.format(), RecordFormat::Matroska);
/// assert_eq!(t.path(StreamId::new(3), "front door", false).to_str(), Some("rec/front_door-3.mkv"));
///
/// let plain = RecordTarget::new("capture.mjpeg")?;
/// assert_eq!(plain.path(StreamId::new(1), "a", true).to_str(), Some("capture.mjpeg"));
/// assert_eq!(plain.path(StreamId::new(2), "b", false).to_str(), Some("capture-2.mjpeg"));
/// # Ok::<(), framecast_stream::RecordError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordTarget {
    template: String,
    placeholders: bool,
    format: RecordFormat,
}

impl RecordTarget {
    /// Parses a path or template.
    ///
    /// # Errors
    ///
    /// [`RecordError::Template`] for an unknown placeholder or an empty
    /// file name.
    pub fn new(template: impl Into<String>) -> Result<Self, RecordError> {
        let template = template.into();
        let bad = |reason: String| RecordError::Template {
            template: template.clone(),
            reason,
        };
        let mut rest = template.as_str();
        let mut placeholders = false;
        while let Some(open) = rest.find('{') {
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| bad("a '{' without its '}'".into()))?;
            match &rest[open..open + close + 1] {
                "{id}" | "{name}" => placeholders = true,
                other => {
                    return Err(bad(format!(
                        "unknown placeholder {other}: use {{id}} or {{name}}"
                    )));
                }
            }
            rest = &rest[open + close + 1..];
        }
        if template.ends_with('/') || Path::new(&template).file_name().is_none() {
            return Err(bad("it names a folder, not a file".into()));
        }
        let format = match Path::new(&template).extension() {
            Some(e) if e.eq_ignore_ascii_case("mkv") => RecordFormat::Matroska,
            _ => RecordFormat::Mjpeg,
        };
        Ok(Self {
            template,
            placeholders,
            format,
        })
    }

    /// The file format, from the extension.
    pub fn format(&self) -> RecordFormat {
        self.format
    }

    /// The path for stream `id` named `name`; `first` is whether it is the
    /// first stream recorded (which takes a plain path as it is).
    pub fn path(&self, id: StreamId, name: &str, first: bool) -> PathBuf {
        if self.placeholders {
            return PathBuf::from(
                self.template
                    .replace("{id}", &id.to_string())
                    .replace("{name}", &safe_name(name)),
            );
        }
        let path = PathBuf::from(&self.template);
        if first {
            return path;
        }
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = match path.extension() {
            Some(ext) => format!("{stem}-{id}.{}", ext.to_string_lossy()),
            None => format!("{stem}-{id}"),
        };
        path.with_file_name(name)
    }

    /// Checks, before anything starts, that the files can be written: the
    /// folder exists and takes a new file, and a plain path is not taken.
    ///
    /// # Errors
    ///
    /// [`RecordError::Exists`] or [`RecordError::Directory`].
    pub fn check(&self) -> Result<(), RecordError> {
        let first = self.path(StreamId::new(1), "stream", true);
        if !self.placeholders && first.exists() {
            return Err(RecordError::Exists(first));
        }
        let dir = match first.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let probe = dir.join(format!(".framecast-record-check-{}", std::process::id()));
        let made = OpenOptions::new().write(true).create_new(true).open(&probe);
        match made {
            Ok(_) => {
                let _ = std::fs::remove_file(&probe);
                Ok(())
            }
            Err(source) => Err(RecordError::Directory { dir, source }),
        }
    }
}

/// A stream name as a file name part: letters, digits, `.`, `-`, `_`.
fn safe_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let s = s.trim_start_matches('.');
    if s.is_empty() {
        "stream".to_owned()
    } else {
        s.to_owned()
    }
}

/// What a recording did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordingStats {
    /// Frames written, over every file.
    pub frames: u64,
    /// Frames the recording fell too far behind to keep.
    pub lost: u64,
    /// The files written, in the order they were started.
    pub files: Vec<PathBuf>,
    /// Streams whose recording stopped early (a write failed) or never
    /// started (the file could not be made).
    pub failed: u64,
}

/// A running recording: one file per stream, every frame as it arrived
/// (see [`RecordTarget`] for where the files go).
#[derive(Debug)]
pub struct Recording {
    thread: Option<JoinHandle<RecordingStats>>,
}

impl Recording {
    /// Records every frame `receiver` accepts from now on, one file per
    /// stream, where `target` says. Checks `target` first.
    ///
    /// # Errors
    ///
    /// [`RecordError::Exists`] or [`RecordError::Directory`] when the
    /// target cannot be written; [`RecordError::Spawn`] when the thread
    /// cannot be started.
    pub fn start(
        receiver: &impl AsRef<ReceiverHandle>,
        target: RecordTarget,
    ) -> Result<Self, RecordError> {
        target.check()?;
        let rx = receiver.as_ref().subscribe();
        let thread = thread::Builder::new()
            .name("framecast-record".into())
            .spawn(move || record(rx, &target))
            .map_err(RecordError::Spawn)?;
        Ok(Self {
            thread: Some(thread),
        })
    }

    /// Waits for the recording to end (once its receiver has stopped),
    /// closes every file and returns what it did.
    ///
    /// # Errors
    ///
    /// [`RecordError::Panicked`] if the recording thread panicked.
    pub fn finish(mut self) -> Result<RecordingStats, RecordError> {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(stats)) => Ok(stats),
            Some(Err(_)) => Err(RecordError::Panicked),
            None => Ok(RecordingStats::default()),
        }
    }
}

/// One stream's file.
struct Active {
    sink: Box<dyn FrameSink>,
    path: PathBuf,
    frames: u64,
}

impl Active {
    fn close(mut self, stream: StreamId, stats: &mut RecordingStats) {
        match self.sink.finish() {
            Ok(()) => tracing::info!(
                "recorded {} frames of stream {stream} to {}",
                self.frames,
                self.path.display()
            ),
            Err(e) => {
                stats.failed += 1;
                tracing::error!(
                    "the recording of stream {stream} to {} may be incomplete: {}",
                    self.path.display(),
                    Report(&e)
                );
            }
        }
    }
}

fn open(target: &RecordTarget, path: &Path) -> Result<Box<dyn FrameSink>, DisplayError> {
    Ok(match target.format() {
        RecordFormat::Matroska => Box::new(MatroskaRecorder::create(path)?),
        RecordFormat::Mjpeg => Box::new(Recorder::create(path)?),
    })
}

fn record(mut rx: broadcast::Receiver<StreamEvent>, target: &RecordTarget) -> RecordingStats {
    let mut stats = RecordingStats::default();
    // `None`: this stream is not recorded (its file could not be made or a
    // write failed); its frames are let go.
    let mut files: HashMap<StreamId, Option<Active>> = HashMap::new();
    loop {
        let frame = match rx.blocking_recv() {
            Ok(StreamEvent::Frame(frame)) => frame,
            Ok(StreamEvent::Ended(id)) => {
                if let Some(Some(active)) = files.remove(&id) {
                    active.close(id, &mut stats);
                }
                continue;
            }
            Err(RecvError::Lagged(n)) => {
                stats.lost += n;
                tracing::warn!("the recording fell behind and lost {n} frames");
                continue;
            }
            Err(RecvError::Closed) => break,
        };
        let id = frame.stream();
        let slot = files.entry(id).or_insert_with(|| {
            let path = target.path(id, frame.name(), stats.files.is_empty());
            match open(target, &path) {
                Ok(sink) => {
                    stats.files.push(path.clone());
                    Some(Active {
                        sink,
                        path,
                        frames: 0,
                    })
                }
                Err(e) => {
                    stats.failed += 1;
                    tracing::error!("stream {id} is not recorded: {}", Report(&e));
                    None
                }
            }
        });
        let Some(active) = slot else {
            continue;
        };
        let encoded = EncodedFrame::new(id.get(), frame.name(), &frame.jpeg()[..])
            .with_sequence(frame.sequence())
            .with_capture_time_us(frame.capture_time_us())
            .with_source_size(frame.source_size());
        match active.sink.show(&encoded) {
            Ok(()) => {
                active.frames += 1;
                stats.frames += 1;
            }
            Err(e) => {
                stats.failed += 1;
                tracing::error!(
                    "the recording of stream {id} to {} stopped after {} frames: {}",
                    active.path.display(),
                    active.frames,
                    Report(&e)
                );
                // What was written stays; the sink is closed as it is.
                if let Some(Some(mut active)) = files.insert(id, None) {
                    let _ = active.sink.finish();
                }
            }
        }
    }
    for (id, active) in files {
        if let Some(active) = active {
            active.close(id, &mut stats);
        }
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_name_one_file_per_stream() {
        let t = RecordTarget::new("out/{id}.mjpeg").unwrap();
        assert_eq!(t.format(), RecordFormat::Mjpeg);
        assert_eq!(
            t.path(StreamId::new(7), "x", true),
            PathBuf::from("out/7.mjpeg")
        );
        assert_eq!(
            RecordTarget::new("cam")
                .unwrap()
                .path(StreamId::new(4), "x", false),
            PathBuf::from("cam-4")
        );
        let n = RecordTarget::new("{name}.MKV").unwrap();
        assert_eq!(n.format(), RecordFormat::Matroska);
        assert_eq!(
            n.path(StreamId::new(1), "../../etc/x y", true),
            PathBuf::from("_.._etc_x_y.MKV")
        );
        assert_eq!(
            n.path(StreamId::new(1), "...", true),
            PathBuf::from("stream.MKV")
        );
    }

    #[test]
    fn bad_templates_are_refused() {
        for (t, says) in [
            ("a/{date}.mjpeg", "unknown placeholder {date}"),
            ("a/{id.mjpeg", "without its '}'"),
            ("dir/", "names a folder"),
        ] {
            let err = RecordTarget::new(t).unwrap_err().to_string();
            assert!(err.contains(says), "{t}: {err}");
        }
    }

    #[test]
    fn check_refuses_an_existing_file_and_a_missing_folder() {
        let dir = tempfile::tempdir().unwrap();
        let taken = dir.path().join("taken.mjpeg");
        std::fs::write(&taken, b"keep me").unwrap();
        let err = RecordTarget::new(taken.to_str().unwrap())
            .unwrap()
            .check()
            .unwrap_err();
        assert!(matches!(err, RecordError::Exists(_)), "{err}");
        assert_eq!(std::fs::read(&taken).unwrap(), b"keep me");
        let missing = dir.path().join("no/such/dir/x.mkv");
        assert!(matches!(
            RecordTarget::new(missing.to_str().unwrap())
                .unwrap()
                .check(),
            Err(RecordError::Directory { .. })
        ));
        let fine = dir.path().join("{id}.mkv");
        RecordTarget::new(fine.to_str().unwrap())
            .unwrap()
            .check()
            .unwrap();
        // The check leaves nothing behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
