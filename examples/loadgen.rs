//! Load generator: starts the release server with a model of fixed latency, lets N booths upload
//! a photo at once, and reports the share of AI photos delivered, latency, server overhead
//! (response time minus model latency), CPU time per job and peak memory of the server.
//!
//! cargo build --release && cargo run --release --example loadgen -- \
//!     --booths 40 --rounds 1 --model-ms 1000
//!
//! Without `--photo FILE` every booth sends a generated 24 MP camera-sized JPEG (the same one
//! the tests use); `--sample NAME` picks another of the tests' sample images.
//!
//! The model is the built-in demo effect (`--provider demo`, the default) or a local fake of
//! Gemini's `generateContent` (`--provider gemini`) answering a fixed image after `--model-ms`.
//! `--chaos FAIL,HANG` makes that fake answer 503 "overloaded" to FAIL % of the calls and hang
//! on HANG %; `--fallback-ms N` gives the booth slot a healthy fallback (a fake images endpoint
//! on the DeepSeek tab answering after N ms), started after `--hedge-secs` at the latest.
//!
//! `--strangers N` measures instead what N uploads cost that send `--stranger-kb` KB of photo
//! before any password and then hold the connection, each from its own loopback address.
//!
//! `--export` runs the booths inside an event and then downloads the event's ZIP, timing it and
//! reading the server's memory before and after.
//!
//! `--events N` (with `--event-jobs M`) fills the database with N past events of M finished booth
//! jobs each and times the Events page and `GET /admin/api/events` over them.

#[path = "../tests/it/samples.rs"]
#[allow(dead_code)]
mod samples;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The load generator's flags.
#[derive(clap::Parser)]
#[command(about = "Load and cost measurements of the release server")]
struct Args {
    /// Booths uploading at once.
    #[arg(long, default_value_t = 40)]
    booths: usize,
    /// Uploads per booth, one after another.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// A photo file to send instead of the tests' sample image.
    #[arg(long)]
    photo: Option<PathBuf>,
    /// The tests' sample image to send.
    #[arg(long, default_value = "guest-6000x4000.jpg")]
    sample: String,
    /// The model's fixed latency.
    #[arg(long, default_value_t = 1000)]
    model_ms: u64,
    /// The server binary to run.
    #[arg(long, default_value = "target/release/boothgate")]
    binary: PathBuf,
    /// `demo` or `gemini`.
    #[arg(long, default_value = "demo")]
    provider: String,
    /// Percentages of the fake model's calls that fail with 503 and that hang: FAIL,HANG.
    #[arg(long, default_value = "0,0", value_parser = parse_chaos)]
    chaos: (u64, u64),
    /// A fallback slot answering after this many ms.
    #[arg(long)]
    fallback_ms: Option<u64>,
    /// Seconds before the fallback starts as well.
    #[arg(long, default_value_t = 25)]
    hedge_secs: u64,
    /// The server's deadline in seconds.
    #[arg(long = "deadline", default_value_t = 50)]
    deadline_secs: u64,
    /// Connections that send a photo's first KB without a password, then hold.
    #[arg(long, default_value_t = 0)]
    strangers: usize,
    /// KB of photo each stranger sends before holding.
    #[arg(long, default_value_t = 256)]
    stranger_kb: usize,
    /// Run the booths inside an event, then download its export.
    #[arg(long)]
    export: bool,
    /// Past events to fill the database with.
    #[arg(long, default_value_t = 0)]
    events: usize,
    /// Booth jobs in each of those events.
    #[arg(long, default_value_t = 200)]
    event_jobs: usize,
    /// The booth slot's people check (`off`, `at_least_one`, `as_many_as_guest`); the result
    /// checks themselves are switched by `BOOTHGATE_CHECK_RESULTS`, which the server inherits.
    #[arg(long, default_value = "off")]
    people_check: String,
}

fn parse_chaos(value: &str) -> Result<(u64, u64), String> {
    let (fail, hang) = value.split_once(',').ok_or("FAIL,HANG")?;
    let percent = |s: &str| s.trim().parse::<u64>().map_err(|e| format!("{s}: {e}"));
    Ok((percent(fail)?, percent(hang)?))
}

