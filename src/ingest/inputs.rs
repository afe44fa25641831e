//! What a slot's model is given besides the guest's photo: the slot's reference image, and for
//! a model that fetches its inputs, signed public links to both.

use crate::AppState;
use crate::config::Settings;
use crate::domain::{ImageFormat, Slot, SlotId};
use crate::error::AppError;
use crate::providers::ImageData;
use std::sync::Arc;

/// How long a published input stays reachable after the deadline, for a provider still at work.
const LINK_GRACE_SECS: i64 = 600;

/// The slot's reference image, when its kind uses one.
pub async fn reference_image(state: &AppState, slot: &Slot) -> Result<Option<ImageData>, AppError> {
    let Some(name) = slot
        .reference
        .as_deref()
        .filter(|_| slot.kind.needs_reference())
    else {
        return Ok(None);
    };
    let bytes = tokio::fs::read(state.media.reference_path(name)).await?;
    let format = ImageFormat::sniff(&bytes).ok_or_else(|| {
        AppError::SlotNotConfigured("the slot's reference image is damaged".into())
    })?;
    Ok(Some(ImageData {
        bytes: Arc::new(bytes),
        format,
        url: None,
    }))
}

/// Copies a slot's inputs for a job (the reference as it is now) where signed public links
/// serve them.
pub async fn publish(
    state: &AppState,
    settings: &Settings,
    job: &str,
    slot: SlotId,
    photo: &mut ImageData,
    reference: Option<&mut ImageData>,
) -> Result<(), AppError> {
    let base = settings
        .public_url
        .as_deref()
        .ok_or_else(|| AppError::ProviderNotConfigured("the public URL is not set".into()))?;
    let expires = state.clock.now_secs() + settings.deadline.as_secs() as i64 + LINK_GRACE_SECS;
    let inputs = [(photo, "input")]
        .into_iter()
        .chain(reference.map(|r| (r, "reference")));
    for (image, role) in inputs {
        let name = format!(
            "{job}-{}{}-{role}.{}",
            slot.provider,
            slot.number,
            image.format.extension()
        );
        let rel = state.media.save_input(&name, &image.bytes).await?;
        image.url = Some(format!(
            "{base}/media/{}",
            crate::media::sign_link(&state.secret, &rel, expires)
        ));
    }
    Ok(())
}
