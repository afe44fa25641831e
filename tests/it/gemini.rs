//! NanoBanana through a fake Gemini that checks the documented wire format, each case through
//! the real upload endpoint as DSLR Remote Pro sends it.

use crate::common::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use boothgate::config::Setting;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "test-gemini-key-0001";
const MODEL: &str = "gemini-nano-banana-2.1";
const GENERATE: &str = "/v1beta/models/gemini-nano-banana-2.1:generateContent";
const SLOT: &str = "/upload/nanobanana/3";

async fn gemini_app(fake: &MockServer, deadline_secs: &str) -> TestApp {
    let options = Options::default()
        .with(Setting::NanobananaApiKey, KEY)
        .with(
            Setting::NanobananaBaseUrl,
            &format!("{}/v1beta", fake.uri()),
        )
        .with(Setting::NanobananaModel, MODEL)
        .with(Setting::DeadlineSecs, deadline_secs);
    let app = spawn_app(options).await;
    app.put_slot(
        "nanobanana",
        3,
        json!({"kind": "prompt", "prompt": "superhero in a red cape"}),
    )
    .await;
    app
}

fn drawn(width: u32, height: u32, rgb: [u8; 3], format: image::ImageFormat) -> Vec<u8> {
    crate::samples::drawn_by_model(width, height, rgb, format)
}

fn image_answer(parts: Vec<Value>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
        "modelVersion": MODEL, "responseId": "resp-1"
    }))
}

fn inline(bytes: &[u8], mime: &str) -> Value {
    json!({"inlineData": {"mimeType": mime, "data": BASE64.encode(bytes)}})
}

/// Tinted red, as [`red_png`] draws.
fn reddish(bytes: &[u8]) -> bool {
    let [r, g, b] = crate::samples::mean_rgb(bytes);
    r > g + 50.0 && r > b + 50.0
}

fn red_png() -> Vec<u8> {
    drawn(1024, 1024, [220, 20, 20], image::ImageFormat::Png)
}

fn no_image(reason: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({"candidates": [{"finishReason": reason, "index": 0}]}))
}

fn rpc_error(status: u16, rpc: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({"error": {"code": status, "message": message, "status": rpc}}))
}

async fn mount_once(fake: &MockServer, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(GENERATE))
        .respond_with(response)
        .up_to_n_times(1)
        .mount(fake)
        .await;
}

async fn mount_always(fake: &MockServer, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(GENERATE))
        .respond_with(response)
        .mount(fake)
        .await;
}

/// The images a request carried, decoded, in order.
fn sent_images(body: &Value) -> Vec<(u32, u32)> {
    body["contents"][0]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p.get("inline_data"))
        .map(|blob| {
            let bytes = BASE64
                .decode(blob["data"].as_str().unwrap())
                .expect("valid base64");
            assert_eq!(blob["mime_type"], "image/jpeg");
            image_size(&bytes)
        })
        .collect()
}

async fn requests(fake: &MockServer) -> Vec<Value> {
    fake.received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == GENERATE)
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

#[tokio::test]
async fn success_sends_the_documented_request() {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(GENERATE))
        .and(header("x-goog-api-key", KEY))
        .respond_with(image_answer(vec![
            json!({"text": "Here it is."}),
            inline(&red_png(), "image/png"),
        ]))
        .mount(&fake)
        .await;
    let app = gemini_app(&fake, "20").await;
    let response = upload_sample(&app, SLOT, "guest-512.jpg").await;
    assert!(response.continued);
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(response.header("content-type"), Some("image/jpeg"));
    assert_eq!(image_size(&response.body), (512, 512));
    assert!(reddish(&response.body), "the model's red image came back");

    let received: Vec<_> = fake
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == GENERATE)
        .collect();
    assert_eq!(received.len(), 1);
    assert!(
        received[0].url.query().is_none(),
        "the key never goes in the URL"
    );
    let body: Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(
        body["generationConfig"]["responseModalities"],
        json!(["IMAGE"])
    );
    assert_eq!(
        body["generationConfig"]["imageConfig"]["aspectRatio"],
        "1:1"
    );
    assert_eq!(sent_images(&body), vec![(512, 512)]);
    let text = body["contents"][0]["parts"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        text.contains("superhero in a red cape") && text.contains("identity"),
        "{text}"
    );
    let job = app.job(response.header("x-boothgate-job").unwrap()).await;
    assert_eq!(job.status.as_str(), "succeeded");
}

