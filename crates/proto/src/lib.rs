//! Protobuf types shared by every framecast program.
//!
//! - [`video::Video`]: one frame on the framecast wire. Field 1, `video_data`,
//!   is byte-compatible with the original lab's `Video` message; the other
//!   fields (sequence number, capture time, size, payload format) are
//!   compatible extensions that older peers skip. [`video::VideoRef`]
//!   encodes the same message around a borrowed payload.
//! - [`handshake`]: the session handshake's `Hello` and `Status`.
//! - [`ecommerce`]: the `ecommerce.ProductInfo` service's messages, and with
//!   the `grpc` feature its tonic client and server.
//!
//! The code is generated at build time from the `.proto` files in this crate's
//! `proto/` folder by a pure-Rust compiler; no `protoc` is needed.
//!
//! ```
//! use framecast_proto::video::{PayloadFormat, Video};
//! use prost::Message;
//!
//! let frame = Video {
//!     video_data: bytes::Bytes::from_static(b"\xff\xd8...jpeg...\xff\xd9"),
//!     sequence: 7,
//!     capture_time_us: Some(1_700_000_000_000_000),
//!     width: 400,
//!     height: 400,
//!     format: PayloadFormat::Jpeg as i32,
//!     source_width: 640,
//!     source_height: 480,
//!     quality: 0,
//!     link_rate_bps: 0,
//! };
//! let bytes = frame.encode_to_vec();
//! assert_eq!(Video::decode(bytes.as_slice()).unwrap(), frame);
//!
//! // What the original Python client sends: field 1 alone.
//! let legacy = Video::decode(&b"\x0a\x03abc"[..]).unwrap();
//! assert_eq!(&legacy.video_data[..], b"abc");
//! assert_eq!(legacy.capture_time_us, None);
//! assert_eq!(legacy.format(), PayloadFormat::Jpeg);
//! ```

// docs.rs labels each feature-gated item with its feature.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

/// The framecast frame message (`framecast.video` package).
#[allow(missing_docs, unreachable_pub, clippy::doc_markdown)]
pub mod video {
    include!(concat!(env!("OUT_DIR"), "/framecast.video.rs"));

    pub use crate::borrowed::VideoRef;
}

mod borrowed;

/// The session handshake messages of the framecast framing
/// (`framecast.handshake` package): the sender's [`Hello`](handshake::Hello)
/// and the receiver's [`Status`](handshake::Status). The envelope around
/// them (magic, version, length) is the `framecast-stream` crate's.
#[allow(missing_docs, unreachable_pub, clippy::doc_markdown)]
pub mod handshake {
    include!(concat!(env!("OUT_DIR"), "/framecast.handshake.rs"));
}

/// The `ecommerce.ProductInfo` service: messages, and with the `grpc` feature
/// the generated tonic client (`product_info_client`) and server
/// (`product_info_server`).
#[allow(missing_docs, unreachable_pub, clippy::doc_markdown)]
pub mod ecommerce {
    include!(concat!(env!("OUT_DIR"), "/ecommerce.rs"));

    /// The encoded `FileDescriptorSet` of `ecommerce.proto`, for gRPC server
    /// reflection (`tonic-reflection`).
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/ecommerce_descriptor.bin"));
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use prost::Message;

    use super::video::{PayloadFormat, Video};

    /// The bytes the original client's `Video(video_data=b"\xff\xd8\xff\xd9")`
    /// serialises to: tag 0x0a (field 1, length-delimited), length 4.
    const LEGACY: &[u8] = b"\x0a\x04\xff\xd8\xff\xd9";

    #[test]
    fn legacy_message_parses_with_defaults() {
        let v = Video::decode(LEGACY).unwrap();
        assert_eq!(&v.video_data[..], b"\xff\xd8\xff\xd9");
        assert_eq!(v.sequence, 0);
        assert_eq!(v.capture_time_us, None);
        assert_eq!((v.width, v.height), (0, 0));
        assert_eq!(v.format(), PayloadFormat::Jpeg);
    }

    #[test]
    fn field_one_alone_encodes_exactly_like_the_original() {
        let v = Video {
            video_data: Bytes::from_static(b"\xff\xd8\xff\xd9"),
            ..Default::default()
        };
        assert_eq!(v.encode_to_vec(), LEGACY);
    }

    #[test]
    fn extended_message_starts_with_field_one() {
        // A field-1-only parser (the original receiver) reads field 1 first
        // and skips the rest; field order on the wire is by field number.
        let v = Video {
            video_data: Bytes::from_static(b"ab"),
            sequence: 1,
            capture_time_us: Some(2),
            width: 3,
            height: 4,
            format: PayloadFormat::Rgb24 as i32,
            source_width: 5,
            source_height: 6,
            quality: 0,
            link_rate_bps: 0,
        };
        let bytes = v.encode_to_vec();
        assert_eq!(
            bytes,
            b"\x0a\x02ab\x10\x01\x18\x02\x20\x03\x28\x04\x30\x01\x38\x05\x40\x06".to_vec()
        );
        assert_eq!(Video::decode(bytes.as_slice()).unwrap(), v);
    }

    #[test]
    fn decoding_from_bytes_shares_the_buffer() {
        let wire = Bytes::from_static(b"\x0a\x03xyz");
        let v = Video::decode(wire.clone()).unwrap();
        // `Bytes` input is sliced, not copied.
        let base = wire.as_ptr() as usize;
        assert_eq!(v.video_data.as_ptr() as usize, base + 2);
    }

    #[test]
    fn descriptor_set_names_the_service() {
        let fds = prost_types_free_check(super::ecommerce::FILE_DESCRIPTOR_SET);
        assert!(fds, "descriptor set must mention ecommerce.ProductInfo");
    }

    fn prost_types_free_check(bytes: &[u8]) -> bool {
        let hay = String::from_utf8_lossy(bytes);
        hay.contains("ProductInfo") && hay.contains("addProduct") && hay.contains("ecommerce")
    }
}
