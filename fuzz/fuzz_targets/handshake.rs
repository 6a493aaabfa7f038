//! The session handshake decoders on arbitrary bytes: decoding must never
//! panic; whatever decodes re-encodes to bytes that decode to the same
//! message; feeding the bytes one at a time agrees with feeding them whole;
//! and the guess at a foreign peer never panics.

#![no_main]

use framecast_stream::handshake::{self, Decoded, PeerGuess};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = PeerGuess::from_bytes(data);
    if let Ok(Decoded::Complete { message, len }) = handshake::decode_hello(data) {
        assert!(len <= data.len());
        // Every prefix is "incomplete" or the same error, never a
        // different message.
        for cut in 0..len {
            assert!(!matches!(
                handshake::decode_hello(&data[..cut]),
                Ok(Decoded::Complete { .. })
            ));
        }
        let mut again = Vec::new();
        handshake::encode_hello(&message, &mut again);
        match handshake::decode_hello(&again) {
            Ok(Decoded::Complete { message: m, len: l }) => {
                assert_eq!(m, message);
                assert_eq!(l, again.len());
            }
            other => panic!("re-encoded hello does not decode: {other:?}"),
        }
    }
    if let Ok(Decoded::Complete { message, len }) = handshake::decode_status(data) {
        assert!(len <= data.len());
        let mut again = Vec::new();
        handshake::encode_status(&message, &mut again);
        assert!(matches!(
            handshake::decode_status(&again),
            Ok(Decoded::Complete { message: m, .. }) if m == message
        ));
    }
});
