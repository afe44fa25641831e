//! The DeepSeek tab, in two stages. DeepSeek cannot draw: it writes the editing instruction
//! (optionally looking at the guest's photo), and an OpenAI-compatible Images API draws it.
//! If DeepSeek is not set up, fails or is slow, the slot's own prompt goes to the renderer, so
//! the guest still gets a photo. Wire formats: https://api-docs.deepseek.com/ (chat completions)
//! and https://platform.openai.com/docs/api-reference/images/createEdit (image edits).

use super::images::{Renderer, answer_ok};
use super::registry::key;
use super::retry::with_retries;
use super::{
    Http, ImageData, ImageModel, ModelFuture, ModelOutput, ModelRequest, ProviderError,
    read_answer, request_failed,
};
use crate::config::{Endpoint, Settings};
use crate::domain::Kind;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Stage 1: DeepSeek's chat completions.
pub struct PromptWriter {
    pub base_url: String,
    pub api_key: String,
    pub model: String,
    pub send_photo: bool,
    /// The most of the deadline this stage may take.
    pub share: Duration,
}

pub struct DeepseekTab {
    pub http: Http,
    pub writer: Option<PromptWriter>,
    pub renderer: Renderer,
}

/// The DeepSeek tab's client under these settings: the renderer needs its key, the writer
/// runs only with its own.
pub fn build(settings: &Settings, http: &Http) -> Result<Arc<dyn ImageModel>, String> {
    let images = &settings.images;
    let renderer = Renderer {
        base_url: images.base_url.clone(),
        api_key: key(
            &images.api_key,
            "the image model that draws for the DeepSeek tab",
        )?
        .to_owned(),
        model: images.model.clone(),
    };
    let deepseek = &settings.deepseek;
    let writer = deepseek
        .writer
        .api_key
        .as_ref()
        .map(|api_key| PromptWriter {
            base_url: deepseek.writer.base_url.clone(),
            api_key: api_key.clone(),
            model: deepseek.writer.model.clone(),
            send_photo: deepseek.send_photo,
            share: deepseek.share,
        });
    Ok(Arc::new(DeepseekTab {
        http: http.clone(),
        writer,
        renderer,
    }))
}

/// The instruction the renderer gets without DeepSeek: the image order is the guest first,
/// then the reference.
pub fn fallback_prompt(kind: Kind, prompt: &str) -> String {
    let prompt = prompt.trim();
    let extra = super::appended(prompt);
    match kind {
        Kind::FaceSwap => format!(
            "Put the face of the person in the first image onto the person in the second image, so the result \
             is clearly recognisable as the person from the first image. Keep the second image's scene, pose, \
             clothing, lighting and framing. Photorealistic.{extra}"
        ),
        Kind::Background => format!(
            "Place the person(s) from the first image into the scene of the second image. Keep their faces, \
             hair, clothing and pose exactly; match the light and perspective of the scene.{extra}"
        ),
        Kind::Prompt => format!(
            "Edit the photo: {prompt}. Keep the people recognisable: same faces, identity and pose. Keep the framing."
        ),
    }
}

fn system_message(kind: Kind) -> String {
    let task = match kind {
        Kind::FaceSwap => {
            "a face swap: the first image is the guest, whose face must appear on the person in the second image (a template scene)"
        }
        Kind::Background => {
            "a background swap: the first image is the guest, the second image is the new background scene"
        }
        Kind::Prompt => {
            "an edit of the guest's photo (the only image) as the operator's request describes"
        }
    };
    format!(
        "You write instructions for an image-editing model at a photo booth. The task is {task}. \
         Rewrite the operator's request into one detailed English editing instruction that keeps the guest's \
         identity, face and pose recognisable and keeps the photo's framing. Reply with the instruction only."
    )
}

fn data_url(image: &ImageData) -> String {
    format!(
        "data:{};base64,{}",
        image.format.mime(),
        BASE64.encode(image.bytes.as_slice())
    )
}

impl PromptWriter {
    /// DeepSeek's instruction, or why there is none (then the slot's prompt is used).
    async fn write(
        &self,
        http: &reqwest::Client,
        request: &ModelRequest,
    ) -> Result<String, ProviderError> {
        let deadline = (Instant::now() + self.share).min(request.deadline);
        match self.ask(http, request, self.send_photo, deadline).await {
            // A model that cannot read images says so: ask again in words alone.
            Err(Unwritten::PhotoRefused(_)) => self.ask(http, request, false, deadline).await,
            other => other,
        }
        .map_err(Unwritten::into_error)
    }

