//! Rehearsing an event: a fire drill that fails a provider's calls without sending them, a setup
//! exported and imported whole or not at all, and a card copied onto another slot.

use crate::common::*;
use crate::fallbacks::{Fakes, PRIMARY, chained_app, gemini_image, job_json, outcomes, pair};
use serde_json::{Value, json};
use std::io::{Read, Write};

async fn drill(app: &TestApp, body: Value) -> reqwest::Response {
    app.admin(reqwest::Method::POST, "/admin/api/drill")
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_drill_fails_the_providers_calls_unsent_and_the_fallback_answers() {
    let fakes = Fakes::start(gemini_image(), 0).await;
    let app = chained_app(fakes.options(), 25).await;
    let started = drill(&app, json!({"provider": "nanobanana", "minutes": 10})).await;
    assert_eq!(started.status(), 200);
    let started: Value = started.json().await.unwrap();
    assert_eq!(started["provider"], "nanobanana");
    assert!(started["until"].as_str().unwrap().ends_with('Z'));
    for _ in 0..4 {
        let answer = upload_sample(&app, PRIMARY, "guest-512.jpg").await;
        assert_eq!(answer.status, 200);
        let job = job_json(&app, &answer).await;
        assert_eq!(job["drill"], true);
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
                .contains("fire drill"),
            "{job}"
        );
    }
    assert_eq!(fakes.generations().await, 0, "nothing sent to Gemini");
    let providers = app.admin_json("/admin/api/providers").await;
    assert_eq!(providers["nanobanana"]["health"], "ok", "health untouched");
    let page = app.admin_html("/admin/stats").await;
    assert!(page.contains("Учебная тревога: NanoBanana"), "the banner");
    let history = app.admin_html("/admin/jobs").await;
    assert!(history.contains(r#"<span class="badge drill">тревога</span>"#));
    let refused = drill(&app, json!({"provider": "nanobanana", "minutes": 0})).await;
    assert_eq!(refused.status(), 422);

    let ended = app
        .admin(
            reqwest::Method::DELETE,
            "/admin/api/drill?provider=nanobanana",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 204);
    let answer = upload_sample(&app, PRIMARY, "guest-512.jpg").await;
    let job = job_json(&app, &answer).await;
    assert_eq!(job["drill"], false);
    assert_eq!(job["answered_by"], "nanobanana/3");
    assert_eq!(fakes.generations().await, 1);

    // A drill ends by itself when its time is up.
    drill(&app, json!({"provider": "nanobanana", "minutes": 1})).await;
    app.state.clock.advance(std::time::Duration::from_secs(61));
    let answer = upload_sample(&app, PRIMARY, "guest-512.jpg").await;
    assert_eq!(job_json(&app, &answer).await["drill"], false);
    assert!(
        !app.admin_html("/admin/stats")
            .await
            .contains("drill-banner")
    );
}

async fn export(app: &TestApp) -> Vec<u8> {
    let answer = app
        .admin(reqwest::Method::GET, "/admin/api/slots/export")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "application/zip");
    answer.bytes().await.unwrap().to_vec()
}

async fn import(app: &TestApp, zip: Vec<u8>) -> reqwest::Response {
    app.admin(reqwest::Method::POST, "/admin/api/slots/import")
        .header("content-type", "application/zip")
        .body(zip)
        .send()
        .await
        .unwrap()
}

/// Every slot as the API gives it, and each reference's bytes.
async fn snapshot(app: &TestApp) -> (Vec<Value>, Vec<Option<Vec<u8>>>) {
    let mut slots = Vec::new();
    let mut references = Vec::new();
    for provider in ["turbotext", "deepseek", "nanobanana"] {
        for n in 1..=20 {
            let slot = app
                .admin_json(&format!("/admin/api/slots/{provider}/{n}"))
                .await;
            let reference = match slot["has_reference"].as_bool().unwrap() {
                true => {
                    let answer = app
                        .admin_get(&format!("/admin/references/{provider}/{n}"))
                        .await;
                    Some(answer.bytes().await.unwrap().to_vec())
                }
                false => None,
            };
            slots.push(slot);
            references.push(reference);
        }
    }
    (slots, references)
}

/// A ZIP of `files`, deflated, as an operator's own zip tool makes it.
fn zip_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        out.start_file(*name, options).unwrap();
        out.write_all(bytes).unwrap();
    }
    out.finish().unwrap().into_inner()
}

/// The files of an archive, by name.
fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut entry = archive.by_index(i).unwrap();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            (entry.name().to_owned(), data)
        })
        .collect()
}

