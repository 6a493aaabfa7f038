//! [`SnapshotSink`]: keeps the latest frame; [`SnapshotHandle`] saves it as
//! PNG from any thread.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use framecast_codec::{DecodeLimits, Decoder, ImageBuf, PixelFormat, ZuneDecoder};

use crate::{DisplayError, EncodedFrame, FrameSink};

/// The latest frame, shared between the sink and its handles.
#[derive(Debug, Default)]
struct Latest {
    /// Its JPEG; the storage is reused, so it grows only for a larger frame.
    jpeg: Vec<u8>,
    info: Option<SnapshotInfo>,
}

/// Which frame a snapshot shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SnapshotInfo {
    /// The frame's stream.
    pub stream: u32,
    /// The frame's sequence number.
    pub sequence: u64,
    /// When it was captured (µs since the Unix epoch), if the sender said.
    pub capture_time_us: Option<u64>,
    /// Its width in pixels (set once decoded by a save; 0 before).
    pub width: u32,
    /// Its height in pixels (set once decoded by a save; 0 before).
    pub height: u32,
}

fn lock(latest: &Mutex<Latest>) -> MutexGuard<'_, Latest> {
    // A panic while holding the lock cannot leave `Latest` inconsistent in a
    // way that matters (at worst a half-copied JPEG, which fails to decode
    // with a clear error), so a poisoned lock is used as is.
    latest.lock().unwrap_or_else(|e| e.into_inner())
}

/// A sink that keeps a copy of the latest frame's JPEG (of any stream), so
/// that it can be saved as PNG on request through a [`SnapshotHandle`].
///
/// Per frame it only copies the JPEG into a reused buffer; the decoding is
/// done by [`SnapshotHandle::save`], on the thread that asks.
///
/// ```no_run
/// use framecast_display::{SnapshotSink, Tee};
///
/// let snapshots = SnapshotSink::new();
/// let handle = snapshots.handle();
/// let sink = Tee::new().with(snapshots); // ...given to the receiver
/// // Later, from any thread (e.g. on a key press or a signal):
/// let info = handle.save("snapshot.png")?;
/// println!("saved frame {} of stream {}", info.sequence, info.stream);
/// # Ok::<(), framecast_display::DisplayError>(())
/// ```
#[derive(Debug, Default)]
pub struct SnapshotSink {
    latest: Arc<Mutex<Latest>>,
}

impl SnapshotSink {
    /// A sink holding no frame yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A handle to save the latest frame from another thread.
    pub fn handle(&self) -> SnapshotHandle {
        SnapshotHandle {
            latest: Arc::clone(&self.latest),
            limits: DecodeLimits::default(),
        }
    }
}

impl FrameSink for SnapshotSink {
    fn show(&mut self, frame: &EncodedFrame<'_>) -> Result<(), DisplayError> {
        let mut latest = lock(&self.latest);
        latest.jpeg.clear();
        latest.jpeg.extend_from_slice(frame.jpeg);
        latest.info = Some(SnapshotInfo {
            stream: frame.stream,
            sequence: frame.sequence,
            capture_time_us: frame.capture_time_us,
            width: 0,
            height: 0,
        });
        Ok(())
    }
}

/// Saves the latest frame a [`SnapshotSink`] received. Cheap to clone and
/// usable from any thread.
#[derive(Debug, Clone)]
pub struct SnapshotHandle {
    latest: Arc<Mutex<Latest>>,
    limits: DecodeLimits,
}

impl SnapshotHandle {
    /// Uses `limits` when decoding the frame to save (the default limits
    /// otherwise).
    pub fn with_limits(mut self, limits: DecodeLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Which frame a save would write now, if any has arrived.
    pub fn latest(&self) -> Option<SnapshotInfo> {
        lock(&self.latest).info
    }

    /// Decodes the latest frame and writes it as an RGB PNG to `path`. The
    /// file is written under a temporary name and renamed, so `path` never
    /// holds a half-written picture.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<SnapshotInfo, DisplayError> {
        let path = path.as_ref();
        let mut tmp_name = path.as_os_str().to_owned();
        tmp_name.push(".partial");
        let tmp = Path::new(&tmp_name);
        let file = File::create(tmp).map_err(|source| DisplayError::Create {
            path: tmp.to_owned(),
            source,
        })?;
        let result = self
            .write_png(BufWriter::new(file))
            .and_then(|info| Ok(std::fs::rename(tmp, path).map(|()| info)?));
        if result.is_err() {
            // Best effort: the temporary file is useless now.
            let _ = std::fs::remove_file(tmp);
        }
        result
    }

