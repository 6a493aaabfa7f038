//! Restoring the Huffman tables many webcams leave out of their MJPEG frames.
//!
//! USB (UVC) cameras commonly send "abbreviated" JPEGs with no DHT segment:
//! the format assumes the example tables of the JPEG standard (ITU-T T.81,
//! Annex K.3). libjpeg copes; other decoders (zune-jpeg, unless the frame
//! carries an AVI1 tag) reject such a frame. [`ensure_huffman_tables`]
//! inserts the standard tables before the first scan of a frame that has
//! none, making it a complete JPEG that any decoder reads and that can be
//! forwarded or recorded as is. This is what FFmpeg's `mjpeg2jpeg` filter
//! does.

use framecast_image::ImageError;

use crate::CaptureError;

/// Code-length counts and values of the four standard tables (T.81 K.3):
/// (table class and id, counts for lengths 1..=16, values).
const TABLES: [(u8, [u8; 16], &[u8]); 4] = [
    // K.3: luminance DC.
    (
        0x00,
        [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
        &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    ),
    // K.4: chrominance DC.
    (
        0x01,
        [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
        &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    ),
    // K.5: luminance AC.
    (
        0x10,
        [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D],
        &[
            0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51,
            0x61, 0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xA1, 0x08, 0x23, 0x42, 0xB1, 0xC1,
            0x15, 0x52, 0xD1, 0xF0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0A, 0x16, 0x17, 0x18,
            0x19, 0x1A, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39,
            0x3A, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x53, 0x54, 0x55, 0x56, 0x57,
            0x58, 0x59, 0x5A, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6A, 0x73, 0x74, 0x75,
            0x76, 0x77, 0x78, 0x79, 0x7A, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x92,
            0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7,
            0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBA, 0xC2, 0xC3,
            0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8,
            0xD9, 0xDA, 0xE1, 0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA, 0xF1, 0xF2,
            0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8, 0xF9, 0xFA,
        ],
    ),
    // K.6: chrominance AC.
    (
        0x11,
        [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77],
        &[
            0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07,
            0x61, 0x71, 0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xA1, 0xB1, 0xC1, 0x09,
            0x23, 0x33, 0x52, 0xF0, 0x15, 0x62, 0x72, 0xD1, 0x0A, 0x16, 0x24, 0x34, 0xE1, 0x25,
            0xF1, 0x17, 0x18, 0x19, 0x1A, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x35, 0x36, 0x37, 0x38,
            0x39, 0x3A, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x53, 0x54, 0x55, 0x56,
            0x57, 0x58, 0x59, 0x5A, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6A, 0x73, 0x74,
            0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
            0x8A, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0xA2, 0xA3, 0xA4, 0xA5,
            0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBA,
            0xC2, 0xC3, 0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6,
            0xD7, 0xD8, 0xD9, 0xDA, 0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA, 0xF2,
            0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8, 0xF9, 0xFA,
        ],
    ),
];

/// Length of the DHT segment holding the four tables, marker included.
const DHT_LEN: usize = 2 + 2 + 4 * 17 + 12 + 12 + 162 + 162;

/// The DHT segment, assembled at compile time from [`TABLES`].
const DHT: [u8; DHT_LEN] = {
    let mut out = [0u8; DHT_LEN];
    out[0] = 0xFF;
    out[1] = 0xC4;
    let len = (DHT_LEN - 2) as u16;
    out[2] = (len >> 8) as u8;
    out[3] = len as u8;
    let mut at = 4;
    let mut t = 0;
    while t < TABLES.len() {
        let (id, counts, values) = TABLES[t];
        out[at] = id;
        at += 1;
        let mut i = 0;
        let mut total = 0;
        while i < 16 {
            out[at] = counts[i];
            total += counts[i] as usize;
            at += 1;
            i += 1;
        }
        // The counts must add up to the number of values.
        assert!(total == values.len());
        let mut i = 0;
        while i < values.len() {
            out[at] = values[i];
            at += 1;
            i += 1;
        }
        t += 1;
    }
    assert!(at == DHT_LEN);
    out
};

fn malformed(reason: &'static str) -> CaptureError {
    CaptureError::BadJpeg {
        offset: 0,
        source: ImageError::Malformed { reason },
    }
}

/// Makes `jpeg` a complete JPEG: if no Huffman table (DHT) segment comes
/// before its first scan (SOS), inserts the standard tables there. Returns
/// whether it inserted them. A JPEG that has its tables is left untouched;
/// a buffer whose header segments cannot be walked is an error, and is left
/// untouched too. Allocates only if `jpeg` must grow beyond its capacity.
///
/// ```
/// use framecast_capture::ensure_huffman_tables;
///
/// // SOI, a (truncated) scan header, EOI: no tables.
/// let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0xFF, 0xD9];
/// assert!(ensure_huffman_tables(&mut jpeg)?);
/// assert_eq!(&jpeg[2..4], &[0xFF, 0xC4]);
/// assert!(!ensure_huffman_tables(&mut jpeg)?); // now it has them
/// # Ok::<(), framecast_capture::CaptureError>(())
/// ```
pub fn ensure_huffman_tables(jpeg: &mut Vec<u8>) -> Result<bool, CaptureError> {
    if !jpeg.starts_with(&[0xFF, 0xD8]) {
        return Err(CaptureError::BadJpeg {
            offset: 0,
            source: ImageError::NotJpeg,
        });
    }
    let mut at = 2;
    loop {
        // A marker: FF, any number of fill FFs, then its code.
        if jpeg.get(at) != Some(&0xFF) {
            return Err(malformed("expected a marker between header segments"));
        }
        let start = at;
        while jpeg.get(at) == Some(&0xFF) {
            at += 1;
        }
        let Some(&code) = jpeg.get(at) else {
            return Err(malformed("header ends inside a marker"));
        };
        at += 1;
        match code {
            0xC4 => return Ok(false),
            0xDA => {
                jpeg.splice(start..start, DHT);
                return Ok(true);
            }
            0xD9 => return Err(malformed("end of image before any scan")),
            0x01 | 0xD0..=0xD7 => {}
            _ => {
                let Some(len) = jpeg.get(at..at + 2) else {
                    return Err(malformed("header ends inside a segment length"));
                };
                let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
                if len < 2 {
                    return Err(malformed("segment length below 2"));
                }
                at += len;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_is_well_formed() {
        assert_eq!(DHT_LEN, 420);
        assert_eq!(&DHT[..4], &[0xFF, 0xC4, 0x01, 0xA2]);
    }

    #[test]
    fn complete_jpegs_are_left_alone() {
        let fixture = include_bytes!("../testdata/testsrc_64x48.mjpeg");
        let mut jpeg = fixture[..1700].to_vec();
        assert!(!ensure_huffman_tables(&mut jpeg).unwrap());
        assert_eq!(jpeg, &fixture[..1700]);
    }

    #[test]
    fn bad_headers_are_errors_and_untouched() {
        for bad in [
            &[0x00, 0x01][..],
            &[0xFF, 0xD8],
            &[0xFF, 0xD8, 0xFF],
            &[0xFF, 0xD8, 0xFF, 0xE0, 0x00],
            &[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x01],
            &[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 1, 2],
            &[0xFF, 0xD8, 0xFF, 0xD9],
            &[0xFF, 0xD8, 0x12, 0x34],
        ] {
            let mut jpeg = bad.to_vec();
            assert!(ensure_huffman_tables(&mut jpeg).is_err(), "{bad:02X?}");
            assert_eq!(jpeg, bad);
        }
    }
}
