//! Image work: sniffing, decoding (DCT-scaled for JPEG), EXIF orientation, resizing and
//! encoding. Everything here is CPU-bound and runs on [`CpuPool`], never on the async runtime.

mod cpu;
mod decode;

pub use cpu::{CpuPool, Turn};
use decode::decode;
pub use decode::upright_size;

use crate::domain::ImageFormat;
use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::metadata::Orientation;
use image::{DynamicImage, RgbImage, RgbaImage};

/// Larger images are refused before any pixel is decoded (a 24 MP camera is far below).
pub const MAX_PIXELS: u64 = 120_000_000;
/// Side of the thumbnails the job history shows.
const THUMB_SIDE: u32 = 320;
const JPEG_QUALITY: u8 = 90;
const THUMB_QUALITY: u8 = 80;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImagingError {
    #[error("{0}")]
    Unreadable(String),
    #[error("{width}×{height} pixels is more than this server decodes")]
    TooManyPixels { width: u64, height: u64 },
    #[error("not a JPEG, PNG or WebP image")]
    UnknownFormat,
}

fn unreadable(e: impl std::fmt::Display) -> ImagingError {
    ImagingError::Unreadable(e.to_string())
}

/// Decoded pixels, RGB or RGBA, 8 bits a channel.
struct Pixels {
    width: u32,
    height: u32,
    alpha: bool,
    data: Vec<u8>,
}

impl Pixels {
    fn pixel_type(&self) -> PixelType {
        if self.alpha {
            PixelType::U8x4
        } else {
            PixelType::U8x3
        }
    }

    fn from_dynamic(image: DynamicImage) -> Pixels {
        let (width, height) = (image.width(), image.height());
        if image.color().has_alpha() {
            Pixels {
                width,
                height,
                alpha: true,
                data: image.into_rgba8().into_raw(),
            }
        } else {
            Pixels {
                width,
                height,
                alpha: false,
                data: image.into_rgb8().into_raw(),
            }
        }
    }

    fn into_dynamic(self) -> DynamicImage {
        let Pixels {
            width,
            height,
            alpha,
            data,
        } = self;
        let image = if alpha {
            RgbaImage::from_raw(width, height, data).map(DynamicImage::ImageRgba8)
        } else {
            RgbImage::from_raw(width, height, data).map(DynamicImage::ImageRgb8)
        };
        image.expect("buffer size matches dimensions")
    }

    fn oriented(self, orientation: Orientation) -> Pixels {
        if orientation == Orientation::NoTransforms {
            return self;
        }
        let mut image = self.into_dynamic();
        image.apply_orientation(orientation);
        Pixels::from_dynamic(image)
    }

    /// Scales to exactly `width`×`height`, cropping the centre when the aspect differs.
    fn resized_to_cover(self, width: u32, height: u32) -> Result<Pixels, ImagingError> {
        if (width, height) == (self.width, self.height) {
            return Ok(self);
        }
        self.resized_copy(width, height)
    }

    /// A scaled copy, the source left as it is (no copy of its pixels is made first); the
    /// centre is cropped when the aspect differs.
    fn resized_copy(&self, width: u32, height: u32) -> Result<Pixels, ImagingError> {
        self.scaled_copy(width, height, true, FilterType::CatmullRom)
    }

