//! Nobody on the internet can knock the server over: password floods, silent connections, a
//! connection cap, the largest PNG, redirecting providers and readable secrets.

use crate::common::*;
use boothgate::config::Setting;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SLOT: &str = "/upload/nanobanana/3";
const FLOOD: usize = 300;

/// Polls `/healthz` from another address until `stop`, giving the slowest answer.
fn watch_health(
    server: &Server,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Duration>,
) {
    let url = server.url("/healthz");
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let watcher = tokio::spawn(async move {
        let client = reqwest::Client::builder()
            .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap();
        let mut slowest = Duration::ZERO;
        while stopped.try_recv().is_err() {
            let asked = Instant::now();
            let answer = client.get(&url).send().await.unwrap();
            assert_eq!(answer.status(), 200);
            slowest = slowest.max(asked.elapsed());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        slowest
    });
    (stop, watcher)
}

/// Statuses of `FLOOD` requests sent at once from 127.0.0.1.
async fn flood<F, Fut>(send: F) -> Vec<u16>
where
    F: Fn(reqwest::Client) -> Fut,
    Fut: std::future::Future<Output = u16> + Send + 'static,
{
    let client = reqwest::Client::builder()
        .local_address("127.0.0.1".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..FLOOD {
        requests.spawn(send(client.clone()));
    }
    requests.join_all().await
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

#[tokio::test]
async fn a_flood_of_wrong_admin_passwords_reaches_argon2_ten_times_at_most() {
    let data = tempfile::tempdir().unwrap();
    let options = ServerOptions {
        generated_admin_password: true,
        ..Default::default()
    };
    let server = Server::start_with(data.path(), options).await;
    let (idle, _) = server.memory_mb();
    let (stop, health) = watch_health(&server);
    let url = server.url("/admin/api/stats");
    let statuses = flood(|client| {
        let url = url.clone();
        async move {
            let answer = client.get(url).basic_auth(ADMIN_USER, Some("guess")).send();
            answer.await.unwrap().status().as_u16()
        }
    })
    .await;
    let _ = stop.send(());
    let slowest = health.await.unwrap();
    let (_, peak) = server.memory_mb();
    assert!(count(&statuses, 401) <= 10, "{statuses:?}");
    assert_eq!(
        count(&statuses, 401) + count(&statuses, 429) + count(&statuses, 503),
        FLOOD,
        "every guess is refused: {statuses:?}"
    );
    assert!(
        slowest < Duration::from_secs(1),
        "/healthz took {slowest:?}"
    );
    assert!(
        peak - idle < 100.0,
        "peak {peak:.0} MB against {idle:.0} MB idle"
    );
    let admin = reqwest::Client::builder()
        .local_address("127.0.0.3".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let right = admin
        .get(&url)
        .basic_auth(ADMIN_USER, Some(&server.admin_password))
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200, "the operator still gets in");
}

#[tokio::test]
async fn a_flood_of_wrong_upload_passwords_stores_nothing_and_costs_little() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), 0).await;
    let (idle, _) = server.memory_mb();
    let (stop, health) = watch_health(&server);
    let (content_type, body) = dslr_body("guess", "a.jpg", "image/jpeg", &sample("guest-512.jpg"));
    let url = server.url(SLOT);
    let statuses = flood(|client| {
        let (url, content_type, body) = (url.clone(), content_type.clone(), body.clone());
        async move {
            let answer = client
                .post(url)
                .header("content-type", content_type)
                .body(body)
                .send();
            answer.await.unwrap().status().as_u16()
        }
    })
    .await;
    let _ = stop.send(());
    let slowest = health.await.unwrap();
    let (_, peak) = server.memory_mb();
    assert!(count(&statuses, 401) <= 10, "{statuses:?}");
    assert_eq!(
        count(&statuses, 401) + count(&statuses, 429),
        FLOOD,
        "{statuses:?}"
    );
    assert!(
        slowest < Duration::from_secs(1),
        "/healthz took {slowest:?}"
    );
    assert!(
        peak - idle < 100.0,
        "peak {peak:.0} MB against {idle:.0} MB idle"
    );
    assert!(
        !data.path().join("media/originals").exists(),
        "a wrong password stores nothing"
    );
}

/// Whether the server closes a connection within `limit`: it reads end-of-file (or a reset),
/// after whatever error answer came first.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let closed = async {
        let mut buffer = [0u8; 1024];
        while let Ok(n) = stream.read(&mut buffer).await {
            if n == 0 {
                break;
            }
        }
    };
    tokio::time::timeout(limit, closed).await.is_ok()
}

