//! The MJPEG file indexer on arbitrary bytes: indexing must never panic, every
//! frame it reports must lie inside the input, start with SOI and end with
//! EOI, frames must not overlap, and reading the same bytes in small chunks
//! must give the same index as reading them whole.

#![no_main]

use framecast_capture::{MjpegIndex, SourceLimits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = SourceLimits::default().with_max_jpeg_bytes(64 * 1024);
    let Ok(whole) = MjpegIndex::from_bytes(data, &limits) else {
        return;
    };
    let mut end = 0u64;
    for span in whole.frames() {
        assert!(span.offset >= end, "frames overlap");
        let start = usize::try_from(span.offset).unwrap();
        let frame = &data[start..start + span.len];
        assert!(frame.starts_with(&[0xFF, 0xD8]) && frame.ends_with(&[0xFF, 0xD9]));
        end = span.offset + span.len as u64;
    }
    // A reader that hands over 7 bytes at a time.
    struct Trickle<'a>(&'a [u8]);
    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(7).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let chunked = MjpegIndex::build(Trickle(data), &limits).expect("same bytes, same result");
    assert_eq!(chunked, whole);
});
