//! [`Recording`]: every frame a receiver accepts, as it arrived, into files
//! of its own per stream, on a thread of its own.
//!
//! The recording follows [`Receiver::subscribe`](crate::Receiver::subscribe),
//! so it sees frames before the workers' drop policy: a slow display does
//! not thin out the recording. Where the files go is a [`RecordTarget`]: a
//! path, or a template with placeholders (`{name}`, `{id}`, `{session}`,
//! `{segment}`, `{date}`, `{time}`); a `.mkv` path records Matroska (each
//! frame with its capture time, so players keep the pace), anything else
//! raw Motion-JPEG.
//!
//! A recording never loses a stream without saying so, and never destroys
//! a file:
//!
//! - every session gets a file of its own: a sender that reconnects
//!   continues in a new file, and so does a stream whose file reached its
//!   segment's length ([`Segment`]);
//! - a name that is taken (by an earlier run, another stream whose name
//!   made the same file name, or an earlier session) is never written over:
//!   the file gets `-2`, `-3`, ... before its extension instead, and the
//!   log says so;
//! - a stream whose file cannot be made or written is logged and counted
//!   in [`RecordingStats::failed`] (the command-line receiver then exits
//!   with an error); the receiver and the other streams' recordings go on;
//! - a recording that falls more than
//!   [`SUBSCRIBER_BACKLOG`](crate::SUBSCRIBER_BACKLOG) events behind (a
//!   disk slower than the network) loses the oldest frames, counted in
//!   [`RecordingStats::lost`] and logged.
//!
//! What is kept of each frame: the JPEG exactly as the sender sent it,
//! with its capture time in Matroska. Frames the receiver refused (not a
//! `Video`, an unreadable JPEG header, too many pixels, a declared size
//! that lies) never reach a recording; a frame whose header reads but
//! whose picture turns out to be damaged only when a worker decodes it is
//! recorded as it came, since the recording does not decode (see
//! `docs/reliability.md`).

use std::collections::HashMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use framecast_display::{DisplayError, EncodedFrame, FrameSink, MatroskaRecorder, Recorder};
use tokio::sync::broadcast::{self, error::RecvError};

use crate::error::Report;
use crate::frame::{Frame, StreamEvent, StreamId};
use crate::receiver::ReceiverHandle;

/// How many names a recording tries for one file: the name the template
/// makes, then with `-2` to `-9999` before the extension; when all are
/// taken, that stream is not recorded (and counted as failed).
pub const MAX_NAME_SUFFIX: u32 = 9999;

/// Stream names whose sessions a recording counts for `{session}`; past
/// this many different names, the counts start again (a name then taken
/// gets `-2`, `-3`, ... like any other).
pub const MAX_SESSION_NAMES: usize = 4096;

