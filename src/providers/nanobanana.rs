//! NanoBanana: Google's Gemini image models through `generateContent`.
//! Wire format: https://ai.google.dev/gemini-api/docs/image-generation

use super::Http;
use super::options::{self, CardHints, OptionInput, OptionLabel, OptionSpec};
use super::registry::key;
use super::retry::{Failure, with_retries};
use super::{
    ImageData, ImageModel, ModelFuture, ModelOutput, ModelRequest, ProviderError, read_answer,
};
use crate::config::{ModelFacts, Settings, model_facts};
use crate::domain::{ImageFormat, Kind, ModelStatus};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// An answer that stopped for another reason (recitation, "other") gets one more try.
const MAX_OTHER_RETRIES: u32 = 1;

/// The ratios every Gemini image model accepts.
const ASPECT_RATIOS: [(u32, u32); 10] = [
    (1, 1),
    (2, 3),
    (3, 2),
    (3, 4),
    (4, 3),
    (4, 5),
    (5, 4),
    (9, 16),
    (16, 9),
    (21, 9),
];

pub struct Nanobanana {
    http: reqwest::Client,
    base_url: String,
    api_key: String,
    model: String,
}

impl Nanobanana {
    pub fn new(http: reqwest::Client, base_url: &str, api_key: &str, model: &str) -> Nanobanana {
        Nanobanana {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key: api_key.to_owned(),
            model: model.to_owned(),
        }
    }
}

/// The NanoBanana tab's client under these settings.
pub fn build(settings: &Settings, http: &Http) -> Result<Arc<dyn ImageModel>, String> {
    let endpoint = &settings.nanobanana;
    Ok(Arc::new(Nanobanana::new(
        http.api.clone(),
        &endpoint.base_url,
        key(&endpoint.api_key, "NanoBanana")?,
        &endpoint.model,
    )))
}

/// The supported ratio nearest to an upload's.
pub fn nearest_aspect_ratio(width: u32, height: u32) -> String {
    let (w, h) = super::nearest_aspect(width, height, &ASPECT_RATIOS);
    format!("{w}:{h}")
}

/// The options a NanoBanana slot reads.
pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        key: "raw_prompt",
        label: OptionLabel::RawPrompt,
        input: OptionInput::Switch,
    },
    OptionSpec {
        key: "thinking_level",
        label: OptionLabel::ThinkingLevel,
        input: OptionInput::Choice(&["minimal", "medium", "high"]),
    },
];

/// Whether a slot sends its prompt as it is, without the built-in template.
fn raw_prompt(options: &serde_json::Map<String, Value>) -> bool {
    options::switch(options, "raw_prompt")
}

/// The card shows the instruction the model will get.
pub fn card_hints(kind: Kind, prompt: &str, options: &serde_json::Map<String, Value>) -> CardHints {
    CardHints {
        instruction: Some(instruction(kind, prompt, raw_prompt(options))),
        ..CardHints::none()
    }
}

/// The instruction the model gets: the kind's template around the slot's own prompt, which
/// says what to keep (identity, pose, framing) so the operator need only say what to change.
pub fn instruction(kind: Kind, prompt: &str, raw: bool) -> String {
    let prompt = prompt.trim();
    if raw && !prompt.is_empty() {
        return prompt.to_owned();
    }
    let extra = super::appended(prompt);
    match kind {
        Kind::FaceSwap => format!(
            "Replace the face of the person in Image 1 with the face of the person in Image 2 so the result is \
             clearly recognisable as the person from Image 2. Keep everything else from Image 1 unchanged: head \
             angle, hair outline, body, clothing, pose, background, framing. Match Image 1's lighting, skin tone, \
             shadows and grain so the face blends naturally. Photorealistic.{extra}"
        ),
        Kind::Background => format!(
            "Replace only the background of Image 1 with the scene from Image 2. Keep the person(s) in Image 1 \
             exactly as they are: face, hair, clothing, pose and outline unchanged. Relight the subject to match \
             the light of Image 2, add natural contact shadows, and match perspective so it looks like a single \
             photograph.{extra}"
        ),
        Kind::Prompt => format!(
            "Using the provided photo, {prompt}. Keep the people recognisable: same faces, identity and pose \
             unless the instruction says otherwise. Keep the framing. Photorealistic unless a style is requested."
        ),
    }
}