    /// A scaled copy, its centre cropped when the aspect differs, or else stretched.
    fn scaled_copy(
        &self,
        width: u32,
        height: u32,
        crop: bool,
        filter: FilterType,
    ) -> Result<Pixels, ImagingError> {
        let pixel_type = self.pixel_type();
        let src =
            ImageRef::new(self.width, self.height, &self.data, pixel_type).map_err(unreadable)?;
        let mut dst = Image::new(width, height, pixel_type);
        let mut options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(filter));
        if crop {
            options = options.fit_into_destination(Some((0.5, 0.5)));
        }
        Resizer::new()
            .resize(&src, &mut dst, &options)
            .map_err(unreadable)?;
        Ok(Pixels {
            width,
            height,
            alpha: self.alpha,
            data: dst.into_vec(),
        })
    }

    /// Shrinks so that neither side exceeds `max_side`; never enlarges.
    fn fitted_within(self, max_side: u32) -> Result<Pixels, ImagingError> {
        let (width, height) = fit_within(self.width, self.height, max_side);
        self.resized_to_cover(width, height)
    }

    /// RGB pixels for JPEG: transparent areas become white rather than black.
    fn without_alpha(self) -> Pixels {
        if !self.alpha {
            return self;
        }
        let data = self
            .data
            .chunks_exact(4)
            .flat_map(|px| {
                let a = u16::from(px[3]);
                let blend = |c: u8| ((u16::from(c) * a + 255 * (255 - a)) / 255) as u8;
                [blend(px[0]), blend(px[1]), blend(px[2])]
            })
            .collect();
        Pixels {
            width: self.width,
            height: self.height,
            alpha: false,
            data,
        }
    }

    fn encode(self, format: ImageFormat, quality: u8) -> Result<Vec<u8>, ImagingError> {
        match format {
            ImageFormat::Png => {
                let mut out = Vec::new();
                let encoder = image::codecs::png::PngEncoder::new_with_quality(
                    &mut out,
                    image::codecs::png::CompressionType::Fast,
                    image::codecs::png::FilterType::Adaptive,
                );
                let color = if self.alpha {
                    image::ExtendedColorType::Rgba8
                } else {
                    image::ExtendedColorType::Rgb8
                };
                image::ImageEncoder::write_image(
                    encoder,
                    &self.data,
                    self.width,
                    self.height,
                    color,
                )
                .map_err(unreadable)?;
                Ok(out)
            }
            // WebP is accepted but answered as JPEG, which every booth program prints.
            ImageFormat::Jpeg | ImageFormat::Webp => {
                let rgb = self.without_alpha();
                let mut out = Vec::new();
                let mut encoder = jpeg_encoder::Encoder::new(&mut out, quality);
                encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
                let (w, h) = (side_u16(rgb.width)?, side_u16(rgb.height)?);
                encoder
                    .encode(&rgb.data, w, h, jpeg_encoder::ColorType::Rgb)
                    .map_err(unreadable)?;
                Ok(out)
            }
        }
    }

    /// The reduced copies a result check looks at: grey for the face detector, within
    /// [`GLANCE_PIXELS`], and a tiny colour square of the whole image for comparing two.
    fn glance(&self, pixels: u64) -> Result<Glance, ImagingError> {
        let scale = (pixels as f64 / (f64::from(self.width) * f64::from(self.height)))
            .sqrt()
            .min(1.0);
        let side = |s: u32| ((f64::from(s) * scale).round() as u32).max(1);
        // Averaged, not sharpened: a sharpening filter's halos make the face detector both see
        // faces in the tiles' edges and miss small real ones (BENCHMARKS.md).
        let small = self
            .scaled_copy(side(self.width), side(self.height), true, FilterType::Box)?
            .without_alpha();
        let grey = small
            .data
            .chunks_exact(3)
            .map(|px| {
                let luma = 299 * u32::from(px[0]) + 587 * u32::from(px[1]) + 114 * u32::from(px[2]);
                (luma / 1000) as u8
            })
            .collect();
        // Stretched, not cropped: an edit near the edge of a wide group photo still shows.
        let square = small.scaled_copy(
            SIGNATURE_SIDE,
            SIGNATURE_SIDE,
            false,
            FilterType::CatmullRom,
        )?;
        Ok(Glance {
            width: small.width,
            height: small.height,
            grey,
            signature: square.data,
        })
    }

    /// Made from these pixels, already reduced for the model or the answer, never from the
    /// full-size upload.
    fn thumbnail(&self) -> Result<Vec<u8>, ImagingError> {
        let (width, height) = fit_within(self.width, self.height, THUMB_SIDE);
        self.resized_copy(width, height)?
            .encode(ImageFormat::Jpeg, THUMB_QUALITY)
    }
}

fn side_u16(side: u32) -> Result<u16, ImagingError> {
    u16::try_from(side).map_err(|_| unreadable("image too wide for JPEG"))
}

/// The largest size within `max_side`×`max_side` with the same aspect (never enlarged).
pub fn fit_within(width: u32, height: u32, max_side: u32) -> (u32, u32) {
    let longest = width.max(height);
    if longest <= max_side || longest == 0 {
        return (width, height);
    }
    let scale = f64::from(max_side) / f64::from(longest);
    let side = |s: u32| ((f64::from(s) * scale).round() as u32).max(1);
    (side(width), side(height))
}

