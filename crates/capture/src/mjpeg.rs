//! MJPEG files: concatenated JPEGs, as `ffmpeg -f mjpeg` and framecast's
//! recorder write them.
//!
//! Opening a file indexes it in one streaming pass ([`MjpegIndex`]); frames
//! are then read by offset into the caller's reused buffer. The index finds
//! each JPEG by walking its structure rather than by searching for the byte
//! pairs `FF D8` / `FF D9`, which may legally appear inside APPn or COM
//! segments (an EXIF thumbnail is a whole JPEG):
//!
//! ```text
//! FF D8                        SOI: a frame starts
//! FF xx len:u16 <len-2 bytes>  header segments (APPn, DQT, DHT, SOF, ...): skipped whole
//! FF DA len:u16 <len-2 bytes>  SOS, then entropy-coded data, in which
//!   FF 00                        is a stuffed data byte,
//!   FF D0..D7                    a restart marker,
//!   FF FF                        fill,
//!   FF xx len:u16 ...            another segment (progressive: DHT, SOS, ...)
//! FF D9                        EOI: the frame ends
//! ```
//!
//! Bytes between frames are skipped and counted; a frame cut short (by the end
//! of the file or by a new SOI) or malformed is dropped and counted, so a
//! recording whose writer was killed mid-frame still plays.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use framecast_image::{PixelFormat, probe_jpeg};

use crate::{
    CaptureError, Clock, Frame, FrameKind, FrameSource, SourceFormat, SourceLimits, SystemClock,
};

/// Bytes read at a time while indexing.
const INDEX_CHUNK_BYTES: usize = 64 * 1024;

/// Where one JPEG lies in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JpegSpan {
    /// Offset of its SOI marker.
    pub offset: u64,
    /// Length up to and including its EOI marker.
    pub len: usize,
}

/// The JPEG frames of an MJPEG stream, found by [`MjpegIndex::build`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MjpegIndex {
    frames: Vec<JpegSpan>,
    dropped: u64,
    skipped_bytes: u64,
}

impl MjpegIndex {
    /// Indexes a whole stream, reading it once in chunks. Fails on an I/O
    /// error or a frame longer than [`SourceLimits::max_jpeg_bytes`].
    pub fn build(mut reader: impl Read, limits: &SourceLimits) -> Result<Self, CaptureError> {
        let mut scanner = Scanner::new(limits.max_jpeg_bytes);
        let mut index = Self::default();
        let mut chunk = vec![0; INDEX_CHUNK_BYTES];
        loop {
            let n = match reader.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            scanner.feed(&chunk[..n], &mut index)?;
        }
        scanner.finish(&mut index);
        Ok(index)
    }

    /// Indexes an in-memory stream.
    pub fn from_bytes(data: &[u8], limits: &SourceLimits) -> Result<Self, CaptureError> {
        let mut scanner = Scanner::new(limits.max_jpeg_bytes);
        let mut index = Self::default();
        scanner.feed(data, &mut index)?;
        scanner.finish(&mut index);
        Ok(index)
    }

    /// The complete frames, in order.
    pub fn frames(&self) -> &[JpegSpan] {
        &self.frames
    }

    /// Frames that started but were cut short or malformed, and left out.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Bytes outside any frame (before the first, between frames, after the
    /// last), left out.
    pub fn skipped_bytes(&self) -> u64 {
        self.skipped_bytes
    }
}

/// What the scanner expects next.
#[derive(Debug, Clone, Copy)]
enum State {
    /// Between frames, looking for `FF D8`; `ff` if the last byte was `FF`.
    Outside { ff: bool },
    /// In a frame's header, expecting the `FF` of a marker.
    Marker,
    /// After a marker's `FF`, expecting its code.
    Code,
    /// Expecting the high byte of a segment length.
    LenHi { sos: bool },
    /// Expecting the low byte of a segment length.
    LenLo { sos: bool, hi: u8 },
    /// Inside a segment's payload.
    Skip { remaining: usize, sos: bool },
    /// In entropy-coded data; `ff` if the last byte was `FF`.
    Entropy { ff: bool },
}

/// A resumable JPEG-boundary state machine (see the module docs).
#[derive(Debug)]
struct Scanner {
    state: State,
    /// Absolute offset of the next byte fed.
    pos: u64,
    /// Start of the frame being scanned.
    start: u64,
    /// Whether the frame being scanned has reached its first SOS.
    seen_sos: bool,
    max_len: usize,
}

impl Scanner {
    fn new(max_len: usize) -> Self {
        Self {
            state: State::Outside { ff: false },
            pos: 0,
            start: 0,
            seen_sos: false,
            max_len,
        }
    }

