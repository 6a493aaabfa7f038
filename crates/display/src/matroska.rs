//! [`MatroskaRecorder`]: received JPEGs, unchanged, in a Matroska file
//! (`V_MJPEG`) with each frame's capture time, so players show it at the
//! pace it was captured.
//!
//! No well-kept Rust Matroska muxer fits (the ones published are readers,
//! young and incomplete, or bind a C++ library limited to WebM codecs), and
//! what a recorder needs is small, so the few EBML elements are written
//! here:
//!
//! ```text
//! EBML header (DocType "matroska")
//! Segment (size patched at the end; "unknown" until then)
//!   Info: TimestampScale 1 ms, Duration (patched at the end), MuxingApp, WritingApp
//!   Tracks: one video track, CodecID V_MJPEG, PixelWidth/Height from the
//!           first JPEG, DisplayWidth/Height from the captured size
//!   Cluster: Timestamp t, SimpleBlock (track 1, keyframe, the JPEG)   one per frame
//!   Cluster: ...
//! ```
//!
//! One cluster per frame keeps every frame whole on disk on its own: a
//! recorder killed mid-frame leaves a file that plays up to the last whole
//! frame (the segment's size is then "unknown", which players accept).
//!
//! The timeline follows the sender's capture times, step by step, as long
//! as they are sane: each frame's step is the difference between its
//! capture time and the previous frame's, when that is positive and not
//! more than [`DEFAULT_JUMP_TOLERANCE`] longer than the time between the
//! two frames' arrivals. A step that is not (a clock set forward or back,
//! a capture time of 0 or `u64::MAX`, a repeated one) is absorbed: that
//! frame is placed after the previous one by their arrival times instead
//! (or by the stream's usual step, if the frames arrived closer), and
//! counted ([`MatroskaRecorder::clock_jumps`]); later frames follow the
//! sender's clock again from there. Timestamps always increase, by at
//! least 1 ms, and stay within the recording's real length.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use framecast_image::probe_jpeg;

use crate::{DisplayError, EncodedFrame, FrameSink};

const EBML: u32 = 0x1A45_DFA3;
const EBML_VERSION: u32 = 0x4286;
const EBML_READ_VERSION: u32 = 0x42F7;
const EBML_MAX_ID_LENGTH: u32 = 0x42F2;
const EBML_MAX_SIZE_LENGTH: u32 = 0x42F3;
const DOC_TYPE: u32 = 0x4282;
const DOC_TYPE_VERSION: u32 = 0x4287;
const DOC_TYPE_READ_VERSION: u32 = 0x4285;
const SEGMENT: u32 = 0x1853_8067;
const INFO: u32 = 0x1549_A966;
const TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
const DURATION: u32 = 0x4489;
const MUXING_APP: u32 = 0x4D80;
const WRITING_APP: u32 = 0x5741;
const TRACKS: u32 = 0x1654_AE6B;
const TRACK_ENTRY: u32 = 0xAE;
const TRACK_NUMBER: u32 = 0xD7;
const TRACK_UID: u32 = 0x73C5;
const TRACK_TYPE: u32 = 0x83;
const FLAG_LACING: u32 = 0x9C;
const CODEC_ID: u32 = 0x86;
const VIDEO: u32 = 0xE0;
const PIXEL_WIDTH: u32 = 0xB0;
const PIXEL_HEIGHT: u32 = 0xBA;
const DISPLAY_WIDTH: u32 = 0x54B0;
const DISPLAY_HEIGHT: u32 = 0x54BA;
const CLUSTER: u32 = 0x1F43_B675;
const TIMESTAMP: u32 = 0xE7;
const SIMPLE_BLOCK: u32 = 0xA3;

/// An element size meaning "unknown": all value bits set, 8 bytes.
const UNKNOWN_SIZE: [u8; 8] = [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];

fn put_id(out: &mut Vec<u8>, id: u32) {
    let bytes = id.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    out.extend_from_slice(&bytes[skip..]);
}