/// How many clock jumps of one file are logged one by one; the rest are
/// counted, and the count is logged when the file is closed.
const JUMPS_LOGGED_PER_FILE: u64 = 3;

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
    /// The folder the files would go to is missing or not writable.
    #[error("cannot write recordings in {}", dir.display())]
    Directory {
        /// The folder.
        dir: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The template has an unknown placeholder, one in a folder's name, or
    /// no file name.
    #[error("bad recording path {template:?}: {reason}")]
    Template {
        /// The template as given.
        template: String,
        /// What is wrong.
        reason: String,
    },
    /// A segment length that cannot work.
    #[error("bad recording segment {given:?}: {reason}")]
    Segment {
        /// The length as given.
        given: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The recording's thread could not be started.
    #[error("cannot start the recording thread")]
    Spawn(#[source] io::Error),
    /// The recording's thread panicked (a bug).
    #[error("the recording thread panicked")]
    Panicked,
}

/// When a stream's recording moves on to a new file although its session
/// goes on: after a length of time, or once the file holds a number of
/// bytes (checked after each frame, so a file ends with a whole frame just
/// past the size).
///
/// Parsed from a number and a unit: `s`, `m`, `h` for time (`30s`, `10m`,
/// `1h`), `B`, `kB`, `MB`, `GB` (powers of 1000) or `KiB`, `MiB`, `GiB`
/// (powers of 1024) for size.
///
/// ```
/// use std::time::Duration;
///
/// use framecast_stream::Segment;
///
/// assert_eq!("10m".parse::<Segment>()?, Segment::Time(Duration::from_secs(600)));
/// assert_eq!("500MB".parse::<Segment>()?, Segment::Bytes(500_000_000));
/// assert_eq!("1GiB".parse::<Segment>()?, Segment::Bytes(1 << 30));
/// assert!("10".parse::<Segment>().is_err());
/// # Ok::<(), framecast_stream::RecordError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Segment {
    /// A new file after this long (by the frames' arrival).
    Time(Duration),
    /// A new file once this many bytes are written.
    Bytes(u64),
}

impl FromStr for Segment {
    type Err = RecordError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason| RecordError::Segment {
            given: s.to_owned(),
            reason,
        };
        let t = s.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| {
                bad("give a unit: s, m or h for time (10m), MB or GiB for size (500MB)")
            })?;
        let (number, unit) = t.split_at(split);
        let n: f64 = number
            .parse()
            .map_err(|_| bad("it does not start with a number"))?;
        let seconds = |scale: f64| Self::Time(Duration::from_secs_f64(n * scale));
        let bytes = |scale: f64| Self::Bytes((n * scale).round() as u64);
        let segment = match unit.trim() {
            "s" | "sec" => seconds(1.0),
            "m" | "min" => seconds(60.0),
            "h" => seconds(3600.0),
            "B" => bytes(1.0),
            "kB" | "KB" | "k" | "K" => bytes(1e3),
            "MB" | "M" => bytes(1e6),
            "GB" | "G" => bytes(1e9),
            "KiB" => bytes(1024.0),
            "MiB" => bytes(1024.0 * 1024.0),
            "GiB" => bytes(1024.0 * 1024.0 * 1024.0),
            _ => {
                return Err(bad(
                    "unknown unit: use s, m, h, B, kB, MB, GB, KiB, MiB or GiB",
                ));
            }
        };
        match segment {
            Self::Time(d) if d < Duration::from_secs(1) => Err(bad("shorter than a second")),
            Self::Bytes(b) if b < 1024 => Err(bad("smaller than 1 KiB")),
            s => Ok(s),
        }
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Time(d) => write!(f, "{} s", d.as_secs_f64()),
            Self::Bytes(b) => write!(f, "{b} bytes"),
        }
    }
}

/// What a recording's file names are made of: the values of the
/// placeholders of a [`RecordTarget`].
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct FileFields<'a> {
    /// `{id}`: the stream's number.
    pub id: StreamId,
    /// `{name}`: the stream's name (made safe for a file name).
    pub name: &'a str,
    /// `{session}`: which session of this name since the recording
    /// started, from 1.
    pub session: u32,
    /// `{segment}`: which file of this session, from 1.
    pub segment: u32,
    /// `{date}` and `{time}`: when the file is started, in UTC.
    pub started: SystemTime,
}

impl<'a> FileFields<'a> {
    /// The first file of the first session of stream `id` named `name`,
    /// started now.
    pub fn new(id: StreamId, name: &'a str) -> Self {
        Self {
            id,
            name,
            session: 1,
            segment: 1,
            started: SystemTime::now(),
        }
    }

    /// Sets [`FileFields::session`].
    #[must_use]
    pub fn with_session(mut self, session: u32) -> Self {
        self.session = session;
        self
    }

    /// Sets [`FileFields::segment`].
    #[must_use]
    pub fn with_segment(mut self, segment: u32) -> Self {
        self.segment = segment;
        self
    }

    /// Sets [`FileFields::started`].
    #[must_use]
    pub fn with_started(mut self, started: SystemTime) -> Self {
        self.started = started;
        self
    }
}

