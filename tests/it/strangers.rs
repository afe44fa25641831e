//! What a stranger can cost: unguessable upload links, bounded uploads whose password is not
//! known yet, the disk floor, exports and answers that nobody reads, and the small doors
//! (form sizes, invisible characters, the model switch, body-less API calls).

use crate::common::*;
use boothgate::config::Setting;
use reqwest::Method;
use serde_json::{Value, json};
use std::io::Read;
use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SLOT: &str = "/upload/nanobanana/3";

fn token_links() -> Options {
    Options {
        token_links: true,
        ..Options::demo()
    }
}

/// The path of a slot's upload link, as its JSON gives it.
async fn link_of(app: &TestApp, provider: &str, slot: u8) -> String {
    let json = app
        .admin_json(&format!("/admin/api/slots/{provider}/{slot}"))
        .await;
    link_path(&json, &app.base)
}

/// The path of the upload link in a slot's JSON, on the server at `base`.
fn link_path(slot: &Value, base: &str) -> String {
    let url = slot["upload_url"].as_str().expect("an upload URL");
    url.strip_prefix(base).expect("this server").to_owned()
}

/// Starts an event; its id.
async fn start_event(app: &TestApp, name: &str) -> i64 {
    let event: Value = app
        .admin(Method::POST, "/admin/api/events")
        .json(&json!({ "name": name }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    event["id"].as_i64().expect("the event's id")
}

/// A body-less admin call as a script makes it.
async fn api_post(app: &TestApp, path: &str) -> reqwest::Response {
    app.admin(Method::POST, path)
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap()
}

/// The start of a multipart form whose photo comes first, then `len` bytes of photo.
fn file_first_head(path: &str, len: usize, host: &str) -> (Vec<u8>, Vec<u8>) {
    let part = "--b\r\nContent-Disposition: form-data; name=\"fileToUpload\"; filename=\"a.jpg\"\r\n\
                Content-Type: image/jpeg\r\n\r\n";
    let tail = "\r\n--b\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\nx\r\n--b--\r\n";
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: multipart/form-data; boundary=b\r\n\
         content-length: {}\r\n\r\n{part}",
        part.len() + len + tail.len()
    );
    (head.into_bytes(), tail.as_bytes().to_vec())
}

/// How one file-first upload that never sends its password went.
enum Held {
    /// Still open, the server waiting for the rest.
    Open(TcpStream),
    /// Answered (with this status) or closed by the server.
    Refused(Option<u16>),
}

/// Sends the headers and `len` bytes of photo, then holds the connection.
async fn hold_upload(addr: std::net::SocketAddr, path: &str, len: usize) -> Held {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let (head, _) = file_first_head(path, len, &addr.to_string());
    let mut photo = vec![0u8; 256 * 1024];
    photo[..3].copy_from_slice(&[0xFF, 0xD8, 0xFF]);
    let mut sent = stream.write_all(&head).await.is_ok();
    let mut left = len;
    while sent && left > 0 {
        let n = left.min(photo.len());
        sent = stream.write_all(&photo[..n]).await.is_ok();
        photo[..3].fill(0x55);
        left -= n;
    }
    let mut answer = Vec::new();
    match tokio::time::timeout(Duration::from_secs(3), read_some(&mut stream, &mut answer)).await {
        Err(_) => Held::Open(stream),
        Ok(()) => Held::Refused(
            String::from_utf8_lossy(&answer)
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok()),
        ),
    }
}

/// Reads until the server has said something or closed.
async fn read_some(stream: &mut TcpStream, into: &mut Vec<u8>) {
    let mut chunk = [0u8; 4096];
    while let Ok(n) = stream.read(&mut chunk).await {
        if n == 0 {
            return;
        }
        into.extend_from_slice(&chunk[..n]);
        if into.windows(4).any(|w| w == b"\r\n\r\n") {
            return;
        }
    }
}