/// An EBML variable-length size, in the fewest bytes.
fn put_size(out: &mut Vec<u8>, size: u64) {
    let mut len = 1;
    // Sizes with all value bits set are reserved (unknown), hence `- 1`.
    while len < 8 && size >= (1u64 << (7 * len)) - 1 {
        len += 1;
    }
    let marked = size | (1u64 << (7 * len));
    out.extend_from_slice(&marked.to_be_bytes()[8 - len..]);
}

/// A size in exactly 8 bytes, to be patched later.
fn size8(size: u64) -> [u8; 8] {
    (size | (1u64 << 56)).to_be_bytes()
}

fn put_uint(out: &mut Vec<u8>, id: u32, value: u64) {
    put_id(out, id);
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count().min(7);
    put_size(out, (8 - skip) as u64);
    out.extend_from_slice(&bytes[skip..]);
}

fn put_str(out: &mut Vec<u8>, id: u32, value: &str) {
    put_id(out, id);
    put_size(out, value.len() as u64);
    out.extend_from_slice(value.as_bytes());
}

fn put_master(out: &mut Vec<u8>, id: u32, body: &[u8]) {
    put_id(out, id);
    put_size(out, body.len() as u64);
    out.extend_from_slice(body);
}

/// The wall clock in µs since the Unix epoch (the window's latency
/// figures).
#[cfg_attr(not(feature = "window"), allow(dead_code))]
pub(crate) fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// How much longer than the time between two frames' arrivals the step
/// between their capture times may be before a recording stops following
/// the sender's clock for that step: 2 s, far more than any network
/// jitter, far less than a clock set an hour forward.
pub const DEFAULT_JUMP_TOLERANCE: Duration = Duration::from_secs(2);

/// A step of the sender's clock that a recording did not follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClockJump {
    /// The frame's sequence number.
    pub sequence: u64,
    /// Its capture time minus the previous frame's, in µs: negative for a
    /// clock that went back, 0 for a repeated time.
    pub step_us: i128,
    /// The step taken instead, in µs: the time between the two frames'
    /// arrivals, or the stream's usual step if that is longer.
    pub arrival_step_us: u64,
}

/// Places frames on a recording's timeline (see the module docs): the
/// sender's capture times step by step while they are sane, the arrival
/// times where they are not; always increasing.
#[derive(Debug, Clone)]
struct Timeline {
    tolerance_us: u64,
    /// The previous frame's capture time and arrival, once there was one.
    last: Option<(Option<u64>, Instant)>,
    /// The previous frame's place, in µs from the first.
    position_us: u64,
    /// The usual step of the sender's clock (a running average of the
    /// steps followed).
    typical_us: Option<u64>,
    last_ms: u64,
    jumps: u64,
    last_jump: Option<ClockJump>,
}

impl Timeline {
    fn new(tolerance: Duration) -> Self {
        Self {
            tolerance_us: u64::try_from(tolerance.as_micros()).unwrap_or(u64::MAX),
            last: None,
            position_us: 0,
            typical_us: None,
            last_ms: 0,
            jumps: 0,
            last_jump: None,
        }
    }

    /// The timestamp, in ms from the first frame, of a frame captured at
    /// `capture_us` (µs since the Unix epoch, if known) that arrived at
    /// `arrival`.
    fn place(&mut self, sequence: u64, capture_us: Option<u64>, arrival: Instant) -> u64 {
        let Some((last_capture, last_arrival)) = self.last.replace((capture_us, arrival)) else {
            return 0;
        };
        let arrived_us = u64::try_from(arrival.saturating_duration_since(last_arrival).as_micros())
            .unwrap_or(u64::MAX);
        let step = match (last_capture, capture_us) {
            (Some(before), Some(now)) => {
                let step = i128::from(now) - i128::from(before);
                if step > 0 && step <= i128::from(arrived_us.saturating_add(self.tolerance_us)) {
                    // Positive and within the tolerance: fits in u64.
                    let step = u64::try_from(step).unwrap_or(arrived_us);
                    self.typical_us = Some(match self.typical_us {
                        Some(t) => t - t / 8 + step / 8,
                        None => step,
                    });
                    step
                } else {
                    // The arrival gap, but never less than the stream's
                    // usual step: frames that arrived in a burst were
                    // still captured a frame interval apart.
                    let taken = arrived_us.max(self.typical_us.unwrap_or(0));
                    self.jumps += 1;
                    self.last_jump = Some(ClockJump {
                        sequence,
                        step_us: step,
                        arrival_step_us: taken,
                    });
                    taken
                }
            }
            // A sender that stamps no times: the frames' arrival is all
            // there is.
            _ => arrived_us,
        };
        self.position_us = self.position_us.saturating_add(step);
        // Strictly increasing; a frame nudged forward moves no later one.
        let ms = (self.position_us / 1000).max(self.last_ms + 1);
        self.last_ms = ms;
        ms
    }
}

