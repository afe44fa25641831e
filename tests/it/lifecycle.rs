//! Providers that heal themselves: a model's life read from every answer, built-in defaults that
//! follow their successor when retired, models the operator chose left alone, and errors classed
//! by what they mean — against fakes that answer as these APIs do now.

use crate::common::*;
use crate::fallbacks::{Fakes, chained_app, job_json};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use boothgate::config::Setting;
use reqwest::Method;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SLOT: &str = "/upload/nanobanana/3";
const NEW: &str = "gemini-nano-banana-2.1";
const OLD: &str = "gemini-3.1-flash-image";

/// A Gemini answer with a photo-like image and the model's status.
fn answer_with_status(status: Value) -> ResponseTemplate {
    let image =
        crate::samples::drawn_by_model(1024, 1024, [60, 120, 200], image::ImageFormat::Jpeg);
    ResponseTemplate::new(200).set_body_json(json!({
        "candidates": [{"content": {"role": "model", "parts": [
            {"inlineData": {"mimeType": "image/jpeg", "data": BASE64.encode(image)}}
        ]}, "finishReason": "STOP", "index": 0}],
        "modelVersion": NEW,
        "modelStatus": status,
    }))
}

fn model_list(ids: &[&str]) -> ResponseTemplate {
    let models: Vec<Value> = ids
        .iter()
        .map(|id| {
            json!({"name": format!("models/{id}"), "displayName": id,
                         "supportedGenerationMethods": ["generateContent", "countTokens"]})
        })
        .collect();
    ResponseTemplate::new(200).set_body_json(json!({"models": models}))
}

async fn gemini(list: &[&str], answer: ResponseTemplate) -> MockServer {
    let fake = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1beta/models"))
        .respond_with(model_list(list))
        .mount(&fake)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(":generateContent$"))
        .respond_with(answer)
        .mount(&fake)
        .await;
    fake
}

fn options(fake: &MockServer) -> Options {
    Options::default()
        .with(Setting::NanobananaApiKey, "test-gemini-key-0001")
        .with(
            Setting::NanobananaBaseUrl,
            &format!("{}/v1beta", fake.uri()),
        )
}

/// The models the generate calls went to, in order.
async fn generated_with(fake: &MockServer) -> Vec<String> {
    let asked = fake.received_requests().await.unwrap();
    asked
        .iter()
        .filter_map(|r| {
            let path = r.url.path();
            let model = path.strip_prefix("/v1beta/models/")?;
            Some(model.strip_suffix(":generateContent")?.to_owned())
        })
        .collect()
}

async fn nanobanana(app: &TestApp) -> Value {
    app.admin_json("/admin/api/providers").await["nanobanana"].clone()
}