/// The placeholders a template may hold.
const PLACEHOLDERS: [&str; 6] = [
    "{id}",
    "{name}",
    "{session}",
    "{segment}",
    "{date}",
    "{time}",
];

/// Where a recording's files go: a path, or a template.
///
/// In a template's file name, `{name}` is the stream's name (letters,
/// digits, `.`, `-` and `_` kept, anything else made `_`), `{id}` its
/// number, `{session}` which session of that name this is since the
/// recording started (1, then 2 after a reconnect, ...), `{segment}` which
/// file of the session ([`Segment`]), and `{date}` and `{time}` when the
/// file was started, in UTC (`2026-12-06`, `142501`). Placeholders belong
/// in the file name; folders must exist.
///
/// Whatever the template, every session and every segment gets a file of
/// its own and no file is ever written over: when the name made is taken
/// (by an earlier run, another stream, an earlier session), `-2`, `-3`, ...
/// go before the extension. A plain path records the first stream to
/// exactly that path (when it is free) and the others next to it.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
///
/// use framecast_stream::{FileFields, RecordFormat, RecordTarget, StreamId};
///
/// let t = RecordTarget::new("rec/{name}-{date}-{time}.mkv")?;
/// assert_eq!(t.format(), RecordFormat::Matroska);
/// let noon = UNIX_EPOCH + Duration::from_secs(1_765_022_400);
/// let fields = FileFields::new(StreamId::new(3), "front door").with_started(noon);
/// assert_eq!(t.path(&fields).to_str(), Some("rec/front_door-2025-12-06-120000.mkv"));
///
/// let s = RecordTarget::new("{name}.{session}.mjpeg")?;
/// assert_eq!(s.path(&FileFields::new(StreamId::new(7), "door").with_session(2)).to_str(), Some("door.2.mjpeg"));
///
/// // A name that is taken gets -2, -3, ... before its extension.
/// assert_eq!(RecordTarget::numbered("rec/door.mkv".as_ref(), 2).to_str(), Some("rec/door-2.mkv"));
/// # Ok::<(), framecast_stream::RecordError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordTarget {
    template: String,
    format: RecordFormat,
    segment: Option<Segment>,
}

