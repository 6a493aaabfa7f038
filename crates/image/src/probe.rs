//! Reading a JPEG's frame header (SOF) without decoding anything.
//!
//! A JPEG stream is a sequence of marker segments:
//!
//! ```text
//! FF D8                      SOI, no length
//! FF xx  len:u16  payload    APPn, DQT, DHT, DRI, COM, ... (len counts itself)
//! FF C0..CF  len:u16         SOFn: precision:u8 height:u16 width:u16 ncomp:u8
//!                                  then ncomp x (id:u8, HhVv:u8, tq:u8)
//! FF DA  len:u16  ...        SOS, then entropy-coded data up to FF D9 (EOI)
//! ```
//!
//! [`probe_jpeg`] walks the segments up to the first SOF and stops there, so
//! it costs a few hundred bytes of reading whatever the picture's size.

use crate::ImageError;

/// What a JPEG's frame header says about the picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct JpegInfo {
    /// Width in pixels (1..=65535).
    pub width: u32,
    /// Height in pixels (1..=65535).
    pub height: u32,
    /// Number of colour components: 1 (grey), 3 (YCbCr or RGB) or 4 (CMYK).
    pub components: u8,
    /// Bits per sample, 8 for nearly every file (12 and 16 exist).
    pub precision: u8,
    /// Whether the file is progressive (SOF2/SOF6/...), as opposed to
    /// baseline or extended sequential.
    pub progressive: bool,
    /// How the chroma planes are sampled relative to luma.
    pub subsampling: Subsampling,
}

impl JpegInfo {
    /// `width * height`.
    pub fn pixels(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }
}

/// Chroma subsampling of a colour JPEG, from the components' sampling factors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Subsampling {
    /// One component: no chroma.
    Grey,
    /// Every component at full resolution.
    Yuv444,
    /// Chroma halved horizontally.
    Yuv422,
    /// Chroma halved in both directions (what framecast's encoders write).
    Yuv420,
    /// Chroma halved vertically.
    Yuv440,
    /// Any other combination of sampling factors.
    Other,
}

impl Subsampling {
    fn from_factors(components: &[(u8, u8)]) -> Self {
        match components {
            [_] => Self::Grey,
            [(h0, v0), rest @ ..] => {
                if rest.iter().any(|&f| f != (1, 1)) {
                    return Self::Other;
                }
                match (h0, v0) {
                    (1, 1) => Self::Yuv444,
                    (2, 1) => Self::Yuv422,
                    (2, 2) => Self::Yuv420,
                    (1, 2) => Self::Yuv440,
                    _ => Self::Other,
                }
            }
            [] => Self::Other,
        }
    }
}

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const TEM: u8 = 0x01;

/// Whether `marker` starts a frame header. C4 (DHT), C8 (reserved JPG) and
/// CC (DAC) share the range but are not frame headers.
fn is_sof(marker: u8) -> bool {
    matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC)
}

fn is_progressive(marker: u8) -> bool {
    matches!(marker, 0xC2 | 0xC6 | 0xCA | 0xCE)
}

/// Reads a JPEG's size, component count and sampling from its frame header
/// (SOF), without decoding or allocating.
///
/// Fails with [`ImageError::NotJpeg`] when `data` does not start with the
/// JPEG start-of-image marker, [`ImageError::Truncated`] when it ends before
/// the frame header does, and [`ImageError::Malformed`] when the segments are
/// inconsistent (including a zero width or height).
///
/// ```
/// # use framecast_image::{probe_jpeg, ImageError};
/// // SOI, then a baseline SOF0 for a 3-component 640x480 picture at 4:2:0.
/// let header = [
///     0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 8, 0x01, 0xE0, 0x02, 0x80, 3,
///     1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1,
/// ];
/// let info = probe_jpeg(&header)?;
/// assert_eq!((info.width, info.height, info.components), (640, 480, 3));
/// assert!(matches!(probe_jpeg(&header[..10]), Err(ImageError::Truncated { .. })));
/// # Ok::<(), ImageError>(())
/// ```
pub fn probe_jpeg(data: &[u8]) -> Result<JpegInfo, ImageError> {
    let truncated = |needed: usize| ImageError::Truncated {
        needed,
        len: data.len(),
    };
    match data {
        [0xFF, SOI, ..] => {}
        [] | [0xFF] => return Err(truncated(2)),
        _ => return Err(ImageError::NotJpeg),
    }
    let mut pos = 2;
    loop {
        // A marker is 0xFF, any number of 0xFF fill bytes, then the code.
        match data.get(pos) {
            Some(0xFF) => {}
            Some(_) => {
                return Err(ImageError::Malformed {
                    reason: "expected a marker between header segments",
                });
            }
            None => return Err(truncated(pos + 1)),
        }
        while data.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let marker = *data.get(pos).ok_or_else(|| truncated(pos + 1))?;
        pos += 1;
        match marker {
            // Standalone markers: no length field.
            TEM | 0xD0..=0xD7 => continue,
            SOI => {
                return Err(ImageError::Malformed {
                    reason: "second start-of-image marker before the frame header",
                });
            }
            EOI => {
                return Err(ImageError::Malformed {
                    reason: "end of image before any frame header",
                });
            }
            SOS => {
                return Err(ImageError::Malformed {
                    reason: "scan data before any frame header",
                });
            }
            _ => {}
        }
        let len_bytes = data.get(pos..pos + 2).ok_or_else(|| truncated(pos + 2))?;
        let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
        if len < 2 {
            return Err(ImageError::Malformed {
                reason: "segment length shorter than its own length field",
            });
        }
        let body_start = pos + 2;
        let end = pos + len;
        if is_sof(marker) {
            let body = data.get(body_start..end).ok_or_else(|| truncated(end))?;
            return parse_sof(marker, body);
        }
        pos = end;
    }
}