/// utime + stime of a process, in milliseconds.
fn cpu_ms(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    let after_name = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // Linux reports CPU time in clock ticks of 1/100 s.
    ticks * 10
}

fn peak_rss_mb(pid: u32) -> f64 {
    memory_mb(pid, "VmHWM:")
}

/// A memory figure of `/proc/{pid}/status` (`VmRSS:`, `VmHWM:`), in MB.
fn memory_mb(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .expect("a memory field");
    let kb: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb / 1024.0
}

/// Downloads an event's ZIP as a browser would, counting its bytes.
async fn download_export(client: &reqwest::Client, base: &str, event: i64, pid: u32) {
    let before = memory_mb(pid, "VmRSS:");
    let started = Instant::now();
    let mut response = client
        .get(format!("{base}/admin/api/events/{event}/export"))
        .basic_auth("admin", Some("load-test"))
        .send()
        .await
        .expect("export");
    assert!(
        response.status().is_success(),
        "export: {}",
        response.status()
    );
    let mut bytes = 0u64;
    while let Some(chunk) = response.chunk().await.expect("export body") {
        bytes += chunk.len() as u64;
    }
    println!(
        "export: {:.0} MB in {:.2} s; server RSS {before:.0} → {:.0} MB, peak {:.0} MB",
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        memory_mb(pid, "VmRSS:"),
        peak_rss_mb(pid)
    );
}

/// Fills the server's database with `events` ended events of `jobs` succeeded booth jobs each
/// (one attempt apiece), in the columns every version has, while the server runs.
async fn fill_events(data: &std::path::Path, events: usize, jobs: usize) {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(data.join("boothgate.db"))
        .busy_timeout(Duration::from_secs(30));
    let pool = sqlx::SqlitePool::connect_with(options)
        .await
        .expect("database");
    let mut tx = pool.begin().await.expect("transaction");
    let start: i64 = 1_760_000_000_000;
    for e in 0..events as i64 {
        let at = start + e * 86_400_000;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO events (name, started_at, ended_at) VALUES (?, ?, ?) RETURNING id",
        )
        .bind(format!("Event {e}"))
        .bind(at)
        .bind(at + 3_600_000)
        .fetch_one(&mut *tx)
        .await
        .expect("event");
        for j in 0..jobs as i64 {
            let job = format!("job-{e}-{j}");
            sqlx::query(
                "INSERT INTO jobs (id, created_at, finished_at, provider, slot, kind, status,
                                   latency_ms, model_ms, original_path, result_path, event_id,
                                   answered_by)
                 VALUES (?, ?, ?, 'nanobanana', 1, 'prompt', 'succeeded', 9000, 8000, ?, ?, ?,
                         'nanobanana/1')",
            )
            .bind(&job)
            .bind(at + j * 1000)
            .bind(at + j * 1000 + 9000)
            .bind(format!("originals/x/{job}.jpg"))
            .bind(format!("results/x/{job}.jpg"))
            .bind(id)
            .execute(&mut *tx)
            .await
            .expect("job");
            sqlx::query(
                "INSERT INTO attempts (job, seq, provider, slot, started_ms, ended_ms, outcome)
                 VALUES (?, 0, 'nanobanana', 1, 10, 9000, 'succeeded')",
            )
            .bind(&job)
            .execute(&mut *tx)
            .await
            .expect("attempt");
        }
    }
    tx.commit().await.expect("commit");
    pool.close().await;
}

/// The slowest of three fetches of an admin page, in seconds.
async fn time_admin_page(client: &reqwest::Client, url: &str) -> f64 {
    let mut slowest: f64 = 0.0;
    for _ in 0..3 {
        let started = Instant::now();
        let response = client
            .get(url)
            .basic_auth("admin", Some("load-test"))
            .send()
            .await
            .expect("page");
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        response.bytes().await.expect("body");
        slowest = slowest.max(started.elapsed().as_secs_f64());
    }
    slowest
}

