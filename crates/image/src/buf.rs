//! Pixel buffers shared by capture, codec and display.
//!
//! One type family describes every picture in framecast:
//!
//! - [`ImageBuf`]: an owned picture whose storage is reused from frame to
//!   frame ([`ImageBuf::reshape`] only allocates when the picture grows).
//! - [`ImageRef`] / [`ImageMut`]: borrowed views of any byte slice, including
//!   a window's `u32` pixel buffer ([`ImageMut::from_xrgb32`]).
//!
//! Rows are `stride` bytes apart; `stride >= width * bytes_per_pixel`.

use crate::ImageError;

/// How the bytes of one pixel are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PixelFormat {
    /// 3 bytes per pixel: red, green, blue.
    Rgb8,
    /// 4 bytes per pixel: red, green, blue, alpha.
    Rgba8,
    /// 4 bytes per pixel: blue, green, red, alpha.
    Bgra8,
    /// One native-endian `u32` per pixel, `0x00RRGGBB`: the layout a
    /// softbuffer window takes. On little-endian machines the bytes are
    /// blue, green, red, 0.
    Xrgb32,
}

impl PixelFormat {
    /// Bytes one pixel occupies.
    pub const fn bytes_per_pixel(self) -> usize {
        match self {
            Self::Rgb8 => 3,
            Self::Rgba8 | Self::Bgra8 | Self::Xrgb32 => 4,
        }
    }

    /// The packed row length, `width * bytes_per_pixel`, or `None` on
    /// overflow.
    pub const fn row_bytes(self, width: u32) -> Option<usize> {
        (width as usize).checked_mul(self.bytes_per_pixel())
    }
}

/// Checks that `len` bytes hold a `width` x `height` picture of `format`
/// with rows `stride` bytes apart.
fn check_layout(
    width: u32,
    height: u32,
    format: PixelFormat,
    stride: usize,
    len: usize,
) -> Result<(), ImageError> {
    let row = format.row_bytes(width).ok_or(ImageError::Layout {
        reason: "row length overflows usize",
    })?;
    if stride < row {
        return Err(ImageError::Layout {
            reason: "stride is shorter than a row",
        });
    }
    let needed = match height {
        0 => 0,
        h => (h as usize - 1)
            .checked_mul(stride)
            .and_then(|n| n.checked_add(row))
            .ok_or(ImageError::Layout {
                reason: "picture size overflows usize",
            })?,
    };
    if len < needed {
        return Err(ImageError::Layout {
            reason: "buffer is shorter than the picture",
        });
    }
    Ok(())
}

/// A borrowed, read-only picture.
#[derive(Debug, Clone, Copy)]
pub struct ImageRef<'a> {
    width: u32,
    height: u32,
    format: PixelFormat,
    stride: usize,
    data: &'a [u8],
}

impl<'a> ImageRef<'a> {
    /// Views `data` as a picture with packed rows.
    pub fn new(
        width: u32,
        height: u32,
        format: PixelFormat,
        data: &'a [u8],
    ) -> Result<Self, ImageError> {
        let stride = format.row_bytes(width).unwrap_or(usize::MAX);
        Self::with_stride(width, height, format, stride, data)
    }

    /// Views `data` as a picture whose rows are `stride` bytes apart.
    pub fn with_stride(
        width: u32,
        height: u32,
        format: PixelFormat,
        stride: usize,
        data: &'a [u8],
    ) -> Result<Self, ImageError> {
        check_layout(width, height, format, stride, data.len())?;
        Ok(Self {
            width,
            height,
            format,
            stride,
            data,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The pixel layout.
    pub fn format(&self) -> PixelFormat {
        self.format
    }

    /// Bytes from the start of one row to the start of the next.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// The whole underlying slice (it may extend past the last row).
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Whether rows follow each other with no padding.
    pub fn is_packed(&self) -> bool {
        Some(self.stride) == self.format.row_bytes(self.width)
    }

    /// Row `y`'s pixels, without padding. Panics if `y >= height`.
    pub fn row(&self, y: u32) -> &'a [u8] {
        let start = y as usize * self.stride;
        &self.data[start..start + self.width as usize * self.format.bytes_per_pixel()]
    }

    /// The rows from top to bottom, without padding.
    pub fn rows(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        (0..self.height).map(move |y| self.row(y))
    }
}

/// A borrowed, writable picture.
#[derive(Debug)]
pub struct ImageMut<'a> {
    width: u32,
    height: u32,
    format: PixelFormat,
    stride: usize,
    data: &'a mut [u8],
}

impl<'a> ImageMut<'a> {
    /// Views `data` as a writable picture with packed rows.
    pub fn new(
        width: u32,
        height: u32,
        format: PixelFormat,
        data: &'a mut [u8],
    ) -> Result<Self, ImageError> {
        let stride = format.row_bytes(width).unwrap_or(usize::MAX);
        Self::with_stride(width, height, format, stride, data)
    }

