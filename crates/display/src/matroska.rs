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

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

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

/// The wall clock in µs since the Unix epoch (a recording's date, and the
/// window's latency figures).
pub(crate) fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// A [`FrameSink`] that writes every frame it is given, unchanged, to a
/// Matroska file with its capture time (`V_MJPEG`, one cluster per frame).
///
/// Frames are timed by their capture time (from the sender), so the file
/// plays at the pace they were captured; frames without one are timed when
/// they are written. Give each recorder one stream: its track has one size.
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
    first_us: Option<u64>,
    last_ms: u64,
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
            first_us: None,
            last_ms: 0,
            frames: 0,
            bytes: 0,
            buf: Vec::new(),
            scratch: Vec::with_capacity(32),
            finished: false,
        }
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The writer.
    pub fn into_inner(self) -> W {
        self.out
    }

    /// Writes one JPEG captured at `time_us` (µs since the Unix epoch),
    /// shown at `display_size` when given.
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
        time_us: u64,
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
        let first = *self.first_us.get_or_insert(time_us);
        // Timestamps never go back, whatever a sender's clock does.
        let ms = (time_us.saturating_sub(first) / 1000).max(self.last_ms);
        self.last_ms = ms;
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
        let time = frame.capture_time_us.unwrap_or_else(now_us);
        self.write_frame(
            frame.stream,
            frame.sequence,
            frame.jpeg,
            time,
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
        let duration = if self.frames > 1 {
            self.last_ms as f64 * self.frames as f64 / (self.frames - 1) as f64
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
