//! An OpenAI-compatible Images API, which draws for the DeepSeek tab: `images/edits` with the
//! guest's photo (and the reference), the size chosen by the model's family.
//! Wire format: https://platform.openai.com/docs/api-reference/images/createEdit

use super::options::{self, OptionInput, OptionLabel, OptionSpec};
use super::registry::key;
use super::retry::Failure;
use super::{Http, ImageData, ModelRequest, ProviderError, read_answer, request_failed};
use crate::config::{FreeSize, Settings, model_facts};
use crate::domain::ImageFormat;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;
use std::time::Duration;
use tokio::time::Instant;

/// The sizes every GPT-image model accepts, by aspect.
const SIZES: [(u32, u32); 3] = [(1024, 1024), (1536, 1024), (1024, 1536)];

/// The options a slot of the DeepSeek tab reads for its drawing.
pub const OPTIONS: &[OptionSpec] = &[OptionSpec {
    key: "quality",
    label: OptionLabel::ImagesQuality,
    input: OptionInput::Choice(&["auto", "low", "medium", "high"]),
}];

/// Stage 2: an OpenAI-compatible `images/edits` endpoint.
pub struct Renderer {
    pub base_url: String,
    pub api_key: String,
    pub model: String,
}

/// For models that take any size: the upload's aspect (kept between 1:3 and 3:1), its long
/// side the result's, scaled up to the model's fewest pixels and down to its most and its
/// longest side, both sides multiples of 16.
pub fn free_size(width: u32, height: u32, result_side: u32, bounds: FreeSize) -> String {
    let ratio = (f64::from(width.max(1)) / f64::from(height.max(1))).clamp(1.0 / 3.0, 3.0);
    let long = f64::from(result_side.max(16));
    let (w, h) = if ratio >= 1.0 {
        (long, long / ratio)
    } else {
        (long * ratio, long)
    };
    let pixels = w * h;
    let grow = (bounds.min_pixels as f64 / pixels).sqrt().max(1.0);
    let shrink = (bounds.max_pixels as f64 / pixels)
        .sqrt()
        .min(f64::from(bounds.max_side) / w.max(h))
        .min(f64::from(bounds.max_short_side) / w.min(h))
        .min(1.0);
    let scale = if grow > 1.0 { grow } else { shrink };
    // Rounded up when growing (never below the minimum), down when shrinking (never above).
    let side = |v: f64| {
        let sixteenths = v * scale / 16.0;
        let n = if grow > 1.0 {
            sixteenths.ceil()
        } else if shrink < 1.0 {
            sixteenths.floor()
        } else {
            sixteenths.round()
        };
        (n as u32).max(1) * 16
    };
    format!("{}x{}", side(w), side(h))
}

/// The supported size nearest to the upload's aspect.
pub fn nearest_size(width: u32, height: u32) -> String {
    let (w, h) = super::nearest_aspect(width, height, &SIZES);
    format!("{w}x{h}")
}

impl Renderer {
    pub(super) async fn render(
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
        let (w, h) = request.upload_size;
        let size = match model_facts(&self.model).free_size {
            Some(bounds) => free_size(w, h, request.result_side, bounds),
            None => nearest_size(w, h),
        };
        // A photo comes back as JPEG: a smaller answer, decoded faster; PNG keeps a PNG flow.
        let output_format = match request.photo.format {
            ImageFormat::Png => "png",
            _ => "jpeg",
        };
        let quality = options::text(&request.options, "quality").unwrap_or("auto");
        let mut form = reqwest::multipart::Form::new()
            .text("model", self.model.clone())
            .text("prompt", prompt.to_owned())
            .text("size", size)
            .text("quality", quality.to_owned())
            .text("output_format", output_format)
            .text("n", "1");
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
    let lower = message.to_lowercase();
    let no_such_model =
        code == "model_not_found" || (lower.contains("model") && lower.contains("does not exist"));
    match status {
        _ if no_such_model => Failure::Stop(ProviderError::ModelNotFound(format!(
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

pub(super) async fn answer_ok(response: reqwest::Response) -> Result<(), String> {
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
    fn free_sizes_follow_the_upload_within_the_model_s_pixels_in_multiples_of_16() {
        let bounds = model_facts(crate::config::DEFAULT_IMAGES)
            .free_size
            .unwrap();
        let size = |w, h, side| free_size(w, h, side, bounds);
        assert_eq!(size(6000, 4000, 2048), "2048x1360");
        assert_eq!(size(4000, 6000, 2048), "1360x2048");
        assert_eq!(size(8000, 1000, 2048), "2048x688", "at most 3:1");
        assert_eq!(size(4000, 4000, 8192), "2160x2160", "within 3840×2160");
        assert_eq!(size(7680, 4320, 8192), "3840x2160");
        for (w, h) in [(512, 512), (800, 800), (896, 592), (400, 1200)] {
            let side = w.max(h);
            let answer = size(w, h, side);
            let (aw, ah) = answer.split_once('x').unwrap();
            let (aw, ah): (u64, u64) = (aw.parse().unwrap(), ah.parse().unwrap());
            assert!(aw * ah >= 655_360, "{w}x{h} → {answer}");
            assert!(aw % 16 == 0 && ah % 16 == 0, "{answer}");
        }
    }
}
