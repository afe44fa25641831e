//! The DeepSeek tab: fakes of DeepSeek's chat completions and of an OpenAI-compatible images
//! endpoint check the wire format; each case runs through the real upload endpoint.

use crate::common::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use boothgate::config::Setting;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const DEEPSEEK_KEY: &str = "sk-deepseek-test";
const IMAGES_KEY: &str = "sk-images-test";
const WRITTEN: &str =
    "Turn the guest into a superhero in a red cape, keeping the face, pose and framing.";
const SLOT: &str = "/upload/deepseek/2";

struct Fakes {
    deepseek: MockServer,
    images: MockServer,
}

impl Fakes {
    async fn start() -> Fakes {
        Fakes {
            deepseek: MockServer::start().await,
            images: MockServer::start().await,
        }
    }
}

fn options(fakes: &Fakes, with_deepseek: bool) -> Options {
    let mut options = Options::default()
        .with(Setting::ImagesApiKey, IMAGES_KEY)
        .with(
            Setting::ImagesBaseUrl,
            &format!("{}/v1", fakes.images.uri()),
        )
        .with(Setting::ImagesModel, "gpt-image-1.5")
        .with(Setting::DeepseekBaseUrl, &fakes.deepseek.uri())
        .with(Setting::DeepseekModel, "deepseek-flash")
        .with(Setting::DeepseekShareSecs, "1")
        .with(Setting::DeadlineSecs, "20");
    if with_deepseek {
        options = options.with(Setting::DeepseekApiKey, DEEPSEEK_KEY);
    }
    options
}

async fn deepseek_app(fakes: &Fakes, with_deepseek: bool) -> TestApp {
    let app = spawn_app(options(fakes, with_deepseek)).await;
    app.put_slot(
        "deepseek",
        2,
        json!({"kind": "prompt", "prompt": "superhero in a red cape"}),
    )
    .await;
    app
}

fn chat_answer(content: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "chat-1", "object": "chat.completion", "created": 1_780_000_000, "model": "deepseek-flash",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "reasoning_content": null}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}}))
}

fn drawn() -> Vec<u8> {
    crate::samples::drawn_by_model(1024, 1024, [240, 200, 20], image::ImageFormat::Png)
}

fn images_answer() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "created": 1_780_000_000, "output_format": "png", "size": "1024x1024",
        "data": [{"b64_json": BASE64.encode(drawn()), "revised_prompt": null, "url": null}]}))
}

fn api_error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": code}}))
}

async fn mount(server: &MockServer, route: &str, response: ResponseTemplate, times: Option<u64>) {
    let mock = Mock::given(method("POST"))
        .and(path(route))
        .respond_with(response);
    match times {
        Some(n) => mock.up_to_n_times(n).mount(server).await,
        None => mock.mount(server).await,
    }
}

/// One part of a multipart body: its name, file name, content type and bytes.
struct Part {
    name: String,
    file_name: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
}

fn multipart_parts(request: &wiremock::Request) -> Vec<Part> {
    let content_type = request
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        content_type.starts_with("multipart/form-data"),
        "{content_type}"
    );
    let boundary = format!(
        "--{}",
        content_type
            .split("boundary=")
            .nth(1)
            .unwrap()
            .trim_matches('"')
    );
    let body = &request.body;
    let mut parts = Vec::new();
    let positions: Vec<usize> = body
        .windows(boundary.len())
        .enumerate()
        .filter(|(_, w)| *w == boundary.as_bytes())
        .map(|(i, _)| i)
        .collect();
    for pair in positions.windows(2) {
        let chunk = &body[pair[0] + boundary.len() + 2..pair[1] - 2];
        let split = chunk.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&chunk[..split]).to_string();
        let attribute = |key: &str| {
            head.split(';')
                .map(str::trim)
                .find_map(|a| a.strip_prefix(&format!("{key}=\"")))
                .map(|v| v.trim_end_matches('"').to_owned())
        };
        parts.push(Part {
            name: attribute("name").unwrap(),
            file_name: attribute("filename"),
            content_type: head
                .lines()
                .find_map(|l| {
                    l.strip_prefix("Content-Type: ")
                        .or(l.strip_prefix("content-type: "))
                })
                .map(str::to_owned),
            body: chunk[split + 4..].to_vec(),
        });
    }
    parts
}

