//! [`VideoRef`]: a `Video` message around a borrowed payload, so a sender
//! encodes each frame straight from its JPEG buffer, with no copy into a
//! `Bytes` first and no hand-written protobuf in the engines.

use bytes::{Buf, BufMut};
use prost::Message;
use prost::encoding::{self, DecodeContext, WireType};

use crate::video::Video;

/// The `video_data` field's number.
const VIDEO_DATA: u32 = 1;

/// A [`Video`] whose `video_data` is borrowed: `meta`'s other fields around
/// `payload`. It encodes to exactly the bytes of the `Video` holding that
/// payload (field 1 first, as prost writes it), so a receiver cannot tell
/// them apart; `meta.video_data` itself is ignored.
///
/// It implements [`prost::Message`] for encoding, so the wire's typed
/// layer (`FrameWriter::write_message` in `framecast-wire`) frames it like
/// any message. It cannot be decoded into (it has no [`Default`]); merging
/// into one skips every field.
///
/// ```
/// use framecast_proto::video::{Video, VideoRef};
/// use prost::Message;
///
/// let meta = Video { sequence: 7, width: 400, height: 400, ..Default::default() };
/// let jpeg = b"\xff\xd8...\xff\xd9";
/// let bytes = VideoRef::new(&meta, jpeg).encode_to_vec();
///
/// let owned = Video { video_data: bytes::Bytes::from_static(jpeg), ..meta.clone() };
/// assert_eq!(bytes, owned.encode_to_vec());
/// assert_eq!(Video::decode(bytes.as_slice())?, owned);
/// # Ok::<(), prost::DecodeError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct VideoRef<'a> {
    meta: &'a Video,
    payload: &'a [u8],
}

impl<'a> VideoRef<'a> {
    /// The field number of the payload (`video_data`, field 1: the contract
    /// with the lab), for writers that frame [`meta`](Self::meta) and the
    /// payload separately (`FrameWriter::write_message_with_bytes` in
    /// `framecast-wire`).
    pub const PAYLOAD_FIELD: u32 = VIDEO_DATA;

    /// `meta`'s fields (its `video_data` aside) around `payload`.
    pub fn new(meta: &'a Video, payload: &'a [u8]) -> Self {
        Self { meta, payload }
    }

    /// The fields other than the payload.
    pub fn meta(&self) -> &'a Video {
        self.meta
    }

    /// The payload (`video_data`).
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// The encoded length of `meta`'s fields other than `video_data`.
    fn meta_len(&self) -> usize {
        let all = self.meta.encoded_len();
        match self.meta.video_data.len() {
            0 => all,
            n => all - (field_len(n)),
        }
    }
}

/// The encoded length of a non-empty `video_data` of `n` bytes.
fn field_len(n: usize) -> usize {
    encoding::key_len(VIDEO_DATA) + encoding::encoded_len_varint(n as u64) + n
}

impl Message for VideoRef<'_> {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        // proto3 leaves an empty bytes field out, as prost does.
        if !self.payload.is_empty() {
            encoding::encode_key(VIDEO_DATA, WireType::LengthDelimited, buf);
            encoding::encode_varint(self.payload.len() as u64, buf);
            buf.put_slice(self.payload);
        }
        if self.meta.video_data.is_empty() {
            self.meta.encode_raw(buf);
        } else {
            // Rare: a `meta` that carries a payload of its own. A clone
            // without it (sharing, not copying, the bytes) keeps field 1
            // written once.
            let meta = Video {
                video_data: bytes::Bytes::new(),
                ..self.meta.clone()
            };
            meta.encode_raw(buf);
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        // Borrowed fields cannot take decoded data: skip it.
        encoding::skip_field(wire_type, tag, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        let payload = match self.payload.len() {
            0 => 0,
            n => field_len(n),
        };
        payload + self.meta_len()
    }

    fn clear(&mut self) {
        self.payload = &[];
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use prost::Message;

    use super::*;
    use crate::video::PayloadFormat;

    fn meta() -> Video {
        Video {
            video_data: Bytes::new(),
            sequence: 42,
            capture_time_us: Some(1_700_000_000_000_000),
            width: 400,
            height: 400,
            format: PayloadFormat::Jpeg as i32,
            source_width: 640,
            source_height: 480,
            quality: 0,
            link_rate_bps: 0,
        }
    }

    #[test]
    fn encodes_as_the_owned_message_does() {
        for len in [0, 1, 127, 128, 300, 70_000] {
            let payload = vec![0xAB; len];
            let owned = Video {
                video_data: Bytes::from(payload.clone()),
                ..meta()
            };
            let borrowed = VideoRef::new(&owned, &payload);
            assert_eq!(borrowed.encoded_len(), owned.encoded_len(), "{len}");
            assert_eq!(borrowed.encode_to_vec(), owned.encode_to_vec(), "{len}");
            // The same with a `meta` that holds no payload of its own.
            let bare = meta();
            let borrowed = VideoRef::new(&bare, &payload);
            assert_eq!(borrowed.encoded_len(), owned.encoded_len(), "{len}");
            assert_eq!(borrowed.encode_to_vec(), owned.encode_to_vec(), "{len}");
        }
    }

    #[test]
    fn a_default_meta_is_the_payload_alone() {
        let bare = Video::default();
        let bytes = VideoRef::new(&bare, b"abc").encode_to_vec();
        // What the original client sends: field 1 alone.
        assert_eq!(bytes, b"\x0a\x03abc");
    }

    #[test]
    fn merging_into_it_skips_every_field() {
        let owned = Video {
            video_data: Bytes::from_static(b"xyz"),
            ..meta()
        };
        let bare = Video::default();
        let mut borrowed = VideoRef::new(&bare, b"abc");
        borrowed.merge(owned.encode_to_vec().as_slice()).unwrap();
        assert_eq!(borrowed.payload(), b"abc");
    }
}