    fn feed(&mut self, data: &[u8], index: &mut MjpegIndex) -> Result<(), CaptureError> {
        let base = self.pos;
        let mut i = 0;
        while i < data.len() {
            let b = data[i];
            let at = base + i as u64;
            i += 1;
            self.state = match self.state {
                State::Outside { ff } => {
                    if ff && b == 0xD8 {
                        // The FF before was counted as skipped; it belongs to
                        // the frame.
                        index.skipped_bytes -= 1;
                        self.begin(at - 1)
                    } else {
                        index.skipped_bytes += 1;
                        State::Outside { ff: b == 0xFF }
                    }
                }
                State::Marker if b == 0xFF => State::Code,
                State::Marker => self.drop_frame(index),
                State::Code => match b {
                    0xFF => State::Code,
                    0xD8 => {
                        index.dropped += 1;
                        self.begin(at - 1)
                    }
                    0xD9 => self.end_frame(at + 1, index),
                    0x01 | 0xD0..=0xD7 => State::Marker,
                    0x00 => self.drop_frame(index),
                    0xDA => State::LenHi { sos: true },
                    _ => State::LenHi { sos: false },
                },
                State::LenHi { sos } => State::LenLo { sos, hi: b },
                State::LenLo { sos, hi } => {
                    let len = usize::from(u16::from_be_bytes([hi, b]));
                    if len < 2 {
                        self.drop_frame(index)
                    } else {
                        self.seen_sos |= sos;
                        self.after_segment(len - 2, sos)
                    }
                }
                State::Skip { remaining, sos } => {
                    // Skip the rest of the payload in one step.
                    let take = remaining.min(data.len() - i + 1);
                    i += take - 1;
                    self.after_segment(remaining - take, sos)
                }
                State::Entropy { ff: false } => {
                    // Jump to the next FF: nearly every byte is data.
                    match data[i - 1..].iter().position(|&x| x == 0xFF) {
                        Some(k) => {
                            i += k;
                            State::Entropy { ff: true }
                        }
                        None => {
                            i = data.len();
                            State::Entropy { ff: false }
                        }
                    }
                }
                State::Entropy { ff: true } => match b {
                    0x00 | 0xD0..=0xD7 => State::Entropy { ff: false },
                    0xFF => State::Entropy { ff: true },
                    0xD8 => {
                        index.dropped += 1;
                        self.begin(at - 1)
                    }
                    0xD9 => self.end_frame(at + 1, index),
                    0xDA => State::LenHi { sos: true },
                    _ => State::LenHi { sos: false },
                },
            };
            if !matches!(self.state, State::Outside { .. })
                && base + i as u64 - self.start > self.max_len as u64
            {
                return Err(CaptureError::JpegTooLarge {
                    offset: self.start,
                    limit: self.max_len,
                });
            }
        }
        self.pos = base + data.len() as u64;
        Ok(())
    }

    fn finish(&mut self, index: &mut MjpegIndex) {
        if !matches!(self.state, State::Outside { .. }) {
            index.dropped += 1;
        }
        self.state = State::Outside { ff: false };
    }

    fn begin(&mut self, start: u64) -> State {
        self.start = start;
        self.seen_sos = false;
        State::Marker
    }

    fn after_segment(&self, remaining: usize, sos: bool) -> State {
        match (remaining, sos) {
            (0, true) => State::Entropy { ff: false },
            (0, false) => State::Marker,
            (remaining, sos) => State::Skip { remaining, sos },
        }
    }

    fn end_frame(&mut self, end: u64, index: &mut MjpegIndex) -> State {
        if self.seen_sos {
            index.frames.push(JpegSpan {
                offset: self.start,
                // The length was checked against `max_len` as it grew.
                len: (end - self.start) as usize,
            });
        } else {
            index.dropped += 1;
        }
        State::Outside { ff: false }
    }

    fn drop_frame(&mut self, index: &mut MjpegIndex) -> State {
        index.dropped += 1;
        State::Outside { ff: false }
    }
}

/// Frames of an MJPEG file, delivered as [`FrameKind::Jpeg`] (no decoding),
/// ending after the last (or, with [`looping`](MjpegFileSource::looping),
/// starting again from the first). Frames without Huffman tables (webcam streams) get
/// the standard ones ([`ensure_huffman_tables`](crate::ensure_huffman_tables));
/// others are delivered byte for byte. Not paced: wrap it in [`Paced`](crate::Paced).
///
/// ```no_run
/// use framecast_capture::{Frame, FrameSource, MjpegFileSource};
///
/// let mut source = MjpegFileSource::open("recording.mjpeg")?;
/// let mut frame = Frame::default();
/// source.next_frame(&mut frame)?;
/// println!("{}x{} JPEG, {} bytes", frame.width(), frame.height(), frame.jpeg().map_or(0, <[u8]>::len));
/// # Ok::<(), framecast_capture::CaptureError>(())
/// ```
#[derive(Debug)]
pub struct MjpegFileSource {
    path: PathBuf,
    file: File,
    index: MjpegIndex,
    next: usize,
    sequence: u64,
    format: SourceFormat,
    limits: SourceLimits,
    clock: Arc<dyn Clock>,
    looping: bool,
}

