//! Decoding: JPEG at a DCT-reduced size, a large PNG reduced row by row, anything else whole;
//! with the EXIF orientation, never applied here.

use super::{ImagingError, MAX_PIXELS, Pixels, fit_within, side_u16, unreadable};
use crate::domain::ImageFormat;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageReader};
use std::io::Cursor;

fn check_pixels(width: u32, height: u32) -> Result<(), ImagingError> {
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(ImagingError::TooManyPixels {
            width: width.into(),
            height: height.into(),
        });
    }
    Ok(())
}

/// Decodes an image, at reduced size where the format allows it cheaply (JPEG's DCT scaling),
/// keeping at least `min_side` pixels on the longest side. Returns the stored (not yet
/// oriented) pixels and the EXIF orientation.
pub(super) fn decode(bytes: &[u8], min_side: u32) -> Result<(Pixels, Orientation), ImagingError> {
    match ImageFormat::sniff(bytes).ok_or(ImagingError::UnknownFormat)? {
        ImageFormat::Jpeg => decode_jpeg(bytes, min_side),
        ImageFormat::Png => match decode_png_reduced(bytes, min_side)? {
            Some(reduced) => Ok(reduced),
            None => decode_other(bytes, ImageFormat::Png),
        },
        format => decode_other(bytes, format),
    }
}

/// Decodes a large PNG a row at a time, averaging each `factor`×`factor` block into one pixel,
/// so that it never holds more than the reduced image and one row (a PNG's pixels are no
/// cheaper to reach than that). `None` when a plain decode costs no more: the image is already
/// small, or interlaced.
fn decode_png_reduced(
    bytes: &[u8],
    min_side: u32,
) -> Result<Option<(Pixels, Orientation)>, ImagingError> {
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(unreadable)?;
    let info = reader.info();
    let (width, height) = (info.width, info.height);
    check_pixels(width, height)?;
    let factor = width.max(height) / min_side.max(1);
    if factor < 2 || info.interlaced {
        return Ok(None);
    }
    let orientation = info
        .exif_metadata
        .as_deref()
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);
    let (color, _) = reader.output_color_type();
    let mut reduction = BoxReduction::new(width, height, factor, color)?;
    while let Some(row) = reader.next_row().map_err(unreadable)? {
        reduction.add_row(row.data());
    }
    Ok(Some((reduction.finish()?, orientation)))
}

/// A box filter fed one row at a time: sums of each block, emitted as a reduced row once the
/// block's rows are in.
struct BoxReduction {
    width: u32,
    height: u32,
    factor: u32,
    /// Channels of a source pixel (gray, gray+alpha, RGB, RGBA).
    channels: usize,
    alpha: bool,
    sums: Vec<u32>,
    rows_in_band: u32,
    rows_seen: u32,
    out: Vec<u8>,
}

impl BoxReduction {
    fn new(
        width: u32,
        height: u32,
        factor: u32,
        color: png::ColorType,
    ) -> Result<BoxReduction, ImagingError> {
        let (channels, alpha) = match color {
            png::ColorType::Grayscale => (1, false),
            png::ColorType::GrayscaleAlpha => (2, true),
            png::ColorType::Rgb => (3, false),
            png::ColorType::Rgba => (4, true),
            png::ColorType::Indexed => return Err(unreadable("unexpanded palette")),
        };
        let out_channels = if alpha { 4 } else { 3 };
        let (out_w, out_h) = (width.div_ceil(factor), height.div_ceil(factor));
        Ok(BoxReduction {
            width,
            height,
            factor,
            channels,
            alpha,
            sums: vec![0; out_w as usize * out_channels],
            rows_in_band: 0,
            rows_seen: 0,
            out: Vec::with_capacity(out_w as usize * out_h as usize * out_channels),
        })
    }

    fn out_channels(&self) -> usize {
        if self.alpha { 4 } else { 3 }
    }

    fn add_row(&mut self, row: &[u8]) {
        let row = &row[..(self.width as usize * self.channels).min(row.len())];
        match self.channels {
            1 => self.accumulate::<1>(row, |p| [p[0], p[0], p[0], 255]),
            2 => self.accumulate::<2>(row, |p| [p[0], p[0], p[0], p[1]]),
            3 => self.accumulate::<3>(row, |p| [p[0], p[1], p[2], 255]),
            _ => self.accumulate::<4>(row, |p| [p[0], p[1], p[2], p[3]]),
        }
        self.rows_in_band += 1;
        self.rows_seen += 1;
        if self.rows_in_band == self.factor || self.rows_seen == self.height {
            self.emit_band();
        }
    }

    /// Adds a row of `C`-channel pixels to its blocks' sums. The channel count is a constant
    /// here so that the per-pixel work compiles to a few additions.
    fn accumulate<const C: usize>(&mut self, row: &[u8], rgba: impl Fn(&[u8]) -> [u8; 4]) {
        let out_channels = self.out_channels();
        let block = C * self.factor as usize;
        for (pixels, sums) in row
            .chunks(block)
            .zip(self.sums.chunks_exact_mut(out_channels))
        {
            for px in pixels.chunks_exact(C) {
                for (sum, value) in sums.iter_mut().zip(rgba(px)) {
                    *sum += u32::from(value);
                }
            }
        }
    }

    fn emit_band(&mut self) {
        let out_channels = self.out_channels();
        let factor = self.factor;
        for (cell, sums) in self.sums.chunks_exact_mut(out_channels).enumerate() {
            let columns = (self.width - cell as u32 * factor).min(factor);
            let count = columns * self.rows_in_band;
            self.out
                .extend(sums.iter().map(|sum| ((sum + count / 2) / count) as u8));
            sums.fill(0);
        }
        self.rows_in_band = 0;
    }