fn folder_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn plain_paths_and_wrong_tokens_get_404_before_the_body_and_links_renew() {
    let app = demo_app(token_links()).await;
    let (content_type, body) = dslr_body(
        UPLOAD_PASSWORD,
        "a.jpg",
        "image/jpeg",
        &sample("guest-512.jpg"),
    );
    let link = link_of(&app, "nanobanana", 3).await;
    for path in [
        SLOT.to_owned(),
        format!("{SLOT}/wrong-token-0123456789ab"),
        format!("{SLOT}/"),
        link.replace("/nanobanana/3/", "/nanobanana/4/"),
    ] {
        let refused = dslr_post(app.addr, &path, &content_type, &body).await;
        assert_eq!(refused.status, 404, "{path}");
        assert_eq!(refused.json()["reason"], "slot_not_found");
        assert!(
            !refused.continued,
            "{path}: refused before the body was asked for"
        );
    }
    assert!(app.media_files().is_empty(), "{:?}", app.media_files());
    let query = format!("{link}?style=noir");
    let answered = dslr_post(app.addr, &query, &content_type, &body).await;
    assert_eq!(answered.status, 200, "the link, with a query string");

    let renewed: Value = api_post(&app, "/admin/api/slots/nanobanana/3/link")
        .await
        .json()
        .await
        .unwrap();
    let new_link = link_path(&renewed, &app.base);
    assert_ne!(new_link, link);
    assert_eq!(
        dslr_post(app.addr, &link, &content_type, &body)
            .await
            .status,
        404
    );
    assert_eq!(
        dslr_post(app.addr, &new_link, &content_type, &body)
            .await
            .status,
        200
    );

    let other = link_of(&app, "turbotext", 5).await;
    let all = api_post(&app, "/admin/api/links/renew").await;
    assert_eq!(all.status(), 200);
    assert_eq!(all.json::<Value>().await.unwrap()["renewed"], 60);
    assert_ne!(link_of(&app, "turbotext", 5).await, other);
    assert_eq!(
        dslr_post(app.addr, &new_link, &content_type, &body)
            .await
            .status,
        404
    );
    let settings = app.admin_html("/admin/settings").await;
    assert!(settings.contains("id=\"renew-links\""));
    assert!(
        !settings.contains("Простые ссылки включены"),
        "no banner while they are off"
    );
}

/// A database as the version before upload-link tokens left it: its migrations, its slots.
async fn database_of_the_previous_version(data_dir: &Path) {
    std::fs::create_dir_all(data_dir).unwrap();
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(data_dir.join("boothgate.db"))
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    let all = sqlx::migrate!("./migrations");
    let before = sqlx::migrate::Migrator {
        migrations: std::borrow::Cow::Owned(
            all.iter().filter(|m| m.version < 5).cloned().collect(),
        ),
        ..sqlx::migrate::Migrator::DEFAULT
    };
    before.run(&pool).await.unwrap();
    for provider in ["turbotext", "deepseek", "nanobanana"] {
        for number in 1..=20 {
            sqlx::query("INSERT INTO slots (provider, number) VALUES (?, ?)")
                .bind(provider)
                .bind(number)
                .execute(&pool)
                .await
                .unwrap();
        }
    }
    pool.close().await;
}

#[tokio::test]
async fn an_upgraded_install_keeps_simple_links_on_and_says_what_they_cost() {
    let dir = tempfile::tempdir().unwrap();
    database_of_the_previous_version(&dir.path().join("data")).await;
    let app = spawn_app_in(dir, token_links()).await;
    app.put_slot(
        "nanobanana",
        3,
        json!({"kind": "prompt", "prompt": "vintage"}),
    )
    .await;
    let plain = upload_sample(&app, SLOT, "guest-512.jpg").await;
    assert_eq!(plain.status, 200, "booths set up before keep working");
    let link = link_of(&app, "nanobanana", 3).await;
    assert_eq!(
        upload_sample(&app, &link, "guest-512.jpg").await.status,
        200
    );
    let settings = app.admin_html("/admin/settings").await;
    assert!(settings.contains("Простые ссылки включены"));

    let fresh = demo_app(token_links()).await;
    assert_eq!(
        upload_sample(&fresh, SLOT, "guest-512.jpg").await.status,
        404
    );
}