impl MjpegFileSource {
    /// Starts again from the first frame after the last, instead of ending
    /// (builder style).
    pub fn looping(mut self, looping: bool) -> Self {
        self.looping = looping;
        self.format.frames = (!looping).then_some(self.index.frames.len() as u64);
        self
    }

    /// Opens and indexes `path` within the default [`SourceLimits`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CaptureError> {
        Self::open_with_limits(path, &SourceLimits::default())
    }

    /// Opens and indexes `path` within `limits`. Fails if the file holds no
    /// complete JPEG or its first JPEG's header is unreadable.
    pub fn open_with_limits(
        path: impl AsRef<Path>,
        limits: &SourceLimits,
    ) -> Result<Self, CaptureError> {
        let path = path.as_ref().to_path_buf();
        let file_error = |source| CaptureError::File {
            path: path.clone(),
            source,
        };
        let mut file = File::open(&path).map_err(file_error)?;
        let index = MjpegIndex::build(std::io::BufReader::new(&mut file), limits)?;
        let Some(&first) = index.frames.first() else {
            return Err(CaptureError::Empty {
                path,
                hint: " (expected concatenated JPEGs, each from FF D8 to FF D9)",
            });
        };
        let mut source = Self {
            path,
            file,
            index,
            next: 0,
            sequence: 0,
            format: SourceFormat::new(0, 0, FrameKind::Jpeg, PixelFormat::Rgb8, false),
            limits: *limits,
            clock: SystemClock::shared(),
            looping: false,
        };
        let mut jpeg = Vec::new();
        let (width, height) = source.read_span(first, &mut jpeg)?;
        source.format = SourceFormat::new(width, height, FrameKind::Jpeg, PixelFormat::Rgb8, false)
            .with_frames(Some(source.index.frames.len() as u64));
        Ok(source)
    }

    /// Stamps frames with `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The file's frame index.
    pub fn index(&self) -> &MjpegIndex {
        &self.index
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads one frame into `jpeg` and returns its size from its header.
    fn read_span(
        &mut self,
        span: JpegSpan,
        jpeg: &mut Vec<u8>,
    ) -> Result<(u32, u32), CaptureError> {
        jpeg.resize(span.len, 0);
        let read = self
            .file
            .seek(SeekFrom::Start(span.offset))
            .and_then(|_| self.file.read_exact(jpeg));
        read.map_err(|source| CaptureError::File {
            path: self.path.clone(),
            source,
        })?;
        // Recorded webcam streams may lack Huffman tables: complete them.
        crate::ensure_huffman_tables(jpeg).map_err(|e| match e {
            CaptureError::BadJpeg { source, .. } => CaptureError::BadJpeg {
                offset: span.offset,
                source,
            },
            e => e,
        })?;
        let info = probe_jpeg(jpeg).map_err(|source| CaptureError::BadJpeg {
            offset: span.offset,
            source,
        })?;
        self.limits.check_size(info.width, info.height)?;
        Ok((info.width, info.height))
    }
}

impl FrameSource for MjpegFileSource {
    fn format(&self) -> SourceFormat {
        self.format
    }