async fn wait_for_model(app: &TestApp, model: &str) -> Value {
    for _ in 0..100 {
        let entry = nanobanana(app).await;
        if entry["model"] == model {
            return entry;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the model never became {model}: {}", nanobanana(app).await);
}

/// Stores a model as an earlier version's Settings save did (unpinned) or as the operator's
/// choice (pinned).
async fn store_model(app: &TestApp, model: &str, pinned: bool) {
    let pin = if pinned { "1" } else { "0" };
    app.state
        .store
        .save_settings(&[
            ("gemini_model", model.to_owned()),
            ("pinned:gemini_model", pin.to_owned()),
        ])
        .await
        .unwrap();
    app.state.reload_settings().await.unwrap();
}

#[tokio::test]
async fn a_retirement_date_in_an_answer_is_an_amber_banner_and_past_it_a_red_one() {
    let soon = time::OffsetDateTime::now_utc() + time::Duration::days(10);
    let soon_text = soon
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let fake = gemini(
        &[NEW],
        answer_with_status(
            json!({"modelStage": "DEPRECATED", "retirementTime": soon_text,
            "message": "This model will be retired. Please migrate to a newer model."}),
        ),
    )
    .await;
    let app = spawn_app_with_prompt(options(&fake), "vintage").await;
    assert_eq!(upload_sample(&app, SLOT, "guest-512.jpg").await.status, 200);
    let mut entry = nanobanana(&app).await;
    for _ in 0..100 {
        if !entry["model_stage"].is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        entry = nanobanana(&app).await;
    }
    assert_eq!(entry["model_stage"], "DEPRECATED");
    assert_eq!(entry["retirement_time"], soon_text.as_str());
    assert_eq!(entry["shutdown_date"], soon.date().to_string());
    assert!(entry["model_message"].as_str().unwrap().contains("migrate"));
    let tab = app.admin_html("/admin/nanobanana").await;
    assert!(tab.contains("model-banner retiring"), "amber on the tab");
    assert!(tab.contains(&soon.date().to_string()));

    // The same facts survive a restart, and a date that has passed is red.
    let dir = app.stop().await;
    let app = spawn_app_in(dir, options(&fake)).await;
    assert_eq!(nanobanana(&app).await["model_stage"], "DEPRECATED");
    app.state
        .clock
        .advance(std::time::Duration::from_secs(11 * 86_400));
    let tab = app.admin_html("/admin/nanobanana").await;
    assert!(
        tab.contains("model-banner missing"),
        "red once the date passed"
    );
}

#[tokio::test]
async fn an_unpinned_old_default_follows_its_successor_and_a_chosen_model_stays() {
    let fake = gemini(
        &[NEW, "gemini-3-pro-image"],
        answer_with_status(json!({"modelStage": "STABLE"})),
    )
    .await;
    let app = spawn_app_with_prompt(options(&fake), "vintage").await;
    store_model(&app, OLD, false).await;
    let entry = wait_for_model(&app, NEW).await;
    assert_eq!(entry["model_switched_from"], OLD);
    assert!(entry["model_switched_at"].is_string());
    assert_eq!(entry["model_pinned"], false);
    assert_eq!(upload_sample(&app, SLOT, "guest-512.jpg").await.status, 200);
    assert_eq!(
        generated_with(&fake).await,
        [NEW],
        "the next job uses the successor"
    );
    let tab = app.admin_html("/admin/nanobanana").await;
    assert!(tab.contains("model-banner switched"), "the switch is shown");
    assert!(tab.contains(OLD));

    // The operator's own choice is never changed: it gets the red banner instead.
    store_model(&app, OLD, true).await;
    app.model_lists_fetched(&["nanobanana"]).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let entry = nanobanana(&app).await;
    assert_eq!(entry["model"], OLD);
    assert_eq!(entry["model_pinned"], true);
    assert_eq!(entry["model_listed"], false);
    let tab = app.admin_html("/admin/nanobanana").await;
    assert!(tab.contains("model-banner missing"));
}

#[tokio::test]
async fn a_settings_save_that_leaves_the_model_alone_does_not_pin_it() {
    let fake = gemini(&[NEW], answer_with_status(json!({"modelStage": "STABLE"}))).await;
    let app = spawn_app(options(&fake)).await;
    let page = app.admin_html("/admin/settings").await;
    let save = |fields: Vec<(&'static str, String)>| {
        let mut form = vec![
            ("csrf", csrf_token(&page)),
            ("deadline_secs", "45".to_owned()),
        ];
        form.extend(fields);
        app.admin(Method::POST, "/admin/settings")
            .form(&form)
            .send()
    };
    assert_eq!(
        save(vec![("gemini_model", NEW.to_owned())])
            .await
            .unwrap()
            .status(),
        303
    );
    let entry = nanobanana(&app).await;
    assert_eq!(
        entry["model_pinned"], false,
        "the model field came back as it was"
    );
    assert_eq!(app.state.settings().deadline.as_secs(), 45);
    let stored = app.state.store.stored_settings().await.unwrap();
    assert!(!stored.contains_key("gemini_model"), "nor is it written");

    assert_eq!(
        save(vec![("gemini_model", "gemini-3-pro-image".to_owned())])
            .await
            .unwrap()
            .status(),
        303
    );
    let entry = nanobanana(&app).await;
    assert_eq!(entry["model"], "gemini-3-pro-image");
    assert_eq!(
        entry["model_pinned"], true,
        "changed by the operator: pinned"
    );
}

#[tokio::test]
async fn a_request_the_model_cannot_take_is_a_configuration_error_and_the_fallback_answers() {
    let fakes = Fakes::start(
        ResponseTemplate::new(400).set_body_json(json!({"error": {"code": 400,
            "message": "Image size 2K is not supported by models/gemini-3.1-flash-lite-image.",
            "status": "INVALID_ARGUMENT"}})),
        0,
    )
    .await;
    let app = chained_app(fakes.options(), 25).await;
    let response = upload_sample(&app, PRIMARY_SLOT, "guest-512.jpg").await;
    assert_eq!(response.status, 200, "the fallback answered");
    assert_eq!(
        response.header("x-boothgate-answered-by"),
        Some("deepseek/2")
    );
    let job = job_json(&app, &response).await;
    assert_eq!(job["attempts"][0]["outcome"], "failed");
    let providers = app.admin_json("/admin/api/providers").await;
    let gemini = &providers["nanobanana"];
    assert_eq!(gemini["health"], "degraded", "health counts it");
    assert_eq!(gemini["health_error_kind"], "bad_config");
    assert!(
        gemini["last_error"]
            .as_str()
            .unwrap()
            .contains("Image size 2K is not supported"),
        "{gemini}"
    );
    let settings = app.admin_html("/admin/settings").await;
    assert!(settings.contains("Image size 2K is not supported"));
}

const PRIMARY_SLOT: &str = crate::fallbacks::PRIMARY;

#[tokio::test]
async fn a_photo_gemini_cannot_read_is_the_photo_s_problem() {
    let fake = gemini(
        &[NEW],
        ResponseTemplate::new(400).set_body_json(json!({"error": {"code": 400,
            "message": "Unable to process input image. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
            "status": "INVALID_ARGUMENT"}})),
    )
    .await;
    let app = spawn_app_with_prompt(options(&fake), "vintage").await;
    let response = upload_sample(&app, SLOT, "guest-512.jpg").await;
    assert_eq!(response.status, 502);
    assert!(
        response.json()["message"]
            .as_str()
            .unwrap()
            .contains("could not use the photo")
    );
    let entry = nanobanana(&app).await;
    assert_eq!(entry["health"], "ok", "not the provider's fault");
    assert!(
        entry["last_error"].is_null(),
        "nothing for the operator to fix"
    );
}

/// Writes a data folder's settings as a version before pinning did: the model a Settings save
/// stored, and no word on whether it was chosen.
async fn as_before_pinning(data_dir: &std::path::Path, model: &str) {
    let url = format!("sqlite://{}", data_dir.join("boothgate.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("DELETE FROM settings WHERE key LIKE 'pinned:%'")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT OR REPLACE INTO settings (key, value) VALUES ('gemini_model', ?)")
        .bind(model)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

#[tokio::test]
async fn an_upgraded_install_s_stored_default_is_not_pinned_and_another_model_is() {
    let fake = gemini(&[NEW], answer_with_status(json!({"modelStage": "STABLE"}))).await;
    for (stored, pinned) in [(OLD, false), (NEW, false), ("gemini-3-pro-image", true)] {
        let app = spawn_app(options(&fake)).await;
        let dir = app.stop().await;
        as_before_pinning(&dir.path().join("data"), stored).await;
        let app = spawn_app_in(dir, options(&fake)).await;
        assert_eq!(
            nanobanana(&app).await["model_pinned"],
            pinned,
            "a stored {stored}"
        );
    }
}