impl RecordTarget {
    /// Parses a path or template.
    ///
    /// # Errors
    ///
    /// [`RecordError::Template`] for an unknown placeholder, one outside
    /// the file name, or no file name.
    pub fn new(template: impl Into<String>) -> Result<Self, RecordError> {
        let template = template.into();
        let bad = |reason: String| RecordError::Template {
            template: template.clone(),
            reason,
        };
        if template.ends_with('/') || Path::new(&template).file_name().is_none() {
            return Err(bad("it names a folder, not a file".into()));
        }
        let file_at = template.rfind('/').map_or(0, |i| i + 1);
        let mut rest = template.as_str();
        let mut at = 0;
        while let Some(open) = rest.find('{') {
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| bad("a '{' without its '}'".into()))?;
            let placeholder = &rest[open..open + close + 1];
            if !PLACEHOLDERS.contains(&placeholder) {
                return Err(bad(format!(
                    "unknown placeholder {placeholder}: use {}",
                    PLACEHOLDERS.join(", ")
                )));
            }
            if at + open < file_at {
                return Err(bad(format!(
                    "{placeholder} is in a folder's name: placeholders go in the file name"
                )));
            }
            at += open + close + 1;
            rest = &rest[open + close + 1..];
        }
        let format = match Path::new(&template).extension() {
            Some(e) if e.eq_ignore_ascii_case("mkv") => RecordFormat::Matroska,
            _ => RecordFormat::Mjpeg,
        };
        Ok(Self {
            template,
            format,
            segment: None,
        })
    }

    /// Starts a new file of each session whenever `segment` says.
    #[must_use]
    pub fn with_segment(mut self, segment: Segment) -> Self {
        self.segment = Some(segment);
        self
    }

    /// The file format, from the extension.
    pub fn format(&self) -> RecordFormat {
        self.format
    }

    /// When a session's recording moves on to a new file, if ever.
    pub fn segment(&self) -> Option<Segment> {
        self.segment
    }

    /// The path the template makes for `fields` (before any `-2` for a
    /// name that is taken).
    pub fn path(&self, fields: &FileFields<'_>) -> PathBuf {
        let (date, time) = utc(fields.started);
        PathBuf::from(
            self.template
                .replace("{id}", &fields.id.to_string())
                .replace("{name}", &safe_name(fields.name))
                .replace("{session}", &fields.session.to_string())
                .replace("{segment}", &fields.segment.to_string())
                .replace("{date}", &date)
                .replace("{time}", &time),
        )
    }

    /// `path` with `-n` before its extension (`n` from 2), as a taken
    /// name becomes.
    pub fn numbered(path: &Path, n: u32) -> PathBuf {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = match path.extension() {
            Some(ext) => format!("{stem}-{n}.{}", ext.to_string_lossy()),
            None => format!("{stem}-{n}"),
        };
        path.with_file_name(name)
    }

    /// Checks, before anything starts, that the files can be written: the
    /// folder exists and takes a new file.
    ///
    /// # Errors
    ///
    /// [`RecordError::Directory`].
    pub fn check(&self) -> Result<(), RecordError> {
        let first = self.path(&FileFields::new(StreamId::new(1), "stream"));
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

/// `at` as a UTC date (`2026-12-06`) and time of day (`142501`).
fn utc(at: SystemTime) -> (String, String) {
    let t = time::OffsetDateTime::from(at);
    (
        format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()),
        format!("{:02}{:02}{:02}", t.hour(), t.minute(), t.second()),
    )
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
    /// started (no file could be made).
    pub failed: u64,
    /// Steps of a sender's clock a Matroska recording did not follow
    /// (absorbed: see `framecast_display::MatroskaRecorder`).
    pub clock_jumps: u64,
}

/// A running recording: files per stream, every frame as it arrived (see
/// [`RecordTarget`] for where the files go).
#[derive(Debug)]
pub struct Recording {
    thread: Option<JoinHandle<RecordingStats>>,
}

