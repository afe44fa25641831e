//! Provider faults: for each provider, a raw HTTP server misbehaves in one way per case, and
//! the booth must get the documented status within the deadline and half a second, with its
//! photo kept in the trash and the job and statistics right.

use crate::common::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use boothgate::config::Setting;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const DEADLINE_SECS: u64 = 3;

#[derive(Clone, Copy, Debug)]
enum Fault {
    Status500,
    Status429,
    Status503,
    Hang,
    Drip,
    Reset,
    MalformedJson,
    Huge,
    NotAnImage,
    Bomb,
}

const FAULTS: [Fault; 10] = [
    Fault::Status500,
    Fault::Status429,
    Fault::Status503,
    Fault::Hang,
    Fault::Drip,
    Fault::Reset,
    Fault::MalformedJson,
    Fault::Huge,
    Fault::NotAnImage,
    Fault::Bomb,
];

impl Fault {
    /// What the booth must get.
    fn expected(self) -> (u16, &'static str) {
        match self {
            Fault::Hang | Fault::Drip => (504, "timed_out"),
            _ => (502, "failed"),
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Provider {
    Gemini,
    Turbotext,
    Images,
}

fn http(status: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    [format!("HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len()).as_bytes(), body].concat()
}

fn json_ok(value: serde_json::Value) -> Vec<u8> {
    http("200 OK", "application/json", value.to_string().as_bytes())
}

/// The provider's own success answer around some image bytes.
fn image_answer(provider: Provider, image: &[u8], base: &str) -> Vec<u8> {
    match provider {
        Provider::Gemini => json_ok(json!({"candidates": [{"content": {"parts": [
            {"inlineData": {"mimeType": "image/png", "data": BASE64.encode(image)}}]}, "finishReason": "STOP"}]})),
        Provider::Images => json_ok(json!({"data": [{"b64_json": BASE64.encode(image)}]})),
        Provider::Turbotext => {
            json_ok(json!({"success": true, "uploaded_image": format!("{base}/result.png")}))
        }
    }
}

/// Reads one request; returns its request line.
async fn read_request(stream: &mut TcpStream) -> Option<String> {
    let mut buffer = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let mut chunk = vec![0u8; 65536];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    head.lines().next().map(str::to_owned)
}

/// Misbehaves on the request that carries the image; plays along with any other.
async fn serve(listener: TcpListener, provider: Provider, fault: Fault) {
    let base = format!("http://{}", listener.local_addr().unwrap());
    let base = Arc::new(base);
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        let base = base.clone();
        tokio::spawn(async move {
            let Some(line) = read_request(&mut stream).await else {
                return;
            };
            // Turbotext queues first: a fault of the content comes with the result download,
            // a fault of the transport with the queue itself.
            let content_fault = matches!(fault, Fault::NotAnImage | Fault::Bomb | Fault::Huge);
            if provider == Provider::Turbotext && content_fault && line.contains("/api_ai/") {
                let _ = stream.write_all(&queue_answer(&base)).await;
                return;
            }
            misbehave(&mut stream, provider, fault, &base).await;
        });
    }
}

fn queue_answer(base: &str) -> Vec<u8> {
    // The same answer serves create_queue (a queue id) and get_result (the result link).
    json_ok(json!({"success": true, "queueid": 7, "uploaded_image": format!("{base}/result.png")}))
}

async fn misbehave(stream: &mut TcpStream, provider: Provider, fault: Fault, base: &str) {
    let answer = match fault {
        Fault::Status500 => http(
            "500 Internal Server Error",
            "application/json",
            br#"{"error":{"code":500,"message":"internal"}}"#,
        ),
        Fault::Status429 => http(
            "429 Too Many Requests",
            "application/json",
            br#"{"error":{"code":429,"message":"slow down"}}"#,
        ),
        Fault::Status503 => http(
            "503 Service Unavailable",
            "application/json",
            br#"{"error":{"code":503,"message":"overloaded"}}"#,
        ),
        Fault::MalformedJson => http(
            "200 OK",
            "application/json",
            b"{\"candidates\": [ {\"content\": oops",
        ),
        Fault::Huge => http(
            "200 OK",
            "application/octet-stream",
            &vec![b'a'; 50 * 1024 * 1024],
        ),
        Fault::NotAnImage if provider == Provider::Turbotext => {
            http("200 OK", "image/png", b"<html>not an image</html>")
        }
        Fault::NotAnImage => image_answer(provider, b"<html>not an image</html>", base),
        Fault::Bomb if provider == Provider::Turbotext => {
            http("200 OK", "image/png", &decompression_bomb())
        }
        Fault::Bomb => image_answer(provider, &decompression_bomb(), base),
        Fault::Hang => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            return;
        }
        Fault::Drip => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n").await;
            for _ in 0..600 {
                if stream.write_all(b" ").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            return;
        }
        Fault::Reset => {
            // Linger zero: closing sends a reset instead of a clean end.
            let _ = stream.set_zero_linger();
            return;
        }
    };
    let _ = stream.write_all(&answer).await;
}

async fn app_for(provider: Provider, fault_base: &str) -> TestApp {
    let options = Options {
        public_url_is_self: true,
        ..Default::default()
    }
    .with(Setting::DeadlineSecs, &DEADLINE_SECS.to_string());
    let options = match provider {
        Provider::Gemini => options
            .with(Setting::NanobananaApiKey, "k")
            .with(Setting::NanobananaBaseUrl, &format!("{fault_base}/v1beta")),
        Provider::Turbotext => options
            .with(Setting::TurbotextApiKey, "k")
            .with(Setting::TurbotextBaseUrl, &format!("{fault_base}/api_ai"))
            .with(Setting::TurbotextPollMs, "200"),
        Provider::Images => options
            .with(Setting::ImagesApiKey, "k")
            .with(Setting::ImagesBaseUrl, &format!("{fault_base}/v1")),
    };
    let app = spawn_app(options).await;
    let tab = tab(provider);
    app.put_slot(tab, 1, json!({"kind": "prompt", "prompt": "x"}))
        .await;
    app
}

fn tab(provider: Provider) -> &'static str {
    match provider {
        Provider::Gemini => "nanobanana",
        Provider::Turbotext => "turbotext",
        Provider::Images => "deepseek",
    }
}

async fn run_case(provider: Provider, fault: Fault) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, provider, fault));
    let app = app_for(provider, &base).await;
    let tab = tab(provider);
    let started = Instant::now();
    let response = upload_sample(&app, &format!("/upload/{tab}/1"), "guest-512.jpg").await;
    let elapsed = started.elapsed();
    let (status, job_status) = fault.expected();
    let case = format!("{tab} {fault:?}");
    assert_eq!(
        response.status,
        status,
        "{case}: {}",
        String::from_utf8_lossy(&response.body)
    );
    assert!(
        elapsed < Duration::from_millis(DEADLINE_SECS * 1000 + 500),
        "{case}: {elapsed:?}"
    );
    app.job_in_trash(&response, job_status).await;
    let stats = app.admin_json("/admin/api/stats").await;
    let counts = &stats["providers"][tab];
    let key = if status == 504 { "timed_out" } else { "failed" };
    assert_eq!(counts[key], 1, "{case}: {counts}");
    assert_eq!(counts["processed"], 0, "{case}");
    app.assert_alive().await;
}

async fn all_faults(provider: Provider) {
    let mut cases = tokio::task::JoinSet::new();
    for fault in FAULTS {
        cases.spawn(run_case(provider, fault));
    }
    while let Some(case) = cases.join_next().await {
        if let Err(e) = case {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_faults() {
    all_faults(Provider::Gemini).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turbotext_faults() {
    all_faults(Provider::Turbotext).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_endpoint_faults() {
    all_faults(Provider::Images).await;
}