#[tokio::test]
async fn silent_connections_are_closed_after_the_header_timeout() {
    let options = Options {
        header_timeout: Some(Duration::from_secs(2)),
        ..Options::demo()
    };
    let app = spawn_app(options).await;
    app.put_slot("nanobanana", 3, json!({"kind": "prompt", "prompt": "x"}))
        .await;
    let mut silent = Vec::new();
    for _ in 0..2000 {
        silent.push(TcpStream::connect(app.addr).await.unwrap());
    }
    // Half an HTTP/2 preface is no better than silence.
    let mut preface = TcpStream::connect(app.addr).await.unwrap();
    preface.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    silent.push(preface);
    let opened = Instant::now();
    assert!(
        !closed_within(&mut silent[0], Duration::from_millis(500)).await,
        "open until the timeout"
    );
    let upload = upload_sample(&app, SLOT, "guest-512.jpg").await;
    assert_eq!(upload.status, 200, "a booth is served while they are held");
    app.assert_alive().await;
    for (i, stream) in silent.iter_mut().enumerate() {
        let left = Duration::from_secs(6).saturating_sub(opened.elapsed());
        assert!(
            closed_within(stream, left).await,
            "silent connection {i} stayed open"
        );
    }
}

#[tokio::test]
async fn connections_beyond_the_cap_are_refused_while_uploads_continue() {
    let mut options = Options::demo().with(Setting::DemoDelayMs, "4000");
    options.max_connections = Some(20);
    let app = spawn_app(options).await;
    app.put_slot("nanobanana", 3, json!({"kind": "prompt", "prompt": "x"}))
        .await;
    let addr = app.addr;
    let upload = tokio::spawn(async move {
        let (content_type, body) = dslr_body(
            UPLOAD_PASSWORD,
            "a.jpg",
            "image/jpeg",
            &sample("guest-512.jpg"),
        );
        dslr_post(addr, SLOT, &content_type, &body).await.status
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Silent connections until one is refused (the admin client's pooled one counts too).
    let mut held = Vec::new();
    loop {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        if closed_within(&mut stream, Duration::from_millis(100)).await {
            break;
        }
        held.push(stream);
        assert!(held.len() < 20, "the cap holds");
    }
    assert!(held.len() >= 17, "refused only at the cap: {}", held.len());
    assert!(!upload.is_finished());
    assert_eq!(
        upload.await.unwrap(),
        200,
        "the upload in progress finished"
    );
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.assert_alive().await;
}

/// An all-zero RGBA PNG at the pixel cap, written row by row (it is 466 KB; its pixels 480 MB).
fn largest_png() -> (Vec<u8>, f64) {
    let side = 10_950u32;
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, side, side);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder.write_header().unwrap();
        let mut rows = writer.stream_writer().unwrap();
        let row = vec![0u8; side as usize * 4];
        for _ in 0..side {
            std::io::Write::write_all(&mut rows, &row).unwrap();
        }
        rows.finish().unwrap();
    }
    let decoded_mb = f64::from(side) * f64::from(side) * 4.0 / 1_048_576.0;
    (out, decoded_mb)
}

#[tokio::test]
async fn the_largest_png_needs_less_memory_than_its_pixels() {
    let (png, decoded_mb) = largest_png();
    let data = tempfile::tempdir().unwrap();
    // A transparent frame is blank: the checks would refuse the demo's answer, and this test
    // is about the memory of decoding it.
    let options = ServerOptions {
        env: vec![("BOOTHGATE_CHECK_RESULTS", "0".into())],
        ..Default::default()
    };
    let server = Server::start_with(data.path(), options).await;
    let (idle, _) = server.memory_mb();
    let (content_type, body) = dslr_body(UPLOAD_PASSWORD, "big.png", "image/png", &png);
    let answer = dslr_post(server.addr, SLOT, &content_type, &body).await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(image_size(&answer.body), (2048, 2048));
    let (_, peak) = server.memory_mb();
    assert!(
        peak - idle < decoded_mb * 1.2,
        "peak {peak:.0} MB against {idle:.0} MB idle, pixels {decoded_mb:.0} MB"
    );
    eprintln!("largest PNG: peak {peak:.0} MB, idle {idle:.0} MB, pixels {decoded_mb:.0} MB");
}

/// An API that answers every request with a redirect to `to`, and one that records what the
/// redirected requests carried.
async fn redirecting_fake(to: &str) -> wiremock::MockServer {
    let fake = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(
            wiremock::ResponseTemplate::new(302).insert_header("location", format!("{to}/steal")),
        )
        .mount(&fake)
        .await;
    fake
}

#[tokio::test]
async fn a_redirect_to_another_host_never_carries_the_key() {
    let elsewhere = wiremock::MockServer::start().await;
    let gemini = redirecting_fake(&elsewhere.uri()).await;
    let app = spawn_app(
        Options::default()
            .with(Setting::NanobananaApiKey, "gemini-secret-key")
            .with(Setting::NanobananaBaseUrl, &gemini.uri()),
    )
    .await;
    app.put_slot("nanobanana", 3, json!({"kind": "prompt", "prompt": "x"}))
        .await;
    let answer = upload_sample(&app, SLOT, "guest-512.jpg").await;
    assert_eq!(
        answer.status,
        502,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let port = elsewhere.address().port();
    let message = answer.json()["message"].as_str().unwrap().to_owned();
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    let stolen = elsewhere.received_requests().await.unwrap();
    assert!(stolen.is_empty(), "the other host was never asked");
    let asked = gemini.received_requests().await.unwrap();
    let paths: Vec<_> = asked.iter().map(|r| r.url.path().to_owned()).collect();
    let generations = paths.iter().filter(|p| p.ends_with(":generateContent"));
    assert_eq!(generations.count(), 1, "no retry: {paths:?}");
    let settings = app.admin_html("/admin/settings").await;
    assert!(
        settings.contains("redirected to another host"),
        "shown on Settings"
    );
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_and_secrets_are_private_and_an_old_install_is_tightened() {
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app(Options::demo()).await;
    app.put_slot("nanobanana", 3, json!({"prompt": "written to the WAL"}))
        .await;
    let data = app.data_dir();
    let files = [
        "boothgate.db",
        "boothgate.db-wal",
        "boothgate.db-shm",
        "secret.key",
    ];
    assert_eq!(mode(&data), 0o700);
    for file in files {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    let dir = app.stop().await;
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    for file in ["boothgate.db", "secret.key"] {
        std::fs::set_permissions(data.join(file), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let again = spawn_app_in(dir, Options::demo()).await;
    assert_eq!(mode(&data), 0o700);
    for file in ["boothgate.db", "secret.key"] {
        assert_eq!(mode(&again.data_dir().join(file)), 0o600, "{file}");
    }
}

#[tokio::test]
async fn a_body_over_the_cap_is_refused_as_it_streams_and_leaves_nothing() {
    const CAP_MB: usize = 150;
    let data = tempfile::tempdir().unwrap();
    let options = ServerOptions {
        env: vec![("BOOTHGATE_MAX_UPLOAD_MB", CAP_MB.to_string())],
        ..Default::default()
    };
    let server = Server::start_with(data.path(), options).await;
    let (idle, _) = server.memory_mb();
    let (content_type, head, _) = dslr_envelope(UPLOAD_PASSWORD);
    // No Content-Length: the server learns the size only by reading.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let request = format!(
        "POST {SLOT} HTTP/1.1\r\nhost: booth\r\ncontent-type: {content_type}\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let incoming = data.path().to_path_buf();
    let sender = tokio::spawn(async move {
        let chunk =
            |bytes: &[u8]| [format!("{:x}\r\n", bytes.len()).as_bytes(), bytes, b"\r\n"].concat();
        writer.write_all(&chunk(&head)).await.unwrap();
        let mut megabyte = vec![0x5Au8; 1024 * 1024];
        megabyte[..3].copy_from_slice(&[0xFF, 0xD8, 0xFF]);
        let mut largest_on_disk = 0;
        for sent in 1..=CAP_MB + 50 {
            if writer.write_all(&chunk(&megabyte)).await.is_err() {
                break;
            }
            megabyte[..3].fill(0x5A);
            if sent == CAP_MB / 2 {
                largest_on_disk = incoming_files(incoming.clone())
                    .iter()
                    .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
                    .max()
                    .unwrap_or(0);
            }
        }
        largest_on_disk
    });
    let mut answer = Vec::new();
    let end = read_head(&mut reader, &mut answer)
        .await
        .expect("an answer");
    let head = String::from_utf8_lossy(&answer[..end]).into_owned();
    let largest_on_disk = sender.await.unwrap();
    let (_, peak) = server.memory_mb();
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(
        largest_on_disk > (CAP_MB as u64 / 4) << 20,
        "half-way the photo is on disk: {largest_on_disk} bytes"
    );
    assert!(
        peak - idle < 50.0,
        "{CAP_MB} MB refused with a peak of {peak:.0} MB against {idle:.0} MB idle"
    );
    let data_dir = data.path().to_path_buf();
    wait_until("the partial file is removed", || {
        incoming_files(data_dir.clone()).is_empty()
    })
    .await;
    assert!(!data.path().join("media/originals").exists());
}