#[tokio::test]
async fn aspect_ratio_follows_the_upright_upload() {
    let fake = MockServer::start().await;
    mount_always(&fake, image_answer(vec![inline(&red_png(), "image/png")])).await;
    let app = gemini_app(&fake, "20").await;
    let response = upload_sample(&app, SLOT, "guest-exif-rotated.jpg").await;
    assert_eq!(response.status, 200);
    assert_eq!(image_size(&response.body), (512, 768));
    let body = &requests(&fake).await[0];
    assert_eq!(
        body["generationConfig"]["imageConfig"]["aspectRatio"],
        "2:3"
    );
    assert_eq!(
        sent_images(body),
        vec![(512, 768)],
        "the model gets the photo upright"
    );
}

#[tokio::test]
async fn face_swap_sends_the_template_first_and_the_guest_second() {
    let fake = MockServer::start().await;
    mount_always(&fake, image_answer(vec![inline(&red_png(), "image/png")])).await;
    let app = gemini_app(&fake, "20").await;
    app.put_slot("nanobanana", 3, json!({"kind": "face_swap", "prompt": ""}))
        .await;
    app.put_reference("nanobanana", 3, sample("reference-template.jpg"))
        .await;
    let response = upload_sample(&app, SLOT, "guest-512.jpg").await;
    assert_eq!(response.status, 200);
    let body = &requests(&fake).await[0];
    assert_eq!(sent_images(body), vec![(451, 300), (512, 512)]);
    let texts: Vec<&str> = body["contents"][0]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["text"].as_str())
        .collect();
    assert_eq!(texts[0], "Image 1 is the photo to edit:");
    assert_eq!(texts[1], "Image 2 shows the identity reference:");
    assert!(texts[2].contains("face of the person in Image 2"));
}

#[tokio::test]
async fn raw_prompt_skips_the_template() {
    let fake = MockServer::start().await;
    mount_always(&fake, image_answer(vec![inline(&red_png(), "image/png")])).await;
    let app = gemini_app(&fake, "20").await;
    let card = app.admin_html("/admin/nanobanana").await;
    assert!(
        card.contains("Using the provided photo, superhero in a red cape."),
        "the card shows the template"
    );
    app.put_slot("nanobanana", 3, json!({"options": {"raw_prompt": true}}))
        .await;
    assert_eq!(upload_sample(&app, SLOT, "guest-512.jpg").await.status, 200);
    let body = &requests(&fake).await[0];
    assert_eq!(
        body["contents"][0]["parts"][1]["text"],
        "superhero in a red cape"
    );
}

#[tokio::test]
async fn thought_images_are_skipped_for_the_final_one() {
    let fake = MockServer::start().await;
    let blue = drawn(1024, 1024, [20, 20, 220], image::ImageFormat::Png);
    let mut thought = inline(&blue, "image/png");
    thought["thought"] = json!(true);
    mount_always(
        &fake,
        image_answer(vec![thought, inline(&red_png(), "image/png")]),
    )
    .await;
    let app = gemini_app(&fake, "20").await;
    let response = upload_sample(&app, SLOT, "guest-512.jpg").await;
    assert_eq!(response.status, 200);
    assert!(reddish(&response.body), "the final image, not the thought");
}

#[tokio::test]
async fn no_image_is_retried_until_an_image_comes() {
    let fake = MockServer::start().await;
    mount_once(&fake, no_image("NO_IMAGE")).await;
    mount_always(&fake, image_answer(vec![inline(&red_png(), "image/png")])).await;
    let app = gemini_app(&fake, "20").await;
    let response = upload_sample(&app, SLOT, "guest-512.jpg").await;
    assert_eq!(response.status, 200);
    assert_eq!(requests(&fake).await.len(), 2);
}