/// Opens `count` uploads, each from its own loopback address (so no per-address limit
/// applies), that send the first `kb` KB of a photo before any password and then hold; prints
/// what they cost the server's memory while held and after they close.
async fn hold_strangers(pid: u32, addr: std::net::SocketAddr, path: &str, count: usize, kb: usize) {
    use tokio::io::AsyncWriteExt;
    let idle = memory_mb(pid, "VmRSS:");
    let len = kb * 1024;
    let part = "--b\r\nContent-Disposition: form-data; name=\"fileToUpload\"; filename=\"a.jpg\"\r\n\
                Content-Type: image/jpeg\r\n\r\n";
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: multipart/form-data; boundary=b\r\n\
         content-length: {}\r\n\r\n{part}",
        part.len() + len * 4
    );
    let mut photo = vec![0x55u8; len];
    photo[..3].copy_from_slice(&[0xFF, 0xD8, 0xFF]);
    let mut held = Vec::new();
    for i in 0..count {
        let local = std::net::Ipv4Addr::new(127, 1 + (i / 250) as u8, 0, 1 + (i % 250) as u8);
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.bind((local, 0).into()).expect("a loopback address");
        let mut stream = socket.connect(addr).await.expect("connect");
        stream.write_all(head.as_bytes()).await.expect("head");
        stream.write_all(&photo).await.expect("photo");
        held.push(stream);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let holding = memory_mb(pid, "VmRSS:");
    drop(held);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = memory_mb(pid, "VmRSS:");
    println!(
        "{count} uploads held after {kb} KB of photo without a password: RSS {idle:.1} MB idle, \
         {holding:.1} MB holding ({:.0} KB each), {after:.1} MB after they closed",
        (holding - idle) * 1024.0 / count as f64
    );
}