fn parse_sof(marker: u8, body: &[u8]) -> Result<JpegInfo, ImageError> {
    let &[precision, h0, h1, w0, w1, ncomp, ref comps @ ..] = body else {
        return Err(ImageError::Malformed {
            reason: "frame header shorter than 6 bytes",
        });
    };
    let height = u32::from(u16::from_be_bytes([h0, h1]));
    let width = u32::from(u16::from_be_bytes([w0, w1]));
    if width == 0 || height == 0 {
        // A zero height means "given later in a DNL segment", which no
        // decoder we use supports; a zero width is invalid outright.
        return Err(ImageError::Malformed {
            reason: "frame header declares a zero width or height",
        });
    }
    if !matches!(ncomp, 1 | 3 | 4) {
        return Err(ImageError::Malformed {
            reason: "frame header declares a component count other than 1, 3 or 4",
        });
    }
    if comps.len() != 3 * usize::from(ncomp) {
        return Err(ImageError::Malformed {
            reason: "frame header length does not match its component count",
        });
    }
    let mut factors = [(0u8, 0u8); 4];
    for (slot, comp) in factors.iter_mut().zip(comps.chunks_exact(3)) {
        let (h, v) = (comp[1] >> 4, comp[1] & 0x0F);
        if !(1..=4).contains(&h) || !(1..=4).contains(&v) {
            return Err(ImageError::Malformed {
                reason: "component sampling factor outside 1..=4",
            });
        }
        *slot = (h, v);
    }
    Ok(JpegInfo {
        width,
        height,
        components: ncomp,
        precision,
        progressive: is_progressive(marker),
        subsampling: Subsampling::from_factors(&factors[..usize::from(ncomp)]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SOI, an APP0 segment, fill bytes, then a 4:2:0 SOF0 for 640x480.
    const HEADER: [u8; 42] = [
        0xFF, 0xD8, // SOI
        0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, // APP0
        0xFF, 0xFF, // fill
        0xFF, 0xC0, 0x00, 0x11, 8, 0x01, 0xE0, 0x02, 0x80, 3, // SOF0
        1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1,    // components
        0xFF, // trailing
    ];

    #[test]
    fn reads_the_frame_header_after_other_segments() {
        let info = probe_jpeg(&HEADER).unwrap();
        assert_eq!(
            info,
            JpegInfo {
                width: 640,
                height: 480,
                components: 3,
                precision: 8,
                progressive: false,
                subsampling: Subsampling::Yuv420,
            }
        );
        assert_eq!(info.pixels(), 640 * 480);
    }

    #[test]
    fn every_truncation_is_a_typed_error() {
        // The SOF segment ends at byte 41; any shorter prefix must fail.
        for cut in 0..41 {
            let err = probe_jpeg(&HEADER[..cut]).unwrap_err();
            assert!(
                matches!(err, ImageError::Truncated { len, .. } if len == cut),
                "cut at {cut}: {err:?}"
            );
        }
        assert!(probe_jpeg(&HEADER[..41]).is_ok());
    }

    #[test]
    fn garbage_and_inconsistent_headers_are_refused() {
        assert!(matches!(probe_jpeg(b"\x89PNG"), Err(ImageError::NotJpeg)));
        let mut bad = HEADER;
        bad[27] = 0; // height high byte
        bad[28] = 0; // height low byte
        assert!(matches!(
            probe_jpeg(&bad),
            Err(ImageError::Malformed { .. })
        ));
        let mut bad = HEADER;
        bad[31] = 2; // component count, disagreeing with the length
        assert!(matches!(
            probe_jpeg(&bad),
            Err(ImageError::Malformed { .. })
        ));
        let mut bad = HEADER;
        bad[20] = 0x00; // not a marker where one must be
        assert!(matches!(
            probe_jpeg(&bad),
            Err(ImageError::Malformed { .. })
        ));
        let mut bad = HEADER;
        bad[23] = SOS; // scan before frame
        assert!(matches!(
            probe_jpeg(&bad),
            Err(ImageError::Malformed { .. })
        ));
        let mut bad = HEADER;
        bad[33] = 0x50; // sampling factor 5
        assert!(matches!(
            probe_jpeg(&bad),
            Err(ImageError::Malformed { .. })
        ));
    }

    #[test]
    fn progressive_and_subsampling_are_reported() {
        let mut prog = HEADER;
        prog[23] = 0xC2;
        prog[33] = 0x21;
        let info = probe_jpeg(&prog).unwrap();
        assert!(info.progressive);
        assert_eq!(info.subsampling, Subsampling::Yuv422);
    }
}
