//! The DeepSeek tab, in two stages. DeepSeek cannot draw: it writes the editing instruction
//! (optionally looking at the guest's photo), and an OpenAI-compatible Images API draws it.
//! If DeepSeek is not set up, fails or is slow, the slot's own prompt goes to the renderer, so
//! the guest still gets a photo. Wire formats: https://api-docs.deepseek.com/ (chat completions)
//! and https://platform.openai.com/docs/api-reference/images/createEdit (image edits).

use super::registry::key;
use super::retry::{Failure, with_retries};
use super::{
    Http, ImageData, ImageModel, ModelFuture, ModelOutput, ModelRequest, ProviderError,
    read_answer, request_failed,
};
use crate::config::{Endpoint, Settings};
use crate::domain::{ImageFormat, Kind};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The sizes every GPT-image model accepts, by aspect.
const SIZES: [(u32, u32); 3] = [(1024, 1024), (1536, 1024), (1024, 1536)];

/// Stage 1: DeepSeek's chat completions.
pub struct PromptWriter {
    pub base_url: String,
    pub api_key: String,
    pub model: String,
    pub send_photo: bool,
    /// The most of the deadline this stage may take.
    pub share: Duration,
}

/// Stage 2: an OpenAI-compatible `images/edits` endpoint.
pub struct Renderer {
    pub base_url: String,
    pub api_key: String,
    pub model: String,
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
    let extra = if prompt.is_empty() {
        String::new()
    } else {
        format!(" {prompt}")
    };
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

/// For models that take any size: the upload's aspect (kept between 1:3 and 3:1), its long
/// side the result's, both sides multiples of 16, within 3840×2160.
pub fn free_size(width: u32, height: u32, result_side: u32) -> String {
    let ratio = (f64::from(width.max(1)) / f64::from(height.max(1))).clamp(1.0 / 3.0, 3.0);
    let long = f64::from(result_side.clamp(256, 3840));
    let (w, h) = if ratio >= 1.0 {
        (long, long / ratio)
    } else {
        (long * ratio, long)
    };
    // Within 3840×2160 (or 2160×3840) whatever the aspect.
    let fit = (3840.0 / w.max(h)).min(2160.0 / w.min(h)).min(1.0);
    let side = |v: f64| ((v * fit / 16.0).round() as u32).max(1) * 16;
    format!("{}x{}", side(w), side(h))
}

/// The supported size nearest to the upload's aspect.
pub fn nearest_size(width: u32, height: u32) -> String {
    let (w, h) = super::nearest_aspect(width, height, &SIZES);
    format!("{w}x{h}")
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
            _ if lower.contains("model not exist") || code == "model_not_found" => {
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

impl Renderer {
    async fn render(
        &self,
        http: &Http,
        prompt: &str,
        request: &ModelRequest,
    ) -> Result<Vec<u8>, Failure> {
        let part = |image: &ImageData, name: &str| {
            reqwest::multipart::Part::bytes(image.bytes.as_ref().clone())
                .file_name(format!("{name}.{}", image.format.extension()))
                .mime_str(image.format.mime())
                .expect("a valid MIME type")
        };
        let family = crate::config::model_family(&self.model);
        let (w, h) = request.upload_size;
        let size = if family.free_size {
            free_size(w, h, request.result_side)
        } else {
            nearest_size(w, h)
        };
        let mut form = reqwest::multipart::Form::new()
            .text("model", self.model.clone())
            .text("prompt", prompt.to_owned())
            .text("size", size)
            .text("n", "1");
        if family.input_fidelity && request.kind.needs_reference() {
            // Keeps the guest's face on the models that take it.
            form = form.text("input_fidelity", "high");
        }
        let reference = request
            .reference
            .as_ref()
            .filter(|_| request.kind.needs_reference());
        // One image is the field `image`; several repeat `image[]`.
        let field = if reference.is_some() {
            "image[]"
        } else {
            "image"
        };
        form = form.part(field, part(&request.photo, "guest"));
        if let Some(reference) = reference {
            form = form.part(field, part(reference, "reference"));
        }
        let response = http
            .api
            .post(format!(
                "{}/images/edits",
                self.base_url.trim_end_matches('/')
            ))
            .bearer_auth(&self.api_key)
            .timeout(request.deadline.saturating_duration_since(Instant::now()))
            .multipart(form)
            .send()
            .await
            .map_err(|e| request_failed(e, request.deadline))?;
        let status = response.status().as_u16();
        let bytes = read_answer(response, request.deadline)
            .await
            .map_err(Failure::broken_answer)?;
        let json: Value = serde_json::from_slice(&bytes).map_err(|_| {
            let e = ProviderError::Protocol(format!(
                "the images endpoint answered HTTP {status} without JSON"
            ));
            if status >= 500 {
                Failure::retry(e)
            } else {
                Failure::Stop(e)
            }
        })?;
        if status != 200 {
            return Err(http_error(status, &json, &self.model));
        }
        self.image_of(&http.files, &json, request.deadline).await
    }

    /// `data[0].b64_json`, else a link in `data[0].url` or `images[0].url` to download.
    async fn image_of(
        &self,
        http: &reqwest::Client,
        json: &Value,
        deadline: Instant,
    ) -> Result<Vec<u8>, Failure> {
        let protocol = |m: &str| Failure::Stop(ProviderError::Protocol(m.to_owned()));
        let bytes = if let Some(b64) = json["data"][0]["b64_json"].as_str() {
            BASE64
                .decode(b64)
                .map_err(|_| protocol("b64_json is not base64"))?
        } else {
            let url = [&json["data"][0]["url"], &json["images"][0]["url"]]
                .into_iter()
                .find_map(Value::as_str)
                .ok_or_else(|| protocol("the images endpoint answered without an image"))?;
            self.download(http, url, deadline).await?
        };
        if ImageFormat::sniff(&bytes).is_none() {
            return Err(protocol(
                "the images endpoint answered with bytes that are not an image",
            ));
        }
        Ok(bytes)
    }

    async fn download(
        &self,
        http: &reqwest::Client,
        url: &str,
        deadline: Instant,
    ) -> Result<Vec<u8>, Failure> {
        if let Some(inline) = url.strip_prefix("data:") {
            let b64 = inline.split_once(',').map_or("", |(_, d)| d);
            return BASE64
                .decode(b64)
                .map_err(|_| Failure::Stop(ProviderError::Protocol("bad data: URL".into())));
        }
        let response = http
            .get(url)
            .timeout(deadline.saturating_duration_since(Instant::now()))
            .send()
            .await
            .map_err(|e| request_failed(e, deadline))?;
        if !response.status().is_success() {
            return Err(Failure::retry(ProviderError::Transient(format!(
                "the image download answered HTTP {}",
                response.status()
            ))));
        }
        read_answer(response, deadline)
            .await
            .map_err(Failure::broken_answer)
    }
}

fn http_error(status: u16, json: &Value, model: &str) -> Failure {
    let message = json["error"]["message"]
        .as_str()
        .unwrap_or("no message")
        .to_owned();
    let code = json["error"]["code"].as_str().unwrap_or("");
    let kind = json["error"]["type"].as_str().unwrap_or("");
    match status {
        _ if code == "model_not_found" => Failure::Stop(ProviderError::ModelNotFound(format!(
            "the images endpoint has no model '{model}' (retired? choose another in Settings): {message}"
        ))),
        402 => Failure::Stop(ProviderError::NoCredit(format!(
            "images endpoint: {message}"
        ))),
        _ if code == "insufficient_quota" || kind == "insufficient_quota" => Failure::Stop(
            ProviderError::NoCredit(format!("images endpoint: {message}")),
        ),
        400 if code == "moderation_blocked" => Failure::Stop(ProviderError::Refused(format!(
            "the image model's safety system: {message}"
        ))),
        429 | 500..=599 => Failure::retry(ProviderError::Transient(format!(
            "images endpoint HTTP {status}: {message}"
        ))),
        404 | 405 => Failure::Stop(ProviderError::BadConfig(format!(
            "the images endpoint has no /images/edits (HTTP {status}): {message}"
        ))),
        400..=499 => Failure::Stop(ProviderError::BadConfig(format!(
            "images endpoint HTTP {status}: {message}"
        ))),
        _ => Failure::Stop(ProviderError::Protocol(format!(
            "images endpoint HTTP {status}: {message}"
        ))),
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

/// "Test connection" for the images endpoint: its model list answers with the key.
pub async fn check_renderer(http: &Http, settings: &Settings) -> Result<(), String> {
    let response = http
        .api
        .get(format!(
            "{}/models",
            settings.images.base_url.trim_end_matches('/')
        ))
        .bearer_auth(key(&settings.images.api_key, "the images endpoint")?)
        .timeout(Duration::from_secs(15))
        .send()
        .await
        .map_err(super::transport_error)?;
    answer_ok(response).await
}

async fn answer_ok(response: reqwest::Response) -> Result<(), String> {
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = read_answer(response, Instant::now() + Duration::from_secs(15))
        .await
        .unwrap_or_default();
    let json: Value = serde_json::from_slice(&body).unwrap_or_default();
    Err(format!(
        "HTTP {status}: {}",
        json["error"]["message"].as_str().unwrap_or("no message")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_follows_the_upload_aspect() {
        assert_eq!(nearest_size(512, 512), "1024x1024");
        assert_eq!(nearest_size(6000, 4000), "1536x1024");
        assert_eq!(nearest_size(512, 768), "1024x1536");
    }

    #[test]
    fn free_sizes_follow_the_upload_in_multiples_of_16() {
        assert_eq!(free_size(6000, 4000, 2048), "2048x1360");
        assert_eq!(free_size(4000, 6000, 2048), "1360x2048");
        assert_eq!(free_size(512, 512, 512), "512x512");
        assert_eq!(free_size(8000, 1000, 2048), "2048x688", "at most 3:1");
        assert_eq!(free_size(4000, 4000, 8192), "2160x2160", "within 3840×2160");
    }

    #[test]
    fn fallback_keeps_the_slot_prompt() {
        assert!(
            fallback_prompt(Kind::Prompt, "make it snow")
                .starts_with("Edit the photo: make it snow.")
        );
        assert!(fallback_prompt(Kind::FaceSwap, "").contains("first image"));
    }
}
