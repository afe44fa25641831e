//! Image work: sniffing, decoding (DCT-scaled for JPEG), EXIF orientation, resizing and
//! encoding. Everything here is CPU-bound and runs on [`CpuPool`], never on the async runtime.

use crate::domain::ImageFormat;
use crate::metrics::Histogram;
use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage, RgbaImage};
use std::collections::VecDeque;
use std::io::Cursor;
use std::sync::Arc;
use std::sync::Mutex;
use tokio::sync::oneshot;

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

    /// A scaled copy, the source left as it is (no copy of its pixels is made first).
    fn resized_copy(&self, width: u32, height: u32) -> Result<Pixels, ImagingError> {
        let pixel_type = self.pixel_type();
        let src =
            ImageRef::new(self.width, self.height, &self.data, pixel_type).map_err(unreadable)?;
        let mut dst = Image::new(width, height, pixel_type);
        let options = ResizeOptions::new()
            .resize_alg(ResizeAlg::Convolution(FilterType::CatmullRom))
            .fit_into_destination(Some((0.5, 0.5)));
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
fn decode(bytes: &[u8], min_side: u32) -> Result<(Pixels, Orientation), ImagingError> {
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

/// A guest photo made ready for a model.
pub struct PreparedInput {
    /// Upright size of the upload.
    pub width: u32,
    pub height: u32,
    /// What the model receives: upright, at most the provider's max side.
    pub model_input: Vec<u8>,
    pub model_format: ImageFormat,
    pub thumbnail: Vec<u8>,
}

/// Decodes an upload, turns it upright and scales it for the model.
pub fn prepare_input(bytes: &[u8], max_side: u32) -> Result<PreparedInput, ImagingError> {
    let (width, height) = upright_size(bytes)?;
    let (pixels, orientation) = decode(bytes, max_side)?;
    let pixels = pixels.fitted_within(max_side)?.oriented(orientation);
    let thumbnail = pixels.thumbnail()?;
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
    })
}

/// The photo the booth gets back.
pub struct FinishedResult {
    pub bytes: Vec<u8>,
    pub thumbnail: Vec<u8>,
}

/// Fits a model's answer to the upload: its aspect and orientation, its pixel size up to
/// `max_side`, and its format family (PNG for PNG, else JPEG).
pub fn finish_result(
    model_output: &[u8],
    upload_size: (u32, u32),
    max_side: u32,
    format: ImageFormat,
) -> Result<FinishedResult, ImagingError> {
    let (width, height) = fit_within(upload_size.0, upload_size.1, max_side);
    let (pixels, orientation) = decode(model_output, width.max(height))?;
    let pixels = pixels
        .oriented(orientation)
        .resized_to_cover(width, height)?;
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

/// Which work gets a free place first. Finishing a job whose model has answered frees its
/// answer's memory and a guest who is waiting; starting a new job can wait for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Turn {
    Finish,
    Start,
}

/// The pool CPU-heavy image work waits for: no wider than the machine, so a burst of uploads
/// queues here instead of multiplying decoded buffers in memory. Waiting work is served
/// finishing first, then in order of arrival.
#[derive(Clone)]
pub struct CpuPool {
    places: Arc<Places>,
    /// Where the time spent waiting for a place is recorded.
    wait: Arc<Histogram>,
}

struct Places(Mutex<Queue>);

struct Queue {
    free: usize,
    finish: VecDeque<oneshot::Sender<Place>>,
    start: VecDeque<oneshot::Sender<Place>>,
}

/// A place in the pool, handed on to the next waiter when dropped (empty once handed on).
struct Place(Option<Arc<Places>>);

impl Drop for Place {
    fn drop(&mut self) {
        if let Some(places) = self.0.take() {
            places.hand_on();
        }
    }
}

impl Places {
    fn hand_on(self: &Arc<Self>) {
        let mut queue = self.0.lock().expect("cpu pool lock");
        while let Some(waiter) = queue.finish.pop_front().or_else(|| queue.start.pop_front()) {
            match waiter.send(Place(Some(self.clone()))) {
                Ok(()) => return,
                // That waiter has gone (its job ended); the place goes to the next one.
                Err(mut place) => drop(place.0.take()),
            }
        }
        queue.free += 1;
    }

