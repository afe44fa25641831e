//! Turbotext through a fake Turbotext on port 0 that, like the real one, fetches the photos
//! from the server's public media links and answers `reconnect` before the result.

use crate::common::*;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use boothgate::config::Setting;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KEY: &str = "turbotext-test-key";

/// How the fake ends a job.
#[derive(Clone, Copy, PartialEq)]
enum Ending {
    /// `uploaded_image` at the top level, an absolute link.
    Uploaded,
    /// `data.image[0]`, relative to the host, as generate_image2image answers.
    Relative,
    /// `success: false` with this `error`.
    Failed(&'static str),
    Forbidden,
    /// `reconnect` forever.
    Never,
}

/// One create_queue the fake received: method, auth, fields, and what each link served.
#[derive(Clone, Debug)]
struct Created {
    method: String,
    authorization: String,
    fields: HashMap<String, String>,
    /// For `url` and `url_image_target`: the image size fetched, or the HTTP status.
    fetched: HashMap<String, Result<(u32, u32), u16>>,
}

struct Fake {
    ending: Ending,
    polls_before_result: usize,
    created: Vec<Created>,
    polls: HashMap<String, usize>,
}

type Shared = Arc<Mutex<Fake>>;

fn result_png() -> Vec<u8> {
    crate::samples::drawn_by_model(768, 768, [30, 200, 40], image::ImageFormat::Png)
}

async fn fetch(url: &str) -> Result<(u32, u32), u16> {
    let response = reqwest::get(url).await.map_err(|_| 0u16)?;
    if !response.status().is_success() {
        return Err(response.status().as_u16());
    }
    Ok(image_size(&response.bytes().await.map_err(|_| 0u16)?))
}

async fn api(
    State(fake): State<Shared>,
    Path(method): Path<String>,
    headers: HeaderMap,
    Form(fields): Form<HashMap<String, String>>,
) -> Json<Value> {
    match fields.get("do").map(String::as_str) {
        Some("create_queue") => {
            let mut fetched = HashMap::new();
            for role in ["url", "url_image_target"] {
                if let Some(url) = fields.get(role) {
                    fetched.insert(role.to_owned(), fetch(url).await);
                }
            }
            let authorization = headers
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let mut fake = fake.lock().unwrap();
            fake.created.push(Created {
                method,
                authorization,
                fields,
                fetched,
            });
            Json(json!({"success": true, "queueid": 123_456 + fake.created.len()}))
        }
        Some("get_result") => {
            let mut fake = fake.lock().unwrap();
            let queue = fields.get("queueid").cloned().unwrap_or_default();
            let polls = fake.polls.entry(queue).or_default();
            *polls += 1;
            if *polls <= fake.polls_before_result || fake.ending == Ending::Never {
                return Json(json!({"success": false, "action": "reconnect"}));
            }
            if method == "available_api" {
                return Json(json!({"success": true, "available_api": [
                    {"name": "clickbait", "description": "Кликбейт-заголовки"},
                    {"name": "replace_object", "description": "Замена объекта на фото"}]}));
            }
            Json(match fake.ending {
                Ending::Uploaded => json!({"success": true, "error": "",
                    "data": {"prompt": "В стиле дисней", "width": 768, "height": 768, "seed": 9_147_962_925u64, "face_restore": "False"},
                    "uploaded_image": "SELF/download.php?f=result.png"}),
                Ending::Relative => json!({"success": true, "error": "",
                    "data": {"user_id": 12, "image": ["image/generate_image2image_id12_0.png"], "seed": 5_443_937_701u64, "strength": 50}}),
                Ending::Failed(error) => json!({"success": false, "error": error}),
                Ending::Forbidden => json!({"success": true, "error": "",
                    "data": {"image": ["SELF/download.php?f=result.png"], "forbidden_content": true}}),
                Ending::Never => unreachable!(),
            })
        }
        _ => Json(json!({"success": false, "error": "params_error"})),
    }
}

struct FakeTurbotext {
    base: String,
    state: Shared,
}

impl FakeTurbotext {
    async fn start(ending: Ending) -> FakeTurbotext {
        let state = Arc::new(Mutex::new(Fake {
            ending,
            polls_before_result: 2,
            created: Vec::new(),
            polls: HashMap::new(),
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let png = result_png();
        let self_base = base.clone();
        let router = Router::new()
            .route("/api_ai/{method}", post(api))
            .route(
                "/download.php",
                get({
                    let png = png.clone();
                    move || async move { ([("content-type", "image/png")], png) }
                }),
            )
            .route(
                "/image/{name}",
                get(move || async move { ([("content-type", "image/png")], png) }),
            )
            .with_state(state.clone())
            // Absolute result links name the fake's own address.
            .layer(axum::middleware::map_response(
                move |response: axum::response::Response| {
                    let self_base = self_base.clone();
                    async move { replace_self(response, &self_base).await }
                },
            ));
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        FakeTurbotext { base, state }
    }

    fn created(&self) -> Vec<Created> {
        self.state.lock().unwrap().created.clone()
    }
}

async fn replace_self(response: axum::response::Response, base: &str) -> axum::response::Response {
    let is_json = response
        .headers()
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap_or("").contains("json"));
    if !is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let text = String::from_utf8(bytes.to_vec())
        .unwrap()
        .replace("SELF", base);
    let mut response = axum::response::Response::from_parts(parts, axum::body::Body::from(text));
    response.headers_mut().remove("content-length");
    response
}

async fn turbotext_app(fake: &FakeTurbotext, deadline_secs: &str) -> TestApp {
    let options = Options {
        public_url_is_self: true,
        ..Default::default()
    }
    .with(Setting::TurbotextApiKey, KEY)
    .with(Setting::TurbotextBaseUrl, &format!("{}/api_ai", fake.base))
    .with(Setting::TurbotextPollMs, "200")
    .with(Setting::DeadlineSecs, deadline_secs);
    spawn_app(options).await
}

async fn configure(app: &TestApp, slot: u8, slot_json: Value, reference: Option<&str>) {
    assert_eq!(
        app.put_slot("turbotext", slot, slot_json).await.status(),
        200
    );
    if let Some(name) = reference {
        assert_eq!(
            app.put_reference("turbotext", slot, sample(name))
                .await
                .status(),
            200
        );
    }
}

fn assert_green(bytes: &[u8]) {
    let [r, g, b] = crate::samples::mean_rgb(bytes);
    assert!(
        g > r + 40.0 && g > b + 40.0,
        "the fake's green-tinted result, got {:?}",
        [r, g, b]
    );
}

#[tokio::test]
async fn face_swap_puts_the_template_in_url_and_the_guest_in_url_image_target() {
    let fake = FakeTurbotext::start(Ending::Uploaded).await;
    let app = turbotext_app(&fake, "20").await;
    configure(
        &app,
        1,
        json!({"kind": "face_swap", "options": {"face_restore": true}}),
        Some("reference-template.jpg"),
    )
    .await;
    let response = upload_sample(&app, "/upload/turbotext/1", "guest-512.jpg").await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(image_size(&response.body), (512, 512));
    assert_green(&response.body);

    let created = fake.created();
    assert_eq!(created.len(), 1);
    let call = &created[0];
    assert_eq!(call.method, "deepfake_photo");
    assert_eq!(call.authorization, format!("Bearer {KEY}"));
    assert_eq!(
        call.fetched["url"],
        Ok((451, 300)),
        "the template whose face is replaced"
    );
    assert_eq!(
        call.fetched["url_image_target"],
        Ok((512, 512)),
        "the guest's face"
    );
    assert_eq!(call.fields["face_restore"], "True");
    assert!(call.fields["url"].starts_with(&format!("{}/media/", app.base)));
}

#[tokio::test]
async fn mix_photo_puts_the_guest_in_url_image_target_and_the_style_in_url() {
    let fake = FakeTurbotext::start(Ending::Uploaded).await;
    let app = turbotext_app(&fake, "20").await;
    configure(
        &app,
        2,
        json!({"kind": "background", "prompt": "В стиле дисней"}),
        Some("reference-background.jpg"),
    )
    .await;
    let response = upload_sample(&app, "/upload/turbotext/2", "guest-exif-rotated.jpg").await;
    assert_eq!(response.status, 200);
    assert_eq!(image_size(&response.body), (512, 768));
    let call = &fake.created()[0];
    assert_eq!(call.method, "mix_images");
    assert_eq!(
        call.fetched["url_image_target"],
        Ok((512, 768)),
        "the guest, upright"
    );
    assert_eq!(call.fetched["url"], Ok((600, 400)), "the style");
    assert_eq!(call.fields["content"], "В стиле дисней");
}

#[tokio::test]
async fn image_to_image_sends_prompt_and_strength_and_reads_a_relative_result() {
    let fake = FakeTurbotext::start(Ending::Relative).await;
    let app = turbotext_app(&fake, "20").await;
    configure(&app, 3, json!({"kind": "prompt", "prompt": "девушка в костюме супермена", "options": {"strength": 55}}), None).await;
    let response = upload_sample(&app, "/upload/turbotext/3", "guest-512.jpg").await;
    assert_eq!(response.status, 200);
    assert_green(&response.body);
    let call = &fake.created()[0];
    assert_eq!(call.method, "generate_image2image");
    assert_eq!(call.fetched["url"], Ok((512, 512)));
    assert!(!call.fields.contains_key("url_image_target"));
    assert_eq!(call.fields["content"], "девушка в костюме супермена");
    assert_eq!(call.fields["strength"], "55");
}

#[tokio::test]
async fn an_override_method_gets_its_extra_fields() {
    let fake = FakeTurbotext::start(Ending::Uploaded).await;
    let app = turbotext_app(&fake, "20").await;
    let options = json!({"method": "replace_object", "extra_fields": "mask=auto\nstrength=70"});
    configure(
        &app,
        4,
        json!({"kind": "prompt", "prompt": "заменить кружку на бокал", "options": options}),
        None,
    )
    .await;
    let response = upload_sample(&app, "/upload/turbotext/4", "guest-512.jpg").await;
    assert_eq!(response.status, 200);
    let call = &fake.created()[0];
    assert_eq!(call.method, "replace_object");
    assert_eq!(call.fields["mask"], "auto");
    assert_eq!(call.fields["strength"], "70");
    assert_eq!(call.fields["content"], "заменить кружку на бокал");
    assert_eq!(call.fetched["url"], Ok((512, 512)));
}

#[tokio::test]
async fn turbotext_errors_are_502_with_their_message() {
    for (ending, expected) in [
        (Ending::Failed("face_not_detected"), "face_not_detected"),
        (Ending::Forbidden, "forbidden content"),
    ] {
        let fake = FakeTurbotext::start(ending).await;
        let app = turbotext_app(&fake, "20").await;
        configure(&app, 3, json!({"kind": "prompt", "prompt": "x"}), None).await;
        let response = upload_sample(&app, "/upload/turbotext/3", "guest-512.jpg").await;
        assert_eq!(response.status, 502);
        let body = response.json();
        assert_eq!(body["reason"], "provider_error");
        let job = app.job_in_trash(&response, "failed").await;
        assert!(job.message.unwrap().contains(expected));
        assert_eq!(fake.created().len(), 1, "a create is never repeated");
    }
}

#[tokio::test]
async fn unknown_answers_keep_their_words_and_russian_balance_messages_are_no_credit() {
    for (error, kind, said) in [
        (
            "Метод временно отключен администратором",
            "unrecognised",
            "Метод временно отключен администратором",
        ),
        (
            "Недостаточно средств на балансе",
            "no_credit",
            "no credit on this key",
        ),
    ] {
        let fake = FakeTurbotext::start(Ending::Failed(error)).await;
        let app = turbotext_app(&fake, "20").await;
        configure(&app, 3, json!({"kind": "prompt", "prompt": "x"}), None).await;
        let response = upload_sample(&app, "/upload/turbotext/3", "guest-512.jpg").await;
        assert_eq!(response.status, 502);
        let job = app.job_in_trash(&response, "failed").await;
        let message = job.message.unwrap();
        assert!(
            message.contains(error),
            "the job keeps Turbotext's words: {message}"
        );
        assert!(!message.contains("refused"), "{message}");
        let providers = app.admin_json("/admin/api/providers").await;
        let turbotext = &providers["turbotext"];
        assert_eq!(turbotext["health_error_kind"], kind);
        let last = turbotext["last_error"].as_str().unwrap();
        assert!(last.contains(said) && last.contains(error), "{last}");
        let settings = app.admin_html("/admin/settings").await;
        assert!(
            settings.contains(error),
            "Settings shows the provider's words"
        );
    }
}

#[tokio::test]
async fn polling_past_the_deadline_gets_504() {
    let fake = FakeTurbotext::start(Ending::Never).await;
    let app = turbotext_app(&fake, "2").await;
    configure(&app, 3, json!({"kind": "prompt", "prompt": "x"}), None).await;
    let started = Instant::now();
    let response = upload_sample(&app, "/upload/turbotext/3", "guest-512.jpg").await;
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(response.status, 504);
    app.job_in_trash(&response, "timed_out").await;
}

#[tokio::test]
async fn forged_altered_and_expired_media_tokens_get_404() {
    let fake = FakeTurbotext::start(Ending::Uploaded).await;
    let app = turbotext_app(&fake, "20").await;
    configure(&app, 3, json!({"kind": "prompt", "prompt": "x"}), None).await;
    assert_eq!(
        upload_sample(&app, "/upload/turbotext/3", "guest-512.jpg")
            .await
            .status,
        200
    );
    let link = fake.created()[0].fields["url"].clone();
    let token = link.rsplit('/').next().unwrap().to_owned();
    assert_eq!(
        app.client.get(&link).send().await.unwrap().status(),
        200,
        "a current link serves"
    );

    let expired = boothgate::media::sign_link(&app.state.secret, "inputs/whatever.jpg", 1);
    let (payload, mac) = token.split_once('.').unwrap();
    let altered = format!("{}.{mac}", &payload[..payload.len() - 2]);
    let outside = boothgate::media::sign_link(&app.state.secret, "../secret.key", i64::MAX);
    let unsigned = "MTIzOmlucHV0cy94LmpwZw.abc".to_owned();
    for bad in [unsigned, expired, altered, outside, "x".into()] {
        let response = app
            .client
            .get(app.url(&format!("/media/{bad}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{bad}");
        assert!(response.bytes().await.unwrap().is_empty(), "no detail");
    }
}

#[tokio::test]
async fn without_a_public_url_turbotext_answers_503_and_settings_say_why() {
    let fake = FakeTurbotext::start(Ending::Uploaded).await;
    let options = Options::default()
        .with(Setting::TurbotextApiKey, KEY)
        .with(Setting::TurbotextBaseUrl, &format!("{}/api_ai", fake.base));
    let app = spawn_app(options).await;
    configure(&app, 3, json!({"kind": "prompt", "prompt": "x"}), None).await;
    let response = upload_sample(&app, "/upload/turbotext/3", "guest-512.jpg").await;
    assert_eq!(response.status, 503);
    assert!(
        response.json()["message"]
            .as_str()
            .unwrap()
            .contains("public URL")
    );
    assert!(fake.created().is_empty());
    let settings = app.admin_html("/admin/settings").await;
    assert!(settings.contains("Turbotext забирает фото по ссылке"));

    let private =
        spawn_app(Options::default().with(Setting::PublicUrl, "http://192.168.1.10:8080")).await;
    let settings = private.admin_html("/admin/settings").await;
    assert!(
        settings.contains("частную сеть"),
        "a private public URL is warned about"
    );
}

/// Settings' "List Turbotext API methods" button.
async fn list_methods(app: &TestApp) -> reqwest::Response {
    let csrf = csrf_token(&app.admin_html("/admin/settings").await);
    app.admin(Method::POST, "/admin/settings/turbotext-methods")
        .form(&[("csrf", csrf)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn settings_list_the_methods_turbotext_offers() {
    let fake = FakeTurbotext::start(Ending::Uploaded).await;
    let app = turbotext_app(&fake, "20").await;
    let page = list_methods(&app).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("<td class=\"mono\">replace_object</td><td>Замена объекта на фото</td>"),
        "{html}"
    );
    assert_eq!(fake.created()[0].method, "available_api");
}

#[tokio::test]
async fn listing_the_methods_without_a_key_answers_beside_the_button_and_leaves_no_last_error() {
    let app = spawn_app(Options::default()).await;
    let html = list_methods(&app).await.text().await.unwrap();
    let button = html.find("id=\"section-methods\"").expect("the button");
    let answer = html.find("Список методов не получен").expect("the answer");
    assert!(answer > button, "the answer follows its button");
    assert!(!html.contains("Последняя ошибка"), "{html}");
    // Nothing stays behind: the page as it loads next says nothing about it.
    let next = app.admin_html("/admin/settings").await;
    assert!(!next.contains("Список методов не получен"));
    assert!(!next.contains("Последняя ошибка"));
}

#[tokio::test]
async fn the_card_edits_the_turbotext_options() {
    let fake = FakeTurbotext::start(Ending::Uploaded).await;
    let app = turbotext_app(&fake, "20").await;
    let csrf = csrf_token(&app.admin_html("/admin/turbotext").await);
    let form = |strength: &str| {
        reqwest::multipart::Form::new()
            .text("csrf", csrf.clone())
            .text("name", "Замена объекта")
            .text("kind", "prompt")
            .text("prompt", "бокал вместо кружки")
            .text("opt_method", "replace_object")
            .text("opt_extra_fields", "mask=auto")
            .text("opt_strength", strength.to_owned())
    };
    let bad = app
        .admin(Method::POST, "/admin/turbotext/5")
        .header("x-partial", "card")
        .multipart(form("90"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    assert!(
        bad.text().await.unwrap().contains("Целое число от 0 до 80"),
        "the card speaks the admin's language"
    );
    let ok = app
        .admin(Method::POST, "/admin/turbotext/5")
        .header("x-partial", "card")
        .multipart(form("30"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let slot = app.admin_json("/admin/api/slots/turbotext/5").await;
    assert_eq!(
        slot["options"],
        json!({"method": "replace_object", "extra_fields": "mask=auto", "strength": 30, "face_restore": false})
    );
}