    fn finish(self) -> Result<Pixels, ImagingError> {
        let (width, height) = (
            self.width.div_ceil(self.factor),
            self.height.div_ceil(self.factor),
        );
        if self.rows_seen != self.height {
            return Err(unreadable("the PNG ends before its last row"));
        }
        Ok(Pixels {
            width,
            height,
            alpha: self.alpha,
            data: self.out,
        })
    }
}

fn decode_jpeg(bytes: &[u8], min_side: u32) -> Result<(Pixels, Orientation), ImagingError> {
    let mut decoder = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    decoder.set_max_decoding_buffer_size((MAX_PIXELS * 4) as usize);
    decoder.read_info().map_err(unreadable)?;
    let info = decoder.info().ok_or_else(|| unreadable("no JPEG frame"))?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    check_pixels(width, height)?;
    if !matches!(
        info.pixel_format,
        jpeg_decoder::PixelFormat::RGB24 | jpeg_decoder::PixelFormat::L8
    ) {
        // CMYK and 16-bit JPEGs are rare in a booth; the general decoder handles them.
        return decode_other(bytes, ImageFormat::Jpeg);
    }
    let orientation = decoder
        .exif_data()
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);
    let (want_w, want_h) = fit_within(width, height, min_side);
    decoder
        .scale(side_u16(want_w)?, side_u16(want_h)?)
        .map_err(unreadable)?;
    let data = decoder.decode().map_err(unreadable)?;
    let info = decoder.info().ok_or_else(|| unreadable("no JPEG frame"))?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    let data = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 => data.iter().flat_map(|&l| [l, l, l]).collect(),
        _ => data,
    };
    if data.len() != width as usize * height as usize * 3 {
        return Err(unreadable("JPEG data does not match its size"));
    }
    Ok((
        Pixels {
            width,
            height,
            alpha: false,
            data,
        },
        orientation,
    ))
}

fn general_decoder(
    bytes: &[u8],
    format: ImageFormat,
) -> Result<impl ImageDecoder + '_, ImagingError> {
    let format = match format {
        ImageFormat::Jpeg => image::ImageFormat::Jpeg,
        ImageFormat::Png => image::ImageFormat::Png,
        ImageFormat::Webp => image::ImageFormat::WebP,
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_PIXELS * 4);
    reader.limits(limits);
    reader.into_decoder().map_err(unreadable)
}

fn decode_other(bytes: &[u8], format: ImageFormat) -> Result<(Pixels, Orientation), ImagingError> {
    let mut decoder = general_decoder(bytes, format)?;
    let (width, height) = decoder.dimensions();
    check_pixels(width, height)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let image = DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    Ok((Pixels::from_dynamic(image), orientation))
}

/// Size of an upload as a person sees it (EXIF orientation applied), read from its header.
pub fn upright_size(bytes: &[u8]) -> Result<(u32, u32), ImagingError> {
    let (width, height, orientation) =
        match ImageFormat::sniff(bytes).ok_or(ImagingError::UnknownFormat)? {
            ImageFormat::Jpeg => {
                let mut decoder = jpeg_decoder::Decoder::new(Cursor::new(bytes));
                decoder.read_info().map_err(unreadable)?;
                let info = decoder.info().ok_or_else(|| unreadable("no JPEG frame"))?;
                let orientation = decoder.exif_data().and_then(Orientation::from_exif_chunk);
                (u32::from(info.width), u32::from(info.height), orientation)
            }
            other => {
                let mut decoder = general_decoder(bytes, other)?;
                let (width, height) = decoder.dimensions();
                (width, height, decoder.orientation().ok())
            }
        };
    check_pixels(width, height)?;
    let turned = orientation.is_some_and(swaps_sides);
    Ok(if turned {
        (height, width)
    } else {
        (width, height)
    })
}

fn swaps_sides(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32, color: image::ExtendedColorType, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        image::ImageEncoder::write_image(
            image::codecs::png::PngEncoder::new(&mut out),
            data,
            width,
            height,
            color,
        )
        .unwrap();
        out
    }

    #[test]
    fn a_large_png_is_reduced_row_by_row_to_the_block_averages() {
        // 9×4 RGB: left third red, the rest blue; reduced by 3 → 3×2 (last row band of 1).
        let data: Vec<u8> = (0..4)
            .flat_map(|_| (0..9).flat_map(|x| if x < 3 { [240, 0, 0] } else { [0, 0, 240] }))
            .collect();
        let bytes = png(9, 4, image::ExtendedColorType::Rgb8, &data);
        let (pixels, _) = decode_png_reduced(&bytes, 3).unwrap().expect("reduced");
        assert_eq!((pixels.width, pixels.height), (3, 2));
        assert_eq!(&pixels.data[..9], &[240, 0, 0, 0, 0, 240, 0, 0, 240]);
        let gray_alpha = png(4, 4, image::ExtendedColorType::La8, &[100, 50].repeat(16));
        let (pixels, _) = decode_png_reduced(&gray_alpha, 2)
            .unwrap()
            .expect("reduced");
        assert!(pixels.alpha);
        assert_eq!(&pixels.data[..4], &[100, 100, 100, 50]);
        assert!(
            decode_png_reduced(&bytes, 9).unwrap().is_none(),
            "small enough to decode whole"
        );
    }
}