#[tokio::test]
async fn uploads_without_their_password_are_bounded_while_a_booth_gets_through() {
    let data = tempfile::tempdir().unwrap();
    let options = ServerOptions {
        demo_delay_ms: 100,
        env: vec![
            ("BOOTHGATE_SIMPLE_LINKS", "0".into()),
            ("BOOTHGATE_MAX_UNVERIFIED_MB", "256".into()),
        ],
        ..Default::default()
    };
    let server = Server::start_with(data.path(), options).await;
    let client = reqwest::Client::new();
    let slot: Value = client
        .get(server.url("/admin/api/slots/nanobanana/3"))
        .basic_auth(ADMIN_USER, Some(&server.admin_password))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let link = link_path(&slot, &server.url(""));
    let (idle, _) = server.memory_mb();
    let incoming = data.path().join("media").join("incoming");
    let watching = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let watcher = {
        let (incoming, watching) = (incoming.clone(), watching.clone());
        tokio::spawn(async move {
            let mut most = 0;
            while watching.load(std::sync::atomic::Ordering::Relaxed) {
                most = most.max(folder_bytes(&incoming));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            most
        })
    };
    const PHOTO: usize = 20 * 1024 * 1024;
    let mut strangers = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (addr, link) = (server.addr, link.clone());
        strangers.spawn(async move { hold_upload(addr, &link, PHOTO).await });
    }
    let mut held = Vec::new();
    let mut statuses = Vec::new();
    while let Some(outcome) = strangers.join_next().await {
        match outcome.unwrap() {
            Held::Open(stream) => held.push(stream),
            Held::Refused(status) => statuses.push(status),
        }
    }
    let (holding, _) = server.memory_mb();
    // A booth at the same address, its password before its photo as DSLR Remote Pro sends it.
    let (content_type, body) = dslr_body(
        UPLOAD_PASSWORD,
        "a.jpg",
        "image/jpeg",
        &sample("guest-512.jpg"),
    );
    let booth = dslr_post(server.addr, &link, &content_type, &body).await;
    watching.store(false, std::sync::atomic::Ordering::Relaxed);
    let most = watcher.await.unwrap();
    assert_eq!(
        booth.status,
        200,
        "{}",
        String::from_utf8_lossy(&booth.body)
    );
    assert!(held.len() <= 16, "{} held from one address", held.len());
    assert!(!held.is_empty(), "some were accepted: {statuses:?}");
    assert!(most <= 256 * 1024 * 1024, "incoming/ reached {most} bytes");
    // Refused as they arrived (a refusal whose answer a reset swallowed has no status).
    assert_eq!(held.len() + statuses.len(), 50);
    assert!(
        statuses.iter().flatten().all(|s| [429, 503].contains(s)),
        "{statuses:?}"
    );
    assert!(
        holding - idle < 100.0,
        "{} held uploads: {idle:.0} MB idle, {holding:.0} MB holding",
        held.len()
    );
    drop(held);
    let emptied = || folder_bytes(&incoming) == 0;
    wait_until("held uploads leave nothing behind", emptied).await;
}