    /// Views `data` as a writable picture whose rows are `stride` bytes apart.
    pub fn with_stride(
        width: u32,
        height: u32,
        format: PixelFormat,
        stride: usize,
        data: &'a mut [u8],
    ) -> Result<Self, ImageError> {
        check_layout(width, height, format, stride, data.len())?;
        Ok(Self {
            width,
            height,
            format,
            stride,
            data,
        })
    }

    /// Views a window's `0x00RRGGBB` pixel buffer (softbuffer's layout) as an
    /// [`PixelFormat::Xrgb32`] picture, without copying.
    pub fn from_xrgb32(width: u32, height: u32, pixels: &'a mut [u32]) -> Result<Self, ImageError> {
        Self::new(
            width,
            height,
            PixelFormat::Xrgb32,
            bytemuck::cast_slice_mut(pixels),
        )
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The pixel layout.
    pub fn format(&self) -> PixelFormat {
        self.format
    }

    /// Bytes from the start of one row to the start of the next.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// The whole underlying slice, writable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        self.data
    }

    /// A read-only view of the same picture.
    pub fn as_ref(&self) -> ImageRef<'_> {
        ImageRef {
            width: self.width,
            height: self.height,
            format: self.format,
            stride: self.stride,
            data: self.data,
        }
    }

    /// Row `y`'s pixels, writable, without padding. Panics if `y >= height`.
    pub fn row_mut(&mut self, y: u32) -> &mut [u8] {
        let start = y as usize * self.stride;
        let len = self.width as usize * self.format.bytes_per_pixel();
        &mut self.data[start..start + len]
    }
}

/// An owned picture with packed rows whose storage is reused.
///
/// ```
/// use framecast_image::{ImageBuf, PixelFormat};
///
/// let mut img = ImageBuf::new(4, 2, PixelFormat::Rgb8);
/// assert_eq!(img.data().len(), 4 * 2 * 3);
/// img.reshape(2, 2, PixelFormat::Rgb8); // shrinking keeps the allocation
/// assert!(img.capacity() >= 24);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageBuf {
    width: u32,
    height: u32,
    format: PixelFormat,
    data: Vec<u8>,
}

impl ImageBuf {
    /// A black (all-zero) picture.
    ///
    /// Panics if the size overflows `usize`; untrusted sizes go through
    /// [`ImageBuf::try_reshape`].
    pub fn new(width: u32, height: u32, format: PixelFormat) -> Self {
        let mut img = Self::empty(format);
        img.reshape(width, height, format);
        img
    }

    /// A 0x0 picture that owns no memory yet.
    pub const fn empty(format: PixelFormat) -> Self {
        Self {
            width: 0,
            height: 0,
            format,
            data: Vec::new(),
        }
    }

    /// Wraps packed pixel bytes. Fails if `data` is not exactly
    /// `width * height * bytes_per_pixel` long.
    pub fn from_vec(
        width: u32,
        height: u32,
        format: PixelFormat,
        data: Vec<u8>,
    ) -> Result<Self, ImageError> {
        let expected = Self::packed_len(width, height, format)?;
        if data.len() != expected {
            return Err(ImageError::Layout {
                reason: "buffer length is not width * height * bytes per pixel",
            });
        }
        Ok(Self {
            width,
            height,
            format,
            data,
        })
    }

    fn packed_len(width: u32, height: u32, format: PixelFormat) -> Result<usize, ImageError> {
        format
            .row_bytes(width)
            .and_then(|r| r.checked_mul(height as usize))
            .ok_or(ImageError::Layout {
                reason: "picture size overflows usize",
            })
    }

