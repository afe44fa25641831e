//! Pre-flight through the real server: each chosen slot and each of its fallbacks run on their
//! own, for real, as admin tests, with outcome, time and cost on the board.

use crate::common::*;
use crate::fallbacks::gemini_image;
use boothgate::config::Setting;
use serde_json::{Value, json};
use std::time::Duration;
use wiremock::matchers::{body_string_contains, method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Gemini draws at once, except for the prompt "slowly", which answers past the deadline; the
/// images endpoint refuses its key as OpenAI does.
async fn providers() -> (MockServer, MockServer) {
    let gemini = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path_regex(":generateContent$"))
        .and(body_string_contains("slowly"))
        .respond_with(gemini_image().set_delay(Duration::from_secs(8)))
        .with_priority(1)
        .mount(&gemini)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(":generateContent$"))
        .respond_with(gemini_image())
        .mount(&gemini)
        .await;
    let images = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/images/edits"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": {
            "message": "Incorrect API key provided: sk-imag***0001. You can find your API key at https://platform.openai.com/account/api-keys.",
            "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}})))
        .mount(&images)
        .await;
    (gemini, images)
}

pub async fn preflight_app() -> (TestApp, MockServer, MockServer) {
    let (gemini, images) = providers().await;
    let options = Options::default()
        .with(Setting::NanobananaApiKey, "test-gemini-key-0001")
        .with(Setting::NanobananaBaseUrl, &gemini.uri())
        .with(Setting::ImagesApiKey, "sk-images-key-0001")
        .with(Setting::ImagesBaseUrl, &format!("{}/v1", images.uri()))
        .with(Setting::DeadlineSecs, "4")
        .with(Setting::PriceNanobanana, "0.039")
        .with(Setting::PriceDeepseek, "0.04");
    let app = spawn_app(options).await;
    for (provider, n, slot) in [
        (
            "deepseek",
            2,
            json!({"kind": "prompt", "prompt": "as a painting"}),
        ),
        (
            "nanobanana",
            3,
            json!({"kind": "prompt", "prompt": "vintage look", "fallbacks": ["deepseek/2"]}),
        ),
        (
            "nanobanana",
            5,
            json!({"kind": "prompt", "prompt": "slowly, as a watercolour"}),
        ),
    ] {
        let saved = app.put_slot(provider, n, slot).await;
        assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());
    }
    (app, gemini, images)
}

/// Starts a pre-flight; its id.
pub async fn start(app: &TestApp, body: Option<Value>) -> String {
    let started = app.admin_post("/admin/api/preflight", body).await;
    assert_eq!(started.status(), 202);
    let answer: Value = started.json().await.unwrap();
    answer["id"].as_str().unwrap().to_owned()
}

