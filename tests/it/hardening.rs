//! Hostile input, password guessing, secrets in logs, shutdown, crashes, load and HTTPS.

use crate::common::*;
use boothgate::config::Setting;
use reqwest::Method;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SLOT: &str = "/upload/nanobanana/3";

/// A multipart body from text fields and one photo.
fn form_body(fields: &[(&str, Vec<u8>)], file_name: &str, photo: &[u8]) -> (String, Vec<u8>) {
    let boundary = "XyZboundaryXyZ";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"fileToUpload\"; filename=\"{file_name}\"\r\nContent-Type: image/jpeg\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(photo);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn password() -> (&'static str, Vec<u8>) {
    ("password", UPLOAD_PASSWORD.as_bytes().to_vec())
}

#[tokio::test]
async fn bad_forms_get_a_clear_400_and_the_server_stays_up() {
    let app = demo_app(Options::demo()).await;
    let photo = sample("guest-512.jpg");
    let many: Vec<(&str, Vec<u8>)> = std::iter::once(password())
        .chain((0..10_000).map(|_| ("survey", b"x".to_vec())))
        .collect();
    let huge_text = vec![password(), ("name", vec![b'a'; 10 * 1024 * 1024])];
    for (fields, photo, status, expected) in [
        (many, photo.clone(), 400, "more than 200 form fields"),
        (huge_text, photo.clone(), 413, "larger than 64 KB in all"),
        (vec![password()], Vec::new(), 400, "empty"),
    ] {
        let (content_type, body) = form_body(&fields, "a.jpg", &photo);
        let response = dslr_post(app.addr, SLOT, &content_type, &body).await;
        assert_eq!(response.status, status);
        assert!(
            response.json()["message"]
                .as_str()
                .unwrap()
                .contains(expected),
            "{:?}",
            response.json()
        );
        app.assert_alive().await;
    }
    assert!(app.media_files().is_empty());
}

#[tokio::test]
async fn a_hostile_file_name_never_becomes_a_path() {
    let app = demo_app(Options::demo()).await;
    let (content_type, body) =
        form_body(&[password()], "../../etc/passwd", &sample("guest-512.jpg"));
    let response = dslr_post(app.addr, SLOT, &content_type, &body).await;
    assert_eq!(response.status, 200);
    let job = response.header("x-boothgate-job").unwrap().to_owned();
    let top: Vec<_> = std::fs::read_dir(app.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(top, ["data"], "nothing written beside the data folder");
    for file in app.media_files() {
        assert!(file.contains(&job) && !file.contains("passwd"), "{file}");
    }
}

#[tokio::test]
async fn non_utf8_field_values_are_kept_readable() {
    let app = demo_app(Options::demo()).await;
    let (content_type, body) = form_body(
        &[password(), ("name", vec![0xFF, 0xFE, b'A'])],
        "a.jpg",
        &sample("guest-512.jpg"),
    );
    let response = dslr_post(
        app.addr,
        &format!("{SLOT}?unknown=1&x=%FF"),
        &content_type,
        &body,
    )
    .await;
    assert_eq!(response.status, 200);
    let job = app.job(response.header("x-boothgate-job").unwrap()).await;
    assert_eq!(job.booth_name.as_deref(), Some("\u{FFFD}\u{FFFD}A"));
}

#[tokio::test]
async fn a_decompression_bomb_is_refused_without_decoding() {
    let app = demo_app(Options::demo()).await;
    let (content_type, body) = form_body(&[password()], "bomb.png", &decompression_bomb());
    let started = Instant::now();
    let response = dslr_post(app.addr, SLOT, &content_type, &body).await;
    assert_eq!(response.status, 422);
    assert!(
        response.json()["message"]
            .as_str()
            .unwrap()
            .contains("60000×60000")
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    app.assert_alive().await;
}

#[tokio::test]
async fn slow_headers_are_cut_off() {
    let app = demo_app(Options {
        header_timeout: Some(Duration::from_secs(1)),
        ..Options::demo()
    })
    .await;
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(b"POST /upload/nanobanana/3 HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server closed the connection");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    app.assert_alive().await;
}

#[tokio::test]
async fn a_stalled_body_is_answered_by_the_deadline() {
    let app = demo_app(Options::demo().with(Setting::DeadlineSecs, "2")).await;
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = "POST /upload/nanobanana/3 HTTP/1.1\r\nhost: x\r\ncontent-type: multipart/form-data; boundary=b\r\ncontent-length: 100000\r\n\r\n--b\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let mut answer = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 504"));
    assert!(started.elapsed() < Duration::from_millis(2500));
}

fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}

