//! Running an event: its lifecycle and figures (counts, latency, cost with a fallback in the
//! chain), the ZIP export, the Live page's stream, and prompts filled from the booth's values.

use crate::common::*;
use crate::fallbacks::{Fakes, PRIMARY, chained_app, gemini_image, job_json, overloaded};
use boothgate::config::Setting;
use serde_json::{Value, json};
use std::io::Read;
use std::time::Duration;

pub async fn start_event(app: &TestApp, name: &str) -> reqwest::Response {
    app.admin(reqwest::Method::POST, "/admin/api/events")
        .json(&json!({ "name": name }))
        .send()
        .await
        .unwrap()
}

/// The demo model behind nanobanana/3, and an event started.
async fn demo_event(name: &str) -> (TestApp, i64) {
    let app = spawn_app_with_prompt(Options::demo(), "vintage").await;
    let event: Value = start_event(&app, name).await.json().await.unwrap();
    (app, event["id"].as_i64().unwrap())
}

async fn export(app: &TestApp, id: i64) -> reqwest::Response {
    let path = format!("/admin/api/events/{id}/export");
    app.admin(reqwest::Method::GET, &path).send().await.unwrap()
}

/// A body-less call as a script makes it: with the JSON type, which no HTML form can send.
async fn post(app: &TestApp, path: &str) -> reqwest::Response {
    app.admin(reqwest::Method::POST, path)
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_event_counts_its_jobs_latency_and_cost_with_the_fallback_that_drew() {
    let fakes = Fakes::start(overloaded(), 0).await;
    let options = fakes
        .options()
        .with(Setting::PriceNanobanana, "0.04")
        .with(Setting::PriceDeepseek, "0,02")
        .with(Setting::Currency, "EUR");
    let app = chained_app(options, 25).await;
    let before = upload_sample(&app, PRIMARY, "guest-512.jpg").await;
    assert_eq!(before.status, 200);

    let created = start_event(&app, "  Wedding <A&B>  ").await;
    assert_eq!(created.status(), 201);
    let event: Value = created.json().await.unwrap();
    let id = event["id"].as_i64().unwrap();
    assert_eq!(event["name"], "Wedding <A&B>");
    assert!(event["ended_at"].is_null());
    let mut jobs = Vec::new();
    for _ in 0..2 {
        let answer = upload_sample(&app, PRIMARY, "guest-512.jpg").await;
        assert_eq!(answer.header("x-boothgate-answered-by"), Some("deepseek/2"));
        jobs.push(job_json(&app, &answer).await);
    }
    let refused = upload_sample(&app, PRIMARY, "not-an-image.jpg").await;
    assert_eq!(refused.status, 415);
    app.job_in_trash(&refused, "failed").await;

    // A second event ends the first; the next photo belongs to the second.
    let second: Value = start_event(&app, "After-party").await.json().await.unwrap();
    let after = upload_sample(&app, PRIMARY, "guest-512.jpg").await;
    assert_eq!(job_json(&app, &after).await["event"], second["id"]);

    let report = app.admin_json(&format!("/admin/api/events/{id}")).await;
    assert!(report["ended_at"].is_string(), "{report}");
    assert_eq!(report["jobs"], 3);
    assert_eq!(report["succeeded"], 2);
    assert_eq!(report["failed"], 1);
    assert_eq!(report["timed_out"], 0);
    assert_eq!(report["rescued"], 2);
    // Two of the three guests got an AI photo; the unreadable photo never reached a model.
    assert_eq!(report["ai_result_rate"], 2.0 / 3.0);
    assert_eq!(report["model_success_rate"], 1.0);
    assert_eq!(report["misses"], json!({"unsupported_media_type": 1}));
    let mut latencies: Vec<i64> = Vec::new();
    for job in &jobs {
        assert_eq!(job["event"], id);
        latencies.push(job["latency_ms"].as_i64().unwrap());
    }
    let failed = app
        .finished_job(refused.json()["job"].as_str().unwrap())
        .await;
    latencies.push(failed.latency_ms.unwrap());
    latencies.sort();
    assert_eq!(report["latency_ms"]["p50"], latencies[1]);
    assert_eq!(report["latency_ms"]["p95"], latencies[2]);
    // Two images drawn by the images endpoint at 0.02; the 503s drew nothing.
    assert_eq!(
        report["cost"],
        json!({"currency": "EUR", "total": 0.04,
               "by_provider": {"turbotext": 0.0, "deepseek": 0.04, "nanobanana": 0.0}})
    );
    assert_eq!(
        report["by_slot"],
        // The photos sent to the slot cost what its fallback drew for them.
        json!([{"slot": "nanobanana/3", "jobs": 3, "succeeded": 2, "cost": 0.04}])
    );

    let listed = app.admin_json(&format!("/admin/api/jobs?event={id}")).await;
    assert_eq!(listed["jobs"].as_array().unwrap().len(), 3);
    let stats = app
        .admin_json(&format!("/admin/api/stats?event={id}"))
        .await;
    assert_eq!(stats["providers"]["deepseek"]["processed"], 2);
    assert_eq!(stats["providers"]["nanobanana"]["rescued"], 2);
    let page = app.admin_html(&format!("/admin/stats?event={id}")).await;
    assert!(
        page.contains(r#"<td class="slot-cost">0.04</td>"#),
        "{page}"
    );
    assert!(page.contains("0.04 EUR"));
    let all_time = app.admin_json("/admin/api/stats").await;
    assert_eq!(all_time["providers"]["deepseek"]["processed"], 4);
    assert_eq!(all_time["cost"]["total"], 0.08);

    // Ending an ended event changes nothing; an unknown one is not found.
    let ended_at = report["ended_at"].clone();
    let again: Value = post(&app, &format!("/admin/api/events/{id}/end"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["ended_at"], ended_at);
    assert_eq!(post(&app, "/admin/api/events/999/end").await.status(), 404);
    let list = app.admin_json("/admin/api/events").await;
    assert_eq!(list["events"][0]["name"], "After-party");
    assert!(list["events"][0]["ended_at"].is_null());

    let page = app.admin_html("/admin/events").await;
    assert!(
        page.contains("Wedding &#60;A&#38;B&#62;"),
        "the name is escaped"
    );
    assert!(!page.contains("<A&B>"));
    assert!(page.contains("0.04 EUR"), "{page}");
}

#[tokio::test]
async fn event_names_are_bounded() {
    let app = spawn_app(Options::demo()).await;
    for name in ["", "   ", &"я".repeat(121)] {
        let refused = start_event(&app, name).await;
        assert_eq!(refused.status(), 422, "{name:?}");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["field"], "name");
    }
    assert_eq!(start_event(&app, &"я".repeat(120)).await.status(), 201);
}

#[tokio::test]
async fn the_export_is_a_zip_of_results_originals_and_a_csv_excel_reads() {
    let (app, id) = demo_event("Корпоратив").await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let answer = upload_sample(&app, PRIMARY, "guest-512.jpg").await;
        assert_eq!(answer.status, 200);
        ids.push(answer.header("x-boothgate-job").unwrap().to_owned());
    }
    let response = export(&app, id).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/zip");
    let disposition = response.headers()["content-disposition"].to_str().unwrap();
    assert!(
        disposition.contains(
            "filename*=UTF-8''%D0%9A%D0%BE%D1%80%D0%BF%D0%BE%D1%80%D0%B0%D1%82%D0%B8%D0%B2.zip"
        ),
        "named after the event: {disposition}"
    );
    assert!(
        response.headers().get("content-length").is_none(),
        "streamed"
    );
    let bytes = response.bytes().await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut csv = String::new();
    zip.by_name("jobs.csv")
        .unwrap()
        .read_to_string(&mut csv)
        .unwrap();
    assert!(csv.starts_with('\u{FEFF}'), "a byte-order mark for Excel");
    let lines: Vec<&str> = csv.trim_end().split("\r\n").collect();
    assert_eq!(lines.len(), 3, "{csv}");
    // The server speaks Russian by default: Russian Excel's separator, headers and words.
    assert!(
        lines[0].starts_with("\u{FEFF}время;задание;слот;статус;причина"),
        "{}",
        lines[0]
    );
    let moscow = jiff::tz::TimeZone::get("Europe/Moscow").unwrap();
    let names: Vec<String> = zip.file_names().map(str::to_owned).collect();
    for id in &ids {
        let job = app.job(id).await;
        let row = lines.iter().find(|l| l.contains(id.as_str())).unwrap();
        assert!(row.contains("nanobanana/3;готово"), "{row}");
        assert!(row.contains("DESKTOP-K968T3F"), "{row}");
        let taken = jiff::Timestamp::from_millisecond(job.created_at)
            .unwrap()
            .to_zoned_datetime(moscow.clone());
        let local = taken.strftime("%Y-%m-%d %H:%M:%S").to_string();
        assert!(
            row.starts_with(&local),
            "the operator's time {local}: {row}"
        );
        // Photos are named by time and slot with the job id, as the row says.
        let base = format!("{}_nanobanana-3_{id}", taken.strftime("%Y-%m-%d_%H-%M-%S"));
        assert!(row.ends_with(&base), "{row}");
        for (name, rel) in [
            (format!("results/{base}.jpg"), job.result_path.unwrap()),
            (format!("originals/{base}.jpg"), job.original_path),
        ] {
            assert!(names.contains(&name), "{name} in {names:?}");
            let mut inside = Vec::new();
            zip.by_name(&name)
                .unwrap()
                .read_to_end(&mut inside)
                .unwrap();
            let on_disk = std::fs::read(app.data_dir().join("media").join(rel)).unwrap();
            assert_eq!(inside, on_disk, "{name}");
        }
    }
    assert_eq!(zip.len(), 5);
}

#[tokio::test]
async fn a_browser_leaving_mid_export_leaves_nothing_behind() {
    let (app, id) = demo_event("Big night").await;
    for _ in 0..3 {
        assert_eq!(
            upload_sample(&app, PRIMARY, "guest-6000x4000.jpg")
                .await
                .status,
            200
        );
    }
    let files = app.media_files();
    let mut response = export(&app, id).await;
    let first = response.chunk().await.unwrap().unwrap();
    assert!(first.starts_with(b"PK"), "a ZIP begins");
    drop(response);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.media_files(), files, "no file made or lost");
    app.assert_alive().await;
}