fn text_of<'a>(parts: &'a [Part], name: &str) -> &'a str {
    std::str::from_utf8(&parts.iter().find(|p| p.name == name).unwrap().body).unwrap()
}

fn images_sent(parts: &[Part]) -> Vec<(u32, u32)> {
    parts
        .iter()
        .filter(|p| p.name == "image" || p.name == "image[]")
        .map(|p| {
            assert_eq!(p.content_type.as_deref(), Some("image/jpeg"));
            assert!(p.file_name.is_some());
            image_size(&p.body)
        })
        .collect()
}

async fn chat_requests(fakes: &Fakes) -> Vec<wiremock::Request> {
    fakes
        .deepseek
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/chat/completions")
        .collect()
}

async fn render_requests(fakes: &Fakes) -> Vec<wiremock::Request> {
    fakes
        .images
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/v1/images/edits")
        .collect()
}

#[tokio::test]
async fn deepseek_writes_the_prompt_and_the_renderer_draws_it() {
    let fakes = Fakes::start().await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .and(header(
            "authorization",
            format!("Bearer {DEEPSEEK_KEY}").as_str(),
        ))
        .respond_with(chat_answer(WRITTEN))
        .mount(&fakes.deepseek)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/images/edits"))
        .and(header(
            "authorization",
            format!("Bearer {IMAGES_KEY}").as_str(),
        ))
        .respond_with(images_answer())
        .mount(&fakes.images)
        .await;
    let app = deepseek_app(&fakes, true).await;
    let response = upload_sample(&app, SLOT, "guest-exif-rotated.jpg").await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(image_size(&response.body), (512, 768));

    let chat: Value = serde_json::from_slice(&chat_requests(&fakes).await[0].body).unwrap();
    assert_eq!(chat["model"], "deepseek-flash");
    assert_eq!(chat["messages"][0]["role"], "system");
    let user = &chat["messages"][1]["content"];
    assert_eq!(
        user[0],
        json!({"type": "text", "text": "superhero in a red cape"})
    );
    let data_url = user[1]["image_url"]["url"].as_str().unwrap();
    let photo = BASE64
        .decode(data_url.strip_prefix("data:image/jpeg;base64,").unwrap())
        .unwrap();
    assert_eq!(
        image_size(&photo),
        (512, 768),
        "DeepSeek sees the upright photo"
    );

    let renders = render_requests(&fakes).await;
    assert_eq!(renders.len(), 1);
    let parts = multipart_parts(&renders[0]);
    assert_eq!(text_of(&parts, "model"), "gpt-image-1.5");
    assert_eq!(
        text_of(&parts, "prompt"),
        WRITTEN,
        "the renderer draws DeepSeek's prompt"
    );
    assert_eq!(text_of(&parts, "size"), "1024x1536");
    assert_eq!(images_sent(&parts), vec![(512, 768)]);

    let job = app.job(response.header("x-boothgate-job").unwrap()).await;
    assert_eq!(job.prompt.as_deref(), Some("superhero in a red cape"));
    assert_eq!(job.prompt_used.as_deref(), Some(WRITTEN));
    let history = app.admin_html("/admin/jobs").await;
    assert!(
        history.contains(WRITTEN) && history.contains("superhero in a red cape"),
        "history shows both prompts"
    );
}

#[tokio::test]
async fn when_deepseek_is_down_the_slot_prompt_is_used() {
    let fakes = Fakes::start().await;
    mount(
        &fakes.deepseek,
        "/chat/completions",
        api_error(503, "server_busy", "Server busy"),
        None,
    )
    .await;
    mount(&fakes.images, "/v1/images/edits", images_answer(), None).await;
    let app = deepseek_app(&fakes, true).await;
    let response = upload_sample(&app, SLOT, "guest-512.jpg").await;
    assert_eq!(response.status, 200);
    let parts = multipart_parts(&render_requests(&fakes).await[0]);
    let prompt = text_of(&parts, "prompt");
    assert!(
        prompt.contains("superhero in a red cape") && prompt != WRITTEN,
        "{prompt}"
    );
    let job = app.job(response.header("x-boothgate-job").unwrap()).await;
    assert_eq!(job.prompt_used.as_deref(), Some(prompt));
}