#[tokio::test]
async fn with_simple_links_a_hang_up_before_the_password_is_a_failed_guess() {
    let localhost: IpAddr = "127.0.0.1".parse().unwrap();
    for (options, counted) in [(Options::demo(), true), (token_links(), false)] {
        let app = demo_app(options).await;
        let link = if counted {
            SLOT.to_owned()
        } else {
            link_of(&app, "nanobanana", 3).await
        };
        for _ in 0..10 {
            let mut stream = TcpStream::connect(app.addr).await.unwrap();
            let (head, _) = file_first_head(&link, 100_000, "x");
            stream.write_all(&head).await.unwrap();
            stream.write_all(&[0xFF, 0xD8, 0xFF, 0xE0]).await.unwrap();
            stream.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if counted {
            let throttle = app.state.upload_throttle.clone();
            wait_until("ten hang-ups block the address", || {
                throttle.check(localhost).is_err()
            })
            .await;
            let answer = upload_sample(&app, &link, "guest-512.jpg").await;
            assert_eq!(answer.status, 429);
            assert!(answer.header("retry-after").is_some());
        } else {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let answer = upload_sample(&app, &link, "guest-512.jpg").await;
            assert_eq!(answer.status, 200, "the link proves the booth");
        }
    }
}

/// An upload whose only field is a wrong password, as a reverse proxy forwards it.
async fn wrong_password_via(app: &TestApp, client: &str) -> u16 {
    let form = reqwest::multipart::Form::new().text("password", "guess");
    app.client
        .post(app.url(SLOT))
        .header("x-forwarded-for", format!("{client}, 127.0.0.1"))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_booth_is_throttled_by_its_own_address() {
    let trusting = demo_app(Options::demo().with(Setting::TrustedProxies, "127.0.0.1, ::1")).await;
    for _ in 0..10 {
        assert_eq!(wrong_password_via(&trusting, "203.0.113.7").await, 401);
    }
    assert_eq!(wrong_password_via(&trusting, "203.0.113.7").await, 429);
    assert_eq!(
        wrong_password_via(&trusting, "203.0.113.8").await,
        401,
        "another booth behind the same proxy is not blocked"
    );

    let plain = demo_app(Options::demo()).await;
    for _ in 0..10 {
        assert_eq!(wrong_password_via(&plain, "203.0.113.7").await, 401);
    }
    assert_eq!(
        wrong_password_via(&plain, "203.0.113.8").await,
        429,
        "without trust the header is ignored: everyone is the proxy"
    );
}

#[tokio::test]
async fn below_the_disk_reserve_uploads_get_507_and_nothing_is_stored() {
    // A reserve of 95 TB: larger than any disk this runs on.
    let app = demo_app(Options::demo().with(Setting::DiskReserveMb, "100000000")).await;
    let answer = upload_sample(&app, SLOT, "guest-512.jpg").await;
    assert_eq!(answer.status, 507);
    assert_eq!(answer.json()["reason"], "insufficient_storage");
    assert!(!answer.continued, "refused before the photo was sent");
    assert!(app.media_files().is_empty(), "{:?}", app.media_files());
    let low = app.state.disk.low().expect("recorded for the operator");
    assert_eq!(low.reserve_bytes, 100_000_000 << 20);
    let page = app.admin_html("/admin/nanobanana").await;
    assert!(
        page.contains("id=\"disk-banner\""),
        "every admin page says so"
    );
}

#[tokio::test]
async fn text_fields_are_bounded_in_all_and_invisible_characters_removed() {
    let app = demo_app(Options::demo()).await;
    app.put_slot("nanobanana", 3, json!({"prompt": "vintage {style|plain}"}))
        .await;
    let photo = sample("guest-512.jpg");
    let field = |name: &str, len: usize| (name.to_owned(), "a".repeat(len));
    let send = async |fields: Vec<(String, String)>| {
        let mut form = reqwest::multipart::Form::new().text("password", UPLOAD_PASSWORD);
        for (name, value) in fields {
            form = form.text(name, value);
        }
        let part = reqwest::multipart::Part::bytes(photo.clone()).file_name("a.jpg");
        app.client
            .post(app.url(&format!("{SLOT}?style=noir%E2%80%AE%E2%80%8Bgpj")))
            .multipart(form.part("fileToUpload", part))
            .send()
            .await
            .unwrap()
    };
    let under = send(vec![
        field("a", 20_000),
        field("b", 20_000),
        field("c", 20_000),
    ])
    .await;
    assert_eq!(under.status(), 200);
    let over = send((0..4).map(|i| field(&format!("f{i}"), 20_000)).collect()).await;
    assert_eq!(over.status(), 413);
    assert_eq!(
        over.json::<Value>().await.unwrap()["reason"],
        "payload_too_large"
    );

    let named = send(vec![("name".into(), "BOOTH\u{202E}-1\u{200B}".into())]).await;
    assert_eq!(named.status(), 200);
    let id = named.headers()["x-boothgate-job"]
        .to_str()
        .unwrap()
        .to_owned();
    let job = app.job(&id).await;
    assert_eq!(job.booth_name.as_deref(), Some("BOOTH-1"));
    assert_eq!(job.prompt.as_deref(), Some("vintage noirgpj"));
    assert!(!job.fields.contains('\u{202E}'), "{}", job.fields);
}

#[tokio::test]
async fn a_body_less_api_call_must_show_it_is_no_foreign_form() {
    let app = demo_app(Options::demo()).await;
    let end = format!(
        "/admin/api/events/{}/end",
        start_event(&app, "Wedding").await
    );
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut request = app.admin(Method::POST, &end);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let refused = request.send().await.unwrap();
        assert_eq!(refused.status(), 403, "{content_type:?}");
    }
    let running = app.admin_json("/admin/api/events").await;
    assert!(running["events"][0]["ended_at"].is_null(), "still running");

    let csrf = csrf_token(&app.admin_html("/admin/events").await);
    let with_token = app
        .admin(Method::POST, &end)
        .header("x-csrf-token", csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(with_token.status(), 200);
    assert_eq!(api_post(&app, &end).await.status(), 200, "the JSON type");
    let same_origin = app
        .admin(Method::POST, &end)
        .header("origin", app.base.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(same_origin.status(), 200, "a page of the admin's own");
}

#[tokio::test]
async fn the_model_switch_takes_only_a_listed_model() {
    let app = demo_app(Options::demo()).await;
    let csrf = csrf_token(&app.admin_html("/admin/settings").await);
    let choose = |value: &'static str| {
        app.admin(Method::POST, "/admin/settings/model").form(&[
            ("csrf", csrf.as_str()),
            ("setting", "gemini_model"),
            ("value", value),
        ])
    };
    // No key: Gemini's list is never loaded.
    let refused = choose("gemini-3-pro-image").send().await.unwrap();
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("not loaded"));
    assert_eq!(
        app.state.settings().get(Setting::NanobananaModel),
        Setting::NanobananaModel.def().default
    );
}

/// An event of `photos` booth photos whose originals are replaced by sparse files of `size`
/// bytes: the export reads them like any others, the disk holds almost nothing.
async fn event_with_sparse_originals(app: &TestApp, photos: usize, size: u64) -> i64 {
    let event = start_event(app, "Large").await;
    for _ in 0..photos {
        let answer = upload_sample(app, SLOT, "guest-512.jpg").await;
        assert_eq!(answer.status, 200);
        let id = answer.header("x-boothgate-job").unwrap();
        let job = app.finished_job(id).await;
        let original = app.data_dir().join("media").join(&job.original_path);
        std::fs::OpenOptions::new()
            .write(true)
            .open(original)
            .unwrap()
            .set_len(size)
            .unwrap();
    }
    event
}

#[tokio::test]
async fn an_export_past_4_gib_reads_back_whole() {
    let app = demo_app(Options::demo()).await;
    const GIB: u64 = 1 << 30;
    let event = event_with_sparse_originals(&app, 5, GIB).await;
    let started = Instant::now();
    let mut response = app
        .admin_get(&format!("/admin/api/events/{event}/export"))
        .await;
    assert_eq!(response.status(), 200);
    let download = tempfile::NamedTempFile::new().unwrap();
    let mut file = std::io::BufWriter::new(download.reopen().unwrap());
    let mut total = 0u64;
    while let Some(chunk) = response.chunk().await.unwrap() {
        std::io::Write::write_all(&mut file, &chunk).unwrap();
        total += chunk.len() as u64;
    }
    drop(file);
    let streamed = started.elapsed();
    assert!(total > 5 * GIB, "{total}");
    let mut zip = zip::ZipArchive::new(download.reopen().unwrap()).unwrap();
    assert_eq!(zip.len(), 11, "jobs.csv, 5 results, 5 originals");
    let mut past_4_gib = 0;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).unwrap();
        if entry.data_start().unwrap() < 4 * GIB {
            continue;
        }
        // Read to the end: the reader checks the CRC against the central directory's.
        let copied = std::io::copy(&mut entry, &mut std::io::sink()).unwrap();
        assert_eq!(copied, entry.size(), "{}", entry.name());
        if entry.name().starts_with("originals/") {
            assert_eq!(entry.size(), GIB, "{}", entry.name());
            past_4_gib += 1;
        }
    }
    assert!(past_4_gib >= 1, "an original lies past 4 GiB");
    let mut csv = String::new();
    zip.by_name("jobs.csv")
        .unwrap()
        .read_to_string(&mut csv)
        .unwrap();
    assert_eq!(csv.lines().count(), 6);
    println!(
        "export of {:.2} GiB streamed in {:.1} s, checked in {:.1} s in all",
        total as f64 / GIB as f64,
        streamed.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test]