/// The pixels of a result's first look: faces from about a ninth of a 3:2 photo's width up are
/// seen (the detector's window is 40 pixels), read in about 40 ms on one core. Enough for the
/// portraits and pairs most booth photos are.
pub const GLANCE_PIXELS: u64 = 120_000;
/// The closer copy: faces a twentieth of the width, as in a group of five, are seen; read in
/// about 100 ms. The guest's faces are counted on it (while the model works), a result's only
/// when its first look found fewer than it needed.
pub const CLOSER_PIXELS: u64 = 500_000;
/// Side of the colour square two images are compared by.
pub const SIGNATURE_SIDE: u32 = 64;

/// An image reduced for the result checks.
pub struct Glance {
    pub width: u32,
    pub height: u32,
    /// Luma, one byte a pixel, `width`×`height`.
    pub grey: Vec<u8>,
    /// RGB, [`SIGNATURE_SIDE`] squared, the whole image squeezed into it.
    pub signature: Vec<u8>,
}

/// A guest photo made ready for a model.
pub struct PreparedInput {
    /// Upright size of the upload.
    pub width: u32,
    pub height: u32,
    /// What the model receives: upright, at most the provider's max side.
    pub model_input: Vec<u8>,
    pub model_format: ImageFormat,
    pub thumbnail: Vec<u8>,
    /// The reduced copies the result checks compare the model's answer with, the grey one at
    /// [`CLOSER_PIXELS`]: the guest's faces are counted once, off the booth's clock.
    pub glance: Glance,
}

/// Decodes an upload, turns it upright and scales it for the model.
pub fn prepare_input(bytes: &[u8], max_side: u32) -> Result<PreparedInput, ImagingError> {
    let (width, height) = upright_size(bytes)?;
    let (pixels, orientation) = decode(bytes, max_side)?;
    let pixels = pixels.fitted_within(max_side)?.oriented(orientation);
    let thumbnail = pixels.thumbnail()?;
    let glance = pixels.glance(CLOSER_PIXELS)?;
    let model_format = if pixels.alpha {
        ImageFormat::Png
    } else {
        ImageFormat::Jpeg
    };
    Ok(PreparedInput {
        width,
        height,
        model_input: pixels.encode(model_format, JPEG_QUALITY)?,
        model_format,
        thumbnail,
        glance,
    })
}

/// The photo the booth gets back.
pub struct FinishedResult {
    pub bytes: Vec<u8>,
    pub thumbnail: Vec<u8>,
}

/// A model's answer decoded, upright, at least the size the booth gets back: checked, then
/// fitted, from one decode.
pub struct Decoded {
    pixels: Pixels,
    /// The size the booth gets back.
    width: u32,
    height: u32,
}

/// Decodes a model's answer for the upload's aspect, its pixel size up to `max_side`.
pub fn decode_answer(
    model_output: &[u8],
    upload_size: (u32, u32),
    max_side: u32,
) -> Result<Decoded, ImagingError> {
    let (width, height) = fit_within(upload_size.0, upload_size.1, max_side);
    let (pixels, orientation) = decode(model_output, width.max(height))?;
    Ok(Decoded {
        pixels: pixels.oriented(orientation),
        width,
        height,
    })
}

impl Decoded {
    pub fn glance(&self) -> Result<Glance, ImagingError> {
        self.pixels.glance(GLANCE_PIXELS)
    }

    /// A copy with [`CLOSER_PIXELS`], for a second look when faces seem to be missing.
    pub fn closer_glance(&self) -> Result<Glance, ImagingError> {
        self.pixels.glance(CLOSER_PIXELS)
    }
}

/// Fits a decoded answer to the upload: its aspect and orientation, its pixel size, and its
/// format family (PNG for PNG, else JPEG).
pub fn finish_result(
    decoded: Decoded,
    format: ImageFormat,
) -> Result<FinishedResult, ImagingError> {
    let pixels = decoded
        .pixels
        .resized_to_cover(decoded.width, decoded.height)?;
    let thumbnail = pixels.thumbnail()?;
    Ok(FinishedResult {
        bytes: pixels.encode(format, JPEG_QUALITY)?,
        thumbnail,
    })
}