#[tokio::test]
async fn the_live_stream_tells_a_job_start_and_its_end() {
    let (app, _) = demo_event("Live test").await;
    let mut stream = app
        .admin(reqwest::Method::GET, "/admin/live/events")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let answer = upload_sample(&app, PRIMARY, "guest-512.jpg").await;
    let id = answer.header("x-boothgate-job").unwrap().to_owned();
    let mut text = String::new();
    let messages = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let chunk = stream
                .chunk()
                .await
                .unwrap()
                .expect("the stream stays open");
            text.push_str(&String::from_utf8_lossy(&chunk));
            let messages: Vec<Value> = text
                .split("\n\n")
                .filter_map(|m| m.lines().find_map(|l| l.strip_prefix("data: ")))
                .filter_map(|data| serde_json::from_str(data).ok())
                .collect();
            if messages.iter().any(|m| m["job"]["type"] == "ended") {
                return messages;
            }
        }
    })
    .await
    .expect("the job's end arrives");
    assert!(text.contains("event: job"));
    assert_eq!(messages[0]["job"]["type"], "started");
    let ended = messages.last().unwrap();
    assert_eq!(ended["job"]["job"], id.as_str());
    assert_eq!(ended["job"]["status"], "succeeded");
    assert_eq!(ended["counts"]["event"], "Live test");
    assert_eq!(ended["counts"]["succeeded"], 1);
    assert_eq!(ended["counts"]["health"]["nanobanana"], "ok");
    assert_eq!(
        ended["titles"]["nanobanana/3"], "NanoBanana 3",
        "slots by name"
    );

    let page = app.admin_html("/admin/live").await;
    assert!(
        page.contains(&format!("/admin/jobs/{id}/after")),
        "the last photo is shown"
    );
}

