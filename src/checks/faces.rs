//! Counting faces with rustface, the Rust port of SeetaFace's frontal face detector (BSD-2),
//! whose model is compiled into the server (`models/seeta_fd_frontal_v1.0.bin`): nothing is
//! downloaded at run time.

use crate::imaging::Glance;
use std::sync::OnceLock;

static MODEL_BYTES: &[u8] = include_bytes!("../../models/seeta_fd_frontal_v1.0.bin");

/// The detector's smallest window, in pixels of the reduced copy.
const MIN_FACE: u32 = 20;
/// Scores below this are not faces: SeetaFace's examples use 2.0, which misses a third of the
/// smaller faces of the labelled set; 1.0 finds them with no false face on it (BENCHMARKS.md).
const SCORE_THRESHOLD: f64 = 1.0;
const PYRAMID_SCALE: f32 = 0.8;
const WINDOW_STEP: u32 = 4;

fn model() -> Option<&'static rustface::Model> {
    static MODEL: OnceLock<Option<rustface::Model>> = OnceLock::new();
    MODEL
        .get_or_init(|| match rustface::read_model(MODEL_BYTES) {
            Ok(model) => Some(model),
            Err(e) => {
                tracing::error!(error = %e, "the face model cannot be read; faces are not counted");
                None
            }
        })
        .as_ref()
}

/// Faces in an image's reduced grey copy; 0 for a copy too small to hold one.
pub fn count(image: &Glance) -> u32 {
    // The detector panics on an image smaller than its window.
    if image.width < MIN_FACE || image.height < MIN_FACE {
        return 0;
    }
    let Some(model) = model() else {
        return 0;
    };
    let mut detector = rustface::create_detector_with_model(model.clone());
    detector.set_min_face_size(MIN_FACE);
    detector.set_score_thresh(SCORE_THRESHOLD);
    detector.set_pyramid_scale_factor(PYRAMID_SCALE);
    detector.set_slide_window_step(WINDOW_STEP, WINDOW_STEP);
    let data = rustface::ImageData::new(&image.grey, image.width, image.height);
    detector.detect(&data).len() as u32
}