async fn an_export_nobody_reads_is_dropped_after_the_write_timeout() {
    let options = Options {
        write_timeout: Some(Duration::from_secs(2)),
        ..Options::demo()
    };
    let app = demo_app(options).await;
    let event = event_with_sparse_originals(&app, 2, 256 << 20).await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let auth = base64_basic(ADMIN_USER, ADMIN_PASSWORD);
    let request = format!(
        "GET /admin/api/events/{event}/export HTTP/1.1\r\nhost: x\r\nauthorization: Basic {auth}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    read_some(&mut stream, &mut head).await;
    assert!(
        head.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    // The browser stops reading; a booth goes on meanwhile.
    assert_eq!(app.state.exports.available_permits(), 3);
    let booth = upload_sample(&app, SLOT, "guest-512.jpg").await;
    assert_eq!(booth.status, 200);
    let exports = app.state.exports.clone();
    for _ in 0..100 {
        if exports.available_permits() == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        exports.available_permits(),
        4,
        "the export's writer has stopped"
    );
    // What the socket still buffered, then the end: the server has closed the connection.
    let mut rest = 0usize;
    let mut chunk = vec![0u8; 1 << 20];
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => rest += n,
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the connection was closed");
    assert!(
        (rest as u64) < 512 << 20,
        "the export was cut short: {rest} bytes"
    );
}

fn base64_basic(user: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

#[tokio::test]
async fn a_request_head_over_8_kb_is_refused_and_one_under_it_served() {
    let app = spawn_app(Options::default()).await;
    let health = |cookie_len: usize| {
        app.client
            .get(app.url("/healthz"))
            .header("cookie", "a".repeat(cookie_len))
            .send()
    };
    assert_eq!(health(6 * 1024).await.unwrap().status(), 200);
    let refused = health(9 * 1024).await.unwrap();
    assert_eq!(refused.status(), 431);
}