    /// Decodes the latest frame and writes it as an RGB PNG to `out`.
    pub fn write_png(&self, out: impl Write) -> Result<SnapshotInfo, DisplayError> {
        // Copy out under the lock and decode outside it, so the receiver is
        // never held up by a save.
        let (jpeg, mut info) = {
            let latest = lock(&self.latest);
            let info = latest.info.ok_or(DisplayError::NoFrame)?;
            (latest.jpeg.clone(), info)
        };
        let mut picture = ImageBuf::empty(PixelFormat::Rgb8);
        ZuneDecoder::new(self.limits)
            .decode(&jpeg, &mut picture)
            .map_err(|source| DisplayError::Decode {
                stream: info.stream,
                sequence: info.sequence,
                source,
            })?;
        info.width = picture.width();
        info.height = picture.height();

        let mut encoder = png::Encoder::new(out, picture.width(), picture.height());
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(picture.data())?;
        writer.finish()?;
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUADRANTS: &[u8] = include_bytes!("../tests/data/quadrants-400x400.jpg");

    fn frame(sequence: u64, jpeg: &[u8]) -> EncodedFrame<'_> {
        EncodedFrame::new(2, "t", jpeg)
            .with_sequence(sequence)
            .with_capture_time_us(Some(5))
    }

    #[test]
    fn nothing_to_save_before_the_first_frame() {
        let sink = SnapshotSink::new();
        assert!(sink.handle().latest().is_none());
        let err = sink.handle().write_png(Vec::new()).unwrap_err();
        assert!(matches!(err, DisplayError::NoFrame));
    }

    #[test]
    fn saves_the_latest_frame_as_png() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snap.png");
        let mut sink = SnapshotSink::new();
        let handle = sink.handle();
        sink.show(&frame(1, b"an older frame")).unwrap();
        sink.show(&frame(2, QUADRANTS)).unwrap();
        // Saved from another thread.
        let info = std::thread::spawn(move || handle.save(&path).map(|i| (i, path)))
            .join()
            .unwrap();
        let (info, path) = info.unwrap();
        assert_eq!(
            (info.stream, info.sequence, info.capture_time_us),
            (2, 2, Some(5))
        );
        assert_eq!((info.width, info.height), (400, 400));
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary left"
        );

        let decoder = png::Decoder::new(std::io::BufReader::new(File::open(&path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut rgb = vec![0; reader.output_buffer_size().unwrap()];
        let png = reader.next_frame(&mut rgb).unwrap();
        assert_eq!(
            (png.width, png.height, png.color_type),
            (400, 400, png::ColorType::Rgb)
        );
        let at = |x: usize, y: usize| &rgb[(y * 400 + x) * 3..(y * 400 + x) * 3 + 3];
        for (x, y, want) in [(100, 100, [255, 0, 0]), (300, 300, [255, 255, 0])] {
            let got = at(x, y);
            assert!(
                got.iter()
                    .zip(want)
                    .all(|(g, w): (&u8, u8)| g.abs_diff(w) <= 40),
                "{got:?}"
            );
        }
    }

    #[test]
    fn an_undecodable_frame_is_an_error_and_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = SnapshotSink::new();
        sink.show(&frame(9, &QUADRANTS[..500])).unwrap();
        let err = sink.handle().save(dir.path().join("x.png")).unwrap_err();
        assert!(
            matches!(err, DisplayError::Decode { sequence: 9, .. }),
            "{err}"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let err = sink
            .handle()
            .save(dir.path().join("no/such/dir.png"))
            .unwrap_err();
        assert!(matches!(err, DisplayError::Create { .. }), "{err}");
    }
}
