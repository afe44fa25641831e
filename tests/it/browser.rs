//! The admin in a real browser: Debian's headless Chromium driven through chromedriver.
//! Needs `chromium` and `chromium-driver` (`.ci/run` installs them).

use crate::common::*;
use boothgate::config::Setting;
use boothgate::domain::{Kind, Provider, SlotId};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// Stops chromedriver when the test ends, however it ends.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start_browser(profile: &std::path::Path) -> (Driver, Client) {
    assert!(
        std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
        "the browser test needs Debian's chromium and chromium-driver: apt-get install chromium chromium-driver"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let driver = Driver(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts"),
    );
    let capabilities = serde_json::json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--window-size=1280,1000", format!("--user-data-dir={}", profile.display())]
        }
    });
    let capabilities = capabilities.as_object().unwrap().clone();
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if let Ok(client) = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities.clone())
            .connect(&url)
            .await
        {
            return (driver, client);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not answer on {url}");
}

/// Clicks the first element `css` finds.
async fn click(browser: &Client, css: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("{css} cannot be clicked: {e}"));
}

/// Types `text` into the first element `css` finds.
async fn type_into(browser: &Client, css: &str, text: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("cannot type into {css}: {e}"));
}

async fn wait_for_text(browser: &Client, css: &str, expected: &str) {
    let mut seen = String::new();
    for _ in 0..100 {
        if let Ok(element) = browser.find(Locator::Css(css)).await {
            seen = element.text().await.unwrap_or_default();
            if seen.contains(expected) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} never showed {expected:?}; last seen {seen:?}");
}

async fn value_of(browser: &Client, css: &str) -> String {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

#[tokio::test]
async fn operator_configures_a_slot_in_the_browser() {
    let app = spawn_app(Options::demo()).await;
    let profile = tempfile::tempdir().unwrap();
    let (_driver, browser) = start_browser(profile.path()).await;
    let base = format!("http://{ADMIN_USER}:{ADMIN_PASSWORD}@{}", app.addr);

    browser
        .goto(&format!("{base}/admin/turbotext"))
        .await
        .unwrap();
    assert!(browser.find(Locator::Id("demo-banner")).await.is_ok());
    click(&browser, "#tab-nanobanana").await;
    wait_for_text(&browser, "h1", "NanoBanana").await;
    assert!(
        browser
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/admin/nanobanana")
    );

    // A slot never set up is one line; "Set up" brings its card in place.
    assert!(
        browser
            .find(Locator::Css("#slot-3 select[name=kind]"))
            .await
            .is_err(),
        "folded"
    );
    click(&browser, "#slot-3 a.unfold").await;
    wait_for_text(&browser, "#slot-3 button.save", "Сохранить").await;
    browser
        .find(Locator::Css("#slot-3 select[name=kind]"))
        .await
        .unwrap()
        .select_by_value("background")
        .await
        .unwrap();
    let prompt = browser
        .find(Locator::Css("#slot-3 textarea[name=prompt]"))
        .await
        .unwrap();
    prompt.clear().await.unwrap();
    prompt.send_keys("гость на фоне кофейни").await.unwrap();
    let reference = sample_file("reference-background.jpg")
        .canonicalize()
        .unwrap();
    type_into(
        &browser,
        "#slot-3 input[name=reference]",
        &reference.to_string_lossy(),
    )
    .await;
    // The "B plan": DeepSeek 2 takes over if this slot fails or is slow for 10 s. The picker
    // fills itself from the page's one list of slots when it is opened.
    let picker = browser
        .find(Locator::Css("#slot-3 select[name=fallback_1]"))
        .await
        .unwrap();
    let before = browser
        .execute(
            "return arguments[0].options.length",
            vec![serde_json::to_value(&picker).unwrap()],
        )
        .await
        .unwrap();
    assert_eq!(before, 1, "only its own choice until it is opened");
    picker.click().await.unwrap();
    picker.select_by_value("deepseek/2").await.unwrap();
    let after = browser
        .find(Locator::Css("#slot-3 input[name=fallback_after_secs]"))
        .await
        .unwrap();
    after.clear().await.unwrap();
    after.send_keys("10").await.unwrap();
    click(&browser, "#slot-3 button.save").await;
    wait_for_text(&browser, "#slot-3 .card-status", "Сохранено").await;
    wait_for_text(&browser, "#slot-3 .card-status", "Готов к работе").await;

    let slot = app
        .state
        .store
        .slot(SlotId::new(Provider::Nanobanana, 3).unwrap())
        .await
        .unwrap();
    assert_eq!(slot.kind, Kind::Background);
    assert_eq!(slot.prompt, "гость на фоне кофейни");
    assert!(slot.reference.is_some());
    assert_eq!(
        slot.fallbacks,
        [SlotId::new(Provider::Deepseek, 2).unwrap()]
    );
    assert_eq!(slot.fallback_after_secs, 10);

    browser.refresh().await.unwrap();
    assert_eq!(
        value_of(&browser, "#slot-3 select[name=kind]").await,
        "background"
    );
    assert_eq!(
        value_of(&browser, "#slot-3 textarea[name=prompt]").await,
        "гость на фоне кофейни"
    );
    let thumb = browser
        .find(Locator::Css("#slot-3 img.thumb"))
        .await
        .unwrap();
    let loaded = browser
        .execute(
            "return arguments[0].naturalWidth;",
            vec![serde_json::to_value(&thumb).unwrap()],
        )
        .await
        .unwrap();
    assert_eq!(loaded, 600, "the reference thumbnail loads");
    // The card shows the slot's own link, says whose it is, and its "how to connect" opens
    // the tab's help with the booth's timeout (the 50 s deadline and 5 s more); a booth given
    // the link gets its photo processed.
    wait_for_text(&browser, "#slot-3 .url-slot", "NanoBanana 3").await;
    click(&browser, "#slot-3 a[href='#booth-help']").await;
    wait_for_text(&browser, "#booth-help", "Web based (HTTP POST)").await;
    wait_for_text(&browser, "#booth-help", "55 с").await;
    let link = value_of(&browser, "#slot-3 .upload-url").await;
    let slot = app.admin_json("/admin/api/slots/nanobanana/3").await;
    assert_eq!(link, slot["upload_url"].as_str().unwrap());
    let path = link.strip_prefix(&app.base).expect("the server's address");
    assert!(path.starts_with("/upload/nanobanana/3/"), "{path}");
    assert_eq!(upload_sample(&app, path, "guest-512.jpg").await.status, 200);

    // "Try it" runs a photo from the browser through the slot and shows the result on the card.
    let guest = sample_file("guest-512.jpg").canonicalize().unwrap();
    type_into(
        &browser,
        "#slot-3 input.try-input",
        &guest.to_string_lossy(),
    )
    .await;
    let mut shown = serde_json::Value::Null;
    for _ in 0..100 {
        shown = browser
            .execute(
                "const img = document.querySelector('#slot-3 img.try-result'); return img && img.complete ? img.naturalWidth : null;",
                vec![],
            )
            .await
            .unwrap();
        if shown.is_number() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(shown, 512, "the processed photo is shown on the card");

    click(&browser, "#slot-3 button.copy").await;
    wait_for_text(&browser, "#slot-3 button.copy", "Скопировано").await;

    // History shows the test job, its time in the browser's own zone.
    browser.goto(&format!("{base}/admin/jobs")).await.unwrap();
    let time = browser
        .find(Locator::Css("td time"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!time.is_empty() && !time.ends_with("UTC"), "{time}");
    browser
        .goto(&format!("{base}/admin/nanobanana"))
        .await
        .unwrap();

    click(&browser, "#stats-button").await;
    wait_for_text(&browser, "h1", "Статистика").await;
    assert_eq!(
        value_of(&browser, "#upload-password").await,
        UPLOAD_PASSWORD
    );

    let shot = browser.screenshot().await.unwrap();
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-admin-stats.png");
    std::fs::write(&path, shot).unwrap();
    browser
        .goto(&format!("{base}/admin/nanobanana"))
        .await
        .unwrap();
    let shot = browser.screenshot().await.unwrap();
    std::fs::write(path.with_file_name("browser-admin-nanobanana.png"), shot).unwrap();

    click(&browser, "#lang-switch").await;
    wait_for_text(&browser, "#slot-3 button.save", "Save").await;
    browser.close().await.unwrap();
}

#[tokio::test]
async fn a_retired_model_is_swapped_from_the_tab_banner() {
    let gemini = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path("/models"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "models": [{"name": "models/gemini-3-pro-image", "supportedGenerationMethods": ["generateContent"]}]
        })))
        .mount(&gemini)
        .await;
    let app = spawn_app(
        Options::default()
            .with(boothgate::config::Setting::NanobananaApiKey, "browser-key")
            .with(boothgate::config::Setting::NanobananaBaseUrl, &gemini.uri()),
    )
    .await;
    app.model_lists_fetched(&["nanobanana"]).await;
    let profile = tempfile::tempdir().unwrap();
    let (_driver, browser) = start_browser(profile.path()).await;
    let base = format!("http://{ADMIN_USER}:{ADMIN_PASSWORD}@{}", app.addr);
    browser
        .goto(&format!("{base}/admin/nanobanana"))
        .await
        .unwrap();
    wait_for_text(
        &browser,
        ".model-banner.missing p",
        boothgate::config::DEFAULT_NANOBANANA,
    )
    .await;
    let shot = browser.screenshot().await.unwrap();
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-model-banner.png");
    std::fs::write(&path, shot).unwrap();
    browser
        .find(Locator::Css(".model-banner select[name=value]"))
        .await
        .unwrap()
        .select_by_value("gemini-3-pro-image")
        .await
        .unwrap();
    click(&browser, ".model-banner button").await;
    wait_for_text(&browser, "h1", "NanoBanana").await;
    assert!(browser.find(Locator::Css(".model-banner")).await.is_err());
    let providers = app.admin_json("/admin/api/providers").await;
    assert_eq!(providers["nanobanana"]["model"], "gemini-3-pro-image");
    browser.close().await.unwrap();
}

#[tokio::test]
async fn operator_starts_an_event_and_watches_photos_arrive_live() {
    let app = spawn_app_with_prompt(Options::demo(), "vintage").await;
    let profile = tempfile::tempdir().unwrap();
    let (_driver, browser) = start_browser(profile.path()).await;
    let base = format!("http://{ADMIN_USER}:{ADMIN_PASSWORD}@{}", app.addr);

    browser.goto(&format!("{base}/admin/events")).await.unwrap();
    wait_for_text(&browser, "h1", "События").await;
    type_into(&browser, "#start-event input[name=name]", "Свадьба Анны").await;
    click(&browser, "#start-event button").await;
    wait_for_text(&browser, "#event-1 h2", "Свадьба Анны").await;
    assert!(browser.find(Locator::Id("end-event")).await.is_ok());

    click(&browser, "#nav-live").await;
    wait_for_text(&browser, "#live-event", "Свадьба Анны").await;
    // The page is open: a booth's photo shows up without a reload.
    let answer = upload_sample(&app, "/upload/nanobanana/3", "guest-512.jpg").await;
    assert_eq!(answer.status, 200);
    let job = answer.header("x-boothgate-job").unwrap().to_owned();
    wait_for_text(&browser, "#live-succeeded", "1").await;
    let photo = browser
        .find(Locator::Css(&format!(
            "#live-photos figure[data-job='{job}'] img"
        )))
        .await
        .expect("the new photo is on the page");
    let mut loaded = serde_json::Value::Null;
    for _ in 0..50 {
        loaded = browser
            .execute(
                "return arguments[0].complete && arguments[0].naturalWidth > 0",
                vec![serde_json::to_value(&photo).unwrap()],
            )
            .await
            .unwrap();
        if loaded == serde_json::json!(true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(loaded, serde_json::json!(true), "its thumbnail loads");
    wait_for_text(
        &browser,
        &format!("#live-photos figure[data-job='{job}'] figcaption"),
        "NanoBanana 3",
    )
    .await;
    // A guest who gets nothing shows up with the reason in words and a link to the job.
    app.put_slot(
        "nanobanana",
        5,
        serde_json::json!({"name": "Ретро", "enabled": false}),
    )
    .await;
    let refused = upload_sample(&app, "/upload/nanobanana/5", "guest-512.jpg").await;
    assert_eq!(refused.status, 409);
    wait_for_text(
        &browser,
        "#live-failures li",
        "NanoBanana 5 «Ретро» · слот выключен",
    )
    .await;
    let href = browser
        .find(Locator::Css("#live-failures li a"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap_or_default();
    let failed = refused.json()["job"].as_str().unwrap().to_owned();
    assert_eq!(href, format!("/admin/jobs?job={failed}"));
    let shot = browser.screenshot().await.unwrap();
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-admin-live.png");
    std::fs::write(&path, shot).unwrap();
    browser.close().await.unwrap();
}

#[tokio::test]
async fn a_red_booth_its_alert_and_live_on_the_tablet_link_without_a_password() {
    let webhook = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&webhook)
        .await;
    let hook = format!("{}/hooks/booth", webhook.uri());
    let app = demo_app(Options::demo().with(Setting::AlertWebhookUrl, &hook)).await;
    let (content_type, body) = dslr_body(
        "mistyped",
        "IMG_0001.JPG",
        "image/jpeg",
        &sample("guest-512.jpg"),
    );
    assert_eq!(
        dslr_post(app.addr, "/upload/nanobanana/3", &content_type, &body)
            .await
            .status,
        401
    );
    let made = app
        .admin(reqwest::Method::POST, "/admin/api/live-link")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    let tablet: serde_json::Value = made.json().await.unwrap();
    let tablet = tablet["url"].as_str().unwrap().to_owned();
    let profile = tempfile::tempdir().unwrap();
    let (_driver, browser) = start_browser(profile.path()).await;
    let base = format!("http://{ADMIN_USER}:{ADMIN_PASSWORD}@{}", app.addr);
    browser.goto(&format!("{base}/admin/booths")).await.unwrap();
    wait_for_text(&browser, "tr.booth.alarm td.name", "DESKTOP-K968T3F").await;
    let shot = browser.screenshot().await.unwrap();
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-booths.png");
    std::fs::write(&path, shot).unwrap();

    // Settings → Alerts: a test alert goes out, and the page says how each channel took it.
    browser
        .goto(&format!("{base}/admin/settings"))
        .await
        .unwrap();
    click(&browser, "#send-test-alert").await;
    wait_for_text(
        &browser,
        "#test-alert-outcome",
        "Telegram — не настроено, вебхук — доставлено",
    )
    .await;
    wait_for_text(&browser, "table.alerts", "Проверка").await;
    assert_eq!(webhook.received_requests().await.unwrap().len(), 1);

    // The tablet opens its link with no credentials, and new photos arrive on it.
    browser.goto(&tablet).await.unwrap();
    wait_for_text(&browser, "#live .alarm", "DESKTOP-K968T3F").await;
    assert!(
        browser
            .find(Locator::Css("a[href^='/admin']"))
            .await
            .is_err(),
        "no way into the admin"
    );
    let answer = upload_sample(&app, "/upload/nanobanana/3", "guest-512.jpg").await;
    assert_eq!(answer.status, 200);
    wait_for_text(&browser, "#live-succeeded", "1").await;
    browser.close().await.unwrap();
}

#[tokio::test]
async fn the_preflight_board_fills_in_and_a_drill_shows_its_banner() {
    let (app, _gemini, _images) = crate::preflight::preflight_app().await;
    let profile = tempfile::tempdir().unwrap();
    let (_driver, browser) = start_browser(profile.path()).await;
    let base = format!("http://{ADMIN_USER}:{ADMIN_PASSWORD}@{}", app.addr);
    browser.goto(&format!("{base}/admin/events")).await.unwrap();
    wait_for_text(&browser, "#preflight-offer", "Запусков: 4").await;
    click(&browser, "#preflight-start").await;
    // The page asks before it spends money.
    let asked = browser.get_alert_text().await.unwrap();
    assert!(asked.contains("не больше 0.158 USD"), "{asked}");
    browser.accept_alert().await.unwrap();
    wait_for_text(&browser, "#preflight-status", "Идёт проверка").await;
    wait_for_text(&browser, "tr.outcome-succeeded", "nanobanana/3").await;
    wait_for_text(&browser, "tr.outcome-timed_out", "nanobanana/5").await;
    wait_for_text(&browser, "#preflight-status", "Проверка закончена").await;
    let loaded = browser
        .execute(
            "const img = document.querySelector('tr.outcome-succeeded img.thumb');
             return img !== null && img.complete && img.naturalWidth > 0;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(loaded, serde_json::json!(true), "the result's thumbnail");
    let shot = browser.screenshot().await.unwrap();
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-preflight.png");
    std::fs::write(&path, shot).unwrap();

    browser
        .goto(&format!("{base}/admin/nanobanana"))
        .await
        .unwrap();
    click(&browser, "#drill-start").await;
    wait_for_text(&browser, "#drill-banner", "Учебная тревога: NanoBanana").await;
    click(&browser, "#drill-end").await;
    wait_for_text(&browser, "h1", "NanoBanana").await;
    assert!(
        browser.find(Locator::Css("#drill-banner")).await.is_err(),
        "ended"
    );
    browser.close().await.unwrap();
}

/// The page's and the window's widths, whether the Statistics button is on screen, and the
/// first elements that stick out.
async fn fits(browser: &Client) -> (i64, i64, bool, String) {
    let seen = browser
        .execute(
            "const button = document.getElementById('stats-button').getBoundingClientRect();
             const wide = [...document.querySelectorAll('body *')]
               .filter((e) => e.getBoundingClientRect().right > window.innerWidth)
               .map((e) => `${e.tagName}.${e.className}#${e.id} ${e.outerHTML.slice(0, 80)}`).slice(0, 3).join(' / ');
             return [document.documentElement.scrollWidth, window.innerWidth,
                     button.width > 0 && button.left >= 0 && button.right <= window.innerWidth, wide];",
            vec![],
        )
        .await
        .unwrap();
    (
        seen[0].as_i64().unwrap(),
        seen[1].as_i64().unwrap(),
        seen[2].as_bool().unwrap(),
        seen[3].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn every_page_fits_a_phone_and_speaks_the_operators_language() {
    let app = spawn_app_with_prompt(Options::demo(), "vintage").await;
    // History gets a photo, a switched-off slot's refusal and an unreadable upload.
    assert_eq!(
        upload_sample(&app, "/upload/nanobanana/3", "guest-512.jpg")
            .await
            .status,
        200
    );
    app.put_slot("turbotext", 2, serde_json::json!({"enabled": false}))
        .await;
    assert_eq!(
        upload_sample(&app, "/upload/turbotext/2", "guest-512.jpg")
            .await
            .status,
        409
    );
    let broken = upload_sample(&app, "/upload/nanobanana/3", "truncated.jpg").await;
    assert_eq!(broken.status, 422);
    // A prompt slot with no prompt, for "Try it" to refuse.
    app.put_slot(
        "nanobanana",
        5,
        serde_json::json!({"kind": "prompt", "prompt": ""}),
    )
    .await;
    app.admin(reqwest::Method::POST, "/admin/api/events")
        .json(&serde_json::json!({"name": "Свадьба Анны и Бориса, большой зал"}))
        .send()
        .await
        .unwrap();

    let profile = tempfile::tempdir().unwrap();
    let (_driver, browser) = start_browser(profile.path()).await;
    browser.set_window_size(390, 844).await.unwrap();
    let base = format!("http://{ADMIN_USER}:{ADMIN_PASSWORD}@{}", app.addr);
    for page in [
        "turbotext",
        "deepseek",
        "nanobanana",
        "live",
        "booths",
        "events",
        "jobs",
        "settings",
        "stats",
    ] {
        browser.goto(&format!("{base}/admin/{page}")).await.unwrap();
        let (scroll, inner, stats_visible, wide) = fits(&browser).await;
        assert!(inner <= 400, "a phone's width: {inner}");
        assert!(
            scroll <= inner,
            "/admin/{page} scrolls sideways: {scroll} > {inner}: {wide}"
        );
        assert!(stats_visible, "/admin/{page}: Statistics is on screen");
    }
    let shot = browser.screenshot().await.unwrap();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(dir.join("browser-phone-stats.png"), shot).unwrap();

    // History says why in words; the code and the server's own words are the small print.
    browser.goto(&format!("{base}/admin/jobs")).await.unwrap();
    let mut reasons = Vec::new();
    for cell in browser
        .find_all(Locator::Css("td strong.reason"))
        .await
        .unwrap()
    {
        reasons.push(cell.text().await.unwrap());
    }
    assert!(reasons.contains(&"слот выключен".to_owned()), "{reasons:?}");
    assert!(
        reasons.contains(&"фото не читается".to_owned()),
        "{reasons:?}"
    );
    for reason in &reasons {
        assert!(
            !reason.chars().any(|c| c.is_ascii_alphabetic()),
            "English as the main text: {reason:?}"
        );
    }
    let source = browser.source().await.unwrap();
    assert!(
        source.contains("<span class=\"hint\">slot_disabled"),
        "the code kept as the small print"
    );

    // "Try it" on a slot that cannot run says why in Russian.
    browser
        .goto(&format!("{base}/admin/nanobanana"))
        .await
        .unwrap();
    click(&browser, "#slot-5 a.unfold").await;
    wait_for_text(&browser, "#slot-5 button.save", "Сохранить").await;
    let guest = sample_file("guest-512.jpg").canonicalize().unwrap();
    type_into(
        &browser,
        "#slot-5 input.try-input",
        &guest.to_string_lossy(),
    )
    .await;
    wait_for_text(
        &browser,
        "#slot-5 .try-output .field-error",
        "слот не настроен",
    )
    .await;
    wait_for_text(&browser, "#slot-5 .try-detail", "409 slot_not_configured").await;
    // The switch says what it is.
    click(&browser, "#slot-5 .switch input[name=enabled]").await;
    wait_for_text(&browser, "#slot-5 .switch-state", "Выключен").await;
    let shot = browser.screenshot().await.unwrap();
    std::fs::write(dir.join("browser-phone-nanobanana.png"), shot).unwrap();
    browser.close().await.unwrap();
}