#[tokio::test]
async fn live_names_slots_shows_why_a_guest_got_nothing_and_the_running_events_photos() {
    let app = spawn_app_with_prompt(Options::demo(), "vintage").await;
    let named = json!({"name": "Винтаж", "kind": "prompt", "prompt": "vintage"});
    assert_eq!(app.put_slot("nanobanana", 3, named).await.status(), 200);
    let job_of = |answer: &RawResponse| answer.header("x-boothgate-job").unwrap().to_owned();
    let before = job_of(&upload_sample(&app, PRIMARY, "guest-512.jpg").await);
    start_event(&app, "Свадьба").await;
    let during = job_of(&upload_sample(&app, PRIMARY, "guest-512.jpg").await);
    let off = json!({"name": "Ретро", "kind": "prompt", "prompt": "retro", "enabled": false});
    assert_eq!(app.put_slot("nanobanana", 5, off).await.status(), 200);
    let refused = upload_sample(&app, "/upload/nanobanana/5", "guest-512.jpg").await;
    assert_eq!(refused.status, 409);
    let failed = refused.json()["job"].as_str().unwrap().to_owned();

    let page = app.admin_html("/admin/live").await;
    assert!(page.contains(&format!("/admin/jobs/{during}/after")));
    assert!(
        !page.contains(&format!("/admin/jobs/{before}/after")),
        "while an event runs, its photos only"
    );
    assert!(page.contains("<figcaption>NanoBanana 3 «Винтаж»</figcaption>"));
    let failure = format!(
        "<li data-job=\"{failed}\">NanoBanana 5 «Ретро» · <strong>слот выключен</strong> · <a href=\"/admin/jobs?job={failed}\">"
    );
    assert!(page.contains(&failure), "{page}");
    // The link finds that one job in History.
    let history = app.admin_html(&format!("/admin/jobs?job={failed}")).await;
    assert!(history.contains(&format!("id=\"job-{failed}\"")));
    assert_eq!(history.matches("<tr id=\"job-").count(), 1);
}

