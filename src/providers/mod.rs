//! The AI back-ends behind the three tabs. A provider turns a guest photo (plus the slot's
//! prompt and reference) into image bytes, or a typed error; it never touches HTTP handlers,
//! files or the database.

mod demo;

pub use demo::DemoModel;

use crate::config::Settings;
use crate::domain::{ImageFormat, Kind, Provider};
use crate::imaging::CpuPool;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// An image handed to a model.
#[derive(Clone)]
pub struct ImageData {
    pub bytes: Arc<Vec<u8>>,
    pub format: ImageFormat,
}

/// Everything a model needs for one job.
#[derive(Clone)]
pub struct ModelRequest {
    pub kind: Kind,
    pub prompt: String,
    pub options: serde_json::Map<String, serde_json::Value>,
    /// The guest's photo, upright and at most the provider's max side.
    pub photo: ImageData,
    pub reference: Option<ImageData>,
    /// Upright size of the upload, for choosing the answer's aspect.
    pub upload_size: (u32, u32),
    /// When the booth's answer must leave; retries stop before it.
    pub deadline: Instant,
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ProviderError {
    /// The model declined (safety, policy, …); retrying will not help.
    #[error("the model refused: {0}")]
    Refused(String),
    /// Worth another try while time is left (429, 5xx, an answer without an image).
    #[error("the model is unavailable: {0}")]
    Transient(String),
    /// A wrong key, model or address: the operator has to act.
    #[error("provider configuration: {0}")]
    BadConfig(String),
    /// The answer did not follow the documented format.
    #[error("unexpected answer: {0}")]
    Protocol(String),
}

pub type ModelFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<u8>, ProviderError>> + Send + 'a>>;

/// One AI back-end.
pub trait ImageModel: Send + Sync {
    /// Produces the processed photo's bytes (any accepted image format).
    fn generate(&self, request: ModelRequest) -> ModelFuture<'_>;
}

/// Picks the model for a tab under the current settings, or says why there is none.
pub fn model_for(
    provider: Provider,
    settings: &Settings,
    demo: bool,
    cpu: &CpuPool,
) -> Result<Arc<dyn ImageModel>, String> {
    if demo {
        let delay =
            Duration::from_millis(settings.integer(crate::config::Setting::DemoDelayMs) as u64);
        return Ok(Arc::new(DemoModel::new(delay, cpu.clone())));
    }
    Err(format!(
        "{} is not connected on this server; demo mode runs the whole loop without it",
        provider.display_name()
    ))
}
