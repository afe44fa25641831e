//! Counting faces with rustface, the Rust port of SeetaFace's frontal face detector (BSD-2),
//! whose model is compiled into the server (`models/seeta_fd_frontal_v1.0.bin`): nothing is
//! downloaded at run time.

use crate::imaging::Glance;
use std::sync::OnceLock;

static MODEL_BYTES: &[u8] = include_bytes!("../../models/seeta_fd_frontal_v1.0.bin");

/// The detector's window: it sees faces from this size up, in pixels of the copy it reads (its
/// pyramid only shrinks), so a small face is found on a larger copy, not by a smaller window.
const WINDOW: u32 = 40;
/// Scores below this are not faces: SeetaFace's own default. On the labelled set's closer copies
/// 1.0 and 1.5 imagine faces in the cup and the tiles' edges, 2.5 starts to miss real ones
/// (BENCHMARKS.md).
const SCORE_THRESHOLD: f64 = 2.0;
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
    if image.width < WINDOW || image.height < WINDOW {
        return 0;
    }
    let Some(model) = model() else {
        return 0;
    };
    let mut detector = rustface::create_detector_with_model(model.clone());
    detector.set_score_thresh(SCORE_THRESHOLD);
    detector.set_pyramid_scale_factor(PYRAMID_SCALE);
    detector.set_slide_window_step(WINDOW_STEP, WINDOW_STEP);
    let data = rustface::ImageData::new(&image.grey, image.width, image.height);
    detector.detect(&data).len() as u32
}
