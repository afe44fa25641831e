//! The booth's upload, end to end against the real server, as DSLR Remote Pro sends it.

use crate::common::*;
use boothgate::config::Setting;
use boothgate::domain::{Kind, Provider, SlotId};
use boothgate::store::NewJob;
use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};

const SLOT: &str = "/upload/nanobanana/3";

fn mean_brightness(bytes: &[u8]) -> f64 {
    let image = image::load_from_memory(bytes).unwrap().into_rgb8();
    image.pixels().map(|p| f64::from(p.0[2])).sum::<f64>()
        / f64::from(image.width() * image.height())
}

#[tokio::test]
async fn dslr_upload_gets_the_processed_photo_back() {
    let app = demo_app(Options::demo()).await;
    let original = sample("guest-512.jpg");
    let response = upload_sample(&app, &format!("{SLOT}?session=42"), "guest-512.jpg").await;
    assert!(
        response.continued,
        "the server asked for the body with 100 Continue"
    );
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(response.header("content-type"), Some("image/jpeg"));
    assert_eq!(
        response.header("content-length"),
        Some(response.body.len().to_string().as_str())
    );
    assert_eq!(image_size(&response.body), (512, 512));
    // The demo effect tones the photo sepia: far less blue than the guest's photo.
    assert!(mean_brightness(&response.body) < mean_brightness(&original) - 10.0);

    let job_id = response
        .header("x-boothgate-job")
        .expect("job header")
        .to_owned();
    let job = app.job(&job_id).await;
    assert_eq!(job.status.as_str(), "succeeded");
    assert_eq!(job.booth_name.as_deref(), Some("DESKTOP-K968T3F"));
    let fields: serde_json::Value = serde_json::from_str(&job.fields).unwrap();
    assert_eq!(fields["hash"], "7b6c683e1d3fd29c8701791c54e3c12a236f5a5b");
    assert_eq!(fields["version"], "3.30.2");
    assert!(
        fields.get("password").is_none(),
        "the password is never stored"
    );
    assert!(!job.fields.contains(UPLOAD_PASSWORD));
    assert!(job.latency_ms.unwrap() > 0 && job.model_ms.unwrap() >= 50);

    let files = app.media_files();
    let day = boothgate::media::day_of(job.created_at);
    assert!(
        files.contains(&format!("originals/{day}/{job_id}.jpg")),
        "{files:?}"
    );
    assert!(files.contains(&format!("results/{day}/{job_id}.jpg")));
    assert!(files.contains(&format!("thumbs/{job_id}-before.jpg")));
    assert!(files.contains(&format!("thumbs/{job_id}-after.jpg")));
    let stored = std::fs::read(app.data_dir().join("media").join(&job.original_path)).unwrap();
    assert_eq!(stored, original, "the original is kept byte for byte");
    let result =
        std::fs::read(app.data_dir().join("media").join(job.result_path.unwrap())).unwrap();
    assert_eq!(result, response.body);
}

#[tokio::test]
async fn photo_is_also_accepted_as_file_or_image() {
    let app = demo_app(Options::demo()).await;
    for field in ["file", "image"] {
        let form = reqwest::multipart::Form::new()
            .text("password", UPLOAD_PASSWORD)
            .part(
                field,
                reqwest::multipart::Part::bytes(sample("guest-512.jpg")).file_name("a.jpg"),
            );
        let response = app
            .client
            .post(app.url(SLOT))
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{field}");
    }
}

#[tokio::test]
async fn exif_rotated_upload_comes_back_upright() {
    let app = demo_app(Options::demo()).await;
    let response = upload_sample(&app, SLOT, "guest-exif-rotated.jpg").await;
    assert_eq!(response.status, 200);
    assert_eq!(image_size(&response.body), (512, 768));
}

#[tokio::test]
async fn png_in_png_out() {
    let app = demo_app(Options::demo()).await;
    let response = upload_sample(&app, SLOT, "guest-512.png").await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(response.header("content-type"), Some("image/png"));
    assert!(response.body.starts_with(b"\x89PNG"));
    assert_eq!(image_size(&response.body), (512, 512));
}

#[tokio::test]
async fn large_upload_is_capped_at_max_result_side() {
    let app = demo_app(Options::demo()).await;
    let response = upload_sample(&app, SLOT, "guest-6000x4000.jpg").await;
    assert_eq!(response.status, 200);
    assert_eq!(image_size(&response.body), (2048, 1365));
}

