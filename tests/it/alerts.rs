//! Alerts through the real server: a fake Telegram Bot API and a fake webhook (HTTP servers on
//! port 0) get each alert once inside its ten minutes, in the server's language; a channel that
//! answers 500 is tried again; a booth's answer never waits for a delivery.

use crate::common::*;
use crate::fallbacks::{Fakes, chained_app, gemini_image, overloaded};
use boothgate::config::Setting;
use serde_json::{Value, json};
use std::time::Duration;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const BOT_TOKEN: &str = "7012345678:AAH-fake-bot-token-for-tests";
const CHAT_ID: &str = "-1001234567890";
const SEND_MESSAGE: &str = "/bot7012345678:AAH-fake-bot-token-for-tests/sendMessage";

/// What the Bot API answers a `sendMessage` it took.
fn telegram_sent() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"ok": true, "result": {
        "message_id": 42,
        "from": {"id": 7012345678_i64, "is_bot": true, "first_name": "Boothgate", "username": "boothgate_alerts_bot"},
        "chat": {"id": -1001234567890_i64, "title": "Booth crew", "type": "supergroup"},
        "date": 1796117400,
        "text": "…"
    }}))
}

fn telegram_error(code: u16, description: &str) -> ResponseTemplate {
    ResponseTemplate::new(code)
        .set_body_json(json!({"ok": false, "error_code": code, "description": description}))
}

/// The fake Bot API and the fake webhook.
struct Channels {
    telegram: MockServer,
    webhook: MockServer,
}

impl Channels {
    /// Both channels taking every alert.
    async fn start() -> Channels {
        Channels::answering(telegram_sent(), ResponseTemplate::new(204)).await
    }

    /// The bot answering `telegram`, the webhook `webhook`.
    async fn answering(telegram: ResponseTemplate, webhook: ResponseTemplate) -> Channels {
        let channels = Channels {
            telegram: MockServer::start().await,
            webhook: MockServer::start().await,
        };
        Mock::given(method("POST"))
            .and(path(SEND_MESSAGE))
            .respond_with(telegram)
            .mount(&channels.telegram)
            .await;
        Mock::given(method("POST"))
            .and(path("/hooks/booth"))
            .respond_with(webhook)
            .mount(&channels.webhook)
            .await;
        channels
    }

    fn options(&self, options: Options) -> Options {
        let mut options = options
            .with(Setting::TelegramBotToken, BOT_TOKEN)
            .with(Setting::TelegramChatId, CHAT_ID)
            .with(Setting::TelegramBaseUrl, &self.telegram.uri())
            .with(
                Setting::AlertWebhookUrl,
                &format!("{}/hooks/booth", self.webhook.uri()),
            );
        options.watch_every = Some(Duration::from_millis(100));
        options
    }

    /// The texts the bot was asked to send, each checked for its method, path and chat.
    async fn telegram_texts(&self) -> Vec<String> {
        let asked = self.telegram.received_requests().await.unwrap();
        asked
            .iter()
            .map(|r| {
                assert_eq!(r.method.as_str(), "POST");
                assert_eq!(r.url.path(), SEND_MESSAGE);
                let body: Value = serde_json::from_slice(&r.body).unwrap();
                assert_eq!(body["chat_id"], CHAT_ID);
                assert_eq!(body["link_preview_options"]["is_disabled"], true);
                body["text"].as_str().unwrap().to_owned()
            })
            .collect()
    }

    async fn webhook_bodies(&self) -> Vec<Value> {
        let asked = self.webhook.received_requests().await.unwrap();
        asked
            .iter()
            .map(|r| {
                assert_eq!(r.method.as_str(), "POST");
                assert_eq!(r.url.path(), "/hooks/booth");
                serde_json::from_slice(&r.body).unwrap()
            })
            .collect()
    }

    async fn webhook_kinds(&self, kind: &str) -> Vec<Value> {
        let bodies = self.webhook_bodies().await;
        bodies.into_iter().filter(|b| b["kind"] == kind).collect()
    }

