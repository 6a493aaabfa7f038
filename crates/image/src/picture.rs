//! [`Picture`]: a frame's picture as its source delivered it — pixels, or a
//! JPEG that already holds them — so that each layer can pass either on
//! without caring which.

use crate::ImageRef;

/// A picture as a source delivers it: raw pixels, or a compressed JPEG of a
/// known size.
///
/// A capture `Frame` lends its picture as one; a sender's pipeline decides
/// from it whether the JPEG can go out unchanged or the picture must be
/// (re-)encoded.
///
/// ```
/// use framecast_image::{ImageBuf, Picture, PixelFormat};
///
/// let pixels = ImageBuf::new(64, 48, PixelFormat::Rgb8);
/// let raw = Picture::Pixels(pixels.as_image());
/// let jpeg = Picture::Jpeg { data: b"\xff\xd8...", width: 640, height: 480 };
/// assert_eq!((raw.width(), raw.height()), (64, 48));
/// assert_eq!((jpeg.width(), jpeg.height()), (640, 480));
/// assert!(jpeg.is_jpeg_of(640, 480) && !raw.is_jpeg_of(64, 48));
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Picture<'a> {
    /// Raw pixels in any [`PixelFormat`](crate::PixelFormat).
    Pixels(ImageRef<'a>),
    /// A JPEG, and the size its frame header declares.
    Jpeg {
        /// The compressed picture.
        data: &'a [u8],
        /// Its width in pixels.
        width: u32,
        /// Its height in pixels.
        height: u32,
    },
}

impl Picture<'_> {
    /// The picture's width in pixels.
    pub fn width(&self) -> u32 {
        match self {
            Self::Pixels(image) => image.width(),
            Self::Jpeg { width, .. } => *width,
        }
    }

    /// The picture's height in pixels.
    pub fn height(&self) -> u32 {
        match self {
            Self::Pixels(image) => image.height(),
            Self::Jpeg { height, .. } => *height,
        }
    }

    /// Whether this is already a JPEG of exactly `width` x `height`.
    pub fn is_jpeg_of(&self, width: u32, height: u32) -> bool {
        matches!(self, Self::Jpeg { width: w, height: h, .. } if (*w, *h) == (width, height))
    }
}