#[tokio::test]
async fn a_slow_deepseek_is_cut_at_its_share_of_the_deadline() {
    let fakes = Fakes::start().await;
    mount(
        &fakes.deepseek,
        "/chat/completions",
        chat_answer(WRITTEN).set_delay(Duration::from_secs(8)),
        None,
    )
    .await;
    mount(&fakes.images, "/v1/images/edits", images_answer(), None).await;
    let app = deepseek_app(&fakes, true).await;
    let started = Instant::now();
    let response = upload_sample(&app, SLOT, "guest-512.jpg").await;
    assert_eq!(response.status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "cut at 1 s, not 8: {:?}",
        started.elapsed()
    );
    let parts = multipart_parts(&render_requests(&fakes).await[0]);
    assert_ne!(text_of(&parts, "prompt"), WRITTEN);
}

#[tokio::test]
async fn a_model_that_cannot_read_images_is_asked_again_in_words() {
    let fakes = Fakes::start().await;
    mount(
        &fakes.deepseek,
        "/chat/completions",
        api_error(
            400,
            "invalid_request_error",
            "unknown variant `image_url`, expected `text`",
        ),
        Some(1),
    )
    .await;
    mount(
        &fakes.deepseek,
        "/chat/completions",
        chat_answer(WRITTEN),
        None,
    )
    .await;
    mount(&fakes.images, "/v1/images/edits", images_answer(), None).await;
    let app = deepseek_app(&fakes, true).await;
    assert_eq!(upload_sample(&app, SLOT, "guest-512.jpg").await.status, 200);
    let chats = chat_requests(&fakes).await;
    assert_eq!(chats.len(), 2);
    let second: Value = serde_json::from_slice(&chats[1].body).unwrap();
    assert_eq!(
        second["messages"][1]["content"], "superhero in a red cape",
        "text only"
    );
    let parts = multipart_parts(&render_requests(&fakes).await[0]);
    assert_eq!(text_of(&parts, "prompt"), WRITTEN);
}

#[tokio::test]
async fn without_a_deepseek_key_the_renderer_gets_the_slot_prompt() {
    let fakes = Fakes::start().await;
    mount(&fakes.images, "/v1/images/edits", images_answer(), None).await;
    let app = deepseek_app(&fakes, false).await;
    assert_eq!(upload_sample(&app, SLOT, "guest-512.jpg").await.status, 200);
    assert!(chat_requests(&fakes).await.is_empty());
    let page = app.admin_html("/admin/deepseek").await;
    assert!(
        page.contains("DeepSeek не умеет рисовать"),
        "the tab says how it works"
    );
}

#[tokio::test]
async fn renderer_errors_are_retried_or_not_as_they_deserve() {
    let fakes = Fakes::start().await;
    mount(
        &fakes.images,
        "/v1/images/edits",
        api_error(500, "server_error", "The server had an error"),
        Some(1),
    )
    .await;
    mount(&fakes.images, "/v1/images/edits", images_answer(), None).await;
    let app = deepseek_app(&fakes, false).await;
    assert_eq!(upload_sample(&app, SLOT, "guest-512.jpg").await.status, 200);
    assert_eq!(render_requests(&fakes).await.len(), 2, "500 then success");

    let fakes = Fakes::start().await;
    mount(
        &fakes.images,
        "/v1/images/edits",
        api_error(400, "invalid_value", "Invalid value for 'size'"),
        None,
    )
    .await;
    let app = deepseek_app(&fakes, false).await;
    let response = upload_sample(&app, SLOT, "guest-512.jpg").await;
    assert_eq!(response.status, 502);
    assert_eq!(render_requests(&fakes).await.len(), 1, "400 is not retried");
    let job = app
        .finished_job(response.json()["job"].as_str().unwrap())
        .await;
    assert!(job.message.unwrap().contains("Invalid value for 'size'"));

    let fakes = Fakes::start().await;
    mount(
        &fakes.images,
        "/v1/images/edits",
        api_error(
            400,
            "moderation_blocked",
            "Your request was rejected by the safety system.",
        ),
        None,
    )
    .await;
    let app = deepseek_app(&fakes, false).await;
    let response = upload_sample(&app, SLOT, "guest-512.jpg").await;
    assert_eq!(response.status, 502);
    assert!(
        response.json()["message"]
            .as_str()
            .unwrap()
            .contains("refused")
    );
}