#[tokio::test]
async fn admin_password_guessing_is_throttled_per_address() {
    let app = spawn_app(Options::default()).await;
    let (guesser, neighbour) = (client_from("127.0.0.1"), client_from("127.0.0.2"));
    let url = app.url("/admin/api/stats");
    for _ in 0..10 {
        let wrong = guesser
            .get(&url)
            .basic_auth(ADMIN_USER, Some("guess"))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401);
    }
    let blocked = guesser
        .get(&url)
        .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(
        blocked.status(),
        429,
        "blocked even with the right password"
    );
    let retry_after: u64 = blocked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    let started = Instant::now();
    let other = neighbour
        .get(&url)
        .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200, "another address is not slowed");
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn upload_password_guessing_is_throttled_per_address() {
    let app = demo_app(Options::demo()).await;
    let form = |password: &str| {
        reqwest::multipart::Form::new()
            .text("password", password.to_owned())
            .part(
                "fileToUpload",
                reqwest::multipart::Part::bytes(sample("guest-512.jpg")).file_name("a.jpg"),
            )
    };
    let guesser = client_from("127.0.0.1");
    for _ in 0..10 {
        assert_eq!(
            guesser
                .post(app.url(SLOT))
                .multipart(form("guess"))
                .send()
                .await
                .unwrap()
                .status(),
            401
        );
    }
    let blocked = guesser
        .post(app.url(SLOT))
        .multipart(form(UPLOAD_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(blocked.status(), 429);
    assert!(blocked.headers().contains_key("retry-after"));
    assert_eq!(
        blocked.json::<serde_json::Value>().await.unwrap()["reason"],
        "too_many_attempts"
    );
    let booth = client_from("127.0.0.3");
    assert_eq!(
        booth
            .post(app.url(SLOT))
            .multipart(form(UPLOAD_PASSWORD))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

/// Every log line of this test binary.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        tracing_subscriber::fmt()
            .with_env_filter("debug")
            .with_ansi(false)
            .with_writer(move || LogWriter(sink.clone()))
            .init();
        logs
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_reaches_the_logs() {
    let logs = captured_logs();
    let gemini_key = "AIzaSy-very-secret-gemini-key-123";
    let app = demo_app(Options::demo()).await;
    let csrf = csrf_token(&app.admin_html("/admin/settings").await);
    app.admin(Method::POST, "/admin/settings")
        .form(&[("csrf", csrf.as_str()), ("gemini_api_key", gemini_key)])
        .send()
        .await
        .unwrap();
    assert_eq!(upload_sample(&app, SLOT, "guest-512.jpg").await.status, 200);
    let (content_type, body) = dslr_body(
        "wrong-upload-password-xyz",
        "a.jpg",
        "image/jpeg",
        &sample("guest-512.jpg"),
    );
    assert_eq!(
        dslr_post(app.addr, SLOT, &content_type, &body).await.status,
        401
    );
    app.client
        .get(app.url("/admin/stats"))
        .basic_auth(ADMIN_USER, Some("wrong-admin-password-xyz"))
        .send()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    let job_line = text
        .lines()
        .find(|l| l.contains("job succeeded"))
        .expect("logs were captured");
    for field in ["job{job=", "provider=nanobanana", "slot=3"] {
        assert!(
            job_line.contains(field),
            "a job's lines say which job: {job_line}"
        );
    }
    assert!(text.contains("wrong upload password"));
    for secret in [
        gemini_key,
        UPLOAD_PASSWORD,
        ADMIN_PASSWORD,
        "wrong-upload-password-xyz",
        "wrong-admin-password-xyz",
        &csrf,
    ] {
        assert!(!text.contains(secret), "{secret} in the logs");
    }
}

#[tokio::test]
async fn metrics_count_uploads_behind_auth() {
    let app = demo_app(Options::demo()).await;
    assert_eq!(upload_sample(&app, SLOT, "guest-512.jpg").await.status, 200);
    assert_eq!(upload_sample(&app, SLOT, "truncated.jpg").await.status, 422);
    assert_eq!(
        app.client
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let text = app.admin_get("/metrics").await.text().await.unwrap();
    assert!(
        text.contains(
            r#"boothgate_uploads_total{provider="nanobanana",slot="3",status="succeeded"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"boothgate_uploads_total{provider="nanobanana",slot="3",status="failed"} 1"#
        )
    );
    assert!(text.contains("boothgate_jobs_in_flight 0"));
    assert!(text.contains("boothgate_job_seconds_count 2"));
    assert!(text.contains("boothgate_model_seconds_count 1"));
    assert!(text.contains("boothgate_cpu_pool_wait_seconds_count"));
}

#[tokio::test]
async fn https_with_a_self_signed_certificate() {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
    let app = spawn_app(Options {
        tls: Some((cert, key)),
        ..Options::demo()
    })
    .await;
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(generated.cert.pem().as_bytes()).unwrap()])
        .resolve("localhost", app.addr)
        .build()
        .unwrap();
    let url = format!("https://localhost:{}/healthz", app.addr.port());
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    let plain = app.client.get(app.url("/healthz")).send().await;
    assert!(
        plain.is_err() || !plain.unwrap().status().is_success(),
        "plain HTTP is not served"
    );
}

#[tokio::test]
async fn forty_concurrent_camera_photos_all_get_an_answer() {
    let app = demo_app(Options::demo().with(Setting::DemoDelayMs, "1000")).await;
    let (content_type, body) = dslr_body(
        UPLOAD_PASSWORD,
        "big.jpg",
        "image/jpeg",
        &sample("guest-6000x4000.jpg"),
    );
    let mut booths = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let (addr, content_type, body) = (app.addr, content_type.clone(), body.clone());
        booths.spawn(async move { dslr_post(addr, SLOT, &content_type, &body).await.status });
    }
    let statuses = booths.join_all().await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
}

#[tokio::test]
async fn sigterm_lets_uploads_in_flight_finish_then_exits_cleanly() {
    let data = tempfile::tempdir().unwrap();
    let mut server = Server::start(data.path(), 1500).await;
    let (content_type, body) = dslr_body(
        UPLOAD_PASSWORD,
        "a.jpg",
        "image/jpeg",
        &sample("guest-512.jpg"),
    );
    let addr = server.addr;
    let upload = tokio::spawn(async move { dslr_post(addr, SLOT, &content_type, &body).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.signal("-TERM");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no new connections after SIGTERM"
    );
    assert_eq!(
        upload.await.unwrap().status,
        200,
        "the upload in flight finished"
    );
    let status = tokio::task::spawn_blocking(move || server.child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn sigterm_with_a_live_page_open_and_no_upload_exits_within_two_seconds() {
    let data = tempfile::tempdir().unwrap();
    let mut server = Server::start(data.path(), 0).await;
    let mut live = reqwest::Client::new()
        .get(server.url("/admin/live/events"))
        .basic_auth(ADMIN_USER, Some(&server.admin_password))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    // The stream says it is alive before anything happens, so a page can tell a dead one.
    let first = tokio::time::timeout(Duration::from_secs(4), live.chunk())
        .await
        .expect("a heartbeat within 4 s")
        .unwrap()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&first).contains("event: heartbeat"),
        "{first:?}"
    );
    let asked = std::time::Instant::now();
    server.signal("-TERM");
    let status = tokio::task::spawn_blocking(move || server.child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "stopped in {:?}, not held by the open stream",
        asked.elapsed()
    );
    // The stream ended instead of hanging.
    let rest = tokio::time::timeout(Duration::from_secs(1), async {
        while let Ok(Some(_)) = live.chunk().await {}
    })
    .await;
    assert!(rest.is_ok(), "the stream was closed");
}

#[tokio::test]
async fn after_kill_9_mid_job_the_job_is_interrupted_and_its_photo_kept() {
    let data = tempfile::tempdir().unwrap();
    let mut server = Server::start(data.path(), 20_000).await;
    let (content_type, body) = dslr_body(
        UPLOAD_PASSWORD,
        "a.jpg",
        "image/jpeg",
        &sample("guest-512.jpg"),
    );
    let addr = server.addr;
    tokio::spawn(async move { dslr_post(addr, SLOT, &content_type, &body).await });
    let originals = data.path().join("media/originals");
    let mut found = None;
    for _ in 0..100 {
        found = walk(&originals).into_iter().next();
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let original = found.expect("the original was stored");
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.signal("-KILL");
    let _ = server.child.wait();

    let dir = tempfile::TempDir::new().unwrap();
    std::fs::rename(data.path(), dir.path().join("data")).unwrap();
    let app = spawn_app_in(dir, Options::demo()).await;
    let jobs = app
        .state
        .store
        .jobs(&boothgate::store::JobFilter {
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].status.as_str(), "interrupted");
    let name = original.file_name().unwrap().to_string_lossy().into_owned();
    assert!(jobs[0].original_path.ends_with(&name));
    assert!(
        app.data_dir()
            .join("media")
            .join(&jobs[0].original_path)
            .is_file()
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "jpg") {
            files.push(path);
        }
    }
    files
}

#[tokio::test]
async fn settings_show_what_the_next_cleanup_would_delete() {
    let app = spawn_app(Options::default().with(Setting::RetentionDays, "7")).await;
    let old = app
        .data_dir()
        .join("media/originals/2026-01-01/old-job.jpg");
    std::fs::create_dir_all(old.parent().unwrap()).unwrap();
    std::fs::write(&old, vec![0u8; 3 * 1024 * 1024]).unwrap();
    let month_ago = std::time::SystemTime::now() - Duration::from_secs(30 * 86_400);
    std::fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(month_ago)
        .unwrap();
    std::fs::write(
        app.data_dir()
            .join("media/originals/2026-01-01/new-job.jpg"),
        b"new",
    )
    .unwrap();
    let page = app.admin_html("/admin/settings").await;
    assert!(
        page.contains("Следующая очистка удалит файлов: 1 (3.0 МБ)"),
        "the preview counts the old photo only"
    );
    let forever = spawn_app(Options::default().with(Setting::RetentionDays, "0")).await;
    assert!(
        forever
            .admin_html("/admin/settings")
            .await
            .contains("Очистка выключена")
    );
}