impl Recording {
    /// Records every frame `receiver` accepts from now on, where `target`
    /// says. Checks `target` first.
    ///
    /// # Errors
    ///
    /// [`RecordError::Directory`] when the target's folder cannot be
    /// written; [`RecordError::Spawn`] when the thread cannot be started.
    pub fn start(
        receiver: &impl AsRef<ReceiverHandle>,
        target: RecordTarget,
    ) -> Result<Self, RecordError> {
        target.check()?;
        let rx = receiver.as_ref().subscribe();
        let thread = thread::Builder::new()
            .name("framecast-record".into())
            .spawn(move || Files::new(target).run(rx))
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

/// A file being written.
enum FileSink {
    Matroska(Box<MatroskaRecorder<File>>),
    Mjpeg(Recorder<File>),
}

impl FileSink {
    fn create(format: RecordFormat, path: &Path) -> Result<Self, DisplayError> {
        Ok(match format {
            RecordFormat::Matroska => Self::Matroska(Box::new(MatroskaRecorder::create(path)?)),
            RecordFormat::Mjpeg => Self::Mjpeg(Recorder::create(path)?),
        })
    }

    fn sink(&mut self) -> &mut dyn FrameSink {
        match self {
            Self::Matroska(s) => s.as_mut(),
            Self::Mjpeg(s) => s,
        }
    }

    fn bytes(&self) -> u64 {
        match self {
            Self::Matroska(s) => s.bytes(),
            Self::Mjpeg(s) => s.bytes(),
        }
    }

    fn clock_jumps(&self) -> u64 {
        match self {
            Self::Matroska(s) => s.clock_jumps(),
            Self::Mjpeg(_) => 0,
        }
    }
}

/// One file of a stream.
struct Active {
    sink: FileSink,
    path: PathBuf,
    frames: u64,
    /// When its first frame arrived (for time segments).
    first: Option<Instant>,
    /// Clock jumps already logged or counted.
    jumps: u64,
}

/// One stream being recorded.
struct Stream {
    name: String,
    session: u32,
    segment: u32,
    /// `None` between two segments, before the first frame, or once the
    /// stream could not be recorded (`failed`).
    file: Option<Active>,
    failed: bool,
}

/// Why a stream gets no file.
#[derive(Debug, thiserror::Error)]
enum NoFile {
    #[error("{} and the next {} names with -2, -3, ... are all taken", .0.display(), MAX_NAME_SUFFIX - 1)]
    AllTaken(PathBuf),
    #[error(transparent)]
    Display(DisplayError),
}

/// The recording thread's state.
struct Files {
    target: RecordTarget,
    stats: RecordingStats,
    streams: HashMap<StreamId, Stream>,
    /// Sessions seen per name (for `{session}`), at most
    /// [`MAX_SESSION_NAMES`] names.
    sessions: HashMap<String, u32>,
}

impl Files {
    fn new(target: RecordTarget) -> Self {
        Self {
            target,
            stats: RecordingStats::default(),
            streams: HashMap::new(),
            sessions: HashMap::new(),
        }
    }

    fn run(mut self, mut rx: broadcast::Receiver<StreamEvent>) -> RecordingStats {
        loop {
            match rx.blocking_recv() {
                Ok(StreamEvent::Frame(frame)) => self.frame(&frame),
                Ok(StreamEvent::Ended(id)) => {
                    if let Some(mut stream) = self.streams.remove(&id) {
                        self.close(id, &mut stream);
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    self.stats.lost += n;
                    tracing::warn!("the recording fell behind and lost {n} frames");
                }
                Err(RecvError::Closed) => break,
            }
        }
        let mut streams: Vec<_> = self.streams.drain().collect();
        streams.sort_by_key(|(id, _)| *id);
        for (id, mut stream) in streams {
            self.close(id, &mut stream);
        }
        self.stats
    }

    /// The session number of a new stream named `name`.
    fn session_of(&mut self, name: &str) -> u32 {
        if self.sessions.len() >= MAX_SESSION_NAMES && !self.sessions.contains_key(name) {
            self.sessions.clear();
        }
        let n = self.sessions.entry(name.to_owned()).or_insert(0);
        *n += 1;
        *n
    }

    fn frame(&mut self, frame: &Frame) {
        let id = frame.stream();
        if !self.streams.contains_key(&id) {
            let session = self.session_of(frame.name());
            self.streams.insert(
                id,
                Stream {
                    name: frame.name().to_owned(),
                    session,
                    segment: 1,
                    file: None,
                    failed: false,
                },
            );
        }
        let Some(mut stream) = self.streams.remove(&id) else {
            return;
        };
        self.write(id, &mut stream, frame);
        self.streams.insert(id, stream);
    }

    fn write(&mut self, id: StreamId, stream: &mut Stream, frame: &Frame) {
        if stream.failed {
            return;
        }
        if stream.file.is_none() {
            match self.open(id, stream) {
                Ok(active) => stream.file = Some(active),
                Err(e) => {
                    stream.failed = true;
                    self.stats.failed += 1;
                    tracing::error!(
                        "stream {id} \"{}\" is not recorded: {}",
                        framecast_net::printable(&stream.name),
                        Report(&e)
                    );
                    return;
                }
            }
        }
        let Some(active) = stream.file.as_mut() else {
            return;
        };
        let encoded = EncodedFrame::new(id.get(), frame.name(), &frame.jpeg()[..])
            .with_sequence(frame.sequence())
            .with_capture_time_us(frame.capture_time_us())
            .with_source_size(frame.source_size())
            .with_received(frame.received());
        if let Err(e) = active.sink.sink().show(&encoded) {
            stream.failed = true;
            self.stats.failed += 1;
            tracing::error!(
                "the recording of stream {id} \"{}\" to {} stopped after {} frames: {}",
                framecast_net::printable(&stream.name),
                active.path.display(),
                active.frames,
                Report(&e)
            );
            // What was written stays; the file is closed as it is.
            if let Some(mut active) = stream.file.take() {
                let _ = active.sink.sink().finish();
            }
            return;
        }
        active.frames += 1;
        self.stats.frames += 1;
        let first = *active.first.get_or_insert(frame.received());
        let jumps = active.sink.clock_jumps();
        if jumps > active.jumps {
            if jumps <= JUMPS_LOGGED_PER_FILE {
                tracing::warn!(
                    "stream {id} \"{}\": the sender's clock jumped at frame {}; its recording \
                     {} goes on at the frames' arrival pace there",
                    framecast_net::printable(&stream.name),
                    frame.sequence(),
                    active.path.display()
                );
            }
            self.stats.clock_jumps += jumps - active.jumps;
            active.jumps = jumps;
        }
        let full = match self.target.segment {
            Some(Segment::Bytes(max)) => active.sink.bytes() >= max,
            Some(Segment::Time(max)) => frame.received().saturating_duration_since(first) >= max,
            None => false,
        };
        if full {
            if let Some(active) = stream.file.take() {
                self.finish_file(id, stream, active);
            }
            stream.segment += 1;
        }
    }

    /// Makes the file for `stream`'s current session and segment: the
    /// template's name, or the first of its numbered names that is free.
    fn open(&mut self, id: StreamId, stream: &Stream) -> Result<Active, NoFile> {
        let fields = FileFields::new(id, &stream.name)
            .with_session(stream.session)
            .with_segment(stream.segment);
        let base = self.target.path(&fields);
        for n in 1..=MAX_NAME_SUFFIX {
            let path = if n == 1 {
                base.clone()
            } else {
                RecordTarget::numbered(&base, n)
            };
            match FileSink::create(self.target.format, &path) {
                Ok(sink) => {
                    if n == 1 {
                        tracing::info!(
                            "recording stream {id} \"{}\" to {}",
                            framecast_net::printable(&stream.name),
                            path.display()
                        );
                    } else {
                        tracing::info!(
                            "recording stream {id} \"{}\" to {} ({} is taken)",
                            framecast_net::printable(&stream.name),
                            path.display(),
                            base.display()
                        );
                    }
                    self.stats.files.push(path.clone());
                    return Ok(Active {
                        sink,
                        path,
                        frames: 0,
                        first: None,
                        jumps: 0,
                    });
                }
                Err(DisplayError::Create { source, .. })
                    if source.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(NoFile::Display(e)),
            }
        }
        Err(NoFile::AllTaken(base))
    }

    fn close(&mut self, id: StreamId, stream: &mut Stream) {
        if let Some(active) = stream.file.take() {
            self.finish_file(id, stream, active);
        }
    }

    fn finish_file(&mut self, id: StreamId, stream: &Stream, mut active: Active) {
        let jumps = if active.jumps > JUMPS_LOGGED_PER_FILE {
            format!(" ({} jumps of the sender's clock absorbed)", active.jumps)
        } else {
            String::new()
        };
        match active.sink.sink().finish() {
            Ok(()) => tracing::info!(
                "recorded {} frames of stream {id} \"{}\" to {}{jumps}",
                active.frames,
                framecast_net::printable(&stream.name),
                active.path.display()
            ),
            Err(e) => {
                self.stats.failed += 1;
                tracing::error!(
                    "the recording of stream {id} \"{}\" to {} may be incomplete: {}",
                    framecast_net::printable(&stream.name),
                    active.path.display(),
                    Report(&e)
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    #[test]
    fn templates_fill_their_placeholders() {
        let t = RecordTarget::new("out/{id}.mjpeg").unwrap();
        assert_eq!(t.format(), RecordFormat::Mjpeg);
        assert_eq!(
            t.path(&FileFields::new(StreamId::new(7), "x")),
            PathBuf::from("out/7.mjpeg")
        );
        let n = RecordTarget::new("{name}.MKV").unwrap();
        assert_eq!(n.format(), RecordFormat::Matroska);
        assert_eq!(
            n.path(&FileFields::new(StreamId::new(1), "../../etc/x y")),
            PathBuf::from("_.._etc_x_y.MKV")
        );
        assert_eq!(
            n.path(&FileFields::new(StreamId::new(1), "...")),
            PathBuf::from("stream.MKV")
        );
        let all = RecordTarget::new("r/{name}-{session}-{segment}-{date}-{time}.mkv").unwrap();
        // 2026-02-28 23:59:59 UTC.
        let at = UNIX_EPOCH + Duration::from_secs(1_772_323_199);
        let f = FileFields::new(StreamId::new(4), "door")
            .with_session(2)
            .with_segment(3)
            .with_started(at);
        assert_eq!(
            all.path(&f),
            PathBuf::from("r/door-2-3-2026-02-28-235959.mkv")
        );
        assert_eq!(
            RecordTarget::numbered(Path::new("cam"), 4),
            PathBuf::from("cam-4")
        );
        assert_eq!(
            RecordTarget::numbered(Path::new("a/b.c.mkv"), 12),
            PathBuf::from("a/b.c-12.mkv")
        );
    }

    #[test]
    fn bad_templates_are_refused() {
        for (t, says) in [
            ("a/{day}.mjpeg", "unknown placeholder {day}"),
            ("a/{id.mjpeg", "without its '}'"),
            ("dir/", "names a folder"),
            ("rec/{date}/{name}.mkv", "in a folder's name"),
        ] {
            let err = RecordTarget::new(t).unwrap_err().to_string();
            assert!(err.contains(says), "{t}: {err}");
        }
    }

    #[test]
    fn segments_parse_with_their_units() {
        for (s, want) in [
            ("30s", Segment::Time(Duration::from_secs(30))),
            ("1.5m", Segment::Time(Duration::from_secs(90))),
            ("2h", Segment::Time(Duration::from_secs(7200))),
            ("64KiB", Segment::Bytes(65_536)),
            ("10MB", Segment::Bytes(10_000_000)),
            ("2GiB", Segment::Bytes(2 << 30)),
        ] {
            assert_eq!(s.parse::<Segment>().unwrap(), want, "{s}");
        }
        for (s, says) in [
            ("10", "give a unit"),
            ("10parsecs", "unknown unit"),
            ("0.1s", "shorter than a second"),
            ("12B", "smaller than 1 KiB"),
            ("MB", "start with a number"),
        ] {
            let err = s.parse::<Segment>().unwrap_err().to_string();
            assert!(err.contains(says), "{s}: {err}");
        }
    }

    #[test]
    fn check_refuses_a_missing_folder_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no/such/dir/x.mkv");
        assert!(matches!(
            RecordTarget::new(missing.to_str().unwrap())
                .unwrap()
                .check(),
            Err(RecordError::Directory { .. })
        ));
        // A taken name is no reason not to start: the file goes next to it.
        let taken = dir.path().join("taken.mjpeg");
        std::fs::write(&taken, b"keep me").unwrap();
        RecordTarget::new(taken.to_str().unwrap())
            .unwrap()
            .check()
            .unwrap();
        let fine = dir.path().join("{id}.mkv");
        RecordTarget::new(fine.to_str().unwrap())
            .unwrap()
            .check()
            .unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert_eq!(std::fs::read(&taken).unwrap(), b"keep me");
    }
}