    /// Waits for the webhook to get an alert of `kind`; the first one.
    async fn first(&self, kind: &str) -> Value {
        for _ in 0..200 {
            if let Some(body) = self.webhook_kinds(kind).await.into_iter().next() {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no {kind} alert reached the webhook");
    }
}

/// The alerts JSON once every alert there has been delivered (or failed) on both channels.
async fn settled_alerts(app: &TestApp) -> Vec<Value> {
    for _ in 0..200 {
        let json = app.admin_json("/admin/api/alerts").await;
        let alerts = json["alerts"].as_array().unwrap().clone();
        let pending = alerts.iter().any(|a| {
            a["delivery"]["telegram"] == "pending" || a["delivery"]["webhook"] == "pending"
        });
        if !pending {
            return alerts;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the alerts were never delivered");
}

/// The first alert of `kind` as kept, whatever its delivery.
async fn raised_alert(app: &TestApp, kind: &str) -> Value {
    for _ in 0..40 {
        let json = app.admin_json("/admin/api/alerts").await;
        let alerts = json["alerts"].as_array().unwrap().clone();
        if let Some(alert) = alerts.into_iter().find(|a| a["kind"] == kind) {
            return alert;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no {kind} alert was raised");
}

fn of_kind<'a>(alerts: &'a [Value], kind: &str) -> Vec<&'a Value> {
    alerts.iter().filter(|a| a["kind"] == kind).collect()
}

#[tokio::test]
async fn a_provider_going_down_and_coming_back_is_told_once_each() {
    let channels = Channels::start().await;
    let fakes = Fakes::start(overloaded(), 0).await;
    let mut options = channels.options(fakes.options());
    options.provider_cooldown = Some(Duration::from_millis(300));
    let app = chained_app(options, 25).await;
    // Three failures take NanoBanana down; a fourth photo skips it: still one alert.
    for _ in 0..4 {
        let answer = upload_sample(&app, crate::fallbacks::PRIMARY, "guest-512.jpg").await;
        assert_eq!(answer.status, 200, "the fallback answers");
    }
    let down = channels.first("provider_down").await;
    assert_eq!(down["subject"], "nanobanana");
    let message = down["message"].as_str().unwrap();
    assert!(message.starts_with("Boothgate, "), "{message}");
    assert!(message.contains("NanoBanana не отвечает"), "{message}");
    assert!(
        message.contains("overloaded"),
        "the provider's words: {message}"
    );
    assert!(
        down["at"].as_str().unwrap().ends_with('Z'),
        "ISO 8601 in UTC"
    );

    fakes.gemini.reset().await;
    Mock::given(method("POST"))
        .and(path_regex(":generateContent$"))
        .respond_with(gemini_image())
        .mount(&fakes.gemini)
        .await;
    tokio::time::sleep(Duration::from_millis(350)).await;
    let probe = upload_sample(&app, crate::fallbacks::PRIMARY, "guest-512.jpg").await;
    assert_eq!(probe.status, 200);
    let back = channels.first("provider_recovered").await;
    assert!(
        back["message"]
            .as_str()
            .unwrap()
            .contains("NanoBanana снова работает"),
        "{back}"
    );

    let alerts = settled_alerts(&app).await;
    assert_eq!(of_kind(&alerts, "provider_down").len(), 1, "{alerts:?}");
    assert_eq!(of_kind(&alerts, "provider_recovered").len(), 1);
    assert_eq!(alerts[0]["kind"], "provider_recovered", "newest first");
    assert_eq!(alerts[0]["delivery"]["telegram"], "sent");
    assert_eq!(alerts[0]["delivery"]["webhook"], "sent");
    let texts = channels.telegram_texts().await;
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert_eq!(texts[0], message, "the same words on both channels");
    for text in texts {
        assert!(!text.contains("gemini-key"), "no key in an alert: {text}");
    }
}

/// The DeepSeek tab's images endpoint answering as OpenAI does for a key out of credit.
async fn images_without_credit() -> MockServer {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/images/edits"))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({"error": {
            "message": "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
            "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}})))
        .mount(&fake)
        .await;
    fake
}

#[tokio::test]
async fn no_credit_and_a_falling_share_of_ai_photos_are_told_once_in_ten_minutes() {
    let channels = Channels::start().await;
    let images = images_without_credit().await;
    let options = channels.options(
        Options::default()
            .with(Setting::ImagesApiKey, "sk-images-key-0001")
            .with(Setting::ImagesBaseUrl, &format!("{}/v1", images.uri())),
    );
    let app = spawn_app(options).await;
    let saved = app
        .put_slot(
            "deepseek",
            2,
            json!({"kind": "prompt", "prompt": "as a painting"}),
        )
        .await;
    assert_eq!(saved.status(), 200);
    let event = crate::events::start_event(&app, "Свадьба Анны").await;
    assert_eq!(event.status(), 201);
    for _ in 0..6 {
        let answer = upload_sample(&app, "/upload/deepseek/2", "guest-512.jpg").await;
        assert_eq!(answer.status, 502, "no credit: no AI photo");
    }
    let credit = channels.first("no_credit").await;
    assert_eq!(credit["subject"], "deepseek");
    assert!(
        credit["message"]
            .as_str()
            .unwrap()
            .contains("закончились средства"),
        "{credit}"
    );
    let low = channels.first("low_ai_rate").await;
    assert_eq!(low["subject"], "Свадьба Анны");
    let message = low["message"].as_str().unwrap();
    // Told at the fifth photo or the sixth, whichever the watch saw first.
    assert!(
        message.contains("0 % гостей (0 из 5)") || message.contains("0 % гостей (0 из 6)"),
        "{message}"
    );
    assert!(message.contains("порог — 90 %"), "{message}");
    // Many more watch rounds and failures: still one of each.
    for _ in 0..2 {
        upload_sample(&app, "/upload/deepseek/2", "guest-512.jpg").await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let alerts = settled_alerts(&app).await;
    assert_eq!(of_kind(&alerts, "no_credit").len(), 1, "{alerts:?}");
    assert_eq!(of_kind(&alerts, "low_ai_rate").len(), 1, "{alerts:?}");
    assert_eq!(channels.webhook_kinds("no_credit").await.len(), 1);

    // Ten minutes on, the same trouble is told again.
    app.state.clock.advance(Duration::from_secs(10 * 60 + 1));
    upload_sample(&app, "/upload/deepseek/2", "guest-512.jpg").await;
    for _ in 0..100 {
        if channels.webhook_kinds("no_credit").await.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(channels.webhook_kinds("no_credit").await.len(), 2);
}

/// A Gemini whose model list names only the built-in default model.
async fn listing_gemini() -> MockServer {
    let model = boothgate::config::DEFAULT_NANOBANANA;
    let gemini = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1beta/models"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"models": [
            {"name": format!("models/{model}"), "displayName": model,
             "supportedGenerationMethods": ["generateContent", "countTokens"]}
        ]})))
        .mount(&gemini)
        .await;
    gemini
}

fn gemini_options(gemini: &MockServer) -> Options {
    Options::default()
        .with(Setting::NanobananaApiKey, "test-gemini-key-0001")
        .with(
            Setting::NanobananaBaseUrl,
            &format!("{}/v1beta", gemini.uri()),
        )
}

#[tokio::test]
async fn a_model_missing_from_its_list_is_told_once() {
    let channels = Channels::start().await;
    let gemini = listing_gemini().await;
    // Chosen by the operator (by the environment): pinned, so never switched silently.
    let options = channels
        .options(gemini_options(&gemini))
        .with(Setting::NanobananaModel, "gemini-3.1-flash-image");
    let app = spawn_app(options).await;
    app.model_lists_fetched(&["nanobanana"]).await;
    let missing = channels.first("model_retiring").await;
    assert_eq!(missing["subject"], "nanobanana/gemini-3.1-flash-image");
    assert!(
        missing["message"]
            .as_str()
            .unwrap()
            .contains("модели gemini-3.1-flash-image нет в списке"),
        "{missing}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.state.clock.advance(Duration::from_secs(11 * 60));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        channels.webhook_kinds("model_retiring").await.len(),
        1,
        "told once, not every ten minutes"
    );
}

#[tokio::test]
async fn wrong_passwords_are_told_with_the_booth_name_and_the_booth_never_waits_for_it() {
    // The bot answers slowly; the webhook fails once, then takes it.
    let channels = Channels::answering(
        telegram_sent().set_delay(Duration::from_secs(3)),
        ResponseTemplate::new(200),
    )
    .await;
    Mock::given(method("POST"))
        .and(path("/hooks/booth"))
        .respond_with(ResponseTemplate::new(500).set_body_string("Internal Server Error"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&channels.webhook)
        .await;
    let app = demo_app(channels.options(Options::demo())).await;
    let photo = sample("guest-512.jpg");
    for n in 0..3 {
        let file = format!("IMG_000{n}.JPG");
        let (content_type, body) = dslr_body("not-the-password", &file, "image/jpeg", &photo);
        let answer = dslr_post(app.addr, "/upload/nanobanana/3", &content_type, &body).await;
        assert_eq!(answer.status, 401);
    }
    // The third answer is out while the bot (3 s) has not yet taken the alert.
    let raised = raised_alert(&app, "wrong_passwords").await;
    assert_eq!(raised["subject"], "DESKTOP-K968T3F");
    assert_eq!(raised["delivery"]["telegram"], "pending");

    let alerts = settled_alerts(&app).await;
    let told = of_kind(&alerts, "wrong_passwords");
    assert_eq!(told.len(), 1);
    assert_eq!(told[0]["delivery"]["telegram"], "sent");
    assert_eq!(told[0]["delivery"]["webhook"], "sent", "after a retry");
    let bodies = channels.webhook_bodies().await;
    assert_eq!(bodies.len(), 2, "one 500, one retry: {bodies:?}");
    assert_eq!(bodies[0], bodies[1]);
    assert!(
        bodies[1]["message"]
            .as_str()
            .unwrap()
            .contains("Фотобудка DESKTOP-K968T3F: 3 неверных пароля"),
        "{bodies:?}"
    );
    assert!(
        !bodies[1]["message"]
            .as_str()
            .unwrap()
            .contains("not-the-password")
    );
    let texts = channels.telegram_texts().await;
    assert_eq!(texts, [bodies[1]["message"].as_str().unwrap()]);
}

#[tokio::test]
async fn a_test_alert_says_how_each_channel_took_it() {
    let channels = Channels::answering(
        telegram_error(400, "Bad Request: chat not found"),
        ResponseTemplate::new(200),
    )
    .await;
    let app = spawn_app(
        channels
            .options(Options::default())
            .with(Setting::ServerLanguage, "en"),
    )
    .await;
    let answer: Value = app
        .admin_post("/admin/api/alerts/test", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer["delivery"],
        json!({"telegram": "failed", "webhook": "sent"})
    );
    let texts = channels.telegram_texts().await;
    assert_eq!(texts.len(), 1, "a 400 is not tried again");
    assert!(texts[0].contains("This is a test alert"), "{texts:?}");
    let alerts = app.admin_json("/admin/api/alerts").await;
    assert_eq!(alerts["alerts"][0]["kind"], "test");
    assert_eq!(alerts["alerts"][0]["delivery"]["telegram"], "failed");

    // Without channels, nothing is sent and the page says so.
    let quiet = spawn_app(Options::default()).await;
    let answer: Value = quiet
        .admin_post("/admin/api/alerts/test", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer["delivery"],
        json!({"telegram": "off", "webhook": "off"})
    );
    let page = quiet.admin_html("/admin/settings").await;
    assert!(page.contains("Оповещения"));
    assert!(
        page.contains("не настроено"),
        "the test's delivery, in Russian"
    );
}

#[tokio::test]
async fn a_retirement_date_is_told_when_first_seen_and_again_a_week_before() {
    let channels = Channels::start().await;
    let model = boothgate::config::DEFAULT_NANOBANANA;
    let retires = time::OffsetDateTime::now_utc() + time::Duration::days(20);
    let retires_text = retires
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let gemini = listing_gemini().await;
    Mock::given(method("POST"))
        .and(path_regex(":generateContent$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "candidates": [{"content": {"role": "model", "parts": [{"inlineData": {
                "mimeType": "image/jpeg",
                "data": base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD,
                    crate::samples::drawn_by_model(1024, 1024, [90, 90, 160], image::ImageFormat::Jpeg))}}]},
                "finishReason": "STOP", "index": 0}],
            "modelVersion": model,
            "modelStatus": {"modelStage": "DEPRECATED", "retirementTime": retires_text,
                            "message": "This model will be retired. Please migrate to a newer model."},
        })))
        .mount(&gemini)
        .await;
    let options = channels.options(gemini_options(&gemini));
    let app = spawn_app_with_prompt(options, "vintage").await;
    let answer = upload_sample(&app, "/upload/nanobanana/3", "guest-512.jpg").await;
    assert_eq!(answer.status, 200);
    let first = channels.first("model_retiring").await;
    assert_eq!(first["subject"], format!("nanobanana/{model}"));
    let date = retires.date().to_string();
    assert!(
        first["message"]
            .as_str()
            .unwrap()
            .contains(&format!("отключается {date}")),
        "{first}"
    );
    // Two weeks on, six days are left: told again, once.
    app.state.clock.advance(Duration::from_secs(14 * 86_400));
    for _ in 0..100 {
        if channels.webhook_kinds("model_retiring").await.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.state.clock.advance(Duration::from_secs(86_400));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(channels.webhook_kinds("model_retiring").await.len(), 2);
}