#[tokio::test]
async fn face_swap_and_background_use_the_reference() {
    let app = spawn_app(Options::demo()).await;
    for (slot, kind) in [(1, "face_swap"), (2, "background")] {
        app.put_slot("turbotext", slot, json!({"kind": kind})).await;
        let missing =
            upload_sample(&app, &format!("/upload/turbotext/{slot}"), "guest-512.jpg").await;
        assert_eq!(missing.status, 409, "{kind} without a reference");
        assert_eq!(missing.json()["reason"], "slot_not_configured");
        app.put_reference("turbotext", slot, sample("reference-background.jpg"))
            .await;
        let response =
            upload_sample(&app, &format!("/upload/turbotext/{slot}"), "guest-512.jpg").await;
        assert_eq!(response.status, 200, "{kind}");
        assert_eq!(image_size(&response.body), (512, 512));
    }
}

/// The JSON error body of the contract, with the expected status and reason.
fn assert_error(response: &RawResponse, status: u16, reason: &str) -> Option<String> {
    assert_eq!(
        response.status,
        status,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(response.header("content-type"), Some("application/json"));
    let body = response.json();
    assert_eq!(body["reason"], reason);
    assert_eq!(
        body["status"],
        if status == 504 { "timeout" } else { "error" }
    );
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    body["job"].as_str().map(str::to_owned)
}

#[tokio::test]
async fn requests_that_are_not_uploads_get_400() {
    let app = demo_app(Options::demo()).await;
    let json = dslr_post(app.addr, SLOT, "application/json", b"{}").await;
    assert_error(&json, 400, "invalid_request");
    let (content_type, body) = dslr_body(UPLOAD_PASSWORD, "a.jpg", "image/jpeg", b"");
    let cut = &body[..body.len() / 2];
    let broken = dslr_post(app.addr, SLOT, &content_type, cut).await;
    assert_eq!(broken.status, 400);
    let form = reqwest::multipart::Form::new()
        .text("password", UPLOAD_PASSWORD)
        .text("name", "x");
    let no_photo = app
        .client
        .post(app.url(SLOT))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(no_photo.status(), 400);
    assert_eq!(
        no_photo.json::<serde_json::Value>().await.unwrap()["reason"],
        "invalid_request"
    );
    assert!(app.media_files().is_empty());
}

#[tokio::test]
async fn wrong_or_missing_password_stores_nothing() {
    let app = demo_app(Options::demo()).await;
    for password in ["wrong", "", "booth-secret-12"] {
        let (content_type, body) =
            dslr_body(password, "a.jpg", "image/jpeg", &sample("guest-512.jpg"));
        let response = dslr_post(app.addr, SLOT, &content_type, &body).await;
        assert_eq!(assert_error(&response, 401, "invalid_password"), None);
    }
    let form = reqwest::multipart::Form::new().part(
        "fileToUpload",
        reqwest::multipart::Part::bytes(sample("guest-512.jpg")).file_name("a.jpg"),
    );
    let missing = app
        .client
        .post(app.url(SLOT))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
    assert!(app.media_files().is_empty());
    assert!(
        app.state
            .store
            .jobs(&Default::default())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn unknown_slots_get_404() {
    let app = demo_app(Options::demo()).await;
    for path in [
        "/upload/midjourney/1",
        "/upload/nanobanana/21",
        "/upload/nanobanana/0",
        "/upload/nanobanana/x",
    ] {
        let response = upload_sample(&app, path, "guest-512.jpg").await;
        assert_error(&response, 404, "slot_not_found");
    }
    assert!(app.media_files().is_empty());
}

#[tokio::test]
async fn disabled_or_unconfigured_slots_get_409_and_keep_the_photo() {
    let app = demo_app(Options::demo()).await;
    app.put_slot("nanobanana", 3, json!({"enabled": false}))
        .await;
    let response = upload_sample(&app, SLOT, "guest-512.jpg").await;
    assert_error(&response, 409, "slot_disabled").expect("a job id");
    app.job_in_trash(&response, "failed").await;

    app.put_slot("nanobanana", 4, json!({"kind": "prompt", "prompt": ""}))
        .await;
    let response = upload_sample(&app, "/upload/nanobanana/4", "guest-512.jpg").await;
    assert_error(&response, 409, "slot_not_configured").expect("a job id");
    app.job_in_trash(&response, "failed").await;
}

#[tokio::test]
async fn oversized_upload_gets_413_before_its_body_is_sent() {
    let app = demo_app(Options::demo().with(Setting::MaxUploadMb, "1")).await;
    let big = sample("guest-6000x4000.jpg");
    let (content_type, body) = dslr_body(UPLOAD_PASSWORD, "big.jpg", "image/jpeg", &big);
    let response = dslr_post(app.addr, SLOT, &content_type, &body).await;
    assert!(!response.continued, "refused on its Content-Length alone");
    assert_error(&response, 413, "payload_too_large");

    // Without a Content-Length (chunked), the cap holds while streaming.
    let chunked = chunked_post(&app, &content_type, &body).await;
    assert!(chunked.starts_with("HTTP/1.1 413"), "{chunked}");
    assert!(app.media_files().is_empty());
}

/// Sends the body in chunks without a Content-Length; returns the answer's head.
async fn chunked_post(app: &TestApp, content_type: &str, body: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST {SLOT} HTTP/1.1\r\nhost: x\r\ncontent-type: {content_type}\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for chunk in body.chunks(64 * 1024) {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        if stream.write_all(&framed).await.is_err() {
            break; // the server stopped reading: its answer is waiting
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = vec![0u8; 512];
    let n = stream.read(&mut answer).await.unwrap_or(0);
    String::from_utf8_lossy(&answer[..n]).into_owned()
}

#[tokio::test]
async fn files_that_are_not_images_get_415_and_broken_ones_422() {
    let app = demo_app(Options::demo()).await;
    let response = upload_sample(&app, SLOT, "not-an-image.jpg").await;
    assert_error(&response, 415, "unsupported_media_type").expect("a job id");
    app.job_in_trash(&response, "failed").await;
    let response = upload_sample(&app, SLOT, "truncated.jpg").await;
    assert_error(&response, 422, "unreadable_image").expect("a job id");
    app.job_in_trash(&response, "failed").await;
}

#[tokio::test]
async fn without_a_connected_provider_uploads_get_503() {
    let app = demo_app(Options::default()).await;
    let response = upload_sample(&app, SLOT, "guest-512.jpg").await;
    assert_error(&response, 503, "provider_not_configured").expect("a job id");
    app.job_in_trash(&response, "failed").await;
}

#[tokio::test]
async fn a_slow_model_gets_504_by_the_deadline_and_the_original_goes_to_trash() {
    let app = demo_app(
        Options::demo()
            .with(Setting::DeadlineSecs, "2")
            .with(Setting::DemoDelayMs, "10000"),
    )
    .await;
    let started = Instant::now();
    let response = upload_sample(&app, SLOT, "guest-512.jpg").await;
    let elapsed = started.elapsed();
    assert_error(&response, 504, "timeout").expect("a job id");
    assert!(
        elapsed >= Duration::from_millis(1700) && elapsed < Duration::from_millis(2500),
        "{elapsed:?}"
    );
    let record = app.job_in_trash(&response, "timed_out").await;
    assert_eq!(record.reason.as_deref(), Some("timeout"));
    assert!(
        app.media_files()
            .iter()
            .all(|f| !f.starts_with("originals/"))
    );
}

#[tokio::test]
async fn failed_photos_are_deleted_when_the_trash_is_off() {
    let app = demo_app(Options::demo().with(Setting::KeepFailedInTrash, "0")).await;
    let response = upload_sample(&app, SLOT, "truncated.jpg").await;
    let job = assert_error(&response, 422, "unreadable_image").unwrap();
    assert_eq!(app.finished_job(&job).await.original_path, "");
    assert!(
        app.media_files()
            .iter()
            .all(|f| !f.starts_with("originals/") && !f.starts_with("trash/"))
    );
}

async fn hang_up_after_sending(app: &TestApp, fixture_name: &str) {
    use tokio::io::AsyncWriteExt;
    let (content_type, body) = dslr_body(
        UPLOAD_PASSWORD,
        "a.jpg",
        "image/jpeg",
        &sample(fixture_name),
    );
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST {SLOT} HTTP/1.1\r\nhost: x\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(stream);
}

async fn only_job(app: &TestApp) -> boothgate::store::JobRecord {
    let jobs = app
        .state
        .store
        .jobs(&boothgate::store::JobFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    app.finished_job(&jobs[0].id).await
}

#[tokio::test]
async fn a_booth_that_hangs_up_does_not_stop_the_job() {
    let app = demo_app(Options::demo().with(Setting::DemoDelayMs, "800")).await;
    hang_up_after_sending(&app, "guest-512.jpg").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let job = only_job(&app).await;
    assert_eq!(job.status.as_str(), "succeeded");
    assert!(
        app.data_dir()
            .join("media")
            .join(job.result_path.unwrap())
            .is_file()
    );
}

#[tokio::test]
async fn a_booth_that_hangs_up_still_gets_its_timeout_recorded() {
    let app = demo_app(
        Options::demo()
            .with(Setting::DeadlineSecs, "2")
            .with(Setting::DemoDelayMs, "10000"),
    )
    .await;
    hang_up_after_sending(&app, "guest-512.jpg").await;
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let job = only_job(&app).await;
    assert_eq!(job.status.as_str(), "timed_out");
    assert!(job.original_path.starts_with("trash/"));
}

#[tokio::test]
async fn ten_parallel_uploads_to_one_slot_all_succeed() {
    let app = demo_app(Options::demo().with(Setting::DemoDelayMs, "500")).await;
    let (content_type, body) = dslr_body(
        UPLOAD_PASSWORD,
        "a.jpg",
        "image/jpeg",
        &sample("guest-512.jpg"),
    );
    let started = Instant::now();
    let mut uploads = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (addr, content_type, body) = (app.addr, content_type.clone(), body.clone());
        uploads.spawn(async move { dslr_post(addr, SLOT, &content_type, &body).await });
    }
    let responses = uploads.join_all().await;
    let ids: std::collections::HashSet<_> = responses
        .iter()
        .map(|r| {
            assert_eq!(r.status, 200);
            r.header("x-boothgate-job").unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 10);
    // No per-slot lock: ten half-second jobs do not queue behind each other.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let stats = app.admin_json("/admin/api/stats").await;
    assert_eq!(stats["providers"]["nanobanana"]["processed"], 10);
}

#[tokio::test]
async fn a_restart_marks_running_jobs_interrupted_and_keeps_their_originals() {
    let app = demo_app(Options::demo()).await;
    let media = &app.state.media;
    let mut photo = media.receive(true).await.unwrap();
    photo.write(&sample("guest-512.jpg")).await.unwrap();
    let original = media
        .keep_original(photo, "crashed-job", "2026-11-27", "jpg")
        .await
        .unwrap();
    // An upload the stop cut short: its partial file is removed at the next start.
    let mut cut_short = media.receive(true).await.unwrap();
    cut_short.write(b"\xFF\xD8\xFF half a photo").await.unwrap();
    std::mem::forget(cut_short);
    assert_eq!(incoming_files(app.data_dir()).len(), 1);
    app.state
        .store
        .insert_job(&NewJob {
            id: "crashed-job".into(),
            created_at: app.state.clock.now_ms(),
            slot: SlotId::new(Provider::Nanobanana, 3).unwrap(),
            kind: Kind::Prompt,
            is_test: false,
            original_path: original.clone(),
            booth_name: None,
            booth_address: None,
            fields: Default::default(),
            prompt: String::new(),
            event: None,
        })
        .await
        .unwrap();
    // A job whose end moved its original to the trash, but whose row could not be written
    // (the disk was full): after the restart its row says where the photo lies.
    let mut photo = media.receive(true).await.unwrap();
    photo.write(&sample("guest-512.jpg")).await.unwrap();
    let unrecorded = media
        .keep_original(photo, "unrecorded-end", "2026-11-27", "jpg")
        .await
        .unwrap();
    let job = |id: &str, original_path: &str| NewJob {
        id: id.into(),
        created_at: app.state.clock.now_ms(),
        slot: SlotId::new(Provider::Nanobanana, 3).unwrap(),
        kind: Kind::Prompt,
        is_test: false,
        original_path: original_path.into(),
        booth_name: None,
        booth_address: None,
        fields: Default::default(),
        prompt: String::new(),
        event: None,
    };
    app.state
        .store
        .insert_job(&job("unrecorded-end", &unrecorded))
        .await
        .unwrap();
    let trashed = media.discard_original(&unrecorded, true).await.unwrap();
    let dir = app.stop().await;
    let app = spawn_app_in(dir, Options::demo()).await;
    let job = app.job("crashed-job").await;
    assert_eq!(job.status.as_str(), "interrupted");
    assert_eq!(job.original_path, original);
    assert!(app.data_dir().join("media").join(&original).is_file());
    assert!(incoming_files(app.data_dir()).is_empty());
    let moved = app.job("unrecorded-end").await;
    assert_eq!(moved.status.as_str(), "interrupted");
    assert_eq!(moved.original_path, trashed);
    assert!(trashed.starts_with("trash/"));
    assert!(app.data_dir().join("media").join(&trashed).is_file());
}

#[tokio::test]
async fn try_it_runs_the_slot_as_a_test_job() {
    let app = demo_app(Options::demo()).await;
    let csrf = csrf_token(&app.admin_html("/admin/nanobanana").await);
    let form = reqwest::multipart::Form::new().text("csrf", csrf).part(
        "file",
        reqwest::multipart::Part::bytes(sample("guest-exif-rotated.jpg")).file_name("t.jpg"),
    );
    let response = app
        .admin(Method::POST, "/admin/nanobanana/3/try")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let job = response.headers()["x-boothgate-job"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(image_size(&response.bytes().await.unwrap()), (512, 768));
    assert!(app.job(&job).await.is_test);
    let stats = app.admin_json("/admin/api/stats").await;
    assert_eq!(
        stats["providers"]["nanobanana"]["processed"], 0,
        "test jobs are counted apart"
    );
    let page = app.admin_html("/admin/stats").await;
    assert!(page.contains("<tr><td>NanoBanana</td><td>1</td><td>0</td><td>0</td></tr>"));

    let forged = reqwest::multipart::Form::new()
        .text("csrf", "f".repeat(64))
        .part(
            "file",
            reqwest::multipart::Part::bytes(sample("guest-512.jpg")).file_name("t.jpg"),
        );
    let refused = app
        .admin(Method::POST, "/admin/nanobanana/3/try")
        .multipart(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
}

#[tokio::test]
async fn job_history_lists_filters_and_opens_photos() {
    let app = demo_app(Options::demo()).await;
    let ok = upload_sample(&app, SLOT, "guest-512.jpg").await;
    let ok_id = ok.header("x-boothgate-job").unwrap().to_owned();
    let bad = upload_sample(&app, SLOT, "truncated.jpg").await;
    let bad_id = bad.json()["job"].as_str().unwrap().to_owned();
    app.finished_job(&bad_id).await;

    let page = app.admin_html("/admin/jobs").await;
    let (ok_at, bad_at) = (page.find(&ok_id).unwrap(), page.find(&bad_id).unwrap());
    assert!(bad_at < ok_at, "newest first");
    assert!(page.contains("DESKTOP-K968T3F"));
    assert!(page.contains("unreadable_image"));
    let failed_only = app
        .admin_html("/admin/jobs?status=failed&provider=nanobanana&slot=3")
        .await;
    assert!(failed_only.contains(&bad_id) && !failed_only.contains(&ok_id));

    for (file, mime) in [
        ("original", "image/jpeg"),
        ("result", "image/jpeg"),
        ("before", "image/jpeg"),
        ("after", "image/jpeg"),
    ] {
        let response = app.admin_get(&format!("/admin/jobs/{ok_id}/{file}")).await;
        assert_eq!(response.status(), 200, "{file}");
        assert_eq!(response.headers()["content-type"], mime);
    }
    let thumb = app
        .admin_get(&format!("/admin/jobs/{ok_id}/before"))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(image_size(&thumb), (320, 320));
    assert!(
        page.contains(&format!(
            "<a href=\"/admin/jobs/{bad_id}/original\" title=\"оригинал\">оригинал</a>"
        )),
        "an upload without a thumbnail gets a plain link"
    );
    let trashed = app
        .admin_get(&format!("/admin/jobs/{bad_id}/original"))
        .await;
    assert_eq!(
        trashed.bytes().await.unwrap().to_vec(),
        sample("truncated.jpg")
    );
    let none = app.admin_get(&format!("/admin/jobs/{bad_id}/result")).await;
    assert_eq!(none.status(), 404);
}

#[tokio::test]
async fn a_booth_hanging_up_mid_upload_leaves_no_file_behind() {
    let app = demo_app(Options::demo()).await;
    let photo = sample("guest-6000x4000.jpg");
    let (content_type, head, tail) = dslr_envelope(UPLOAD_PASSWORD);
    let length = head.len() + photo.len() + tail.len();
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let request = format!(
        "POST {SLOT} HTTP/1.1\r\nhost: booth\r\ncontent-type: {content_type}\r\ncontent-length: {length}\r\n\r\n"
    );
    use tokio::io::AsyncWriteExt;
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(&head).await.unwrap();
    stream.write_all(&photo[..photo.len() / 2]).await.unwrap();
    // The half that arrived is on disk, not in memory.
    let on_disk = || {
        incoming_files(app.data_dir())
            .iter()
            .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
            .sum::<u64>()
    };
    wait_until("the first half is written to disk", || {
        on_disk() >= photo.len() as u64 / 4
    })
    .await;
    drop(stream);
    wait_until("the partial file is removed", || {
        incoming_files(app.data_dir()).is_empty()
    })
    .await;
    assert!(app.media_files().is_empty(), "{:?}", app.media_files());
    let jobs = app.admin_json("/admin/api/jobs").await;
    assert_eq!(jobs["jobs"].as_array().map(Vec::len), Some(0), "{jobs}");
    app.assert_alive().await;
}
