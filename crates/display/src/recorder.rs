//! [`Recorder`]: received JPEGs, appended unchanged to a Motion-JPEG file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use crate::{DisplayError, EncodedFrame, FrameSink};

/// A sink that appends each frame's JPEG, byte for byte, to a Motion-JPEG
/// stream.
///
/// A `.mjpeg` file here is the simplest Motion-JPEG there is: complete JPEG
/// files back to back, nothing between them.
///
/// ```text
/// FF D8 ... FF D9 | FF D8 ... FF D9 | FF D8 ... FF D9 | ...
///    frame 0           frame 1           frame 2
/// ```
///
/// Players read it as raw MJPEG (`ffplay -f mjpeg rec.mjpeg`, or VLC with
/// the `.mjpeg` extension), and a reader splits it at the SOI/EOI markers.
///
/// Crash safety: each frame goes to the writer in one `write_all` of the
/// whole JPEG, followed by a `flush`. [`Recorder::create`] writes straight
/// to the file with no user-space buffer, so when `show` returns the frame
/// is in the operating system's hands and survives the process being killed;
/// a kill during a write leaves at most one truncated frame at the tail,
/// which readers drop. Flushing per frame costs nothing extra here (there is
/// no buffer to flush, and one write per frame is the minimum anyway); it
/// matters only for a buffered writer given to [`Recorder::new`], where it
/// keeps the same guarantee. Surviving power loss needs `fsync`, which costs
/// milliseconds on slow storage and is therefore left to the caller:
/// [`Recorder::sync`].
///
/// Frames that are not complete JPEGs (no SOI at the start, no EOI at the
/// end, unreadable header) are refused with [`DisplayError::NotJpeg`] and
/// not written, so one bad frame never corrupts the file.
///
/// ```
/// use framecast_display::{EncodedFrame, FrameSink, Recorder};
///
/// let mut rec = Recorder::new(Vec::new());
/// let bad = EncodedFrame::new(0, "", b"oops").with_sequence(7);
/// assert!(rec.show(&bad).is_err());
/// assert_eq!(rec.frames(), 0);
/// assert!(rec.into_inner().is_empty());
/// ```
#[derive(Debug)]
pub struct Recorder<W: Write + Send> {
    writer: W,
    frames: u64,
    bytes: u64,
}

impl Recorder<File> {
    /// Creates the file at `path` and records into it; fails if it exists
    /// (a recording never destroys another file: see
    /// [`append`](Self::append) to add to one).
    ///
    /// # Errors
    ///
    /// [`DisplayError::Create`] when the file exists or cannot be created.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, DisplayError> {
        let path = path.as_ref();
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map(Self::new)
            .map_err(|source| DisplayError::Create {
                path: path.to_owned(),
                source,
            })
    }

    /// Opens the file at `path` (creating it if needed) and records after
    /// whatever it already holds.
    pub fn append(path: impl AsRef<Path>) -> Result<Self, DisplayError> {
        let path = path.as_ref();
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map(Self::new)
            .map_err(|source| DisplayError::Create {
                path: path.to_owned(),
                source,
            })
    }

    /// Asks the operating system to put everything recorded so far on
    /// stable storage (`fsync`), so that it survives a power loss too.
    pub fn sync(&mut self) -> Result<(), DisplayError> {
        self.writer.sync_data()?;
        Ok(())
    }
}

impl<W: Write + Send> Recorder<W> {
    /// Records into `writer`.
    pub fn new(writer: W) -> Self {
        Self {
            writer,
            frames: 0,
            bytes: 0,
        }
    }

    /// Frames recorded so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Bytes recorded so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The writer.
    pub fn get_ref(&self) -> &W {
        &self.writer
    }

    /// Gives the writer back.
    pub fn into_inner(self) -> W {
        self.writer
    }
}

/// Why `jpeg` cannot be recorded as one frame, if it cannot.
fn check_jpeg(jpeg: &[u8]) -> Result<(), &'static str> {
    if !jpeg.starts_with(&[0xFF, 0xD8]) {
        return Err("it does not start with the SOI marker FF D8");
    }
    if !jpeg.ends_with(&[0xFF, 0xD9]) || jpeg.len() < 4 {
        return Err("it does not end with the EOI marker FF D9");
    }
    framecast_image::probe_jpeg(jpeg).map_err(|_| "its header cannot be read")?;
    Ok(())
}

impl<W: Write + Send> FrameSink for Recorder<W> {
    fn show(&mut self, frame: &EncodedFrame<'_>) -> Result<(), DisplayError> {
        check_jpeg(frame.jpeg).map_err(|reason| DisplayError::NotJpeg {
            stream: frame.stream,
            sequence: frame.sequence,
            reason,
        })?;
        // One write of the whole frame, then a flush: see the module docs.
        self.writer.write_all(frame.jpeg)?;
        self.writer.flush()?;
        self.frames += 1;
        self.bytes += frame.jpeg.len() as u64;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), DisplayError> {
        self.writer.flush()?;
        Ok(())
    }
}