#[tokio::test]
async fn placeholders_are_filled_from_the_url_then_the_form_and_the_sent_prompt_is_kept() {
    let fakes = Fakes::start(gemini_image(), 0).await;
    let prompt = "{{{style|pirate}}} for {name}, {hat}";
    let app = spawn_app_with_prompt(fakes.options(), prompt).await;
    let card = app.admin_html("/admin/nanobanana").await;
    assert!(card.contains("<code>hat</code>, <code>name</code>, <code>style</code>"));
    // The card offers the URL with a DSLR Remote Pro survey token for each placeholder.
    assert!(
        card.contains("?hat=%survey1%&#38;name=%survey2%&#38;style=%survey3%\""),
        "the survey URL"
    );

    let cases = [
        // From the URL (DSLR Remote Pro's survey token), the form's `name` field after it.
        ("?style=super%20hero", "{super hero} for DESKTOP-K968T3F, "),
        // No value: the default; a value's braces and control characters stay inert.
        ("", "{pirate} for DESKTOP-K968T3F, "),
        ("?style=%7Bname%7D%0A%07&name=Anna", "{{name}} for Anna, "),
    ];
    for (i, (query, sent)) in cases.iter().enumerate() {
        let answer = upload_sample(&app, &format!("{PRIMARY}{query}"), "guest-512.jpg").await;
        assert_eq!(answer.status, 200, "{query}");
        let job = app.job(answer.header("x-boothgate-job").unwrap()).await;
        assert_eq!(job.prompt.as_deref(), Some(*sent), "{query}");
        let asked = fakes.gemini.received_requests().await.unwrap();
        let calls: Vec<_> = asked
            .iter()
            .filter(|r| r.url.path().ends_with(":generateContent"))
            .collect();
        let body: Value = serde_json::from_slice(&calls[i].body).unwrap();
        let text = body["contents"][0]["parts"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|p| p["text"].as_str())
            .unwrap()
            .to_owned();
        // Gemini's instruction wraps the prompt (its trailing comma and space trimmed).
        let core = sent.trim_end_matches([',', ' ']);
        assert!(text.contains(core), "the model got {text:?}");
    }
    let history = app.admin_html("/admin/jobs").await;
    assert!(history.contains("{super hero} for DESKTOP-K968T3F"));
}