#[tokio::test]
async fn a_model_declining_in_words_is_not_retried() {
    let fake = MockServer::start().await;
    mount_always(
        &fake,
        image_answer(vec![json!({"text": "I can't help with that person."})]),
    )
    .await;
    let app = gemini_app(&fake, "30").await;
    let response = upload_sample(&app, SLOT, "guest-512.jpg").await;
    assert_eq!(response.status, 502);
    let body = response.json();
    assert_eq!(body["reason"], "provider_error");
    assert_eq!(
        requests(&fake).await.len(),
        1,
        "the same photo gets the same answer"
    );
    let job = app.job_in_trash(&response, "failed").await;
    assert!(
        job.message
            .unwrap()
            .contains("I can't help with that person.")
    );
}

#[tokio::test]
async fn safety_refusal_is_not_retried() {
    let fake = MockServer::start().await;
    mount_always(&fake, no_image("IMAGE_SAFETY")).await;
    let app = gemini_app(&fake, "20").await;
    let response = upload_sample(&app, SLOT, "guest-512.jpg").await;
    assert_eq!(response.status, 502);
    assert_eq!(requests(&fake).await.len(), 1);
    let job = app
        .finished_job(response.json()["job"].as_str().unwrap())
        .await;
    assert_eq!(job.status.as_str(), "failed");
    assert!(job.message.unwrap().contains("IMAGE_SAFETY"));

    let blocked = MockServer::start().await;
    mount_always(
        &blocked,
        ResponseTemplate::new(200)
            .set_body_json(json!({"promptFeedback": {"blockReason": "SAFETY"}})),
    )
    .await;
    let app = gemini_app(&blocked, "20").await;
    assert_eq!(upload_sample(&app, SLOT, "guest-512.jpg").await.status, 502);
    assert_eq!(requests(&blocked).await.len(), 1);
}

#[tokio::test]
async fn rate_limit_is_retried_after_its_suggested_delay() {
    let fake = MockServer::start().await;
    let limited = ResponseTemplate::new(429).set_body_json(json!({"error": {"code": 429,
        "message": "You exceeded your current quota. Please retry in 1.2s.", "status": "RESOURCE_EXHAUSTED",
        "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.2s"}]}}));
    mount_once(&fake, limited).await;
    mount_always(&fake, image_answer(vec![inline(&red_png(), "image/png")])).await;
    let app = gemini_app(&fake, "20").await;
    let started = Instant::now();
    let response = upload_sample(&app, SLOT, "guest-512.jpg").await;
    assert_eq!(response.status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(1200),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(requests(&fake).await.len(), 2);
}

#[tokio::test]
async fn overloaded_model_is_retried() {
    let fake = MockServer::start().await;
    mount_once(
        &fake,
        rpc_error(
            503,
            "UNAVAILABLE",
            "The model is overloaded. Please try again later.",
        ),
    )
    .await;
    mount_always(&fake, image_answer(vec![inline(&red_png(), "image/png")])).await;
    let app = gemini_app(&fake, "20").await;
    assert_eq!(upload_sample(&app, SLOT, "guest-512.jpg").await.status, 200);
    assert_eq!(requests(&fake).await.len(), 2);
}

#[tokio::test]
async fn bad_key_is_not_retried_and_shows_in_settings() {
    let fake = MockServer::start().await;
    mount_always(
        &fake,
        rpc_error(
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
        ),
    )
    .await;
    let app = gemini_app(&fake, "20").await;
    let response = upload_sample(&app, SLOT, "guest-512.jpg").await;
    assert_eq!(response.status, 502);
    assert_eq!(requests(&fake).await.len(), 1);
    let job = app
        .finished_job(response.json()["job"].as_str().unwrap())
        .await;
    assert!(job.message.unwrap().contains("API key not valid"));
    let settings = app.admin_html("/admin/settings").await;
    let shown = settings
        .find("provider-error")
        .map(|i| settings[i..].chars().take(300).collect::<String>());
    assert!(
        settings.contains(
            "Последняя ошибка</strong><br><span class=\"hint\">Gemini refused the request"
        ),
        "last error on Settings: {shown:?}"
    );
}