#[tokio::test]
async fn a_url_answer_is_downloaded() {
    let fakes = Fakes::start().await;
    let url = format!("{}/files/result.png", fakes.images.uri());
    mount(
        &fakes.images,
        "/v1/images/edits",
        ResponseTemplate::new(200).set_body_json(json!({"created": 1, "data": [{"url": url}]})),
        None,
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/files/result.png"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_bytes(drawn())
                .insert_header("content-type", "image/png"),
        )
        .mount(&fakes.images)
        .await;
    let app = deepseek_app(&fakes, false).await;
    let response = upload_sample(&app, SLOT, "guest-512.jpg").await;
    assert_eq!(response.status, 200);
    let [r, _, b] = crate::samples::mean_rgb(&response.body);
    assert!(r > b + 60.0, "the downloaded picture");
}

#[tokio::test]
async fn face_swap_sends_the_guest_then_the_reference() {
    let fakes = Fakes::start().await;
    mount(&fakes.images, "/v1/images/edits", images_answer(), None).await;
    let app = deepseek_app(&fakes, false).await;
    app.put_slot("deepseek", 2, json!({"kind": "face_swap", "prompt": ""}))
        .await;
    app.put_reference("deepseek", 2, sample("reference-template.jpg"))
        .await;
    assert_eq!(upload_sample(&app, SLOT, "guest-512.jpg").await.status, 200);
    let parts = multipart_parts(&render_requests(&fakes).await[0]);
    assert_eq!(images_sent(&parts), vec![(512, 512), (451, 300)]);
    assert!(text_of(&parts, "prompt").contains("first image"));
}

#[tokio::test]
async fn settings_test_both_connections() {
    let fakes = Fakes::start().await;
    mount(
        &fakes.deepseek,
        "/chat/completions",
        chat_answer("OK"),
        None,
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(api_error(
            401,
            "invalid_api_key",
            "Incorrect API key provided",
        ))
        .mount(&fakes.images)
        .await;
    let app = deepseek_app(&fakes, true).await;
    let csrf = csrf_token(&app.admin_html("/admin/settings").await);
    let ok = app
        .admin(Method::POST, "/admin/settings/test/deepseek")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(
        ok.text()
            .await
            .unwrap()
            .contains("notice test-result\"><strong>Соединение работает")
    );
    let bad = app
        .admin(Method::POST, "/admin/settings/test/images")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(
        bad.text()
            .await
            .unwrap()
            .contains("HTTP 401 Unauthorized: Incorrect API key provided")
    );
}

fn openai_list(entries: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"object": "list", "data": entries}))
}

