//! Every guest gets an AI photo: a slot's fallbacks take over when its model fails, refuses,
//! is retired or is slow, inside the one deadline; provider health sends jobs past a provider
//! that keeps failing.

use crate::common::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use boothgate::config::Setting;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const PRIMARY: &str = "/upload/nanobanana/3";

/// A Gemini fake for the booth slot (nanobanana/3) and an images endpoint for its fallback
/// (deepseek/2), which answers after `fallback_ms`.
pub struct Fakes {
    pub gemini: MockServer,
    pub images: MockServer,
}

fn drawn_png(rgb: [u8; 3]) -> Vec<u8> {
    crate::samples::drawn_by_model(1024, 1024, rgb, image::ImageFormat::Png)
}

pub fn gemini_image() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"candidates": [{"content": {"parts": [
        {"inlineData": {"mimeType": "image/png", "data": BASE64.encode(drawn_png([200, 30, 30]))}}
    ]}, "finishReason": "STOP"}]}))
}

pub fn overloaded() -> ResponseTemplate {
    ResponseTemplate::new(503).set_body_json(json!({"error": {
        "code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}}))
}

impl Fakes {
    pub async fn start(gemini: ResponseTemplate, fallback_ms: u64) -> Fakes {
        let fakes = Fakes {
            gemini: MockServer::start().await,
            images: MockServer::start().await,
        };
        Mock::given(method("POST"))
            .and(path_regex(":generateContent$"))
            .respond_with(gemini)
            .mount(&fakes.gemini)
            .await;
        Mock::given(method("POST"))
            .and(path("/v1/images/edits"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(
                        json!({"data": [{"b64_json": BASE64.encode(drawn_png([30, 30, 200]))}]}),
                    )
                    .set_delay(Duration::from_millis(fallback_ms)),
            )
            .mount(&fakes.images)
            .await;
        fakes
    }

    pub fn options(&self) -> Options {
        Options::default()
            .with(Setting::NanobananaApiKey, "gemini-key")
            .with(Setting::NanobananaBaseUrl, &self.gemini.uri())
            .with(Setting::ImagesApiKey, "images-key")
            .with(Setting::ImagesBaseUrl, &format!("{}/v1", self.images.uri()))
            .with(Setting::DeadlineSecs, "30")
    }

    pub async fn generations(&self) -> usize {
        let asked = self.gemini.received_requests().await.unwrap();
        asked
            .iter()
            .filter(|r| r.url.path().ends_with(":generateContent"))
            .count()
    }

    pub async fn renders(&self) -> usize {
        let asked = self.images.received_requests().await.unwrap();
        asked
            .iter()
            .filter(|r| r.url.path() == "/v1/images/edits")
            .count()
    }
}

/// nanobanana/3 with deepseek/2 as its fallback, hedged after `after_secs`.
pub async fn chained_app(options: Options, after_secs: u32) -> TestApp {
    let app = spawn_app(options).await;
    let fallback = app
        .put_slot(
            "deepseek",
            2,
            json!({"kind": "prompt", "prompt": "as a painting"}),
        )
        .await;
    assert_eq!(fallback.status(), 200);
    let primary = app
        .put_slot(
            "nanobanana",
            3,
            json!({"kind": "prompt", "prompt": "as a superhero",
                   "fallbacks": ["deepseek/2"], "fallback_after_secs": after_secs}),
        )
        .await;
    assert_eq!(primary.status(), 200);
    app
}

pub async fn job_json(app: &TestApp, response: &RawResponse) -> Value {
    let id = response
        .header("x-boothgate-job")
        .map(str::to_owned)
        .or_else(|| response.json()["job"].as_str().map(str::to_owned))
        .expect("the answer names its job");
    app.finished_job(&id).await;
    app.admin_json(&format!("/admin/api/jobs/{id}")).await
}

pub fn outcomes(job: &Value) -> Vec<(String, String)> {
    job["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["slot"].as_str().unwrap().to_owned(),
                a["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

pub fn pair(slot: &str, outcome: &str) -> (String, String) {
    (slot.to_owned(), outcome.to_owned())
}

#[tokio::test]
async fn an_overloaded_model_hands_over_at_once_and_the_booth_gets_the_fallbacks_photo() {
    let fakes = Fakes::start(overloaded(), 0).await;
    let app = chained_app(fakes.options(), 25).await;
    let started = Instant::now();
    let response = upload_sample(&app, PRIMARY, "guest-512.jpg").await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "no retries first"
    );
    assert_eq!(
        response.header("x-boothgate-answered-by"),
        Some("deepseek/2")
    );
    assert_eq!(
        fakes.generations().await,
        1,
        "a slot with a fallback does not retry"
    );
    let job = job_json(&app, &response).await;
    assert_eq!(job["answered_by"], "deepseek/2");
    assert_eq!(job["status"], "succeeded");
    assert_eq!(
        outcomes(&job),
        [
            pair("nanobanana/3", "failed"),
            pair("deepseek/2", "succeeded")
        ]
    );
    assert!(
        job["attempts"][0]["message"]
            .as_str()
            .unwrap()
            .contains("overloaded")
    );
    let stats = app.admin_json("/admin/api/stats").await;
    assert_eq!(stats["providers"]["nanobanana"]["rescued"], 1);
    assert_eq!(stats["providers"]["deepseek"]["processed"], 1);
    assert_eq!(stats["ai_result_rate"], 1.0);
    let history = app.admin_html("/admin/jobs").await;
    assert!(history.contains("NanoBanana 3 ✗"), "the chain in History");
    assert!(history.contains("DeepSeek 2 ✓"));
}

#[tokio::test]
async fn a_refusal_or_a_retired_model_hands_over_too() {
    let refusal = ResponseTemplate::new(200).set_body_json(json!({"candidates": [{
        "finishReason": "IMAGE_SAFETY", "finishMessage": "blocked"}]}));
    let retired = ResponseTemplate::new(404).set_body_json(json!({"error": {
        "code": 404, "message": "models/gemini-3.1-flash-image is not found", "status": "NOT_FOUND"}}));
    for (answer, why) in [(refusal, "refusal"), (retired, "retired model")] {
        let fakes = Fakes::start(answer, 0).await;
        let app = chained_app(fakes.options(), 25).await;
        let response = upload_sample(&app, PRIMARY, "guest-512.jpg").await;
        assert_eq!(response.status, 200, "{why}");
        assert_eq!(
            response.header("x-boothgate-answered-by"),
            Some("deepseek/2"),
            "{why}"
        );
    }
}

#[tokio::test]
async fn a_slow_model_gets_company_and_the_first_image_wins() {
    let fakes = Fakes::start(gemini_image().set_delay(Duration::from_secs(30)), 500).await;
    let app = chained_app(fakes.options(), 1).await;
    let started = Instant::now();
    let response = upload_sample(&app, PRIMARY, "guest-512.jpg").await;
    let took = started.elapsed();
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("x-boothgate-answered-by"),
        Some("deepseek/2")
    );
    assert!(
        took >= Duration::from_millis(1400) && took < Duration::from_millis(3500),
        "hedged after 1 s, answered after the fallback's 0.5 s: {took:?}"
    );
    let job = job_json(&app, &response).await;
    assert_eq!(
        outcomes(&job),
        [
            pair("nanobanana/3", "abandoned"),
            pair("deepseek/2", "succeeded")
        ]
    );
    let fallback_start = job["attempts"][1]["started_ms"].as_i64().unwrap();
    assert!((900..2000).contains(&fallback_start), "{fallback_start}");
}

#[tokio::test]
async fn when_both_hang_the_booth_gets_504_by_the_deadline() {
    let fakes = Fakes::start(gemini_image().set_delay(Duration::from_secs(30)), 30_000).await;
    let app = chained_app(fakes.options().with(Setting::DeadlineSecs, "3"), 1).await;
    let started = Instant::now();
    let response = upload_sample(&app, PRIMARY, "guest-512.jpg").await;
    let took = started.elapsed();
    assert_eq!(response.status, 504);
    assert!(took < Duration::from_millis(3500), "{took:?}");
    let job = app.job_in_trash(&response, "timed_out").await;
    let json = app.admin_json(&format!("/admin/api/jobs/{}", job.id)).await;
    assert_eq!(
        outcomes(&json),
        [
            pair("nanobanana/3", "timed_out"),
            pair("deepseek/2", "timed_out")
        ]
    );
    assert!(json["answered_by"].is_null());
}

#[tokio::test]
async fn a_provider_that_keeps_failing_is_down_skipped_then_probed() {
    let fakes = Fakes::start(overloaded(), 0).await;
    let mut options = fakes.options();
    options.provider_cooldown = Some(Duration::from_millis(1500));
    let app = chained_app(options, 25).await;
    for _ in 0..3 {
        let response = upload_sample(&app, PRIMARY, "guest-512.jpg").await;
        assert_eq!(response.status, 200);
    }
    assert_eq!(fakes.generations().await, 3);
    let providers = app.admin_json("/admin/api/providers").await;
    assert_eq!(providers["nanobanana"]["health"], "down");
    assert_eq!(providers["deepseek"]["health"], "ok");
    let metrics = app
        .admin(reqwest::Method::GET, "/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("boothgate_provider_health{provider=\"nanobanana\"} 2"));
    let tab = app.admin_html("/admin/nanobanana").await;
    assert!(tab.contains("health-dot down"));

    let skipped = upload_sample(&app, PRIMARY, "guest-512.jpg").await;
    assert_eq!(skipped.status, 200);
    assert_eq!(fakes.generations().await, 3, "not called while down");
    let job = job_json(&app, &skipped).await;
    assert_eq!(
        outcomes(&job),
        [
            pair("nanobanana/3", "skipped"),
            pair("deepseek/2", "succeeded")
        ]
    );

    tokio::time::sleep(Duration::from_millis(1600)).await;
    let probe = upload_sample(&app, PRIMARY, "guest-512.jpg").await;
    assert_eq!(probe.status, 200);
    assert_eq!(
        fakes.generations().await,
        4,
        "one job probes after the cooldown"
    );
    assert_eq!(fakes.renders().await, 5);
}

#[tokio::test]
async fn fallback_lists_are_checked_and_unready_fallbacks_skipped() {
    let fakes = Fakes::start(overloaded(), 0).await;
    let app = chained_app(fakes.options(), 25).await;
    for (fallbacks, why) in [
        (json!(["nanobanana/3"]), "itself"),
        (json!(["deepseek/2", "deepseek/2"]), "twice"),
        (json!(["deepseek/21"]), "unknown"),
        (json!(["deepseek/1", "deepseek/2", "turbotext/1"]), "three"),
    ] {
        let refused = app
            .put_slot("nanobanana", 3, json!({"fallbacks": fallbacks}))
            .await;
        assert_eq!(refused.status(), 422, "{why}");
        assert_eq!(
            refused.json::<Value>().await.unwrap()["field"],
            "fallbacks",
            "{why}"
        );
    }
    // deepseek/5 has no prompt: skipped with its reason, and deepseek/2 still rescues.
    let saved = app
        .put_slot(
            "nanobanana",
            3,
            json!({"fallbacks": ["deepseek/5", "deepseek/2"]}),
        )
        .await;
    assert_eq!(
        saved.json::<Value>().await.unwrap()["fallbacks"],
        json!(["deepseek/5", "deepseek/2"])
    );
    let response = upload_sample(&app, PRIMARY, "guest-512.jpg").await;
    assert_eq!(response.status, 200);
    let job = job_json(&app, &response).await;
    assert_eq!(
        outcomes(&job),
        [
            pair("nanobanana/3", "failed"),
            pair("deepseek/5", "skipped"),
            pair("deepseek/2", "succeeded")
        ]
    );
    assert_eq!(job["attempts"][1]["reason"], "slot_not_configured");
    let jobs = app
        .admin_json("/admin/api/jobs?limit=5&provider=nanobanana")
        .await;
    assert_eq!(jobs["jobs"][0]["id"], job["id"]);
}

#[tokio::test]
async fn a_failed_fallback_gives_the_booth_the_last_error() {
    let fakes = Fakes::start(overloaded(), 0).await;
    let app = spawn_app(fakes.options()).await;
    // The fallback's provider has no key: the last failure is "not configured".
    app.put_slot("turbotext", 4, json!({"kind": "prompt", "prompt": "x"}))
        .await;
    app.put_slot(
        "nanobanana",
        3,
        json!({"kind": "prompt", "prompt": "x", "fallbacks": ["turbotext/4"]}),
    )
    .await;
    let response = upload_sample(&app, PRIMARY, "guest-512.jpg").await;
    assert_eq!(response.status, 503);
    assert_eq!(response.json()["reason"], "provider_not_configured");
    app.job_in_trash(&response, "failed").await;
}