fn image_part(image: &ImageData) -> Value {
    json!({"inline_data": {"mime_type": image.format.mime(), "data": BASE64.encode(image.bytes.as_slice())}})
}

/// Of the output sizes the model takes, the smallest that covers the result's long side (the
/// largest when none does); `None` for a model that takes none.
fn image_size(model: &ModelFacts, result_side: u32) -> Option<&'static str> {
    let sizes = model.image_sizes;
    sizes
        .iter()
        .find(|(_, side)| *side >= result_side)
        .or(sizes.last())
        .map(|(size, _)| *size)
}

/// The slot's thinking level, if the model takes that one.
fn thinking_level<'a>(
    model: &ModelFacts,
    options: &'a serde_json::Map<String, Value>,
) -> Option<&'a str> {
    options::text(options, "thinking_level").filter(|level| model.thinking_levels.contains(level))
}

fn request_body(request: &ModelRequest, model: &ModelFacts) -> Value {
    let text = instruction(request.kind, &request.prompt, raw_prompt(&request.options));
    let mut parts = Vec::new();
    match (request.kind, &request.reference) {
        // For a swap the template scene is the photo being edited and the guest gives the face.
        (Kind::FaceSwap, Some(template)) => {
            parts.push(json!({"text": "Image 1 is the photo to edit:"}));
            parts.push(image_part(template));
            parts.push(json!({"text": "Image 2 shows the identity reference:"}));
            parts.push(image_part(&request.photo));
        }
        (Kind::Background, Some(background)) => {
            parts.push(json!({"text": "Image 1 is the photo to edit:"}));
            parts.push(image_part(&request.photo));
            parts.push(json!({"text": "Image 2 is the new background scene:"}));
            parts.push(image_part(background));
        }
        _ => parts.push(image_part(&request.photo)),
    }
    parts.push(json!({"text": text}));
    let (w, h) = request.upload_size;
    let mut image_config = json!({"aspectRatio": nearest_aspect_ratio(w, h)});
    if let Some(size) = image_size(model, request.result_side) {
        image_config["imageSize"] = json!(size);
    }
    let mut generation = json!({"responseModalities": ["IMAGE"], "imageConfig": image_config});
    if let Some(level) = thinking_level(model, &request.options) {
        generation["thinkingConfig"] = json!({"thinkingLevel": level});
    }
    json!({
        "contents": [{"role": "user", "parts": parts}],
        "generationConfig": generation
    })
}

impl ImageModel for Nanobanana {
    fn generate(&self, request: ModelRequest) -> ModelFuture<'_> {
        Box::pin(async move {
            let body = request_body(&request, &model_facts(&self.model));
            let declines = AtomicU32::new(0);
            let answer = with_retries("Gemini", request.deadline, request.may_retry, |_| async {
                match self.attempt(&body, request.deadline).await {
                    Err(Failure::Retry {
                        error: error @ ProviderError::Refused(_),
                        ..
                    }) if declines.fetch_add(1, Ordering::Relaxed) >= MAX_OTHER_RETRIES => {
                        Err(Failure::Stop(error))
                    }
                    other => other,
                }
            })
            .await?;
            let (image, model_status) = answer;
            Ok(ModelOutput {
                model_status,
                ..image.into()
            })
        })
    }
}

/// An answer's `modelStatus`: the model's stage, retirement time and Google's message.
fn model_status(model: &str, answer: &Value) -> Option<ModelStatus> {
    let status = answer.get("modelStatus")?;
    let retirement_ms = status["retirementTime"].as_str().and_then(|t| {
        let at = time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339);
        at.ok()
            .map(|at| (at.unix_timestamp_nanos() / 1_000_000) as i64)
    });
    Some(ModelStatus {
        model: model.to_owned(),
        stage: status["modelStage"]
            .as_str()
            .unwrap_or("MODEL_STAGE_UNSPECIFIED")
            .to_owned(),
        retirement_ms,
        message: status["message"].as_str().map(str::to_owned),
    })
}

