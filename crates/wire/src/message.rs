//! The typed layer: [`MessageReader`] and [`MessageWriter`] read and write
//! one prost message type over the blocking adapters.

use std::fmt;
use std::io::{Read, Write};
use std::marker::PhantomData;

use crate::blocking::{FrameReader, FrameWriter};
use crate::codec::FrameCodec;
use crate::error::WireError;

/// Reads messages of type `M`, one per frame, from a blocking [`Read`].
///
/// A thin typed face of [`FrameReader::read_message`]: a frame whose payload
/// is not a valid `M` is a [`WireError::Message`], after which the reader is
/// still usable (the bad frame was consumed), so a receiver can count it and
/// go on.
///
/// ```
/// use framecast_proto::video::Video;
/// use framecast_wire::{MessageReader, MessageWriter};
///
/// let mut tx = MessageWriter::<_, Video>::new(Vec::new());
/// tx.write_message(&Video { sequence: 1, ..Default::default() })?;
/// let wire = tx.into_inner();
///
/// let mut rx = MessageReader::<_, Video>::new(wire.as_slice());
/// assert_eq!(rx.read_message()?.map(|v| v.sequence), Some(1));
/// assert!(rx.read_message()?.is_none());
/// # Ok::<(), framecast_wire::WireError>(())
/// ```
pub struct MessageReader<R, M> {
    frames: FrameReader<R>,
    // `fn() -> M`: the reader produces `M`s but owns none, so it is Send and
    // Sync whatever `M` is.
    _message: PhantomData<fn() -> M>,
}

impl<R: Read, M: prost::Message + Default> MessageReader<R, M> {
    /// A reader with the default codec.
    pub fn new(inner: R) -> Self {
        Self::from_frames(FrameReader::new(inner))
    }

    /// A reader using `codec`'s prefix and limit.
    pub fn with_codec(inner: R, codec: FrameCodec) -> Self {
        Self::from_frames(FrameReader::with_codec(inner, codec))
    }

    /// A typed reader over an existing frame reader.
    pub fn from_frames(frames: FrameReader<R>) -> Self {
        Self {
            frames,
            _message: PhantomData,
        }
    }

    /// Reads the next message; `Ok(None)` at a clean end of stream.
    ///
    /// # Errors
    ///
    /// See [`FrameReader::read_message`].
    pub fn read_message(&mut self) -> Result<Option<M>, WireError> {
        self.frames.read_message()
    }

    /// The frame reader underneath.
    pub fn frames(&self) -> &FrameReader<R> {
        &self.frames
    }

    /// The frame reader underneath, mutably.
    pub fn frames_mut(&mut self) -> &mut FrameReader<R> {
        &mut self.frames
    }

    /// The frame reader underneath.
    pub fn into_frames(self) -> FrameReader<R> {
        self.frames
    }
}

impl<R: fmt::Debug, M> fmt::Debug for MessageReader<R, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageReader")
            .field("frames", &self.frames)
            .finish()
    }
}

/// Writes messages of type `M`, one per frame, to a blocking [`Write`].
///
/// A thin typed face of [`FrameWriter::write_message`]: each message is
/// encoded behind its header into a buffer kept from call to call, so the
/// steady state allocates nothing.
pub struct MessageWriter<W, M> {
    frames: FrameWriter<W>,
    _message: PhantomData<fn(&M)>,
}

impl<W: Write, M: prost::Message> MessageWriter<W, M> {
    /// A writer with the default codec.
    pub fn new(inner: W) -> Self {
        Self::from_frames(FrameWriter::new(inner))
    }

    /// A writer using `codec`'s prefix and limit.
    pub fn with_codec(inner: W, codec: FrameCodec) -> Self {
        Self::from_frames(FrameWriter::with_codec(inner, codec))
    }

    /// A typed writer over an existing frame writer.
    pub fn from_frames(frames: FrameWriter<W>) -> Self {
        Self {
            frames,
            _message: PhantomData,
        }
    }

    /// Encodes `msg` and writes it as one frame.
    ///
    /// # Errors
    ///
    /// See [`FrameWriter::write_message`].
    pub fn write_message(&mut self, msg: &M) -> Result<(), WireError> {
        self.frames.write_message(msg)
    }