/// A [`FrameSink`] that writes every frame it is given, unchanged, to a
/// Matroska file with its capture time (`V_MJPEG`, one cluster per frame).
///
/// Frames are timed by their capture times (from the sender), so the file
/// plays at the pace they were captured; where the sender's clock jumps,
/// or a frame has no capture time, by when the frames arrived (see the
/// module docs). Give each recorder one stream: its track has one size.
///
/// ```
/// use std::io::Cursor;
///
/// use framecast_display::{EncodedFrame, FrameSink, MatroskaRecorder};
///
/// # let jpeg = {
/// #     let mut out = Vec::new();
/// #     let img = framecast_codec::ImageBuf::new(16, 16, framecast_codec::PixelFormat::Rgb8);
/// #     framecast_codec::SenderPipeline::new(framecast_codec::SenderConfig::new(16, 16)).unwrap().encode(img.as_image(), &mut out).unwrap();
/// #     out
/// # };
/// let mut rec = MatroskaRecorder::new(Cursor::new(Vec::new()));
/// for i in 0..3u64 {
///     let frame = EncodedFrame::new(1, "cam", &jpeg)
///         .with_sequence(i)
///         .with_capture_time_us(Some(1_700_000_000_000_000 + i * 40_000));
///     rec.show(&frame)?;
/// }
/// rec.finish()?;
/// let file = rec.into_inner().into_inner();
/// assert_eq!(&file[..4], &[0x1A, 0x45, 0xDF, 0xA3]); // EBML
/// assert_eq!(rec_frames(&file), 3);
/// # fn rec_frames(f: &[u8]) -> usize { f.windows(4).filter(|w| w == &[0x1F, 0x43, 0xB6, 0x75]).count() }
/// # Ok::<(), framecast_display::DisplayError>(())
/// ```
#[derive(Debug)]
pub struct MatroskaRecorder<W: Write + Seek + Send> {
    out: W,
    /// Where the segment's size field is, and where its data starts.
    segment: Option<(u64, u64)>,
    /// Where the duration's 8 bytes of data are.
    duration_at: u64,
    timeline: Timeline,
    frames: u64,
    bytes: u64,
    buf: Vec<u8>,
    scratch: Vec<u8>,
    finished: bool,
}

impl MatroskaRecorder<File> {
    /// Creates `path`; fails if it exists (a recording is never written
    /// over another file).
    ///
    /// # Errors
    ///
    /// [`DisplayError::Create`] when the file cannot be created.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, DisplayError> {
        let path = path.as_ref();
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|source| DisplayError::Create {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Self::new(file))
    }
}

impl<W: Write + Seek + Send> MatroskaRecorder<W> {
    /// A recorder writing to `out` (from its current position).
    pub fn new(out: W) -> Self {
        Self {
            out,
            segment: None,
            duration_at: 0,
            timeline: Timeline::new(DEFAULT_JUMP_TOLERANCE),
            frames: 0,
            bytes: 0,
            buf: Vec::new(),
            scratch: Vec::with_capacity(32),
            finished: false,
        }
    }