/// The board once it is done.
pub async fn finished_board(app: &TestApp, id: &str) -> Value {
    for _ in 0..300 {
        let board = app.admin_json(&format!("/admin/api/preflight/{id}")).await;
        if board["status"] == "done" {
            return board;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the pre-flight never finished");
}

#[tokio::test]
async fn a_preflight_runs_each_slot_and_fallback_alone_and_says_how_each_went() {
    let (app, gemini, images) = preflight_app().await;
    let id = start(
        &app,
        Some(json!({"slots": ["nanobanana/3", "nanobanana/5"]})),
    )
    .await;
    let running = app.admin_json(&format!("/admin/api/preflight/{id}")).await;
    assert_eq!(running["status"], "running");
    let board = finished_board(&app, &id).await;
    assert_eq!(
        board["estimated_cost"], 0.118,
        "two Gemini images and one of the images endpoint"
    );
    let results = board["results"].as_array().unwrap();
    let row = |slot: &str, of: Value| {
        results
            .iter()
            .find(|r| r["slot"] == slot && r["as_fallback_of"] == of)
            .unwrap_or_else(|| panic!("no {slot} row: {board}"))
            .clone()
    };
    let fine = row("nanobanana/3", Value::Null);
    assert_eq!(fine["outcome"], "succeeded");
    assert_eq!(fine["cost"], 0.039);
    assert!(fine["seconds"].as_f64().unwrap() < 4.0);
    let thumbnail = fine["thumbnail"].as_str().unwrap();
    let thumb = app.admin_get(thumbnail).await;
    assert_eq!(thumb.status(), 200);
    assert_eq!(thumb.headers()["content-type"], "image/jpeg");

    let failing = row("deepseek/2", json!("nanobanana/3"));
    assert_eq!(failing["outcome"], "failed");
    assert_eq!(failing["reason"], "provider_error");
    assert!(
        failing["message"]
            .as_str()
            .unwrap()
            .contains("Incorrect API key")
    );
    assert_eq!(failing["cost"], 0.0);

    let slow = row("nanobanana/5", Value::Null);
    assert_eq!(slow["outcome"], "timed_out");
    let seconds = slow["seconds"].as_f64().unwrap();
    assert!(
        (3.5..4.5).contains(&seconds),
        "within the deadline: {seconds}"
    );
    assert_eq!(results.len(), 3);

    // Each ran alone: the fine slot's run never called its fallback.
    let posts = |requests: Vec<wiremock::Request>| {
        requests
            .iter()
            .filter(|r| r.method.as_str() == "POST")
            .count()
    };
    let renders = posts(images.received_requests().await.unwrap());
    assert_eq!(renders, 1, "only the fallback's own run");
    assert_eq!(posts(gemini.received_requests().await.unwrap()), 2);
    // Admin tests: no booth photo, no guest figure.
    let stats = app.admin_json("/admin/api/stats").await;
    assert!(stats["ai_result_rate"].is_null(), "{stats}");
    let jobs = app.admin_json("/admin/api/jobs").await;
    let jobs = jobs["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 3);
    assert!(jobs.iter().all(|j| j["is_test"] == true));

    // The failing slot says so on its card until it is edited.
    let tab = app.admin_html("/admin/deepseek").await;
    assert!(
        tab.contains("Предполётная проверка не пройдена"),
        "on its card"
    );
    app.put_slot("deepseek", 2, json!({"prompt": "as an oil painting"}))
        .await;
    let tab = app.admin_html("/admin/deepseek").await;
    assert!(
        !tab.contains("Предполётная проверка не пройдена"),
        "forgotten once edited"
    );
}

#[tokio::test]
async fn without_a_list_every_ready_slot_runs_with_the_built_in_photo() {
    let (app, gemini, _images) = preflight_app().await;
    let page = app.admin_html("/admin/events").await;
    assert!(
        page.contains("Запусков: 4, стоимость не больше 0.158 USD"),
        "the page says what it will cost"
    );
    let id = start(&app, None).await;
    let board = finished_board(&app, &id).await;
    let slots: Vec<(&str, &Value)> = board["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["slot"].as_str().unwrap(), &r["as_fallback_of"]))
        .collect();
    assert_eq!(
        slots,
        [
            ("deepseek/2", &Value::Null),
            ("nanobanana/3", &Value::Null),
            ("deepseek/2", &json!("nanobanana/3")),
            ("nanobanana/5", &Value::Null),
        ]
    );
    // The built-in photo, the portrait shipped with the server, went to Gemini.
    let asked = gemini.received_requests().await.unwrap();
    let generate = asked
        .iter()
        .find(|r| r.method.as_str() == "POST")
        .expect("a generate call");
    let body: Value = serde_json::from_slice(&generate.body).unwrap();
    let sent = body["contents"][0]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|p| p["inline_data"]["data"].as_str())
        .expect("the photo");
    let sent = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, sent).unwrap();
    assert_eq!(image_size(&sent), (512, 512), "the 512 px portrait");
    let unknown = app
        .admin(reqwest::Method::POST, "/admin/api/preflight")
        .json(&json!({"slots": ["nanobanana/99"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 422);
}
