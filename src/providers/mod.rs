//! The AI back-ends behind the three tabs. A provider turns a guest photo (plus the slot's
//! prompt and reference) into image bytes, or a typed error; it never touches HTTP handlers,
//! files or the database.

pub mod catalog;
mod deepseek;
mod demo;
pub mod health;
mod images;
mod nanobanana;
pub mod options;
pub mod registry;
mod retry;
mod turbotext;

pub use demo::DemoModel;
pub use registry::{card_hints, model_for};

pub use crate::error::ProviderError;

use crate::domain::{ImageFormat, Kind, ModelStatus};
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
    /// A short-lived public link to the same bytes, for models that fetch by URL.
    pub url: Option<String>,
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
    /// The long side of the photo the booth gets back, for choosing the model's output size.
    pub result_side: u32,
    /// When the booth's answer must leave; retries stop before it.
    pub deadline: Instant,
    /// Whether a transient failure is retried; a slot with a fallback hands over instead.
    pub may_retry: bool,
}

/// What a model made of a job.
pub struct ModelOutput {
    /// The image, in any accepted format.
    pub image: Vec<u8>,
    /// The instruction the image was drawn from, when the provider wrote its own.
    pub prompt_used: Option<String>,
    /// A problem the operator has to fix, met on the way without stopping the job (DeepSeek's
    /// writer failing over to the slot's prompt).
    pub warning: Option<ProviderError>,
    /// What the answer said of the model's life (Gemini's `modelStatus`).
    pub model_status: Option<ModelStatus>,
}

impl From<Vec<u8>> for ModelOutput {
    fn from(image: Vec<u8>) -> ModelOutput {
        ModelOutput {
            image,
            prompt_used: None,
            warning: None,
            model_status: None,
        }
    }
}

pub type ModelFuture<'a> =
    Pin<Box<dyn Future<Output = Result<ModelOutput, ProviderError>> + Send + 'a>>;

/// One AI back-end.
pub trait ImageModel: Send + Sync {
    /// Produces the processed photo.
    fn generate(&self, request: ModelRequest) -> ModelFuture<'_>;

    /// Whether the model fetches its images by URL, so the pipeline must publish them first.
    fn needs_public_links(&self) -> bool {
        false
    }
}

/// The most a provider's answer may weigh: a 4K image in base64 fits, a runaway body does not.
pub const MAX_ANSWER_BYTES: usize = 40 * 1024 * 1024;

/// Reads a provider's answer by the deadline, refusing one larger than any real answer.
pub async fn read_answer(
    mut response: reqwest::Response,
    deadline: Instant,
) -> Result<Vec<u8>, ProviderError> {
    let too_large = || {
        ProviderError::Protocol(format!(
            "answer larger than {} MB",
            MAX_ANSWER_BYTES / (1024 * 1024)
        ))
    };
    if response
        .content_length()
        .is_some_and(|len| len > MAX_ANSWER_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| request_failed(e, deadline))?
    {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A failed HTTP exchange: out of time if it was cut at the deadline, a configuration error
/// if the address sent it elsewhere, else worth a retry.
pub fn request_failed(e: reqwest::Error, deadline: Instant) -> ProviderError {
    if e.is_timeout() && Instant::now() >= deadline {
        ProviderError::OutOfTime
    } else if e.is_redirect() {
        ProviderError::BadConfig(transport_error(e))
    } else {
        ProviderError::Transient(transport_error(e))
    }
}

/// Describes a failed HTTP exchange and its causes, without its URL, which may carry secrets
/// of a proxy.
pub fn transport_error(e: reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_redirect() {
        "redirect refused"
    } else if e.is_body() || e.is_decode() {
        "the answer broke off"
    } else {
        "request failed"
    };
    let e = e.without_url();
    let mut message = format!("{what}: {e}");
    let mut cause = std::error::Error::source(&e);
    while let Some(inner) = cause {
        message.push_str(&format!(": {inner}"));
        cause = inner.source();
    }
    message
}

/// The slot's prompt as the end of a built-in instruction: after a space, or nothing.
fn appended(prompt: &str) -> String {
    if prompt.is_empty() {
        String::new()
    } else {
        format!(" {prompt}")
    }
}

/// Of the sizes or ratios a model offers, the one nearest an upload's aspect, compared on a
/// log scale so that 2:1 and 1:2 are equally far from 1:1.
pub fn nearest_aspect(width: u32, height: u32, offered: &[(u32, u32)]) -> (u32, u32) {
    let ratio = |w: u32, h: u32| (f64::from(w.max(1)) / f64::from(h.max(1))).ln();
    let target = ratio(width, height);
    offered
        .iter()
        .copied()
        .min_by(|a, b| {
            (ratio(a.0, a.1) - target)
                .abs()
                .total_cmp(&(ratio(b.0, b.1) - target).abs())
        })
        .unwrap_or((1, 1))
}

/// The providers' HTTP clients, shared by every job so connections are reused.
#[derive(Clone)]
pub struct Http {
    /// For API calls, which carry keys: a redirect to another host is refused, so a key never
    /// reaches a host it was not meant for.
    pub api: reqwest::Client,
    /// For fetching a result from the link an answer named: never given a key.
    pub files: reqwest::Client,
}

impl Http {
    pub fn new() -> Http {
        crate::install_crypto_provider();
        let client = |redirects: reqwest::redirect::Policy| {
            reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .pool_idle_timeout(Duration::from_secs(90))
                .user_agent(concat!("boothgate/", env!("CARGO_PKG_VERSION")))
                .redirect(redirects)
                .build()
                .expect("the TLS backend initialises")
        };
        Http {
            api: client(reqwest::redirect::Policy::custom(same_host_only)),
            files: client(reqwest::redirect::Policy::limited(5)),
        }
    }
}

impl Default for Http {
    fn default() -> Http {
        Http::new()
    }
}

/// Follows a redirect on the same host and port; one elsewhere is an error naming where.
fn same_host_only(attempt: reqwest::redirect::Attempt) -> reqwest::redirect::Action {
    let host = |url: &reqwest::Url| {
        let port = url.port_or_known_default().unwrap_or_default();
        format!("{}:{port}", url.host_str().unwrap_or_default())
    };
    let to = host(attempt.url());
    if attempt.previous().first().map(host).as_ref() != Some(&to) {
        return attempt.error(format!(
            "the API redirected to another host ({to}); the key is not sent there"
        ));
    }
    if attempt.previous().len() >= 5 {
        return attempt.error("too many redirects");
    }
    attempt.follow()
}