fn multipart(photo: &[u8]) -> (String, Vec<u8>) {
    let boundary = "------------090306000104030805010400";
    let mut body = Vec::new();
    for (name, value) in [
        ("time", "1758217512"),
        ("name", "LOADGEN"),
        ("version", "3.30.2"),
        ("password", "load-test"),
    ] {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"fileToUpload\"; filename=\"IMG.JPG\"\r\nContent-Type: image/jpeg\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(photo);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A PNG the fake models answer with: 1024×1024 with a photo's detail, so that it weighs what
/// a model's answer weighs (about 1.5 MB) and costs as much to decode.
fn answer_png() -> Vec<u8> {
    let mut seed = 0x2545_F491u32;
    let image = image::RgbImage::from_fn(1024, 1024, |x, y| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let grain = (seed % 10) as u8;
        image::Rgb([(x / 5) as u8 + grain, (y / 5) as u8 + grain, 120 + grain])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("png");
    out.into_inner()
}

/// Fakes of Gemini's `generateContent` (with its chaos) and of an images endpoint, on one
/// local port; returns its base URL.
async fn start_fakes(model_ms: u64, chaos: (u64, u64), fallback_ms: u64) -> String {
    use axum::routing::post;
    use base64::Engine;
    use std::sync::atomic::{AtomicU64, Ordering};
    let image = base64::engine::general_purpose::STANDARD.encode(answer_png());
    let calls = std::sync::Arc::new(AtomicU64::new(0));
    let gemini_image = image.clone();
    // Each fake reads the whole request, as a real service does: an answer larger than the
    // socket buffers would otherwise wait for a request body nobody reads.
    let gemini = move |_request: axum::body::Bytes| {
        let (image, calls) = (gemini_image.clone(), calls.clone());
        async move {
            // Spread the faults evenly: of every 100 calls, the first FAIL fail, the next HANG hang.
            let n = calls.fetch_add(1, Ordering::Relaxed) * 37 % 100;
            if n < chaos.0 {
                let error = serde_json::json!({"error": {"code": 503,
                    "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}});
                return (
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    axum::Json(error),
                );
            }
            let wait = if n < chaos.0 + chaos.1 {
                3_600_000
            } else {
                model_ms
            };
            tokio::time::sleep(Duration::from_millis(wait)).await;
            let answer = serde_json::json!({"candidates": [{"content": {"parts": [
                {"inlineData": {"mimeType": "image/png", "data": image}}]}, "finishReason": "STOP"}]});
            (axum::http::StatusCode::OK, axum::Json(answer))
        }
    };
    let images = move |_request: axum::body::Bytes| {
        let image = image.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(fallback_ms)).await;
            axum::Json(serde_json::json!({"data": [{"b64_json": image}]}))
        }
    };
    let app = axum::Router::new()
        .route("/models/{call}", post(gemini))
        .route("/v1/images/edits", post(images));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let args = <Args as clap::Parser>::parse();
    let photo = match &args.photo {
        Some(path) => std::fs::read(path).expect("photo"),
        None => samples::sample(&args.sample),
    };
    let data = tempfile::tempdir().expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = Command::new(&args.binary);
    command
        .env("BOOTHGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env("BOOTHGATE_DATA_DIR", data.path())
        .env("BOOTHGATE_UPLOAD_PASSWORD", "load-test")
        .env("BOOTHGATE_ADMIN_PASSWORD", "load-test")
        .env("BOOTHGATE_DEADLINE_SECS", args.deadline_secs.to_string())
        .env(
            "RUST_LOG",
            std::env::var("LOADGEN_SERVER_LOG").unwrap_or("warn".into()),
        )
        .stdout(if std::env::var_os("LOADGEN_SERVER_LOG").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        });
    if args.provider == "gemini" {
        let fakes = start_fakes(args.model_ms, args.chaos, args.fallback_ms.unwrap_or(0)).await;
        command
            .env("BOOTHGATE_GEMINI_API_KEY", "load-test")
            .env("BOOTHGATE_GEMINI_BASE_URL", &fakes)
            .env("BOOTHGATE_IMAGES_API_KEY", "load-test")
            .env("BOOTHGATE_IMAGES_BASE_URL", format!("{fakes}/v1"));
    } else {
        command
            .env("BOOTHGATE_DEMO", "1")
            .env("BOOTHGATE_DEMO_DELAY_MS", args.model_ms.to_string());
    }
    let mut server = command
        .spawn()
        .expect("server starts (build it with cargo build --release)");
    let pid = server.id();
    let base = format!("http://127.0.0.1:{port}");
    boothgate::install_crypto_provider();
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let fallbacks: Vec<&str> = args.fallback_ms.map(|_| "deepseek/1").into_iter().collect();
    let mut link = String::new();
    for (slot, settings) in [
        (
            "deepseek/1",
            serde_json::json!({"kind": "prompt", "prompt": "load test"}),
        ),
        (
            "nanobanana/1",
            serde_json::json!({"kind": "prompt", "prompt": "load test", "fallbacks": fallbacks,
                               "fallback_after_secs": args.hedge_secs.min(args.deadline_secs),
                               "people_check": args.people_check}),
        ),
    ] {
        let saved = client
            .put(format!("{base}/admin/api/slots/{slot}"))
            .basic_auth("admin", Some("load-test"))
            .json(&settings)
            .send()
            .await
            .expect("slot configured");
        assert!(saved.status().is_success(), "{slot}: {}", saved.status());
        let saved: serde_json::Value = saved.json().await.expect("the slot's JSON");
        if slot == "nanobanana/1" {
            link = saved["upload_url"].as_str().expect("its link").to_owned();
        }
    }
    let link_path = link.replace(&base, "");
    if args.events > 0 {
        fill_events(data.path(), args.events, args.event_jobs).await;
        let page = time_admin_page(&client, &format!("{base}/admin/events")).await;
        let api = time_admin_page(&client, &format!("{base}/admin/api/events")).await;
        println!(
            "{} events × {} jobs: /admin/events {page:.2} s, /admin/api/events {api:.2} s \
             (slowest of 3)",
            args.events, args.event_jobs
        );
        let _ = server.kill();
        let _ = server.wait();
        return;
    }
    if args.strangers > 0 {
        let addr = format!("127.0.0.1:{port}").parse().expect("address");
        hold_strangers(pid, addr, &link_path, args.strangers, args.stranger_kb).await;
        let _ = server.kill();
        let _ = server.wait();
        return;
    }

    let event = if args.export {
        let created: serde_json::Value = client
            .post(format!("{base}/admin/api/events"))
            .basic_auth("admin", Some("load-test"))
            .json(&serde_json::json!({"name": "Load test"}))
            .send()
            .await
            .expect("event started")
            .json()
            .await
            .expect("event JSON");
        created["id"].as_i64()
    } else {
        None
    };
    let (content_type, body) = multipart(&photo);
    let body = axum::body::Bytes::from(body);
    let cpu_before = cpu_ms(pid);
    let started = Instant::now();
    let mut booths = tokio::task::JoinSet::new();
    for _ in 0..args.booths {
        let (client, url, content_type, body) = (
            client.clone(),
            link.clone(),
            content_type.clone(),
            body.clone(),
        );
        let rounds = args.rounds;
        booths.spawn(async move {
            let mut results = Vec::new();
            for _ in 0..rounds {
                let sent = Instant::now();
                let response = client
                    .post(&url)
                    .header("content-type", &content_type)
                    .body(body.clone())
                    .send()
                    .await;
                let ok = match response {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                results.push((ok, sent.elapsed()));
            }
            results
        });
    }
    let results: Vec<(bool, Duration)> = booths.join_all().await.into_iter().flatten().collect();
    let wall = started.elapsed();
    let cpu = cpu_ms(pid) - cpu_before;
    let rss = peak_rss_mb(pid);
    if let Some(event) = event {
        download_export(&client, &base, event, pid).await;
    }
    let _ = server.kill();
    let _ = server.wait();

    let ok = results.iter().filter(|(ok, _)| *ok).count();
    let mut overhead: Vec<f64> = results
        .iter()
        .map(|(_, d)| d.as_secs_f64() * 1000.0 - args.model_ms as f64)
        .collect();
    overhead.sort_by(f64::total_cmp);
    let slowest = results
        .iter()
        .map(|(_, d)| d.as_secs_f64())
        .fold(0.0, f64::max);
    println!(
        "photo: {} ({} bytes), booths: {}, rounds: {}, model: {} ms",
        args.photo
            .as_ref()
            .map_or(args.sample.clone(), |p| p.display().to_string()),
        photo.len(),
        args.booths,
        args.rounds,
        args.model_ms
    );
    if args.provider != "demo" {
        println!(
            "provider: fake {}, chaos: {}% 503, {}% hang; fallback: {}; deadline {} s",
            args.provider,
            args.chaos.0,
            args.chaos.1,
            args.fallback_ms.map_or("none".into(), |ms| format!(
                "{ms} ms, hedged after {} s",
                args.hedge_secs
            )),
            args.deadline_secs
        );
    }
    let mut latency: Vec<f64> = results.iter().map(|(_, d)| d.as_secs_f64()).collect();
    latency.sort_by(f64::total_cmp);
    println!(
        "answered 200 (AI photo delivered): {ok}/{} = {:.1} %",
        results.len(),
        ok as f64 * 100.0 / results.len() as f64
    );
    println!(
        "latency: p50 {:.2} s, p95 {:.2} s",
        percentile(&latency, 50.0),
        percentile(&latency, 95.0)
    );
    println!(
        "wall time: {:.2} s, slowest answer: {slowest:.2} s",
        wall.as_secs_f64()
    );
    println!(
        "throughput: {:.2} jobs/s",
        results.len() as f64 / wall.as_secs_f64()
    );
    println!(
        "server overhead (response time - model latency): p50 {:.0} ms, p99 {:.0} ms",
        percentile(&overhead, 50.0),
        percentile(&overhead, 99.0)
    );
    println!(
        "server CPU per job: {:.0} ms",
        cpu as f64 / results.len() as f64
    );
    println!("server peak RSS: {rss:.0} MB");
}
