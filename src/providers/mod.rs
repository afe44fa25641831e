//! The AI back-ends behind the three tabs. A provider turns a guest photo (plus the slot's
//! prompt and reference) into image bytes, or a typed error; it never touches HTTP handlers,
//! files or the database.

pub mod catalog;
pub mod checks;
mod deepseek;
mod demo;
mod gemini;
pub mod health;
pub mod options;
mod retry;
mod turbotext;

pub use demo::DemoModel;

use crate::config::{Setting, Settings};
use crate::domain::{ImageFormat, Kind, Provider, Slot};
use crate::imaging::CpuPool;
use options::{CardHints, OptionSpec};
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
    /// The model was still at work when the time ran out.
    #[error("no result before the deadline")]
    OutOfTime,
    /// The configured model does not exist (retired, or a typo).
    #[error("model not found: {0}")]
    ModelNotFound(String),
    /// The key has no credit or quota left.
    #[error("no credit on this key: {0}")]
    NoCredit(String),
}

impl ProviderError {
    /// What the operator has to fix (key, model, credit, address), for Settings; `None` when
    /// it is not the operator's to fix.
    pub fn for_operator(&self) -> Option<String> {
        match self {
            ProviderError::BadConfig(m) | ProviderError::ModelNotFound(m) => Some(m.clone()),
            ProviderError::NoCredit(_) => Some(self.to_string()),
            _ => None,
        }
    }
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
}

impl From<Vec<u8>> for ModelOutput {
    fn from(image: Vec<u8>) -> ModelOutput {
        ModelOutput {
            image,
            prompt_used: None,
            warning: None,
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

/// The options a provider's slots read: their keys, card fields and rules.
pub fn slot_options(provider: Provider) -> &'static [OptionSpec] {
    match provider {
        Provider::Turbotext => turbotext::OPTIONS,
        Provider::Nanobanana => gemini::OPTIONS,
        Provider::Deepseek => &[],
    }
}

/// What the slot's card shows of the way its provider will handle it.
pub fn card_hints(slot: &Slot) -> CardHints {
    let hints = match slot.id.provider {
        Provider::Turbotext => turbotext::card_hints,
        Provider::Nanobanana => gemini::card_hints,
        Provider::Deepseek => return CardHints::none(),
    };
    hints(slot.kind, &slot.prompt, &slot.options)
}

/// Picks the model for a tab under the current settings, or says why there is none.
pub fn model_for(
    provider: Provider,
    settings: &Settings,
    demo: bool,
    cpu: &CpuPool,
    http: &Http,
) -> Result<Arc<dyn ImageModel>, String> {
    if demo {
        let delay = Duration::from_millis(settings.integer(Setting::DemoDelayMs) as u64);
        return Ok(Arc::new(DemoModel::new(delay, cpu.clone())));
    }
    let key_of = |setting: Setting| {
        let key = settings.get(setting);
        if key.is_empty() {
            Err(format!("no API key is set for {}", provider.display_name()))
        } else {
            Ok(key)
        }
    };
    match provider {
        Provider::Nanobanana => Ok(Arc::new(gemini::Gemini::new(
            http.api.clone(),
            settings.get(Setting::GeminiBaseUrl),
            key_of(Setting::GeminiApiKey)?,
            settings.get(Setting::GeminiModel),
        ))),
        Provider::Turbotext => {
            let key = key_of(Setting::TurbotextApiKey)?;
            if settings.public_url().is_none() {
                return Err(
                    "Turbotext fetches photos by link: set the server's public URL in Settings"
                        .into(),
                );
            }
            Ok(Arc::new(turbotext::Turbotext::new(
                http.clone(),
                settings.get(Setting::TurbotextBaseUrl),
                key,
                Duration::from_millis(settings.integer(Setting::TurbotextPollMs) as u64),
            )))
        }
        Provider::Deepseek => {
            let images_key = settings.get(Setting::ImagesApiKey);
            if images_key.is_empty() {
                return Err(
                    "no API key is set for the image model that draws for the DeepSeek tab".into(),
                );
            }
            let deepseek_key = settings.get(Setting::DeepseekApiKey);
            let writer = (!deepseek_key.is_empty()).then(|| deepseek::PromptWriter {
                base_url: settings.get(Setting::DeepseekBaseUrl).to_owned(),
                api_key: deepseek_key.to_owned(),
                model: settings.get(Setting::DeepseekModel).to_owned(),
                send_photo: settings.switch(Setting::DeepseekSendPhoto),
                share: Duration::from_secs(settings.integer(Setting::DeepseekShareSecs) as u64),
            });
            Ok(Arc::new(deepseek::DeepseekTab {
                http: http.clone(),
                writer,
                renderer: deepseek::Renderer {
                    base_url: settings.get(Setting::ImagesBaseUrl).to_owned(),
                    api_key: images_key.to_owned(),
                    model: settings.get(Setting::ImagesModel).to_owned(),
                },
            }))
        }
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
