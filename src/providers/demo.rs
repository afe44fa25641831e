//! Demo mode: a local effect in place of every model, so the whole loop can be tried
//! without API keys.

use super::{ImageModel, ModelFuture, ModelOutput, ModelRequest, ProviderError};
use crate::domain::{ImageFormat, Kind};
use crate::imaging::{self, CpuPool, ImagingError};
use image::{DynamicImage, GenericImageView, Rgb, RgbImage};
use std::time::Duration;

pub struct DemoModel {
    delay: Duration,
    cpu: CpuPool,
}

impl DemoModel {
    pub fn new(delay: Duration, cpu: CpuPool) -> DemoModel {
        DemoModel { delay, cpu }
    }
}

impl ImageModel for DemoModel {
    fn generate(&self, request: ModelRequest) -> ModelFuture<'_> {
        Box::pin(async move {
            // Pretend to think, as a real model would.
            tokio::time::sleep(self.delay).await;
            self.cpu
                // The demo effect stands for the model: the job is half-way, not starting.
                .run(imaging::Turn::Finish, move || apply_effect(&request))
                .await
                .map(ModelOutput::from)
                .map_err(|e| ProviderError::Protocol(e.to_string()))
        })
    }
}

fn apply_effect(request: &ModelRequest) -> Result<Vec<u8>, ImagingError> {
    // Full size: a PNG decodes reduced to the side asked for, and 0 would make it one pixel.
    let guest = imaging::decode_upright(&request.photo.bytes, u32::MAX)?.into_rgb8();
    let reference = match &request.reference {
        Some(r) => Some(imaging::decode_upright(&r.bytes, u32::MAX)?),
        None => None,
    };
    let out = match (request.kind, reference) {
        (Kind::Background, Some(reference)) => blend(&guest, reference)?,
        (Kind::FaceSwap, Some(reference)) => inset(guest, reference)?,
        _ => sepia(guest),
    };
    imaging::encode(DynamicImage::ImageRgb8(out), ImageFormat::Jpeg)
}

/// A warm sepia tone with a strong vignette: unmistakably processed.
fn sepia(mut image: RgbImage) -> RgbImage {
    let (w, h) = image.dimensions();
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let max_d = (cx * cx + cy * cy).sqrt();
    for (x, y, px) in image.enumerate_pixels_mut() {
        let [r, g, b] = px.0.map(f32::from);
        let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt() / max_d;
        let light = 1.0 - 0.6 * d * d;
        let tone = |a: f32, b2: f32, c: f32| ((r * a + g * b2 + b * c) * light).min(255.0) as u8;
        *px = Rgb([
            tone(0.393, 0.769, 0.189),
            tone(0.349, 0.686, 0.168),
            tone(0.272, 0.534, 0.131),
        ]);
    }
    image
}

/// The guest over the reference background, half and half.
fn blend(guest: &RgbImage, reference: DynamicImage) -> Result<RgbImage, ImagingError> {
    let (w, h) = guest.dimensions();
    let background = imaging::resize_cover(reference, w, h)?.into_rgb8();
    Ok(RgbImage::from_fn(w, h, |x, y| {
        let (g, b) = (guest.get_pixel(x, y).0, background.get_pixel(x, y).0);
        Rgb([0, 1, 2].map(|i| ((u16::from(g[i]) * 3 + u16::from(b[i]) * 2) / 5) as u8))
    }))
}

/// The guest's photo inset in the middle of the reference template.
fn inset(guest: RgbImage, reference: DynamicImage) -> Result<RgbImage, ImagingError> {
    let (w, h) = reference.dimensions();
    let mut canvas = reference.into_rgb8();
    let (iw, ih) = imaging::fit_within(guest.width(), guest.height(), w.min(h) / 2);
    let small = imaging::resize_cover(DynamicImage::ImageRgb8(guest), iw, ih)?.into_rgb8();
    image::imageops::overlay(
        &mut canvas,
        &small,
        i64::from((w - iw) / 2),
        i64::from((h - ih) / 2),
    );
    Ok(canvas)
}