    /// Changes the size and format, reusing the storage: this allocates only
    /// when the new picture is larger than any before. Pixel contents are
    /// unspecified afterwards.
    pub fn try_reshape(
        &mut self,
        width: u32,
        height: u32,
        format: PixelFormat,
    ) -> Result<(), ImageError> {
        let len = Self::packed_len(width, height, format)?;
        self.data.resize(len, 0);
        self.width = width;
        self.height = height;
        self.format = format;
        Ok(())
    }

    /// [`ImageBuf::try_reshape`] for sizes known to be sane; panics on
    /// overflow.
    pub fn reshape(&mut self, width: u32, height: u32, format: PixelFormat) {
        if let Err(e) = self.try_reshape(width, height, format) {
            panic!("ImageBuf::reshape({width}x{height}): {e}");
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The pixel layout.
    pub fn format(&self) -> PixelFormat {
        self.format
    }

    /// Bytes per row (rows are packed).
    pub fn stride(&self) -> usize {
        self.width as usize * self.format.bytes_per_pixel()
    }

    /// The packed pixel bytes.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The packed pixel bytes, writable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.data
    }

    /// Bytes of storage held, which later frames reuse.
    pub fn capacity(&self) -> usize {
        self.data.capacity()
    }

    /// Gives the storage back.
    pub fn into_vec(self) -> Vec<u8> {
        self.data
    }

    /// A read-only view.
    pub fn as_image(&self) -> ImageRef<'_> {
        ImageRef {
            width: self.width,
            height: self.height,
            format: self.format,
            stride: self.stride(),
            data: &self.data,
        }
    }

    /// A writable view.
    pub fn as_image_mut(&mut self) -> ImageMut<'_> {
        let stride = self.stride();
        ImageMut {
            width: self.width,
            height: self.height,
            format: self.format,
            stride,
            data: &mut self.data,
        }
    }
}

impl Default for ImageBuf {
    /// [`ImageBuf::empty`] in [`PixelFormat::Rgb8`].
    fn default() -> Self {
        Self::empty(PixelFormat::Rgb8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_checks_reject_short_buffers_and_strides() {
        assert!(ImageRef::new(2, 2, PixelFormat::Rgb8, &[0; 11]).is_err());
        assert!(ImageRef::new(2, 2, PixelFormat::Rgb8, &[0; 12]).is_ok());
        assert!(ImageRef::with_stride(2, 2, PixelFormat::Rgb8, 5, &[0; 12]).is_err());
        // The last row needs no padding.
        assert!(ImageRef::with_stride(2, 2, PixelFormat::Rgb8, 8, &[0; 14]).is_ok());
        assert!(ImageRef::new(u32::MAX, u32::MAX, PixelFormat::Rgba8, &[]).is_err());
    }

    #[test]
    fn rows_skip_padding() {
        let data = [1, 2, 3, 9, 4, 5, 6, 9];
        let img = ImageRef::with_stride(1, 2, PixelFormat::Rgb8, 4, &data).unwrap();
        let rows: Vec<&[u8]> = img.rows().collect();
        assert_eq!(rows, [&[1, 2, 3][..], &[4, 5, 6][..]]);
        assert!(!img.is_packed());
    }

    #[test]
    fn reshape_reuses_storage() {
        let mut img = ImageBuf::new(100, 100, PixelFormat::Rgba8);
        let ptr = img.data().as_ptr();
        img.reshape(50, 50, PixelFormat::Rgb8);
        assert_eq!(img.data().len(), 50 * 50 * 3);
        img.reshape(100, 100, PixelFormat::Bgra8);
        assert_eq!(img.data().as_ptr(), ptr);
        assert!(
            img.try_reshape(u32::MAX, u32::MAX, PixelFormat::Rgba8)
                .is_err()
        );
    }

    #[test]
    fn xrgb32_view_is_the_window_buffer() {
        let mut px = vec![0u32; 6];
        {
            let mut img = ImageMut::from_xrgb32(3, 2, &mut px).unwrap();
            assert_eq!(img.stride(), 12);
            img.row_mut(1)[0..4].copy_from_slice(&0x00112233u32.to_ne_bytes());
        }
        assert_eq!(px[3], 0x00112233);
    }

    #[test]
    fn from_vec_checks_length() {
        assert!(ImageBuf::from_vec(2, 2, PixelFormat::Rgb8, vec![0; 12]).is_ok());
        assert!(ImageBuf::from_vec(2, 2, PixelFormat::Rgb8, vec![0; 13]).is_err());
    }
}