#[tokio::test]
async fn a_silent_booth_in_an_event_and_a_full_disk_are_told() {
    let channels = Channels::start().await;
    let app = demo_app(
        channels
            .options(Options::demo())
            .with(Setting::AlertBoothSilentMin, "5"),
    )
    .await;
    let event = crate::events::start_event(&app, "Корпоратив").await;
    assert_eq!(event.status(), 201);
    let photo = sample("guest-512.jpg");
    let (content_type, body) = dslr_body(UPLOAD_PASSWORD, "IMG_0001.JPG", "image/jpeg", &photo);
    let answer = dslr_post(app.addr, "/upload/nanobanana/3", &content_type, &body).await;
    assert_eq!(answer.status, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        channels.webhook_kinds("booth_silent").await.is_empty(),
        "not yet"
    );
    app.state.clock.advance(Duration::from_secs(6 * 60));
    let silent = channels.first("booth_silent").await;
    assert_eq!(silent["subject"], "DESKTOP-K968T3F");
    assert!(
        silent["message"]
            .as_str()
            .unwrap()
            .contains("Фотобудка DESKTOP-K968T3F молчит 6 мин"),
        "{silent}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        channels.webhook_kinds("booth_silent").await.len(),
        1,
        "one silence, told once"
    );

    // A reserve larger than any disk: the upload is refused, and the operator told.
    app.state
        .store
        .save_settings(&[("disk_reserve_mb", "100000000".to_owned())])
        .await
        .unwrap();
    app.state.reload_settings().await.unwrap();
    let refused = dslr_post(app.addr, "/upload/nanobanana/3", &content_type, &body).await;
    assert_eq!(refused.status, 507);
    let disk = channels.first("disk_low").await;
    assert!(
        disk["message"]
            .as_str()
            .unwrap()
            .contains("Мало места на диске"),
        "{disk}"
    );
}