#[tokio::test]
async fn an_exported_setup_imports_back_byte_for_byte_and_a_bad_one_changes_nothing() {
    let app = demo_app(Options::demo()).await;
    let face = sample("guest-512.jpg");
    assert_eq!(
        app.put_reference("turbotext", 2, face.clone())
            .await
            .status(),
        200
    );
    let saved = app
        .put_slot(
            "turbotext",
            2,
            json!({"kind": "face_swap", "name": "Космонавт", "fallbacks": ["nanobanana/3"],
                   "fallback_after_secs": 12}),
        )
        .await;
    assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());
    let before = snapshot(&app).await;
    let setup = export(&app).await;
    let files = unzip(&setup);
    assert_eq!(files[0].0, "slots.json");
    let json: Value = serde_json::from_slice(&files[0].1).unwrap();
    assert_eq!(json["slots"].as_array().unwrap().len(), 60);
    assert_eq!(files.len(), 2, "slots.json and one reference");
    assert_eq!(files[1].1, face);

    // The slots change, then the setup comes back whole.
    app.put_slot(
        "nanobanana",
        3,
        json!({"prompt": "something else", "enabled": false}),
    )
    .await;
    app.admin(
        reqwest::Method::DELETE,
        "/admin/api/slots/turbotext/2/reference",
    )
    .send()
    .await
    .unwrap();
    let renewed = app
        .admin(reqwest::Method::POST, "/admin/api/slots/turbotext/2/link")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(renewed.status(), 200);
    assert_ne!(snapshot(&app).await, before);
    let imported = import(&app, setup.clone()).await;
    assert_eq!(imported.status(), 200);
    assert_eq!(imported.json::<Value>().await.unwrap()["imported"], 2);
    assert_eq!(
        snapshot(&app).await,
        before,
        "every slot, link and reference"
    );
    let booth = upload_sample(&app, "/upload/nanobanana/3", "guest-512.jpg").await;
    assert_eq!(booth.status, 200, "the booth's old link works again");

    // Each bad setup is refused, naming what is wrong, and changes nothing.
    let slots_json = |edit: &dyn Fn(&mut Value)| {
        let mut json = json.clone();
        edit(&mut json);
        serde_json::to_vec(&json).unwrap()
    };
    let reference = files[1].clone();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "not a zip",
            b"PK but not really".to_vec(),
            "not a ZIP archive",
        ),
        (
            "no slots.json",
            zip_of(&[("other.txt", b"hi".to_vec())]),
            "no slots.json",
        ),
        (
            "a slot that does not exist",
            zip_of(&[(
                "slots.json",
                slots_json(&|j| j["slots"][0]["slot"] = json!("turbotext/21")),
            )]),
            "not a slot",
        ),
        (
            "a bad field",
            zip_of(&[
                (
                    "slots.json",
                    slots_json(&|j| j["slots"][1]["kind"] = json!("magic")),
                ),
                (&reference.0, reference.1.clone()),
            ]),
            "turbotext/2",
        ),
        (
            "a link token twice",
            zip_of(&[
                (
                    "slots.json",
                    slots_json(&|j| {
                        j["slots"][1]["link_token"] = j["slots"][0]["link_token"].clone()
                    }),
                ),
                (&reference.0, reference.1.clone()),
            ]),
            "another slot's",
        ),
        (
            "a missing reference",
            zip_of(&[("slots.json", json.to_string().into_bytes())]),
            "is missing from the archive",
        ),
        (
            "a reference that does not decode",
            zip_of(&[
                ("slots.json", json.to_string().into_bytes()),
                (&reference.0, b"\xFF\xD8\xFF\xE0 truncated jpeg".to_vec()),
            ]),
            "cannot be read",
        ),
    ];
    for (case, zip, said) in cases {
        let refused = import(&app, zip).await;
        assert_eq!(refused.status(), 422, "{case}");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["reason"], "invalid_setup", "{case}");
        assert!(
            body["message"].as_str().unwrap().contains(said),
            "{case}: {body}"
        );
        assert_eq!(snapshot(&app).await, before, "{case}: nothing changed");
    }
    // An operator's own re-zip (deflated) is read too.
    let rezipped = zip_of(&[
        ("slots.json", files[0].1.clone()),
        (&reference.0, reference.1.clone()),
    ]);
    assert_eq!(import(&app, rezipped).await.status(), 200);
    let references = app
        .media_files()
        .into_iter()
        .filter(|f| f.starts_with("references/"))
        .count();
    assert_eq!(references, 1, "replaced references are deleted");
}