impl Nanobanana {
    /// One call: the image, and what the answer said of the model's life.
    async fn attempt(
        &self,
        body: &Value,
        deadline: Instant,
    ) -> Result<(Vec<u8>, Option<ModelStatus>), Failure> {
        let url = format!("{}/models/{}:generateContent", self.base_url, self.model);
        let time_left = deadline.saturating_duration_since(Instant::now());
        let response = self
            .http
            .post(&url)
            .header("x-goog-api-key", &self.api_key)
            .timeout(time_left)
            .json(body)
            .send()
            .await
            .map_err(|e| super::request_failed(e, deadline))?;
        let status = response.status();
        let bytes = read_answer(response, deadline)
            .await
            .map_err(Failure::broken_answer)?;
        let json: Value = serde_json::from_slice(&bytes).map_err(|_| {
            let e = ProviderError::Protocol(format!("HTTP {status} with a body that is not JSON"));
            if status.is_server_error() {
                Failure::retry(e)
            } else {
                Failure::Stop(e)
            }
        })?;
        if !status.is_success() {
            return Err(self.http_error(status.as_u16(), &json));
        }
        Ok((parse_answer(&json)?, model_status(&self.model, &json)))
    }

    fn http_error(&self, status: u16, json: &Value) -> Failure {
        let message = json["error"]["message"]
            .as_str()
            .unwrap_or("no message")
            .to_owned();
        match status {
            429 if message.contains("limit: 0") => Failure::Stop(ProviderError::BadConfig(
                format!("Gemini quota is 0 (billing not enabled for image models?): {message}"),
            )),
            429 => Failure::Retry {
                after: retry_delay(json),
                error: ProviderError::Transient(format!("Gemini rate limit: {message}")),
            },
            500 | 503 | 504 => Failure::retry(ProviderError::Transient(format!(
                "Gemini HTTP {status}: {message}"
            ))),
            // About the guest's photo: this photo cannot be helped, the next one may be fine.
            400 if is_about_the_photo(&message) => Failure::Stop(ProviderError::Refused(format!(
                "Gemini could not use the photo: {message}"
            ))),
            400 if message.contains("API_KEY_INVALID") || message.contains("API key") => {
                Failure::Stop(ProviderError::BadConfig(format!(
                    "Gemini refused the request (bad key): {message}"
                )))
            }
            // A request this model cannot take (a size, a setting): every photo would fail.
            400 => Failure::Stop(ProviderError::BadConfig(format!(
                "Gemini model '{}' cannot take this request: {message}",
                self.model
            ))),
            401 | 403 => Failure::Stop(ProviderError::BadConfig(format!(
                "Gemini denied access (key, billing): {message}"
            ))),
            404 => Failure::Stop(ProviderError::ModelNotFound(format!(
                "Gemini has no model '{}' (retired? choose another in Settings): {message}",
                self.model
            ))),
            _ => Failure::Stop(ProviderError::Protocol(format!(
                "Gemini HTTP {status}: {message}"
            ))),
        }
    }
}

/// Gemini's words for a photo it cannot read (as opposed to a request the model cannot take).
const PHOTO_PROBLEMS: [&str; 6] = [
    "unable to process input image",
    "image is too large",
    "mime type",
    "could not decode",
    "invalid image",
    "image data",
];

fn is_about_the_photo(message: &str) -> bool {
    let lower = message.to_lowercase();
    PHOTO_PROBLEMS.iter().any(|p| lower.contains(p))
}

