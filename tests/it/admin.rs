//! The admin: authentication, tabs and slot cards, the JSON API, settings, statistics.

use crate::common::*;
use boothgate::config::Setting;
use boothgate::domain::{Kind, Provider, SlotId};
use boothgate::store::NewJob;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn admin_needs_basic_auth() {
    let app = spawn_app(Options::default()).await;
    for path in [
        "/admin/turbotext",
        "/admin/api/stats",
        "/admin/settings",
        "/admin/static/admin.css",
    ] {
        let none = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(none.status(), 401, "{path} without credentials");
        assert_eq!(
            none.headers()["www-authenticate"].to_str().unwrap(),
            r#"Basic realm="Boothgate", charset="UTF-8""#
        );
        let wrong = app
            .admin_as("nope", Method::GET, path)
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401, "{path} with a wrong password");
        let wrong_user = app
            .client
            .get(app.url(path))
            .basic_auth("root", Some(ADMIN_PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong_user.status(), 401, "{path} with a wrong user");
        let right = app.admin_get(path).await;
        assert_eq!(right.status(), 200, "{path} with the right credentials");
    }
}

#[tokio::test]
async fn first_start_generates_passwords_and_keeps_only_the_admin_hash() {
    let app = spawn_app(Options::generated()).await;
    let admin = app.secret("admin password");
    let upload = app.secret("upload password");
    let ok = app
        .admin_as(&admin, Method::GET, "/admin/api/stats")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let stats: serde_json::Value = ok.json().await.unwrap();
    assert_eq!(stats["upload_password"], upload);
    let stored = app.state.store.stored_settings().await.unwrap();
    assert!(stored["admin_password_hash"].starts_with("$argon2"));
    assert!(
        !stored.values().any(|v| v == &admin),
        "the admin password is stored only hashed"
    );

    // A second start generates nothing and the same password still works.
    let dir = app.stop().await;
    let again = spawn_app_in(dir, Options::generated()).await;
    assert!(again.generated.is_empty());
    let ok = again
        .admin_as(&admin, Method::GET, "/admin/turbotext")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn root_redirects_to_the_first_tab_and_health_answers() {
    let app = spawn_app(Options::default()).await;
    let root = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(root.status(), 303);
    assert_eq!(root.headers()["location"], "/admin/turbotext");
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn three_tabs_each_show_twenty_distinct_upload_urls() {
    let app =
        spawn_app(Options::default().with(Setting::PublicUrl, "https://booth.example.com")).await;
    let mut all = std::collections::HashSet::new();
    for provider in ["turbotext", "deepseek", "nanobanana"] {
        let html = app.admin_html(&format!("/admin/{provider}")).await;
        for tab in ["Turbotext", "DeepSeek", "NanoBanana"] {
            assert!(
                html.contains(&format!(">{tab}</a>")),
                "tab {tab} on {provider}"
            );
        }
        // Never set up, every slot is one line; its card, opened, shows its own URL.
        assert_eq!(html.matches("<section class=\"card folded\"").count(), 20);
        for n in 1..=20 {
            let slot = app
                .admin_json(&format!("/admin/api/slots/{provider}/{n}"))
                .await;
            let url = slot["upload_url"].as_str().unwrap().to_owned();
            let token = url
                .strip_prefix(&format!("https://booth.example.com/upload/{provider}/{n}/"))
                .expect("the slot's path and its token");
            assert!(token.len() >= 22, "at least 128 bits: {token}");
            assert!(
                html.contains(&format!("data-card=\"/admin/{provider}/{n}\"")),
                "{provider} slot {n} folded"
            );
            let card = app.open_card(provider, n).await;
            assert!(
                card.contains(&format!("value=\"{url}\"")),
                "{provider} slot {n} URL"
            );
            all.insert(token.to_owned());
        }
        assert!(!html.contains(&format!("/admin/{provider}/21")));
    }
    assert_eq!(all.len(), 60);
    let unknown = app.admin_get("/admin/openai").await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn upload_url_follows_the_request_host_without_a_public_url() {
    let app = spawn_app(Options::default()).await;
    let slot = app.admin_json("/admin/api/slots/deepseek/7").await;
    let url = slot["upload_url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("http://{}/upload/deepseek/7/", app.addr)),
        "{url}"
    );
}

#[tokio::test]
async fn slot_json_round_trips_and_survives_a_restart() {
    let app = spawn_app(Options::default()).await;
    let sent = json!({"provider": "nanobanana", "slot": 7, "name": "Superhero", "enabled": false,
                      "kind": "background", "prompt": "a cape", "has_reference": true,
                      "upload_url": "ignored", "options": {"strength": 0.4}});
    let response = app.put_slot("nanobanana", 7, sent).await;
    assert_eq!(response.status(), 200);
    let stored: serde_json::Value = response.json().await.unwrap();
    assert_eq!(stored["name"], "Superhero");
    assert_eq!(stored["enabled"], false);
    assert_eq!(stored["kind"], "background");
    assert_eq!(
        stored["has_reference"], false,
        "read-only fields are ignored"
    );
    assert_eq!(stored["options"]["strength"], 0.4);

    // Saving one slot never touches another.
    let neighbour = app.admin_json("/admin/api/slots/nanobanana/8").await;
    assert_eq!(neighbour["name"], "");
    assert_eq!(neighbour["kind"], "prompt");

    let dir = app.stop().await;
    let app = spawn_app_in(dir, Options::default()).await;
    let again = app.admin_json("/admin/api/slots/nanobanana/7").await;
    assert_eq!(again["name"], "Superhero");
    assert_eq!(again["kind"], "background");
    assert_eq!(again["prompt"], "a cape");
    assert_eq!(again["enabled"], false);
}

#[tokio::test]
async fn bad_slot_values_get_422_naming_the_field() {
    let app = spawn_app(Options::default()).await;
    for (body, field) in [
        (json!({"kind": "teleport"}), "kind"),
        (json!({"enabled": "yes"}), "enabled"),
        (json!({"name": "x".repeat(81)}), "name"),
        (json!({"options": [1, 2]}), "options"),
        (json!({"prompt": 5}), "prompt"),
    ] {
        let response = app.put_slot("turbotext", 1, body.clone()).await;
        assert_eq!(response.status(), 422, "{body}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error["field"], field, "{body}");
        assert!(error["message"].as_str().unwrap().contains(field));
    }
    let slot = app
        .state
        .store
        .slot(SlotId::new(Provider::Turbotext, 1).unwrap())
        .await
        .unwrap();
    assert_eq!(slot.kind, Kind::Prompt, "a refused PUT changes nothing");
    for path in [
        "/admin/api/slots/turbotext/21",
        "/admin/api/slots/turbotext/0",
        "/admin/api/slots/midjourney/1",
    ] {
        let response = app.admin_get(path).await;
        assert_eq!(response.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn reference_upload_replace_and_remove() {
    let app = spawn_app(Options::default()).await;
    let first = app
        .put_reference("turbotext", 2, sample("reference-template.jpg"))
        .await;
    assert_eq!(first.status(), 200);
    assert_eq!(
        first.json::<serde_json::Value>().await.unwrap()["has_reference"],
        true
    );
    let served = app.admin_get("/admin/references/turbotext/2").await;
    assert_eq!(served.headers()["content-type"], "image/jpeg");
    assert_eq!(
        served.bytes().await.unwrap().to_vec(),
        sample("reference-template.jpg")
    );

    let second = app
        .put_reference("turbotext", 2, sample("guest-512.png"))
        .await;
    assert_eq!(second.status(), 200);
    let references: Vec<_> = app
        .media_files()
        .into_iter()
        .filter(|f| f.starts_with("references/"))
        .collect();
    assert_eq!(
        references.len(),
        1,
        "the replaced file is deleted: {references:?}"
    );
    assert!(references[0].ends_with(".png"));

    let removed = app
        .admin(Method::DELETE, "/admin/api/slots/turbotext/2/reference")
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    assert!(
        app.media_files()
            .iter()
            .all(|f| !f.starts_with("references/"))
    );
    let slot = app.admin_json("/admin/api/slots/turbotext/2").await;
    assert_eq!(slot["has_reference"], false);
    let gone = app.admin_get("/admin/references/turbotext/2").await;
    assert_eq!(gone.status(), 404);
}

#[tokio::test]
async fn a_reference_that_is_not_an_image_is_refused() {
    let app = spawn_app(Options::default()).await;
    let html = app
        .put_reference("deepseek", 1, sample("not-an-image.jpg"))
        .await;
    assert_eq!(html.status(), 415);
    assert_eq!(
        html.json::<serde_json::Value>().await.unwrap()["reason"],
        "unsupported_media_type"
    );
    let broken = app
        .put_reference("deepseek", 1, sample("truncated.jpg"))
        .await;
    assert_eq!(broken.status(), 422);
    assert!(app.media_files().is_empty());
}

/// Posts a card form as the page's script does, asking for the card alone.
async fn post_card(app: &TestApp, path: &str, form: reqwest::multipart::Form) -> reqwest::Response {
    app.admin(Method::POST, path)
        .header("x-partial", "card")
        .multipart(form)
        .send()
        .await
        .unwrap()
}

fn card_form(csrf: &str, name: &str, kind: &str, prompt: &str) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .text("csrf", csrf.to_owned())
        .text("name", name.to_owned())
        .text("enabled", "on")
        .text("kind", kind.to_owned())
        .text("prompt", prompt.to_owned())
}

#[tokio::test]
async fn card_form_saves_one_slot_with_its_reference() {
    let app = spawn_app(Options::default()).await;
    let csrf = csrf_token(&app.admin_html("/admin/nanobanana").await);
    let form = card_form(&csrf, "Кот", "face_swap", "keep the smile").part(
        "reference",
        reqwest::multipart::Part::bytes(sample("reference-template.jpg")).file_name("cat.jpg"),
    );
    let response = post_card(&app, "/admin/nanobanana/3", form).await;
    assert_eq!(response.status(), 200);
    let card = response.text().await.unwrap();
    assert!(
        card.starts_with("<section class=\"card\" id=\"slot-3\""),
        "{card}"
    );
    assert!(card.contains("Сохранено"));
    assert!(card.contains("<img class=\"thumb\" src=\"/admin/references/nanobanana/3?v="));
    let slot = app
        .state
        .store
        .slot(SlotId::new(Provider::Nanobanana, 3).unwrap())
        .await
        .unwrap();
    assert_eq!(
        (slot.name.as_str(), slot.kind, slot.prompt.as_str()),
        ("Кот", Kind::FaceSwap, "keep the smile")
    );
    assert!(slot.reference.is_some());
    let other = app
        .state
        .store
        .slot(SlotId::new(Provider::Nanobanana, 4).unwrap())
        .await
        .unwrap();
    assert_eq!(other.name, "");

    // The remove button deletes the reference; a plain form post is redirected back to the card.
    let remove =
        card_form(&csrf, "Кот", "face_swap", "keep the smile").text("remove_reference", "1");
    let response = app
        .admin(Method::POST, "/admin/nanobanana/3")
        .multipart(remove)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/admin/nanobanana#slot-3");
    let slot = app
        .state
        .store
        .slot(SlotId::new(Provider::Nanobanana, 3).unwrap())
        .await
        .unwrap();
    assert!(slot.reference.is_none());
}

#[tokio::test]
async fn card_errors_are_shown_next_to_the_field() {
    let app = spawn_app(Options::default()).await;
    let csrf = csrf_token(&app.admin_html("/admin/deepseek").await);
    let form = card_form(&csrf, &"n".repeat(100), "prompt", "p").part(
        "reference",
        reqwest::multipart::Part::bytes(sample("not-an-image.jpg")).file_name("x.jpg"),
    );
    let response = post_card(&app, "/admin/deepseek/5", form).await;
    assert_eq!(response.status(), 422);
    let card = response.text().await.unwrap();
    assert!(
        card.contains("class=\"field-error\">Слишком длинно"),
        "{card}"
    );
    let slot = app
        .state
        .store
        .slot(SlotId::new(Provider::Deepseek, 5).unwrap())
        .await
        .unwrap();
    assert_eq!(slot.name, "", "nothing saved");

    let form = card_form(&csrf, "ok", "prompt", "p").part(
        "reference",
        reqwest::multipart::Part::bytes(sample("not-an-image.jpg")).file_name("x.jpg"),
    );
    let response = post_card(&app, "/admin/deepseek/5", form).await;
    assert_eq!(response.status(), 422);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Нужен файл JPEG, PNG или WebP")
    );
}

#[tokio::test]
async fn cross_site_posts_are_refused_and_change_nothing() {
    let app = spawn_app(Options::default()).await;
    let csrf = csrf_token(&app.admin_html("/admin/turbotext").await);
    let attempts = [
        (Some(("origin", "https://evil.example")), csrf.clone()),
        (Some(("sec-fetch-site", "cross-site")), csrf.clone()),
        (None, "0".repeat(64)),
        (None, String::new()),
    ];
    for (header, token) in attempts {
        let mut request = app
            .admin(Method::POST, "/admin/turbotext/1")
            .multipart(card_form(&token, "hacked", "prompt", "x"));
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 403, "{header:?}");
    }
    let json = app.put_slot("turbotext", 1, json!({"name": "x"})).await;
    assert_eq!(
        json.status(),
        200,
        "a script without Origin may use the API"
    );
    let cross = app
        .admin(Method::PUT, "/admin/api/slots/turbotext/1")
        .header("origin", "https://evil.example")
        .json(&json!({"name": "hacked"}))
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    let slot = app
        .state
        .store
        .slot(SlotId::new(Provider::Turbotext, 1).unwrap())
        .await
        .unwrap();
    assert_eq!(slot.name, "x");
    let same_origin = app
        .admin(Method::POST, "/admin/turbotext/1")
        .header("origin", app.base.clone())
        .header("sec-fetch-site", "same-origin")
        .multipart(card_form(&csrf, "fine", "prompt", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(same_origin.status(), 303);
}

#[tokio::test]
async fn admin_pages_carry_security_headers() {
    let app = spawn_app(Options::default()).await;
    let response = app.admin_get("/admin/stats").await;
    let headers = response.headers();
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers.contains_key("referrer-policy"));
}

fn insert_job(id: &str, provider: Provider, slot: u8, is_test: bool, created_at: i64) -> NewJob {
    NewJob {
        id: id.into(),
        created_at,
        slot: SlotId::new(provider, slot).unwrap(),
        kind: Kind::Prompt,
        is_test,
        original_path: format!("originals/x/{id}.jpg"),
        booth_name: Some("BOOTH-1".into()),
        booth_address: None,
        fields: Default::default(),
        prompt: String::new(),
        event: None,
    }
}

#[tokio::test]
async fn statistics_count_jobs_by_provider_slot_and_day() {
    use boothgate::domain::JobStatus;
    use boothgate::store::Outcome;
    let app = spawn_app(Options::default()).await;
    let store = &app.state.store;
    let now = app.state.clock.now_ms();
    let rows = [
        ("a", Provider::Nanobanana, 3, false, JobStatus::Succeeded),
        ("b", Provider::Nanobanana, 3, false, JobStatus::Succeeded),
        ("c", Provider::Nanobanana, 4, false, JobStatus::Failed),
        ("d", Provider::Turbotext, 1, false, JobStatus::TimedOut),
        ("e", Provider::Turbotext, 1, true, JobStatus::Succeeded),
        ("f", Provider::Deepseek, 1, false, JobStatus::Interrupted),
    ];
    for (id, provider, slot, test, status) in rows {
        store
            .insert_job(&insert_job(id, provider, slot, test, now))
            .await
            .unwrap();
        let outcome = Outcome {
            answered_by: None,
            attempts: Vec::new(),
            status,
            reason: None,
            message: None,
            latency_ms: 10,
            model_ms: None,
            original_path: String::new(),
            result_path: None,
            prompt_used: None,
            drill: false,
            check: None,
        };
        store.finish_job(id, &outcome).await.unwrap();
    }
    let stats = app.admin_json("/admin/api/stats").await;
    assert_eq!(
        stats,
        json!({"upload_password": UPLOAD_PASSWORD, "deadline_secs": 50, "providers": {
            "turbotext": {"processed": 0, "failed": 0, "timed_out": 1, "rescued": 0, "health": "ok"},
            "deepseek": {"processed": 0, "failed": 0, "timed_out": 0, "rescued": 0, "health": "ok"},
            "nanobanana": {"processed": 2, "failed": 1, "timed_out": 0, "rescued": 0, "health": "ok"}},
            // Two of the five booth photos got an image; written without attempts, only those
            // two reached a model. The misses carry no reason: their status names them.
            "ai_result_rate": 0.4, "model_success_rate": 1.0,
            "misses": {"failed": 1, "interrupted": 1, "timed_out": 1}, "event": null,
            // No attempt returned an image (none were written) and no price is set.
            "cost": {"currency": "USD", "total": 0.0,
                     "by_provider": {"turbotext": 0.0, "deepseek": 0.0, "nanobanana": 0.0}},
            "tests_cost": {"currency": "USD", "total": 0.0,
                           "by_provider": {"turbotext": 0.0, "deepseek": 0.0, "nanobanana": 0.0}},
            // No image was checked; none of the five ended photos was rescued.
            "checks": {"rejected": 0, "rejected_by_slot": {}, "rescued": 0, "rescued_share": 0.0}})
    );
    let page = app.admin_html("/admin/stats").await;
    assert!(page.contains(&format!("value=\"{UPLOAD_PASSWORD}\"")));
    assert!(
        page.contains(concat!(
            "<tr><td>NanoBanana</td><td>3</td><td>2</td><td>0</td><td>0</td>",
            r#"<td class="slot-cost">0.00</td></tr>"#
        )),
        "per-slot row"
    );
    assert!(
        page.contains("<tr><td>Turbotext</td><td>1</td><td>0</td><td>0</td></tr>"),
        "test jobs apart"
    );
    let today = boothgate::media::day_of(now);
    assert!(
        page.contains(&format!("<title>{today}: 2 / 1 / 1</title>")),
        "today's bar"
    );
}

#[tokio::test]
async fn upload_password_can_be_regenerated_unless_set_by_env() {
    let app = spawn_app(Options::generated()).await;
    let admin = app.secret("admin password");
    let old = app.secret("upload password");
    let page = app
        .admin_as(&admin, Method::GET, "/admin/stats")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let response = app
        .admin_as(&admin, Method::POST, "/admin/stats/upload-password")
        .form(&[("csrf", csrf_token(&page))])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let new = app.state.settings().get(Setting::UploadPassword).to_owned();
    assert_ne!(new, old);
    assert_eq!(new.len(), 12);

    let fixed = spawn_app(Options::default()).await;
    let page = fixed.admin_html("/admin/stats").await;
    assert!(page.contains("задано переменной окружения"));
    let csrf = csrf_token(&fixed.admin_html("/admin/turbotext").await);
    let refused = fixed
        .admin(Method::POST, "/admin/stats/upload-password")
        .form(&[("csrf", csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(
        fixed.state.settings().get(Setting::UploadPassword),
        UPLOAD_PASSWORD
    );
}

#[tokio::test]
async fn api_keys_never_reach_a_page() {
    let key = "sk-live-0123456789-SECRETKEY";
    // With a key set, Settings asks Gemini for its models: here nobody answers.
    let app =
        spawn_app(Options::default().with(Setting::NanobananaBaseUrl, "http://127.0.0.1:9")).await;
    let page = app.admin_html("/admin/settings").await;
    let response = app
        .admin(Method::POST, "/admin/settings")
        .form(&[
            ("csrf", csrf_token(&page).as_str()),
            ("gemini_api_key", key),
            ("deadline_secs", "45"),
            ("max_upload_mb", "40"),
            ("retention_days", "30"),
            ("max_result_side", "2048"),
            ("provider_max_side", "2048"),
            ("demo_delay_ms", "1500"),
            ("keep_failed_in_trash", "on"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let settings = app.state.settings();
    assert_eq!(settings.get(Setting::NanobananaApiKey), key);
    assert_eq!(settings.deadline.as_secs(), 45);
    for path in [
        "/admin/settings",
        "/admin/settings?saved=1",
        "/admin/turbotext",
        "/admin/deepseek",
        "/admin/nanobanana",
        "/admin/stats",
        "/admin/jobs",
    ] {
        let html = app.admin_html(path).await;
        assert!(
            !html.contains(key) && !html.contains("SECRETKEY"),
            "{path} shows the key"
        );
    }
    let html = app.admin_html("/admin/settings").await;
    assert!(html.contains("••••TKEY"), "shown masked");

    // Saving again with the key field left empty keeps it; the clear box removes it.
    let page = app.admin_html("/admin/settings").await;
    let keep = [
        ("csrf", csrf_token(&page)),
        ("deadline_secs", "45".into()),
        ("max_upload_mb", "40".into()),
        ("retention_days", "30".into()),
        ("max_result_side", "2048".into()),
        ("provider_max_side", "2048".into()),
        ("demo_delay_ms", "1500".into()),
    ];
    app.admin(Method::POST, "/admin/settings")
        .form(&keep)
        .send()
        .await
        .unwrap();
    assert_eq!(app.state.settings().get(Setting::NanobananaApiKey), key);
    let mut clear = keep.to_vec();
    clear.push(("clear_gemini_api_key", "on".into()));
    app.admin(Method::POST, "/admin/settings")
        .form(&clear)
        .send()
        .await
        .unwrap();
    assert_eq!(app.state.settings().get(Setting::NanobananaApiKey), "");
}

#[tokio::test]
async fn settings_refuse_bad_values_and_show_env_overrides() {
    let app = spawn_app(Options::default().with(Setting::MaxUploadMb, "25")).await;
    let page = app.admin_html("/admin/settings").await;
    assert!(page.contains("задано переменной окружения"));
    let response = app
        .admin(Method::POST, "/admin/settings")
        .form(&[
            ("csrf", csrf_token(&page).as_str()),
            ("gemini_model", ""),
            ("deadline_secs", "zero"),
            ("public_url", "ftp://x"),
            ("max_upload_mb", "99"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("Целое число от 1 до 600"));
    assert!(html.contains("Адрес вида https://"));
    let settings = app.state.settings();
    assert_eq!(settings.deadline.as_secs(), 50, "nothing saved");
    assert_eq!(settings.max_upload_bytes >> 20, 25, "the environment wins");

    // Fields a form leaves out keep their values; an emptied model goes back to the default.
    let csrf = csrf_token(&page);
    for (model, expected) in [
        ("gemini-3-pro-image", "gemini-3-pro-image"),
        ("", boothgate::config::DEFAULT_NANOBANANA),
    ] {
        let response = app
            .admin(Method::POST, "/admin/settings")
            .form(&[("csrf", csrf.as_str()), ("gemini_model", model)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        let settings = app.state.settings();
        assert_eq!(settings.get(Setting::NanobananaModel), expected);
        assert_eq!(settings.deadline.as_secs(), 50);
    }
}

#[tokio::test]
async fn english_switch_sets_a_cookie_and_translates() {
    let app = spawn_app(Options::default()).await;
    assert!(
        app.admin_html("/admin/turbotext")
            .await
            .contains(">Настроить</a>")
    );
    let switch = app.admin_get("/admin/lang/en?next=/admin/deepseek").await;
    assert_eq!(switch.status(), 303);
    assert_eq!(switch.headers()["location"], "/admin/deepseek");
    let cookie = switch.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = app
        .admin(Method::GET, "/admin/deepseek")
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(">Set up</a>") && !html.contains("Настроить"));
    let open_redirect = app
        .admin_get("/admin/lang/en?next=https://evil.example")
        .await;
    assert_eq!(open_redirect.headers()["location"], "/admin/turbotext");
}

#[tokio::test]
async fn the_card_and_settings_renew_upload_links() {
    let app = spawn_app(Options::default()).await;
    let link = |app: &TestApp, provider: &'static str, n: u8| {
        let store = app.state.store.clone();
        async move {
            let id = SlotId::parse(provider, &n.to_string()).unwrap();
            store.link_token(id).await.unwrap()
        }
    };
    let before = link(&app, "nanobanana", 3).await;
    let csrf = csrf_token(&app.admin_html("/admin/nanobanana").await);
    let form = card_form(&csrf, "Кот", "prompt", "vintage").text("renew_link", "1");
    let card = post_card(&app, "/admin/nanobanana/3", form).await;
    assert_eq!(card.status(), 200);
    let after = link(&app, "nanobanana", 3).await;
    assert_ne!(after, before);
    assert!(
        card.text()
            .await
            .unwrap()
            .contains(&format!("/upload/nanobanana/3/{after}\""))
    );

    let other = link(&app, "turbotext", 9).await;
    let renewed = app
        .admin(Method::POST, "/admin/settings/links/renew")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(renewed.status(), 303);
    assert_eq!(renewed.headers()["location"], "/admin/settings?renewed=1");
    assert_ne!(link(&app, "turbotext", 9).await, other);
    assert_ne!(link(&app, "nanobanana", 3).await, after);
    let page = app.admin_html("/admin/settings?renewed=1").await;
    assert!(page.contains("id=\"links-renewed\""));
    let forged = app
        .admin(Method::POST, "/admin/settings/links/renew")
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
}

/// A GET as a browser on mobile data makes it, asking for gzip.
async fn gzip_get(app: &TestApp, path: &str) -> reqwest::Response {
    app.admin(Method::GET, path)
        .header("accept-encoding", "gzip, deflate, br")
        .send()
        .await
        .unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn a_tab_is_light_pages_are_gzipped_and_assets_are_cached_for_good() {
    let app = spawn_app(Options::demo()).await;
    // Slots never set up are one line each: a fresh tab is light.
    let fresh = app.admin_html("/admin/nanobanana").await;
    assert!(
        fresh.len() <= 25_000,
        "a fresh tab is {} bytes",
        fresh.len()
    );
    // An evening's worth of slots set up, named, with a placeholder and a fallback each:
    // forty pickers fill from one list, the cards' questions are said once. A tab was 294 KB
    // before compression (BENCHMARKS.md).
    for n in 1..=8 {
        let slot = json!({
            "name": format!("Свадьба {n}"),
            "prompt": "Сделай гостя героем фильма в стиле {style}",
            "fallbacks": [format!("deepseek/{n}")],
        });
        assert_eq!(app.put_slot("nanobanana", n, slot).await.status(), 200);
    }
    let page = app.admin_html("/admin/nanobanana").await;
    assert!(page.len() <= 80_000, "a tab is {} bytes", page.len());
    assert_eq!(page.matches("<section class=\"card folded\"").count(), 12);
    assert_eq!(
        page.matches("<template id=\"fallback-choices\">").count(),
        1
    );
    let choice = "<option value=\"deepseek/7\">DeepSeek 7";
    assert_eq!(page.matches(choice).count(), 1, "one list");

    let zipped = gzip_get(&app, "/admin/nanobanana").await;
    assert_eq!(header(&zipped, "content-encoding"), Some("gzip"));
    assert_eq!(header(&zipped, "cache-control"), Some("no-store"));
    let body = zipped.bytes().await.unwrap();
    assert_eq!(&body[..2], [0x1f, 0x8b], "a gzip stream");
    assert!(
        body.len() * 4 < page.len(),
        "{} of {}",
        body.len(),
        page.len()
    );
    let json = gzip_get(&app, "/admin/api/stats").await;
    assert_eq!(header(&json, "content-encoding"), Some("gzip"));

    // The stylesheet and script under content-hashed names, kept for good; the plain names
    // still answer, revalidated; a stale hash is gone.
    for (ext, mime) in [("css", "text/css"), ("js", "text/javascript")] {
        let start = page
            .match_indices("/admin/static/admin.")
            .map(|(i, _)| i)
            .find(|i| page[*i..].split('"').next().unwrap().ends_with(ext))
            .unwrap_or_else(|| panic!("the page links admin.*.{ext}"));
        let link = page[start..].split('"').next().unwrap();
        let hash = link
            .trim_start_matches("/admin/static/admin.")
            .trim_end_matches(&format!(".{ext}"));
        assert_eq!(hash.len(), 12, "{link}");
        assert!(hash.chars().all(|c| c.is_ascii_hexdigit()), "{link}");
        let asset = gzip_get(&app, link).await;
        assert_eq!(asset.status(), 200, "{link}");
        assert!(header(&asset, "content-type").unwrap().starts_with(mime));
        assert_eq!(
            header(&asset, "cache-control"),
            Some("public, max-age=31536000, immutable")
        );
        assert_eq!(header(&asset, "content-encoding"), Some("gzip"));
        let plain = app.admin_get(&format!("/admin/static/admin.{ext}")).await;
        assert_eq!(header(&plain, "cache-control"), Some("no-cache"));
        let stale = app
            .admin_get(&format!("/admin/static/admin.000000000000.{ext}"))
            .await;
        assert_eq!(stale.status(), 404);
    }

    // A job's thumbnail: kept privately, never re-compressed.
    let answer = upload_sample(&app, "/upload/nanobanana/3", "guest-512.jpg").await;
    let job = answer.header("x-boothgate-job").unwrap().to_owned();
    let thumb = gzip_get(&app, &format!("/admin/jobs/{job}/after")).await;
    assert_eq!(thumb.status(), 200);
    assert_eq!(
        header(&thumb, "cache-control"),
        Some("private, max-age=86400")
    );
    assert_eq!(header(&thumb, "content-encoding"), None);

    // The ZIP export and the Live stream go out as they are.
    let event: serde_json::Value = crate::events::start_event(&app, "Выпускной")
        .await
        .json()
        .await
        .unwrap();
    let export = gzip_get(&app, &format!("/admin/api/events/{}/export", event["id"])).await;
    assert_eq!(header(&export, "content-type"), Some("application/zip"));
    assert_eq!(header(&export, "content-encoding"), None);
    let stream = gzip_get(&app, "/admin/live/events").await;
    assert!(
        header(&stream, "content-type")
            .unwrap()
            .starts_with("text/event-stream")
    );
    assert_eq!(header(&stream, "content-encoding"), None);
}

#[tokio::test]
async fn a_cancelled_login_shows_a_small_page_and_the_api_keeps_json() {
    let app = spawn_app(Options::default()).await;
    let page = app
        .client
        .get(app.url("/admin/turbotext"))
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 401);
    assert!(
        header(&page, "www-authenticate")
            .unwrap()
            .starts_with("Basic")
    );
    assert_eq!(
        header(&page, "content-type"),
        Some("text/html; charset=utf-8")
    );
    let text = page.text().await.unwrap();
    assert!(text.contains("Нужен вход"), "{text}");
    assert!(
        text.contains("<link rel=\"stylesheet\" href=\"/assets/admin."),
        "styled by the public stylesheet, as the CSP allows: {text}"
    );
    let english = app
        .client
        .get(app.url("/admin/turbotext"))
        .header("accept", "text/html")
        .header("cookie", "lang=en")
        .send()
        .await
        .unwrap();
    assert!(english.text().await.unwrap().contains("Sign-in needed"));
    let api = app
        .client
        .get(app.url("/admin/api/slots"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);
    let json: serde_json::Value = api.json().await.unwrap();
    assert_eq!(json["reason"], "unauthorized");
}