#[tokio::test]
async fn retired_model_is_named_in_the_error() {
    let fake = MockServer::start().await;
    mount_always(
        &fake,
        rpc_error(
            404,
            "NOT_FOUND",
            "models/gemini-nano-banana-2.1 is not found for API version v1beta",
        ),
    )
    .await;
    let app = gemini_app(&fake, "20").await;
    let response = upload_sample(&app, SLOT, "guest-512.jpg").await;
    assert_eq!(response.status, 502);
    assert!(
        response.json()["message"]
            .as_str()
            .unwrap()
            .contains(&format!("no model '{MODEL}'"))
    );
    assert_eq!(requests(&fake).await.len(), 1);
    let settings = app.admin_html("/admin/settings").await;
    let shown = settings
        .find("provider-error")
        .map(|i| &settings[i..i + 200]);
    assert!(
        shown.is_some_and(|s| s.contains("Gemini has no model") && s.contains(MODEL)),
        "the retired model on Settings: {shown:?}"
    );
}

#[tokio::test]
async fn jpeg_bytes_labelled_png_are_accepted() {
    let fake = MockServer::start().await;
    let jpeg = drawn(800, 800, [220, 20, 20], image::ImageFormat::Jpeg);
    mount_always(&fake, image_answer(vec![inline(&jpeg, "image/png")])).await;
    let app = gemini_app(&fake, "20").await;
    let response = upload_sample(&app, SLOT, "guest-512.png").await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("image/png"),
        "PNG in, PNG out"
    );
    assert!(reddish(&response.body));
}

#[tokio::test]
async fn non_image_bytes_are_a_provider_error() {
    let fake = MockServer::start().await;
    mount_always(
        &fake,
        image_answer(vec![inline(b"<html>not an image</html>", "image/png")]),
    )
    .await;
    let app = gemini_app(&fake, "20").await;
    let response = upload_sample(&app, SLOT, "guest-512.jpg").await;
    assert_eq!(response.status, 502);
    assert_eq!(response.json()["reason"], "provider_error");
}

#[tokio::test]
async fn a_hanging_model_gets_504_by_the_deadline() {
    let fake = MockServer::start().await;
    mount_always(
        &fake,
        image_answer(vec![inline(&red_png(), "image/png")]).set_delay(Duration::from_secs(10)),
    )
    .await;
    let app = gemini_app(&fake, "2").await;
    let started = Instant::now();
    let response = upload_sample(&app, SLOT, "guest-512.jpg").await;
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(response.status, 504);
    app.job_in_trash(&response, "timed_out").await;
}