/// The image-capable models a key can use, for the Settings page's model list.
/// "Test connection": the model list answers with the key — a call that costs nothing.
pub async fn check_key(http: &Http, settings: &Settings) -> Result<(), String> {
    let endpoint = &settings.nanobanana;
    let key = key(&endpoint.api_key, "NanoBanana")?;
    list_image_models(&http.api, &endpoint.base_url, key)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

pub async fn list_image_models(
    http: &reqwest::Client,
    base_url: &str,
    api_key: &str,
) -> Result<Vec<String>, ProviderError> {
    let url = format!("{}/models?pageSize=1000", base_url.trim_end_matches('/'));
    let response = http
        .get(url)
        .header("x-goog-api-key", api_key)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map_err(|e| ProviderError::Transient(super::transport_error(e)))?;
    let status = response.status();
    let json: Value = serde_json::from_slice(
        &read_answer(response, Instant::now() + Duration::from_secs(5)).await?,
    )
    .map_err(|_| ProviderError::Protocol("the model list is not JSON".into()))?;
    if !status.is_success() {
        let message = json["error"]["message"].as_str().unwrap_or("no message");
        return Err(ProviderError::BadConfig(format!(
            "Gemini HTTP {status}: {message}"
        )));
    }
    let empty = Vec::new();
    Ok(json["models"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .filter(|m| {
            m["supportedGenerationMethods"]
                .as_array()
                .is_some_and(|methods| methods.iter().any(|x| x == "generateContent"))
        })
        .filter_map(|m| m["name"].as_str())
        .map(|name| name.trim_start_matches("models/").to_owned())
        .filter(|name| name.contains("image") || name.contains("nano-banana"))
        .collect())
}

/// `RetryInfo.retryDelay` of a Google RPC error, e.g. `"17s"` or `"1.5s"`.
fn retry_delay(json: &Value) -> Option<Duration> {
    json["error"]["details"].as_array()?.iter().find_map(|d| {
        let delay = d["retryDelay"].as_str()?.strip_suffix('s')?;
        delay
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64)
    })
}

/// Finds the final image of a 200 answer, or says why there is none.
fn parse_answer(json: &Value) -> Result<Vec<u8>, Failure> {
    if let Some(reason) = json["promptFeedback"]["blockReason"].as_str() {
        let said = json["promptFeedback"]["blockReasonMessage"].as_str();
        return Err(Failure::Stop(ProviderError::Refused(format!(
            "Gemini blocked the prompt ({reason}){}",
            said.map(|m| format!(": {m}")).unwrap_or_default()
        ))));
    }
    let candidate = &json["candidates"][0];
    let empty = Vec::new();
    let parts = candidate["content"]["parts"].as_array().unwrap_or(&empty);
    let answer_parts = || {
        parts
            .iter()
            .filter(|p| p["thought"].as_bool() != Some(true))
    };
    let image = answer_parts()
        .filter_map(|p| p.get("inlineData").or_else(|| p.get("inline_data")))
        .filter_map(|blob| blob["data"].as_str())
        .next_back();
    if let Some(data) = image {
        return image_bytes(data);
    }
    let reason = candidate["finishReason"].as_str().unwrap_or("");
    let text: Vec<&str> = answer_parts().filter_map(|p| p["text"].as_str()).collect();
    // The model's own words on why, where it gave them.
    let said = candidate["finishMessage"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| (!text.is_empty()).then(|| text.join(" ")));
    let why = said.map(|m| format!(": {m}")).unwrap_or_default();
    match reason {
        "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "SAFETY"
        | "PROHIBITED_CONTENT"
        | "BLOCKLIST"
        | "SPII" => Err(Failure::Stop(ProviderError::Refused(format!(
            "blocked by Gemini's safety filter ({reason}){why}"
        )))),
        // A refusal in words: asking again gets the same answer.
        "STOP" if !text.is_empty() => Err(Failure::Stop(ProviderError::Refused(format!(
            "the model answered without an image{why}"
        )))),
        "" | "NO_IMAGE" | "STOP" => {
            let reason = if reason.is_empty() {
                "empty answer"
            } else {
                reason
            };
            Err(Failure::retry(ProviderError::Transient(format!(
                "Gemini answered without an image ({reason}){why}"
            ))))
        }
        other => Err(Failure::retry(ProviderError::Refused(format!(
            "Gemini stopped without an image ({other}){why}"
        )))),
    }
}

/// The base64 image of an answer, checked to be an image whatever its declared type says.
fn image_bytes(data: &str) -> Result<Vec<u8>, Failure> {
    let protocol = |m: &str| Failure::Stop(ProviderError::Protocol(m.to_owned()));
    let bytes = BASE64
        .decode(data)
        .map_err(|_| protocol("Gemini image data is not base64"))?;
    // The declared mimeType can be wrong (JPEG labelled PNG): only the bytes count.
    if ImageFormat::sniff(&bytes).is_none() {
        return Err(protocol("Gemini answered with bytes that are not an image"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aspect_ratio_is_the_nearest_supported() {
        assert_eq!(nearest_aspect_ratio(512, 512), "1:1");
        assert_eq!(nearest_aspect_ratio(6000, 4000), "3:2");
        assert_eq!(nearest_aspect_ratio(512, 768), "2:3");
        assert_eq!(nearest_aspect_ratio(1080, 1920), "9:16");
        assert_eq!(nearest_aspect_ratio(1000, 800), "5:4");
        assert_eq!(nearest_aspect_ratio(3000, 1000), "21:9");
    }

    #[test]
    fn templates_wrap_the_prompt_unless_raw() {
        let wrapped = instruction(Kind::Prompt, "superhero in a cape", false);
        assert!(wrapped.starts_with("Using the provided photo, superhero in a cape."));
        assert!(wrapped.contains("identity"));
        assert_eq!(
            instruction(Kind::Prompt, "superhero in a cape", true),
            "superhero in a cape"
        );
        assert!(
            instruction(Kind::FaceSwap, "", true).contains("Image 2"),
            "no raw text: the template"
        );
    }

    #[test]
    fn retry_delay_reads_rpc_retry_info() {
        let json = json!({"error": {"details": [{"@type": "x"}, {"retryDelay": "1.5s"}]}});
        assert_eq!(retry_delay(&json), Some(Duration::from_millis(1500)));
        assert_eq!(retry_delay(&json!({"error": {}})), None);
    }

    #[test]
    fn image_size_covers_the_result_among_the_sizes_the_model_takes() {
        let size = |model: &str, side| image_size(&model_facts(model), side);
        assert_eq!(size("gemini-nano-banana-2.1", 1000), Some("1K"));
        assert_eq!(size("gemini-nano-banana-2.1", 2048), Some("2K"));
        assert_eq!(size("gemini-3-pro-image", 3000), Some("4K"));
        assert_eq!(size("gemini-3.1-flash-image", 400), Some("512"));
        assert_eq!(
            size("gemini-3.1-flash-lite-image", 2048),
            Some("1K"),
            "1K only"
        );
        assert_eq!(size("some-future-image-model", 2048), None);
    }

    #[test]
    fn a_thinking_level_is_sent_only_where_the_model_takes_it() {
        let options = json!({"thinking_level": "medium"})
            .as_object()
            .unwrap()
            .clone();
        let level = |model: &str| thinking_level(&model_facts(model), &options);
        assert_eq!(level("gemini-nano-banana-2.1"), Some("medium"));
        assert_eq!(
            level("gemini-3.1-flash-image"),
            None,
            "minimal or high only"
        );
        assert_eq!(level("gemini-3-pro-image"), None);
    }

    #[test]
    fn the_last_image_that_is_not_a_thought_wins() {
        let png = BASE64.encode(b"\x89PNG\r\n\x1a\nfinal");
        let thought = BASE64.encode(b"\x89PNG\r\n\x1a\nthought");
        let json = json!({"candidates": [{"content": {"parts": [
            {"inlineData": {"mimeType": "image/png", "data": thought}, "thought": true},
            {"text": "here"},
            {"inline_data": {"mime_type": "image/png", "data": png}}
        ]}, "finishReason": "STOP"}]});
        assert_eq!(parse_answer(&json).ok().unwrap(), b"\x89PNG\r\n\x1a\nfinal");
    }
}