async fn mount_list(server: &MockServer, route: &str, entries: Value) {
    Mock::given(method("GET"))
        .and(path(route))
        .respond_with(openai_list(entries))
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_retired_deepseek_model_is_reported_and_not_asked_again_in_words() {
    let fakes = Fakes::start().await;
    mount(
        &fakes.deepseek,
        "/chat/completions",
        api_error(400, "invalid_request_error", "Model Not Exist"),
        None,
    )
    .await;
    mount(&fakes.images, "/v1/images/edits", images_answer(), None).await;
    let app = deepseek_app(&fakes, true).await;
    assert_eq!(upload_sample(&app, SLOT, "guest-512.jpg").await.status, 200);
    assert_eq!(chat_requests(&fakes).await.len(), 1, "no text-only retry");
    let parts = multipart_parts(&render_requests(&fakes).await[0]);
    assert!(text_of(&parts, "prompt").contains("superhero in a red cape"));
    let providers = app.admin_json("/admin/api/providers").await;
    let error = providers["deepseek"]["last_error"].as_str().unwrap();
    assert!(
        error.contains("DeepSeek has no model 'deepseek-flash'"),
        "{error}"
    );
}

#[tokio::test]
async fn deepseek_s_current_wrong_model_answer_is_model_not_found_with_its_warning() {
    let fakes = Fakes::start().await;
    mount(
        &fakes.deepseek,
        "/chat/completions",
        api_error(
            400,
            "invalid_request_error",
            "The supported API model names are deepseek-flash, deepseek-v4-pro, but you passed deepseek-chat.",
        ),
        None,
    )
    .await;
    mount(&fakes.images, "/v1/images/edits", images_answer(), None).await;
    let app = spawn_app(options(&fakes, true).with(Setting::DeepseekModel, "deepseek-chat")).await;
    app.put_slot(
        "deepseek",
        2,
        json!({"kind": "prompt", "prompt": "superhero in a red cape"}),
    )
    .await;
    assert_eq!(
        upload_sample(&app, SLOT, "guest-512.jpg").await.status,
        200,
        "the slot's prompt draws"
    );
    assert_eq!(chat_requests(&fakes).await.len(), 1, "not retried");
    let providers = app.admin_json("/admin/api/providers").await;
    assert_eq!(
        providers["deepseek"]["health_error_kind"],
        "model_not_found"
    );
    let error = providers["deepseek"]["last_error"].as_str().unwrap();
    assert!(
        error.contains("DeepSeek has no model 'deepseek-chat'"),
        "{error}"
    );
    assert!(
        error.contains("deepseek-v4-pro"),
        "DeepSeek's own words: {error}"
    );
}

#[tokio::test]
async fn images_model_not_found_and_no_credit_are_told_apart_and_not_retried() {
    for (answer, said) in [
        (
            api_error(
                404,
                "model_not_found",
                "The model `gpt-image-1.5` does not exist or you do not have access to it.",
            ),
            "no model 'gpt-image-1.5'",
        ),
        (
            api_error(400, "invalid_value", "model 'gpt-image-1.5' does not exist"),
            "no model 'gpt-image-1.5'",
        ),
        (
            ResponseTemplate::new(429).set_body_json(json!({"error": {
                "message": "You exceeded your current quota, please check your plan and billing details.",
                "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}})),
            "no credit on this key",
        ),
    ] {
        let fakes = Fakes::start().await;
        mount(&fakes.images, "/v1/images/edits", answer, None).await;
        let app = deepseek_app(&fakes, false).await;
        let response = upload_sample(&app, SLOT, "guest-512.jpg").await;
        assert_eq!(response.status, 502);
        let message = response.json()["message"].as_str().unwrap().to_owned();
        assert!(message.contains(said), "{message}");
        assert_eq!(render_requests(&fakes).await.len(), 1, "{said}: not retried");
        let providers = app.admin_json("/admin/api/providers").await;
        assert!(providers["deepseek"]["last_error"].is_string(), "{said}");
    }
}

#[tokio::test]
async fn one_image_is_image_several_are_image_array_and_sizes_follow_the_model() {
    let fakes = Fakes::start().await;
    mount(&fakes.images, "/v1/images/edits", images_answer(), None).await;
    let app = deepseek_app(&fakes, false).await;
    assert_eq!(upload_sample(&app, SLOT, "guest-512.jpg").await.status, 200);
    app.put_slot("deepseek", 3, json!({"kind": "face_swap"}))
        .await;
    app.put_reference("deepseek", 3, sample("reference-template.jpg"))
        .await;
    let swap = upload_sample(&app, "/upload/deepseek/3", "guest-512.jpg").await;
    assert_eq!(swap.status, 200);
    let sent = render_requests(&fakes).await;
    let (prompt, face) = (multipart_parts(&sent[0]), multipart_parts(&sent[1]));
    let names = |parts: &[Part]| -> Vec<String> {
        parts
            .iter()
            .filter(|p| p.name.starts_with("image"))
            .map(|p| p.name.clone())
            .collect()
    };
    assert_eq!(names(&prompt), ["image"]);
    assert_eq!(names(&face), ["image[]", "image[]"]);
    assert!(!face.iter().any(|p| p.name == "input_fidelity"));
    assert_eq!(text_of(&face, "size"), "1024x1024");
    assert_eq!(
        text_of(&face, "quality"),
        "auto",
        "the model's own by default"
    );
    assert_eq!(
        text_of(&face, "output_format"),
        "jpeg",
        "a photo comes back as JPEG"
    );

    // A model that takes any size gets the print's aspect, at least its fewest pixels (a
    // 512×768 upload is below gpt-image-2's 655 360), and the quality the slot asks for.
    let fakes = Fakes::start().await;
    mount(&fakes.images, "/v1/images/edits", images_answer(), None).await;
    let app = spawn_app(options(&fakes, false).with(Setting::ImagesModel, "gpt-image-2")).await;
    let saved = app
        .put_slot(
            "deepseek",
            3,
            json!({"kind": "face_swap", "options": {"quality": "high"}}),
        )
        .await;
    assert_eq!(saved.status(), 200);
    app.put_reference("deepseek", 3, sample("reference-template.jpg"))
        .await;
    let rotated = upload_sample(&app, "/upload/deepseek/3", "guest-exif-rotated.jpg").await;
    assert_eq!(rotated.status, 200);
    let parts = multipart_parts(&render_requests(&fakes).await[0]);
    let size = text_of(&parts, "size");
    let (w, h) = size.split_once('x').unwrap();
    let (w, h): (u64, u64) = (w.parse().unwrap(), h.parse().unwrap());
    assert!(w * h >= 655_360, "{size}");
    assert!(w % 16 == 0 && h % 16 == 0 && h > w, "{size}: upright, 2:3");
    assert_eq!(text_of(&parts, "quality"), "high");
    let refused = app
        .put_slot("deepseek", 3, json!({"options": {"quality": "best"}}))
        .await;
    assert_eq!(
        refused.status(),
        422,
        "quality is one of the endpoint's words"
    );
}

#[tokio::test]
async fn model_lists_show_in_the_providers_json_with_shutdown_warnings() {
    let fakes = Fakes::start().await;
    mount_list(
        &fakes.deepseek,
        "/models",
        json!([{"id": "deepseek-flash", "object": "model", "owned_by": "deepseek"}]),
    )
    .await;
    let soon = (time::OffsetDateTime::now_utc() + time::Duration::days(10)).date();
    mount_list(
        &fakes.images,
        "/v1/models",
        json!([
            {"id": "gpt-image-1.5", "object": "model", "owned_by": "openai", "shutdown_date": soon.to_string()},
            {"id": "gpt-image-2", "object": "model", "owned_by": "openai"}
        ]),
    )
    .await;
    let app = deepseek_app(&fakes, true).await;
    let providers = app.model_lists_fetched(&["deepseek"]).await;
    let deepseek = &providers["deepseek"];
    assert_eq!(deepseek["model"], "deepseek-flash");
    assert_eq!(deepseek["model_listed"], true);
    assert_eq!(deepseek["images_model"], "gpt-image-1.5");
    assert_eq!(deepseek["images_model_listed"], true);
    assert_eq!(deepseek["images_shutdown_date"], soon.to_string());
    assert_eq!(
        deepseek["images_models"],
        json!(["gpt-image-1.5", "gpt-image-2"])
    );
    assert!(providers["turbotext"]["configured"] == false);
    let tab = app.admin_html("/admin/deepseek").await;
    assert!(tab.contains("model-banner retiring"));
    assert!(tab.contains(&format!("будет отключена {soon}")));
    assert!(tab.contains(r#"<option value="gpt-image-2">"#));
}