    async fn take(self: &Arc<Self>, turn: Turn) -> Option<Place> {
        let placed = {
            let mut queue = self.0.lock().expect("cpu pool lock");
            if queue.free > 0 {
                queue.free -= 1;
                return Some(Place(Some(self.clone())));
            }
            let (sender, placed) = oneshot::channel();
            match turn {
                Turn::Finish => queue.finish.push_back(sender),
                Turn::Start => queue.start.push_back(sender),
            }
            placed
        };
        placed.await.ok()
    }
}

impl CpuPool {
    pub fn new(width: usize, wait: Arc<Histogram>) -> CpuPool {
        let queue = Queue {
            free: width.max(1),
            finish: VecDeque::new(),
            start: VecDeque::new(),
        };
        CpuPool {
            places: Arc::new(Places(Mutex::new(queue))),
            wait,
        }
    }

    pub fn machine_wide(wait: Arc<Histogram>) -> CpuPool {
        CpuPool::new(
            std::thread::available_parallelism().map_or(2, |n| n.get()),
            wait,
        )
    }

    /// Runs `work` on a blocking thread once a place is free. A panic inside becomes an error.
    pub async fn run<T, F>(&self, turn: Turn, work: F) -> Result<T, ImagingError>
    where
        F: FnOnce() -> Result<T, ImagingError> + Send + 'static,
        T: Send + 'static,
    {
        let queued = std::time::Instant::now();
        let place = self
            .places
            .take(turn)
            .await
            .ok_or_else(|| unreadable("the image workers have stopped"))?;
        self.wait.observe(queued.elapsed());
        let result = tokio::task::spawn_blocking(work)
            .await
            .unwrap_or_else(|e| Err(unreadable(format!("image worker failed: {e}"))));
        drop(place);
        result
    }
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
        let result = finish_result(&jpeg(1024, 1024), (600, 900), 2048, ImageFormat::Jpeg).unwrap();
        let image = image::load_from_memory(&result.bytes).unwrap();
        assert_eq!((image.width(), image.height()), (600, 900));
    }

    #[test]
    fn finish_caps_the_result_side() {
        let result = finish_result(&jpeg(512, 512), (6000, 4000), 2048, ImageFormat::Png).unwrap();
        assert_eq!(ImageFormat::sniff(&result.bytes), Some(ImageFormat::Png));
        let image = image::load_from_memory(&result.bytes).unwrap();
        assert_eq!((image.width(), image.height()), (2048, 1365));
    }

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

    #[tokio::test]
    async fn finishing_work_gets_a_free_place_before_starting_work() {
        let pool = CpuPool::new(1, Arc::default());
        let order = Arc::new(Mutex::new(Vec::new()));
        let (release, released) = std::sync::mpsc::channel::<()>();
        let busy = tokio::spawn({
            let pool = pool.clone();
            async move {
                pool.run(Turn::Start, move || {
                    released.recv().ok();
                    Ok(())
                })
                .await
            }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let mut waiting = Vec::new();
        for (name, turn) in [("start", Turn::Start), ("finish", Turn::Finish)] {
            let (pool, order) = (pool.clone(), order.clone());
            waiting.push(tokio::spawn(async move {
                pool.run(turn, move || {
                    order.lock().unwrap().push(name);
                    Ok(())
                })
                .await
            }));
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        // A waiter that gives up does not keep the place it would have been handed.
        let gone = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run(Turn::Finish, || Ok(())).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        gone.abort();
        release.send(()).unwrap();
        busy.await.unwrap().unwrap();
        for job in waiting {
            job.await.unwrap().unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["finish", "start"]);
        let place_back = pool.run(Turn::Start, || Ok(()));
        tokio::time::timeout(std::time::Duration::from_secs(1), place_back)
            .await
            .expect("the place came back to the pool")
            .unwrap();
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