    async fn ask(
        &self,
        http: &reqwest::Client,
        request: &ModelRequest,
        with_photo: bool,
        deadline: Instant,
    ) -> Result<String, Unwritten> {
        let text = if request.prompt.trim().is_empty() {
            "(no extra request)".to_owned()
        } else {
            request.prompt.clone()
        };
        let user = if with_photo {
            json!([
                {"type": "text", "text": text},
                {"type": "image_url", "image_url": {"url": data_url(&request.photo), "detail": "low"}}
            ])
        } else {
            json!(text)
        };
        let body = json!({
            "model": self.model,
            "thinking": {"type": "disabled"},
            "messages": [
                {"role": "system", "content": system_message(request.kind)},
                {"role": "user", "content": user}
            ]
        });
        let response = http
            .post(format!(
                "{}/chat/completions",
                self.base_url.trim_end_matches('/')
            ))
            .bearer_auth(&self.api_key)
            .timeout(deadline.saturating_duration_since(Instant::now()))
            .json(&body)
            .send()
            .await
            .map_err(|e| Unwritten::Failed(request_failed(e, deadline)))?;
        let status = response.status().as_u16();
        let bytes = read_answer(response, deadline)
            .await
            .map_err(Unwritten::Failed)?;
        let json: Value = serde_json::from_slice(&bytes).map_err(|_| {
            Unwritten::Failed(ProviderError::Protocol(format!(
                "DeepSeek answered HTTP {status} without JSON"
            )))
        })?;
        if status != 200 {
            return Err(self.writer_error(status, &json));
        }
        json["choices"][0]["message"]["content"]
            .as_str()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .ok_or(Unwritten::Failed(ProviderError::Protocol(
                "DeepSeek wrote nothing".into(),
            )))
    }

    fn writer_error(&self, status: u16, json: &Value) -> Unwritten {
        let message = json["error"]["message"].as_str().unwrap_or("no message");
        let code = json["error"]["code"].as_str().unwrap_or("");
        let lower = message.to_lowercase();
        let failed = match status {
            _ if lower.contains("model not exist")
                || lower.contains("supported api model names")
                || code == "model_not_found" =>
            {
                ProviderError::ModelNotFound(format!(
                    "DeepSeek has no model '{}' (retired? choose another in Settings): {message}",
                    self.model
                ))
            }
            400 | 422 if lower.contains("image") => return Unwritten::PhotoRefused(message.into()),
            402 => ProviderError::NoCredit(format!("DeepSeek: {message}")),
            401 | 403 => ProviderError::BadConfig(format!("DeepSeek refused the key: {message}")),
            _ => ProviderError::Transient(format!("DeepSeek HTTP {status}: {message}")),
        };
        Unwritten::Failed(failed)
    }
}

/// Why DeepSeek wrote no instruction.
enum Unwritten {
    /// The model does not read images (a 400/422 that says so).
    PhotoRefused(String),
    Failed(ProviderError),
}

impl Unwritten {
    fn into_error(self) -> ProviderError {
        match self {
            Unwritten::PhotoRefused(message) => {
                ProviderError::BadConfig(format!("DeepSeek does not read images: {message}"))
            }
            Unwritten::Failed(e) => e,
        }
    }
}

impl ImageModel for DeepseekTab {
    fn generate(&self, request: ModelRequest) -> ModelFuture<'_> {
        Box::pin(async move {
            let written = match &self.writer {
                Some(writer) => Some(writer.write(&self.http.api, &request).await),
                None => None,
            };
            let (prompt, warning) = match written {
                Some(Ok(prompt)) => (prompt, None),
                Some(Err(reason)) => {
                    tracing::warn!(%reason, "DeepSeek wrote no prompt; the slot's prompt is used");
                    let prompt = fallback_prompt(request.kind, &request.prompt);
                    (prompt, Some(reason).filter(|e| e.for_operator().is_some()))
                }
                None => (fallback_prompt(request.kind, &request.prompt), None),
            };
            let retries = request.may_retry;
            let image = with_retries("the images endpoint", request.deadline, retries, |_| {
                self.renderer.render(&self.http, &prompt, &request)
            })
            .await?;
            Ok(ModelOutput {
                image,
                prompt_used: Some(prompt),
                warning,
                model_status: None,
            })
        })
    }
}

/// "Test connection" for DeepSeek: a one-word chat completion.
pub async fn check_writer(http: &Http, settings: &Settings) -> Result<(), String> {
    let Endpoint {
        api_key,
        base_url,
        model,
    } = &settings.deepseek.writer;
    let response = http
        .api
        .post(format!("{}/chat/completions", base_url.trim_end_matches('/')))
        .bearer_auth(key(api_key, "DeepSeek")?)
        .timeout(Duration::from_secs(15))
        .json(&json!({"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": "Reply with OK"}]}))
        .send()
        .await
        .map_err(super::transport_error)?;
    answer_ok(response).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_keeps_the_slot_prompt() {
        assert!(
            fallback_prompt(Kind::Prompt, "make it snow")
                .starts_with("Edit the photo: make it snow.")
        );
        assert!(fallback_prompt(Kind::FaceSwap, "").contains("first image"));
    }
}