#[tokio::test]
async fn settings_suggest_the_image_models_of_the_key() {
    let fake = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1beta/models"))
        .and(header("x-goog-api-key", KEY))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"models": [
            {"name": "models/gemini-3.1-flash-image", "supportedGenerationMethods": ["generateContent"]},
            {"name": "models/gemini-3-pro-image", "supportedGenerationMethods": ["generateContent", "countTokens"]},
            {"name": "models/gemini-2.5-flash", "supportedGenerationMethods": ["generateContent"]},
            {"name": "models/imagen-4.0-generate", "supportedGenerationMethods": ["predict"]}
        ]})))
        .mount(&fake)
        .await;
    let app = gemini_app(&fake, "20").await;
    app.model_lists_fetched(&["nanobanana"]).await;
    let page = app.admin_get("/admin/settings").await.text().await.unwrap();
    assert!(page.contains(r#"<option value="gemini-3.1-flash-image">"#));
    assert!(page.contains(r#"<option value="gemini-3-pro-image">"#));
    assert!(
        !page.contains(r#"<option value="gemini-2.5-flash">"#),
        "text-only models are left out"
    );
    assert!(!page.contains("imagen-4.0-generate"));
    assert!(!page.contains(KEY));
}

fn model_list(ids: &[&str]) -> ResponseTemplate {
    let models: Vec<Value> = ids
        .iter()
        .map(|id| json!({"name": format!("models/{id}"), "supportedGenerationMethods": ["generateContent", "countTokens"]}))
        .collect();
    ResponseTemplate::new(200).set_body_json(json!({"models": models}))
}

#[tokio::test]
async fn the_output_size_covers_the_print_for_models_that_take_it() {
    let fake = MockServer::start().await;
    mount_always(&fake, image_answer(vec![inline(&red_png(), "image/png")])).await;
    let app = gemini_app(&fake, "20").await;
    assert_eq!(
        upload_sample(&app, SLOT, "guest-6000x4000.jpg")
            .await
            .status,
        200
    );
    let sent = requests(&fake).await;
    assert_eq!(
        sent[0]["generationConfig"]["imageConfig"]["imageSize"],
        "2K"
    );

    let old = MockServer::start().await;
    let old_model = "gemini-2.5-flash-image";
    Mock::given(method("POST"))
        .and(path(format!("/v1beta/models/{old_model}:generateContent")))
        .respond_with(image_answer(vec![inline(&red_png(), "image/png")]))
        .mount(&old)
        .await;
    let app = spawn_app(
        Options::default()
            .with(Setting::NanobananaApiKey, KEY)
            .with(Setting::NanobananaBaseUrl, &format!("{}/v1beta", old.uri()))
            .with(Setting::NanobananaModel, old_model),
    )
    .await;
    app.put_slot("nanobanana", 3, json!({"kind": "prompt", "prompt": "x"}))
        .await;
    assert_eq!(upload_sample(&app, SLOT, "guest-512.jpg").await.status, 200);
    let sent = old.received_requests().await.unwrap();
    let body: Value = sent
        .iter()
        .find(|r| r.method.as_str() == "POST")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .unwrap();
    assert!(
        body["generationConfig"]["imageConfig"]["imageSize"].is_null(),
        "a model without output sizes is not sent one"
    );
}

#[tokio::test]
async fn a_retired_model_is_flagged_on_the_tab_and_settings_with_the_listed_ones() {
    let fake = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1beta/models"))
        .respond_with(model_list(&[
            "gemini-3-pro-image",
            "gemini-3.1-flash-lite-image",
        ]))
        .mount(&fake)
        .await;
    // The model is the default, not fixed by the environment: the page may change it.
    let app = spawn_app(
        Options::default()
            .with(Setting::NanobananaApiKey, KEY)
            .with(
                Setting::NanobananaBaseUrl,
                &format!("{}/v1beta", fake.uri()),
            ),
    )
    .await;
    let providers = app.model_lists_fetched(&["nanobanana"]).await;
    let gemini = &providers["nanobanana"];
    assert_eq!(gemini["model"], MODEL);
    assert_eq!(gemini["model_listed"], false);
    assert_eq!(
        gemini["models"],
        json!(["gemini-3-pro-image", "gemini-3.1-flash-lite-image"])
    );
    assert_eq!(gemini["configured"], true);
    for page in ["/admin/nanobanana", "/admin/settings"] {
        let html = app.admin_html(page).await;
        assert!(html.contains("model-banner missing"), "{page}");
        assert!(html.contains(&format!("Модели «{MODEL}» нет в списке моделей Gemini")));
        assert!(
            html.contains(r#"<option value="gemini-3-pro-image">"#),
            "{page}"
        );
    }
    let csrf = csrf_token(&app.admin_html("/admin/nanobanana").await);
    // Only a model the list names: the value ends up in request URLs.
    for unlisted in ["../../../evil?key=", "gemini-4-unlisted"] {
        let refused = app
            .admin(Method::POST, "/admin/settings/model")
            .form(&[
                ("csrf", csrf.as_str()),
                ("setting", "gemini_model"),
                ("value", unlisted),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 422, "{unlisted}");
        assert_eq!(app.state.settings().get(Setting::NanobananaModel), MODEL);
    }
    let chosen = app
        .admin(Method::POST, "/admin/settings/model")
        .form(&[
            ("csrf", csrf.as_str()),
            ("setting", "gemini_model"),
            ("value", "gemini-3-pro-image"),
            ("next", "/admin/nanobanana"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(chosen.status(), 303);
    assert_eq!(chosen.headers()["location"], "/admin/nanobanana");
    for _ in 0..100 {
        let providers = app.admin_json("/admin/api/providers").await;
        if providers["nanobanana"]["model_listed"] == true {
            assert_eq!(providers["nanobanana"]["model"], "gemini-3-pro-image");
            assert!(
                !app.admin_html("/admin/nanobanana")
                    .await
                    .contains("model-banner")
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the chosen model was never checked against the list");
}

#[tokio::test]
async fn refusal_messages_are_kept_and_a_photo_the_model_cannot_use_is_not_a_config_error() {
    let fake = MockServer::start().await;
    mount_once(
        &fake,
        ResponseTemplate::new(200).set_body_json(json!({"candidates": [{
            "finishReason": "IMAGE_SAFETY", "index": 0,
            "finishMessage": "The output image may depict a minor."}]})),
    )
    .await;
    mount_once(
        &fake,
        ResponseTemplate::new(200).set_body_json(json!({"promptFeedback": {
            "blockReason": "OTHER", "blockReasonMessage": "The prompt names a real person."}})),
    )
    .await;
    mount_once(
        &fake,
        rpc_error(
            400,
            "INVALID_ARGUMENT",
            "Unable to process input image. Please retry or report.",
        ),
    )
    .await;
    let app = gemini_app(&fake, "20").await;
    for said in [
        "The output image may depict a minor.",
        "The prompt names a real person.",
        "Unable to process input image",
    ] {
        let response = upload_sample(&app, SLOT, "guest-512.jpg").await;
        assert_eq!(response.status, 502);
        let job = app.job_in_trash(&response, "failed").await;
        assert!(job.message.unwrap().contains(said), "{said}");
    }
    assert_eq!(requests(&fake).await.len(), 3, "none retried");
    let providers = app.admin_json("/admin/api/providers").await;
    assert!(
        providers["nanobanana"]["last_error"].is_null(),
        "the key is fine: {providers}"
    );
}

#[tokio::test]
async fn settings_test_the_nanobanana_key_with_a_model_list_and_say_it_beside_the_button() {
    let fake = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1beta/models"))
        .and(wiremock::matchers::header(
            "x-goog-api-key",
            "test-gemini-key-0001",
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"models": [
            {"name": "models/gemini-nano-banana-2.1", "displayName": "Nano Banana 2.1",
             "supportedGenerationMethods": ["generateContent", "countTokens"]}]})),
        )
        .mount(&fake)
        .await;
    let without_key = spawn_app(Options::default()).await;
    let page = without_key.admin_html("/admin/settings").await;
    assert!(
        !page.contains("name=\"clear_gemini_api_key\""),
        "nothing to delete without a key"
    );
    let app = spawn_app(
        Options::default()
            .with(Setting::NanobananaApiKey, "test-gemini-key-0001")
            .with(
                Setting::NanobananaBaseUrl,
                &format!("{}/v1beta", fake.uri()),
            ),
    )
    .await;
    let page = app.admin_html("/admin/settings").await;
    assert!(page.contains(r#"formaction="/admin/settings/test/nanobanana#section-nanobanana""#));
    assert!(
        page.contains(r#"id="section-nanobanana""#),
        "the result comes back to its button"
    );
    let csrf = csrf_token(&page);
    let tested = app
        .admin(reqwest::Method::POST, "/admin/settings/test/nanobanana")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(
        tested
            .text()
            .await
            .unwrap()
            .contains("notice test-result\"><strong>Соединение работает")
    );
}