#[tokio::test]
async fn a_card_copied_onto_another_slot_keeps_the_targets_link() {
    let app = demo_app(Options::demo()).await;
    assert_eq!(
        app.put_reference("nanobanana", 3, sample("guest-512.jpg"))
            .await
            .status(),
        200
    );
    app.put_slot(
        "nanobanana",
        3,
        json!({"name": "Винтаж", "fallbacks": ["nanobanana/7"]}),
    )
    .await;
    let target_before = app.admin_json("/admin/api/slots/nanobanana/7").await;
    let copied = app
        .admin(reqwest::Method::POST, "/admin/api/slots/nanobanana/3/copy")
        .json(&json!({"to": "nanobanana/7"}))
        .send()
        .await
        .unwrap();
    assert_eq!(copied.status(), 200);
    let target = app.admin_json("/admin/api/slots/nanobanana/7").await;
    assert_eq!(target["name"], "Винтаж");
    assert_eq!(target["prompt"], "vintage look");
    assert_eq!(target["has_reference"], true);
    assert_eq!(target["fallbacks"], json!([]), "not its own fallback");
    assert_eq!(target["upload_url"], target_before["upload_url"]);
    let source = app.admin_get("/admin/references/nanobanana/3").await;
    let copy = app.admin_get("/admin/references/nanobanana/7").await;
    assert_eq!(source.bytes().await.unwrap(), copy.bytes().await.unwrap());
    let answer = upload_sample(&app, "/upload/nanobanana/7", "guest-512.jpg").await;
    assert_eq!(answer.status, 200);
    let onto_itself = app
        .admin(reqwest::Method::POST, "/admin/api/slots/nanobanana/3/copy")
        .json(&json!({"to": "nanobanana/3"}))
        .send()
        .await
        .unwrap();
    assert_eq!(onto_itself.status(), 422);
}

/// The running event's name, once `done` holds of it.
async fn running_event(app: &TestApp, done: impl Fn(Option<&str>) -> bool) -> Option<String> {
    for _ in 0..100 {
        let running = app
            .state
            .store
            .running_event()
            .await
            .unwrap()
            .map(|e| e.name);
        if done(running.as_deref()) {
            return running;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the schedule was not followed");
}

#[tokio::test]
async fn a_scheduled_event_starts_and_ends_on_time() {
    let mut options = Options::demo();
    options.watch_every = Some(std::time::Duration::from_millis(20));
    let app = demo_app(options).await;
    // On the operator's clock (Moscow, UTC+3): in one hour, for two.
    let zone = jiff::tz::TimeZone::get("Europe/Moscow").unwrap();
    let now = jiff::Timestamp::now().to_zoned_datetime(zone);
    let local = |hours: i64| {
        let at = now.checked_add(jiff::Span::new().hours(hours)).unwrap();
        at.strftime("%Y-%m-%dT%H:%M").to_string()
    };
    let planned = app
        .admin(reqwest::Method::POST, "/admin/api/events/schedule")
        .json(&json!({"name": "Выпускной", "starts_at": local(1), "ends_at": local(3)}))
        .send()
        .await
        .unwrap();
    assert_eq!(planned.status(), 201);
    let planned: Value = planned.json().await.unwrap();
    assert!(planned["starts_at"].as_str().unwrap().ends_with('Z'));
    let page = app.admin_html("/admin/events").await;
    assert!(
        page.contains("Следующее: «Выпускной»"),
        "the next one is shown"
    );
    assert_eq!(running_event(&app, |e| e.is_none()).await, None);

    app.state
        .clock
        .advance(std::time::Duration::from_secs(3600));
    let name = running_event(&app, |e| e.is_some()).await;
    assert_eq!(name.as_deref(), Some("Выпускной"));
    let answer = upload_sample(&app, "/upload/nanobanana/3", "guest-512.jpg").await;
    let job = job_json(&app, &answer).await;
    assert!(job["event"].is_i64(), "the booth's photo belongs to it");

    app.state
        .clock
        .advance(std::time::Duration::from_secs(2 * 3600));
    assert_eq!(running_event(&app, |e| e.is_none()).await, None);
    let list = app.admin_json("/admin/api/events/schedule").await;
    assert_eq!(list["scheduled"], json!([]), "done");

    let backwards = app
        .admin(reqwest::Method::POST, "/admin/api/events/schedule")
        .json(&json!({"name": "x", "starts_at": local(5), "ends_at": local(4)}))
        .send()
        .await
        .unwrap();
    assert_eq!(backwards.status(), 422);
}