    /// Reads the next JPEG; after the last, ends with
    /// [`CaptureError::EndOfFile`], or starts again from the first when
    /// looping. A frame whose header is unreadable is reported as an error,
    /// and the next call goes on with the following frame.
    fn next_frame(&mut self, frame: &mut Frame) -> Result<(), CaptureError> {
        if self.next == self.index.frames.len() {
            if !self.looping {
                return Err(CaptureError::EndOfFile);
            }
            self.next = 0;
        }
        let span = self.index.frames[self.next];
        self.next += 1;
        let (width, height) = self.read_span(span, frame.jpeg_mut(0, 0))?;
        frame.jpeg_mut(width, height);
        frame.sequence = self.sequence;
        frame.capture_time_us = self.clock.unix_time_us();
        self.sequence += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &[u8] = include_bytes!("../testdata/testsrc_64x48.mjpeg");
    const BOUNDS: [(u64, usize); 5] = [
        (0, 1700),
        (1700, 1692),
        (3392, 1690),
        (5082, 1698),
        (6780, 1689),
    ];

    fn spans(index: &MjpegIndex) -> Vec<(u64, usize)> {
        index.frames().iter().map(|s| (s.offset, s.len)).collect()
    }

    #[test]
    fn finds_the_frames_ffmpeg_wrote() {
        let index = MjpegIndex::from_bytes(FIXTURE, &SourceLimits::default()).unwrap();
        assert_eq!(spans(&index), BOUNDS);
        assert_eq!((index.dropped(), index.skipped_bytes()), (0, 0));
    }

    /// Feeds the scanner in pieces of every size from 1 byte up: frame
    /// boundaries must not depend on where reads split the stream.
    #[test]
    fn boundaries_do_not_depend_on_read_sizes() {
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.1.min(buf.len()).min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        for step in [1, 2, 3, 7, 64, 1699, 1700, 1701] {
            let index =
                MjpegIndex::build(Trickle(FIXTURE, step), &SourceLimits::default()).unwrap();
            assert_eq!(spans(&index), BOUNDS, "reads of {step} bytes");
        }
    }

    #[test]
    fn markers_inside_segments_do_not_split_frames() {
        // A COM segment holding EOI and SOI byte pairs, and an APP1 holding a
        // whole tiny "JPEG", inserted after the first frame's SOI.
        let first = &FIXTURE[..1700];
        let mut tricky = first[..2].to_vec();
        tricky.extend_from_slice(&[0xFF, 0xFE, 0x00, 0x08, 0xFF, 0xD9, 0xFF, 0xD8, 0xFF, 0xD9]);
        tricky.extend_from_slice(&[0xFF, 0xE1, 0x00, 0x06, 0xFF, 0xD8, 0xFF, 0xD9]);
        tricky.extend_from_slice(&first[2..]);
        let mut stream = b"garbage".to_vec();
        stream.extend_from_slice(&tricky);
        stream.extend_from_slice(&FIXTURE[1700..3392]);
        let index = MjpegIndex::from_bytes(&stream, &SourceLimits::default()).unwrap();
        assert_eq!(
            spans(&index),
            [(7, tricky.len()), (7 + tricky.len() as u64, 1692)]
        );
        assert_eq!((index.dropped(), index.skipped_bytes()), (0, 7));
    }

    #[test]
    fn truncated_and_interrupted_frames_are_dropped() {
        // The fixture cut in the middle of its last frame.
        let cut = include_bytes!("../testdata/truncated_64x48.mjpeg");
        let index = MjpegIndex::from_bytes(cut, &SourceLimits::default()).unwrap();
        assert_eq!(spans(&index), BOUNDS[..4]);
        assert_eq!(index.dropped(), 1);
        // A frame cut short by the next SOI (a writer restarted mid-frame).
        let mut stream = FIXTURE[..1000].to_vec();
        stream.extend_from_slice(&FIXTURE[1700..3392]);
        let index = MjpegIndex::from_bytes(&stream, &SourceLimits::default()).unwrap();
        assert_eq!(spans(&index), [(1000, 1692)]);
        assert_eq!(index.dropped(), 1);
        // SOI, then EOI with no scan, then a bad marker: both dropped.
        let index = MjpegIndex::from_bytes(
            &[0xFF, 0xD8, 0xFF, 0xD9, 0xFF, 0xD8, 0x12],
            &SourceLimits::default(),
        )
        .unwrap();
        assert!(index.frames().is_empty());
        assert_eq!(index.dropped(), 2);
    }

    #[test]
    fn oversized_frames_are_refused() {
        let limits = SourceLimits::default().with_max_jpeg_bytes(1000);
        let err = MjpegIndex::from_bytes(FIXTURE, &limits).unwrap_err();
        assert!(
            matches!(
                err,
                CaptureError::JpegTooLarge {
                    offset: 0,
                    limit: 1000
                }
            ),
            "{err}"
        );
        // Garbage without frames is never "too large".
        let index = MjpegIndex::from_bytes(&[0u8; 5000], &limits).unwrap();
        assert_eq!((index.frames().len(), index.skipped_bytes()), (0, 5000));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap deterministic fuzz: mutate the fixture at many points.
        let mut data = FIXTURE.to_vec();
        let mut x = 0x1234_5678u32;
        for round in 0..300 {
            for _ in 0..8 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let i = x as usize % data.len();
                data[i] = (x >> 24) as u8;
            }
            let index = MjpegIndex::from_bytes(&data, &SourceLimits::default()).unwrap();
            let total: usize = index.frames().iter().map(|s| s.len).sum();
            assert!(total <= data.len(), "round {round}");
        }
    }
}