    /// Flushes the underlying writer.
    ///
    /// # Errors
    ///
    /// [`WireError::Io`] when the writer fails.
    pub fn flush(&mut self) -> Result<(), WireError> {
        self.frames.flush()
    }

    /// The frame writer underneath.
    pub fn frames(&self) -> &FrameWriter<W> {
        &self.frames
    }

    /// The frame writer underneath, mutably.
    pub fn frames_mut(&mut self) -> &mut FrameWriter<W> {
        &mut self.frames
    }

    /// The underlying writer (nothing is buffered, so nothing is lost).
    pub fn into_inner(self) -> W {
        self.frames.into_inner()
    }
}

impl<W: fmt::Debug, M> fmt::Debug for MessageWriter<W, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageWriter")
            .field("frames", &self.frames)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use framecast_proto::video::{PayloadFormat, Video};

    use super::*;
    use crate::codec::Prefix;

    fn video(seq: u64, data: &'static [u8]) -> Video {
        Video {
            video_data: Bytes::from_static(data),
            sequence: seq,
            capture_time_us: Some(1_700_000_000_000_000 + seq),
            width: 400,
            height: 400,
            format: PayloadFormat::Jpeg as i32,
            source_width: 0,
            source_height: 0,
            quality: 0,
            link_rate_bps: 0,
        }
    }

    #[test]
    fn videos_round_trip_with_both_prefixes() {
        for prefix in [Prefix::U32Le, Prefix::LegacyI64Le] {
            let sent = [
                video(0, b"\xff\xd8a\xff\xd9"),
                video(1, b""),
                video(2, b"xyz"),
            ];
            let mut tx = MessageWriter::with_codec(Vec::new(), FrameCodec::with_prefix(prefix));
            for v in &sent {
                tx.write_message(v).unwrap();
            }
            let wire = tx.into_inner();
            let mut rx = MessageReader::<_, Video>::with_codec(
                wire.as_slice(),
                FrameCodec::with_prefix(prefix),
            );
            for v in &sent {
                assert_eq!(rx.read_message().unwrap().as_ref(), Some(v));
            }
            assert_eq!(rx.read_message().unwrap(), None);
        }
    }

    #[test]
    fn bad_message_is_an_error_and_the_reader_goes_on() {
        let mut tx = FrameWriter::new(Vec::new());
        tx.write_message(&video(1, b"first")).unwrap();
        // Field 1, length-delimited, claims 100 bytes but has 2: invalid.
        tx.write_frame(b"\x0a\x64ab").unwrap();
        // Wire type 7 does not exist.
        tx.write_frame(b"\x0f").unwrap();
        tx.write_message(&video(2, b"second")).unwrap();
        let wire = tx.into_inner();

        let mut rx = MessageReader::<_, Video>::new(wire.as_slice());
        let mut good = Vec::new();
        let mut corrupt = 0;
        loop {
            match rx.read_message() {
                Ok(Some(v)) => good.push(v.sequence),
                Ok(None) => break,
                Err(e) if e.is_message() => corrupt += 1,
                Err(e) => panic!("unexpected {e}"),
            }
        }
        assert_eq!(good, [1, 2]);
        assert_eq!(corrupt, 2);
    }

    #[test]
    fn decoded_video_data_shares_the_frame_buffer() {
        let mut tx = FrameWriter::new(Vec::new());
        tx.write_message(&video(9, b"shared payload bytes"))
            .unwrap();
        let wire = tx.into_inner();
        let mut frames = FrameReader::new(wire.as_slice());
        let frame = frames.read_frame().unwrap().unwrap();
        let range = frame.as_ptr() as usize..frame.as_ptr() as usize + frame.len();
        let v = <Video as prost::Message>::decode(frame.clone()).unwrap();
        assert!(range.contains(&(v.video_data.as_ptr() as usize)));
    }

    #[test]
    fn writer_scratch_buffer_is_reused() {
        let mut tx = FrameWriter::new(std::io::sink());
        tx.write_message(&video(1, &[7; 5000])).unwrap();
        let cap = tx.scratch_capacity();
        // Sequences up to 127 keep every message the same size.
        for i in 2..100 {
            tx.write_message(&video(i, &[7; 5000])).unwrap();
        }
        assert_eq!(tx.scratch_capacity(), cap);
    }
}