/// Re-encodes an image of any accepted format as a small JPEG thumbnail.
pub fn thumbnail(bytes: &[u8]) -> Result<Vec<u8>, ImagingError> {
    let (pixels, orientation) = decode(bytes, THUMB_SIDE)?;
    pixels.oriented(orientation).thumbnail()
}

/// Decodes any accepted image, upright, at least `min_side` on its longest side where the
/// format allows a cheap reduced decode.
pub fn decode_upright(bytes: &[u8], min_side: u32) -> Result<DynamicImage, ImagingError> {
    let (pixels, orientation) = decode(bytes, min_side)?;
    Ok(pixels.oriented(orientation).into_dynamic())
}

/// Scales to exactly `width`×`height`, cropping the centre when the aspect differs.
pub fn resize_cover(
    image: DynamicImage,
    width: u32,
    height: u32,
) -> Result<DynamicImage, ImagingError> {
    Ok(Pixels::from_dynamic(image)
        .resized_to_cover(width, height)?
        .into_dynamic())
}

pub fn encode(image: DynamicImage, format: ImageFormat) -> Result<Vec<u8>, ImagingError> {
    Pixels::from_dynamic(image).encode(format, JPEG_QUALITY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let data = (0..width * height)
            .flat_map(|i| [(i % 251) as u8, 90, 200])
            .collect();
        Pixels {
            width,
            height,
            alpha: false,
            data,
        }
        .encode(ImageFormat::Jpeg, 90)
        .unwrap()
    }

    fn finish(bytes: &[u8], size: (u32, u32), max_side: u32, f: ImageFormat) -> FinishedResult {
        finish_result(decode_answer(bytes, size, max_side).unwrap(), f).unwrap()
    }

    #[test]
    fn a_glance_is_small_grey_and_a_centred_square() {
        let glance = prepare_input(&jpeg(1800, 1200), 2048).unwrap().glance;
        assert_eq!((glance.width, glance.height), (866, 577));
        assert_eq!(glance.grey.len(), 866 * 577);
        assert_eq!(
            glance.signature.len(),
            (SIGNATURE_SIDE * SIGNATURE_SIDE * 3) as usize
        );
    }

    #[test]
    fn fit_within_keeps_aspect_and_never_enlarges() {
        assert_eq!(fit_within(6000, 4000, 2048), (2048, 1365));
        assert_eq!(fit_within(4000, 6000, 2048), (1365, 2048));
        assert_eq!(fit_within(512, 768, 2048), (512, 768));
    }

    #[test]
    fn prepare_scales_to_max_side() {
        let prepared = prepare_input(&jpeg(1200, 800), 600).unwrap();
        assert_eq!((prepared.width, prepared.height), (1200, 800));
        let model = image::load_from_memory(&prepared.model_input).unwrap();
        assert_eq!((model.width(), model.height()), (600, 400));
        let thumb = image::load_from_memory(&prepared.thumbnail).unwrap();
        assert_eq!(thumb.width().max(thumb.height()), THUMB_SIDE);
    }

    #[test]
    fn finish_crops_a_square_answer_to_the_upload_aspect() {
        let result = finish(&jpeg(1024, 1024), (600, 900), 2048, ImageFormat::Jpeg);
        let image = image::load_from_memory(&result.bytes).unwrap();
        assert_eq!((image.width(), image.height()), (600, 900));
    }

    #[test]
    fn finish_caps_the_result_side() {
        let result = finish(&jpeg(512, 512), (6000, 4000), 2048, ImageFormat::Png);
        assert_eq!(ImageFormat::sniff(&result.bytes), Some(ImageFormat::Png));
        let image = image::load_from_memory(&result.bytes).unwrap();
        assert_eq!((image.width(), image.height()), (2048, 1365));
    }

    #[test]
    fn broken_bytes_are_an_error_not_a_panic() {
        let mut truncated = jpeg(64, 64);
        truncated.truncate(truncated.len() / 3);
        assert!(prepare_input(&truncated, 512).is_err());
        assert_eq!(
            prepare_input(b"<html>", 512).err(),
            Some(ImagingError::UnknownFormat)
        );
    }
}