    /// How much longer than the arrival gap a step of the sender's clock
    /// may be and still be followed (default [`DEFAULT_JUMP_TOLERANCE`]);
    /// set it before the first frame.
    #[must_use]
    pub fn with_jump_tolerance(mut self, tolerance: Duration) -> Self {
        self.timeline = Timeline::new(tolerance);
        self
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Steps of the sender's clock not followed so far (see the module
    /// docs).
    pub fn clock_jumps(&self) -> u64 {
        self.timeline.jumps
    }

    /// The latest of them.
    pub fn last_clock_jump(&self) -> Option<ClockJump> {
        self.timeline.last_jump
    }

    /// The timestamp of the last frame written, in ms from the first.
    pub fn last_timestamp_ms(&self) -> u64 {
        self.timeline.last_ms
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The writer.
    pub fn into_inner(self) -> W {
        self.out
    }

    /// Writes one JPEG captured at `capture_us` (µs since the Unix epoch,
    /// when known) that arrived at `arrival`, shown at `display_size` when
    /// given.
    ///
    /// # Errors
    ///
    /// [`DisplayError::NotJpeg`] for data that is not a JPEG (nothing is
    /// written), [`DisplayError::Io`] when writing fails.
    pub fn write_frame(
        &mut self,
        stream: u32,
        sequence: u64,
        jpeg: &[u8],
        capture_us: Option<u64>,
        arrival: Instant,
        display_size: Option<(u32, u32)>,
    ) -> Result<(), DisplayError> {
        let info = probe_jpeg(jpeg).map_err(|_| DisplayError::NotJpeg {
            stream,
            sequence,
            reason: "its header cannot be read",
        })?;
        if self.segment.is_none() {
            self.start(info.width, info.height, display_size)?;
        }
        let ms = self.timeline.place(sequence, capture_us, arrival);
        self.buf.clear();
        let body = &mut self.scratch;
        body.clear();
        put_uint(body, TIMESTAMP, ms);
        // SimpleBlock: track 1 (vint 0x81), relative time 0, keyframe.
        put_id(body, SIMPLE_BLOCK);
        put_size(body, 4 + jpeg.len() as u64);
        body.extend_from_slice(&[0x81, 0x00, 0x00, 0x80]);
        put_id(&mut self.buf, CLUSTER);
        put_size(&mut self.buf, (body.len() + jpeg.len()) as u64);
        self.buf.extend_from_slice(body);
        // One write per frame: header and picture together.
        self.buf.extend_from_slice(jpeg);
        self.out.write_all(&self.buf)?;
        self.out.flush()?;
        self.frames += 1;
        self.bytes += self.buf.len() as u64;
        Ok(())
    }

    fn start(
        &mut self,
        width: u32,
        height: u32,
        display: Option<(u32, u32)>,
    ) -> Result<(), DisplayError> {
        let mut head = Vec::with_capacity(256);
        let mut ebml = Vec::new();
        put_uint(&mut ebml, EBML_VERSION, 1);
        put_uint(&mut ebml, EBML_READ_VERSION, 1);
        put_uint(&mut ebml, EBML_MAX_ID_LENGTH, 4);
        put_uint(&mut ebml, EBML_MAX_SIZE_LENGTH, 8);
        put_str(&mut ebml, DOC_TYPE, "matroska");
        put_uint(&mut ebml, DOC_TYPE_VERSION, 4);
        put_uint(&mut ebml, DOC_TYPE_READ_VERSION, 2);
        put_master(&mut head, EBML, &ebml);
        let base = self.out.stream_position()?;
        put_id(&mut head, SEGMENT);
        let segment_size_at = base + head.len() as u64;
        head.extend_from_slice(&UNKNOWN_SIZE);
        let segment_data = base + head.len() as u64;

        let mut info = Vec::new();
        put_uint(&mut info, TIMESTAMP_SCALE, 1_000_000);
        put_id(&mut info, DURATION);
        put_size(&mut info, 8);
        let duration_in_info = info.len();
        info.extend_from_slice(&0f64.to_be_bytes());
        put_str(&mut info, MUXING_APP, "framecast");
        put_str(
            &mut info,
            WRITING_APP,
            concat!("framecast ", env!("CARGO_PKG_VERSION")),
        );
        put_id(&mut head, INFO);
        put_size(&mut head, info.len() as u64);
        self.duration_at = base + head.len() as u64 + duration_in_info as u64;
        head.extend_from_slice(&info);

        let mut video = Vec::new();
        put_uint(&mut video, PIXEL_WIDTH, u64::from(width));
        put_uint(&mut video, PIXEL_HEIGHT, u64::from(height));
        if let Some((w, h)) = display.filter(|&(w, h)| w > 0 && h > 0) {
            put_uint(&mut video, DISPLAY_WIDTH, u64::from(w));
            put_uint(&mut video, DISPLAY_HEIGHT, u64::from(h));
        }
        let mut entry = Vec::new();
        put_uint(&mut entry, TRACK_NUMBER, 1);
        put_uint(&mut entry, TRACK_UID, 1);
        put_uint(&mut entry, TRACK_TYPE, 1);
        put_uint(&mut entry, FLAG_LACING, 0);
        put_str(&mut entry, CODEC_ID, "V_MJPEG");
        put_master(&mut entry, VIDEO, &video);
        let mut tracks = Vec::new();
        put_master(&mut tracks, TRACK_ENTRY, &entry);
        put_master(&mut head, TRACKS, &tracks);

        self.out.write_all(&head)?;
        self.bytes += head.len() as u64;
        self.segment = Some((segment_size_at, segment_data));
        Ok(())
    }
}

impl<W: Write + Seek + Send> FrameSink for MatroskaRecorder<W> {
    fn show(&mut self, frame: &EncodedFrame<'_>) -> Result<(), DisplayError> {
        self.write_frame(
            frame.stream,
            frame.sequence,
            frame.jpeg,
            frame.capture_time_us,
            frame.received.unwrap_or_else(Instant::now),
            frame.source_size,
        )
    }

    /// Writes the segment's size and the duration, so players know the
    /// length; without this the file still plays.
    fn finish(&mut self) -> Result<(), DisplayError> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        let Some((size_at, data_at)) = self.segment else {
            return Ok(());
        };
        let end = self.out.stream_position()?;
        // The last frame lasts as long as the average one did.
        let last_ms = self.timeline.last_ms;
        let duration = if self.frames > 1 {
            last_ms as f64 * self.frames as f64 / (self.frames - 1) as f64
        } else {
            0.0
        };
        self.out.seek(SeekFrom::Start(size_at))?;
        self.out.write_all(&size8(end - data_at))?;
        self.out.seek(SeekFrom::Start(self.duration_at))?;
        self.out.write_all(&duration.to_be_bytes())?;
        self.out.seek(SeekFrom::Start(end))?;
        self.out.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 300 frames 33.333 ms apart, by capture time and by arrival, with
    /// `wild` capture times at some frames; the timestamps given.
    fn timeline(wild: &[(usize, u64)]) -> (Vec<u64>, Timeline) {
        let start = Instant::now();
        let epoch_us = 1_700_000_000_000_000u64;
        let mut t = Timeline::new(DEFAULT_JUMP_TOLERANCE);
        let stamps = (0..300usize)
            .map(|i| {
                let step = i as u64 * 33_333;
                let capture = wild
                    .iter()
                    .find(|(at, _)| *at == i)
                    .map_or(epoch_us + step, |&(_, v)| v);
                t.place(i as u64, Some(capture), start + Duration::from_micros(step))
            })
            .collect();
        (stamps, t)
    }

    fn assert_sane(stamps: &[u64]) {
        assert!(stamps.windows(2).all(|w| w[1] > w[0]), "{stamps:?}");
        // 299 steps of 33.3 ms: 9.967 s, give or take a frame.
        let last = *stamps.last().unwrap();
        assert!(
            (9_900..=10_050).contains(&last),
            "the last frame at {last} ms"
        );
    }

    #[test]
    fn a_sane_clock_is_followed_exactly() {
        let (stamps, t) = timeline(&[]);
        assert_sane(&stamps);
        assert_eq!(stamps[3], 99);
        assert_eq!(t.jumps, 0);
    }

    #[test]
    fn an_hour_ahead_is_absorbed_and_the_clock_followed_after() {
        let now = 1_700_000_000_000_000u64;
        // One frame stamped an hour ahead.
        let (stamps, t) = timeline(&[(100, now + 3_600_000_000 + 3_333_300)]);
        assert_sane(&stamps);
        // Out and back: two steps absorbed.
        assert_eq!(t.jumps, 2);
        assert!(
            (33..=34).contains(&(stamps[100] - stamps[99])),
            "{stamps:?}"
        );
        let jump = t.last_jump.unwrap();
        assert_eq!(jump.sequence, 101);
        assert!(jump.step_us < -3_599_000_000, "{jump:?}");
    }

    #[test]
    fn zero_then_the_largest_time_is_absorbed() {
        let (stamps, t) = timeline(&[(50, 0), (51, u64::MAX), (52, u64::MAX), (53, 0)]);
        assert_sane(&stamps);
        // Into 0, up to u64::MAX, the same again, back to 0, back to the
        // clock: five steps absorbed.
        assert_eq!(t.jumps, 5);
    }

    #[test]
    fn a_backwards_step_and_repeated_times_never_stop_the_timeline() {
        let now = 1_700_000_000_000_000u64;
        let back: Vec<(usize, u64)> = (200..300)
            .map(|i| (i, now + i as u64 * 33_333 - 5_000_000))
            .collect();
        let (stamps, t) = timeline(&back);
        assert_sane(&stamps);
        assert_eq!(t.jumps, 1, "one step back, then the clock is followed");
        // A clock that stood still for ten frames: absorbed while it stands;
        // the step when it moves again (666 ms for 33 ms of arrival) is
        // within the tolerance and followed.
        let same: Vec<(usize, u64)> = (10..20).map(|i| (i, now)).collect();
        let (stamps, t) = timeline(&same);
        assert!(stamps.windows(2).all(|w| w[1] > w[0]), "{stamps:?}");
        assert!(*stamps.last().unwrap() <= 10_700, "{stamps:?}");
        assert_eq!(t.jumps, 10);
    }

    #[test]
    fn a_jump_in_a_burst_takes_the_usual_step() {
        let start = Instant::now();
        let mut t = Timeline::new(DEFAULT_JUMP_TOLERANCE);
        let epoch = 1_700_000_000_000_000u64;
        for i in 0..10u64 {
            t.place(
                i,
                Some(epoch + i * 40_000),
                start + Duration::from_millis(i * 40),
            );
        }
        assert_eq!(t.last_ms, 360);
        // Read in the same instant as the one before, stamped in 1970.
        assert_eq!(
            t.place(10, Some(5), start + Duration::from_millis(360)),
            400
        );
        assert_eq!(t.last_jump.unwrap().arrival_step_us, 40_000);
    }

    #[test]
    fn frames_without_capture_times_follow_their_arrival() {
        let start = Instant::now();
        let mut t = Timeline::new(DEFAULT_JUMP_TOLERANCE);
        let at = |ms| start + Duration::from_millis(ms);
        assert_eq!(t.place(0, None, at(0)), 0);
        assert_eq!(t.place(1, None, at(40)), 40);
        // Two frames read at the same instant still get distinct times.
        assert_eq!(t.place(2, None, at(40)), 41);
        assert_eq!(t.place(3, None, at(100)), 100);
        assert_eq!(t.jumps, 0);
    }

    #[test]
    fn sizes_are_minimal_and_never_the_unknown_value() {
        let size = |n| {
            let mut v = Vec::new();
            put_size(&mut v, n);
            v
        };
        assert_eq!(size(0), [0x80]);
        assert_eq!(size(126), [0xFE]);
        // 127 would be all ones in one byte: "unknown". Two bytes instead.
        assert_eq!(size(127), [0x40, 0x7F]);
        assert_eq!(size(300), [0x41, 0x2C]);
        assert_eq!(size8(5), [0x01, 0, 0, 0, 0, 0, 0, 5]);
        let mut id = Vec::new();
        put_id(&mut id, SEGMENT);
        put_id(&mut id, TIMESTAMP);
        assert_eq!(id, [0x18, 0x53, 0x80, 0x67, 0xE7]);
        let mut u = Vec::new();
        put_uint(&mut u, TRACK_NUMBER, 0);
        put_uint(&mut u, TIMESTAMP_SCALE, 1_000_000);
        assert_eq!(
            u,
            [0xD7, 0x81, 0x00, 0x2A, 0xD7, 0xB1, 0x83, 0x0F, 0x42, 0x40]
        );
    }
}
