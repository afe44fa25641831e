//! The real server on port 0 with a throw-away data folder, and clients that talk to it as a
//! booth and as an operator do.

pub use crate::samples::sample;
use boothgate::AppState;
use boothgate::config::{Config, Setting};
use std::net::SocketAddr;
use std::path::PathBuf;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const ADMIN_USER: &str = "admin";
pub const ADMIN_PASSWORD: &str = "test-admin-password";
pub const UPLOAD_PASSWORD: &str = "booth-secret-123";

pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub state: AppState,
    pub dir: TempDir,
    pub client: reqwest::Client,
    pub generated: Vec<(&'static str, String)>,
    shutdown: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

#[derive(Clone, Default)]
pub struct Options {
    pub demo: bool,
    pub overrides: Vec<(Setting, String)>,
    /// Leave the passwords to the server's first start.
    pub generated_passwords: bool,
    /// Set the public URL to the server's own address (for providers that fetch by link).
    pub public_url_is_self: bool,
    /// Serve HTTPS with this certificate and key (PEM files).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// A shorter slow-loris guard than the default.
    pub header_timeout: Option<std::time::Duration>,
    /// Another cap on open connections than the default.
    pub max_connections: Option<usize>,
    /// A shorter time a failing provider stays down.
    pub provider_cooldown: Option<std::time::Duration>,
    /// A shorter write timeout than the default.
    pub write_timeout: Option<std::time::Duration>,
    /// How often the background loops look at the clock, if not the default.
    pub watch_every: Option<std::time::Duration>,
    /// Only the slots' token links, as on a new install. Otherwise the plain
    /// `/upload/{provider}/{slot}` paths answer too ("Simple links"), which most tests use.
    pub token_links: bool,
}

impl Options {
    pub fn demo() -> Options {
        Options {
            demo: true,
            ..Default::default()
        }
        .with(Setting::DemoDelayMs, "50")
    }

    /// The passwords left to the server's first start.
    pub fn generated() -> Options {
        Options {
            generated_passwords: true,
            ..Default::default()
        }
    }

    pub fn with(mut self, key: Setting, value: &str) -> Options {
        self.overrides.push((key, value.to_owned()));
        self
    }
}

/// A sample written to a file, for a browser's file input.
pub fn sample_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("boothgate-samples-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    if !path.is_file() {
        std::fs::write(&path, sample(name)).unwrap();
    }
    path
}

pub async fn spawn_app(options: Options) -> TestApp {
    spawn_app_in(tempfile::tempdir().expect("temp dir"), options).await
}

/// The server with slot nanobanana/3 set up to edit photos by `prompt`.
pub async fn spawn_app_with_prompt(options: Options, prompt: &str) -> TestApp {
    let app = spawn_app(options).await;
    let saved = app
        .put_slot(
            "nanobanana",
            3,
            serde_json::json!({"kind": "prompt", "prompt": prompt}),
        )
        .await;
    assert_eq!(
        saved.status(),
        200,
        "{}",
        saved.text().await.unwrap_or_default()
    );
    app
}

/// The server with slot nanobanana/3 editing photos by a prompt ("vintage look").
pub async fn demo_app(options: Options) -> TestApp {
    spawn_app_with_prompt(options, "vintage look").await
}

/// Starts the server on an existing data folder (as after a restart).
pub async fn spawn_app_in(dir: TempDir, options: Options) -> TestApp {
    boothgate::install_crypto_provider();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let mut config = Config::new(dir.path().join("data"));
    if options.public_url_is_self {
        config
            .overrides
            .insert(Setting::PublicUrl, format!("http://{addr}"));
    }
    config.demo = options.demo;
    config.tls = options.tls.clone();
    if let Some(timeout) = options.header_timeout {
        config.header_timeout = timeout;
    }
    if let Some(cap) = options.max_connections {
        config.max_connections = cap;
    }
    if let Some(cooldown) = options.provider_cooldown {
        config.provider_cooldown = cooldown;
    }
    if let Some(timeout) = options.write_timeout {
        config.write_timeout = timeout;
    }
    if let Some(every) = options.watch_every {
        config.watch_every = every;
    }
    if !options.token_links {
        config.overrides.insert(Setting::SimpleLinks, "1".into());
    }
    if !options.generated_passwords {
        config.admin_password = Some(ADMIN_PASSWORD.into());
        config
            .overrides
            .insert(Setting::UploadPassword, UPLOAD_PASSWORD.into());
    }
    for (key, value) in options.overrides {
        config.overrides.insert(key, value);
    }
    let app = boothgate::build_app(config).await.expect("app builds");
    let state = app.state.clone();
    let generated = app.generated.clone();
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(boothgate::serve(listener, app, async {
        let _ = stopped.await;
    }));
    TestApp {
        addr,
        base: format!("http://{addr}"),
        state,
        dir,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        generated,
        shutdown,
        server,
    }
}

impl TestApp {
    /// Stops the server gracefully and hands back its data folder.
    pub async fn stop(self) -> TempDir {
        let _ = self.shutdown.send(());
        self.server.await.expect("server task").expect("server ran");
        self.dir
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.admin_as(ADMIN_PASSWORD, method, path)
    }

    /// A request signed in as the admin user with `password`: the generated one, or a guess.
    pub fn admin_as(
        &self,
        password: &str,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .basic_auth(ADMIN_USER, Some(password))
    }

    /// A password the first start generated ("admin password", "upload password").
    pub fn secret(&self, what: &str) -> String {
        self.generated
            .iter()
            .find(|(w, _)| *w == what)
            .expect("generated at first start")
            .1
            .clone()
    }

    /// `GET path` as the admin, whatever it answers.
    pub async fn admin_get(&self, path: &str) -> reqwest::Response {
        self.admin(reqwest::Method::GET, path)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// `GET path` as the admin, which must answer 200.
    async fn admin_ok(&self, path: &str) -> reqwest::Response {
        let response = self.admin_get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response
    }

    /// A script's POST to the JSON API: `body`, or none, with the JSON type.
    pub async fn admin_post(
        &self,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> reqwest::Response {
        let request = self
            .admin(reqwest::Method::POST, path)
            .header("content-type", "application/json");
        match body {
            Some(body) => request.json(&body),
            None => request,
        }
        .send()
        .await
        .expect("request")
    }

    pub async fn admin_json(&self, path: &str) -> serde_json::Value {
        self.admin_ok(path).await.json().await.expect("JSON")
    }

    pub async fn admin_html(&self, path: &str) -> String {
        self.admin_ok(path).await.text().await.expect("body")
    }

    /// One slot's card, open, as a folded slot's "set up" link fetches it.
    pub async fn open_card(&self, provider: &str, slot: u8) -> String {
        let response = self
            .admin(reqwest::Method::GET, &format!("/admin/{provider}/{slot}"))
            .header("x-partial", "card")
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200);
        response.text().await.expect("body")
    }

    pub async fn put_slot(
        &self,
        provider: &str,
        slot: u8,
        json: serde_json::Value,
    ) -> reqwest::Response {
        self.admin(
            reqwest::Method::PUT,
            &format!("/admin/api/slots/{provider}/{slot}"),
        )
        .json(&json)
        .send()
        .await
        .expect("request")
    }

    pub async fn put_reference(
        &self,
        provider: &str,
        slot: u8,
        bytes: Vec<u8>,
    ) -> reqwest::Response {
        self.admin(
            reqwest::Method::PUT,
            &format!("/admin/api/slots/{provider}/{slot}/reference"),
        )
        .body(bytes)
        .send()
        .await
        .expect("request")
    }

    /// Every file under the data folder's media, relative to it, sorted.
    pub fn media_files(&self) -> Vec<String> {
        let root = self.data_dir().join("media");
        let mut files = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    files.push(
                        path.strip_prefix(&root)
                            .unwrap()
                            .to_string_lossy()
                            .into_owned(),
                    );
                }
            }
        }
        files.sort();
        files
    }

    pub async fn job(&self, id: &str) -> boothgate::store::JobRecord {
        self.state
            .store
            .job(id)
            .await
            .expect("query")
            .expect("job exists")
    }

    /// Waits until the providers' model lists have been fetched once (they are fetched in the
    /// background at start).
    pub async fn model_lists_fetched(&self, providers: &[&str]) -> serde_json::Value {
        for _ in 0..100 {
            let json = self.admin_json("/admin/api/providers").await;
            // Every list of each provider (DeepSeek's writer and its images endpoint).
            let fetched = |p: &&str| {
                json[p].as_object().is_some_and(|entry| {
                    entry
                        .iter()
                        .filter(|(key, _)| key.ends_with("checked_at"))
                        .all(|(_, at)| !at.is_null())
                })
            };
            if providers.iter().all(fetched) {
                return json;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the model lists of {providers:?} were never fetched");
    }

    pub async fn assert_alive(&self) {
        let health = self
            .client
            .get(self.url("/healthz"))
            .send()
            .await
            .expect("request");
        assert_eq!(health.status(), 200, "the server still answers");
    }

    /// The job an error answer names, once it has ended with `status`, its original kept in the
    /// trash on disk.
    pub async fn job_in_trash(
        &self,
        response: &RawResponse,
        status: &str,
    ) -> boothgate::store::JobRecord {
        let id = response.json()["job"]
            .as_str()
            .expect("the answer names its job")
            .to_owned();
        let job = self.finished_job(&id).await;
        assert_eq!(job.status.as_str(), status, "job {id}");
        assert!(
            job.original_path.starts_with("trash/"),
            "{}",
            job.original_path
        );
        assert!(
            self.data_dir()
                .join("media")
                .join(&job.original_path)
                .is_file(),
            "{}",
            job.original_path
        );
        job
    }

    /// Waits for a job to leave `processing` (its task may outlive the HTTP answer).
    pub async fn finished_job(&self, id: &str) -> boothgate::store::JobRecord {
        for _ in 0..100 {
            let job = self.job(id).await;
            if job.status != boothgate::domain::JobStatus::Processing {
                return job;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("job {id} never finished");
    }
}

/// Waits (up to 5 s) for something the server does in the background.
pub async fn wait_until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..100 {
        if done() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("never happened: {what}");
}

/// DSLR Remote Pro's form around a photo: the content type, everything before the photo's
/// bytes and everything after them, for tests that send the photo piece by piece.
pub fn dslr_envelope(password: &str) -> (String, Vec<u8>, Vec<u8>) {
    let (content_type, mut head) = dslr_body(password, "IMG_0003.JPG", "image/jpeg", &[]);
    let tail_start = head
        .windows(4)
        .rposition(|w| w == b"\r\n--")
        .expect("the closing boundary");
    let tail = head.split_off(tail_start);
    (content_type, head, tail)
}

/// Photos still arriving (or left behind by an upload that never ended) in a data folder.
pub fn incoming_files(data_dir: PathBuf) -> Vec<PathBuf> {
    std::fs::read_dir(data_dir.join("media").join("incoming"))
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// The multipart body DSLR Remote Pro 3.30.2 sends: its boundary, its fields, its order.
pub fn dslr_body(password: &str, file_name: &str, mime: &str, photo: &[u8]) -> (String, Vec<u8>) {
    let boundary = "------------090306000104030805010400";
    let fields = [
        ("time", "1758217512"),
        ("user_id", "Acer"),
        ("id", "CY04N068111304S2L_00000001."),
        (
            "profile",
            r"C:\Users\Acer\Documents\PhotoboothImages\setup_Serg.xml",
        ),
        (
            "status",
            r"C:\Users\Acer\Documents\PhotoboothImages\screenSerg\preview.jpg",
        ),
        ("hash", "7b6c683e1d3fd29c8701791c54e3c12a236f5a5b"),
        ("name", "DESKTOP-K968T3F"),
        ("model", "Windows"),
        ("version", "3.30.2"),
        ("password", password),
    ];
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"fileToUpload\"; filename=\"{file_name}\"\r\nContent-Type: {mime}\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(photo);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Whether the server said `100 Continue` before the body was sent.
    pub continued: bool,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("JSON body, got {:?}", String::from_utf8_lossy(&self.body)))
    }
}

pub async fn read_head(
    stream: &mut (impl tokio::io::AsyncRead + Unpin),
    buffer: &mut Vec<u8>,
) -> Option<usize> {
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(end + 4);
        }
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

/// Posts like DSLR Remote Pro: headers with `Expect: 100-continue`, then the body only once
/// the server said `100 Continue` (or a final answer came first).
pub async fn dslr_post(
    addr: SocketAddr,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> RawResponse {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nexpect: 100-continue\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("write head");
    let mut buffer = Vec::new();
    let end = read_head(&mut stream, &mut buffer)
        .await
        .expect("an answer to the headers");
    let continued = buffer.starts_with(b"HTTP/1.1 100");
    if continued {
        buffer.drain(..end);
        // A server may answer (and close) before it has read everything: read its answer anyway.
        let _ = stream.write_all(body).await;
    }
    let end = read_head(&mut stream, &mut buffer)
        .await
        .expect("a final answer");
    let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .expect("content-length on every answer");
    let mut body = buffer[end..].to_vec();
    while body.len() < length {
        let mut chunk = vec![0u8; 65536];
        let n = stream.read(&mut chunk).await.expect("read body");
        assert!(n > 0, "connection closed mid-body");
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    RawResponse {
        status,
        headers,
        body,
        continued,
    }
}

/// A full DSLR Remote Pro upload of a sample image to a slot.
pub async fn upload_sample(app: &TestApp, path: &str, name: &str) -> RawResponse {
    let photo = sample(name);
    let mime = if name.ends_with(".png") {
        "image/png"
    } else {
        "image/jpeg"
    };
    let (content_type, body) = dslr_body(UPLOAD_PASSWORD, "IMG_0003.JPG", mime, &photo);
    dslr_post(app.addr, path, &content_type, &body).await
}

/// The form token of the first admin form in a page.
pub fn csrf_token(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a form token") + marker.len();
    html[start..start + 64].to_owned()
}

pub fn image_size(bytes: &[u8]) -> (u32, u32) {
    let image = image::load_from_memory(bytes).expect("an image");
    (image.width(), image.height())
}

/// A PNG of a few dozen bytes whose header claims 60000×60000 pixels.
pub fn decompression_bomb() -> Vec<u8> {
    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut crc = 0xFFFF_FFFFu32;
        for &byte in kind.iter().chain(data) {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        [
            &(data.len() as u32).to_be_bytes()[..],
            kind,
            data,
            &(!crc).to_be_bytes(),
        ]
        .concat()
    }
    let ihdr = [
        &60_000u32.to_be_bytes()[..],
        &60_000u32.to_be_bytes(),
        &[8, 2, 0, 0, 0],
    ]
    .concat();
    let idat = [0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01];
    [
        &b"\x89PNG\r\n\x1a\n"[..],
        &chunk(b"IHDR", &ihdr),
        &chunk(b"IDAT", &idat),
        &chunk(b"IEND", &[]),
    ]
    .concat()
}

/// The real binary, on its own data folder and port, in demo mode with slot nanobanana/3 set
/// up for photos.
pub struct Server {
    pub child: std::process::Child,
    pub addr: SocketAddr,
    /// The admin password: fixed, or the one the first start generated and printed.
    pub admin_password: String,
}

/// Never leaves a server running behind a failed test.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Default)]
pub struct ServerOptions {
    pub demo_delay_ms: u32,
    /// Leave the admin password to the first start (stored as an argon2 hash).
    pub generated_admin_password: bool,
    pub env: Vec<(&'static str, String)>,
}

impl Server {
    pub async fn start(data: &std::path::Path, demo_delay_ms: u32) -> Server {
        let options = ServerOptions {
            demo_delay_ms,
            ..Default::default()
        };
        Server::start_with(data, options).await
    }

    // The child is waited for by `Drop`, which clippy cannot see.
    #[allow(clippy::zombie_processes)]
    pub async fn start_with(data: &std::path::Path, options: ServerOptions) -> Server {
        use std::process::{Command, Stdio};
        boothgate::install_crypto_provider();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_boothgate"));
        command
            .env("BOOTHGATE_LISTEN", format!("127.0.0.1:{port}"))
            .env("BOOTHGATE_DATA_DIR", data)
            .env("BOOTHGATE_DEMO", "1")
            .env("BOOTHGATE_DEMO_DELAY_MS", options.demo_delay_ms.to_string())
            .env("BOOTHGATE_UPLOAD_PASSWORD", UPLOAD_PASSWORD)
            .env("RUST_LOG", "warn")
            .env("BOOTHGATE_SIMPLE_LINKS", "1")
            .envs(options.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if !options.generated_admin_password {
            command.env("BOOTHGATE_ADMIN_PASSWORD", ADMIN_PASSWORD);
        }
        let mut child = command.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        // The first start prints the generated password once, on stderr with the logs; the
        // rest is read to its end, so the server never writes into a closed pipe.
        let (found, printed) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in
                std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok)
            {
                let line = line.trim();
                if let Some(password) = line.strip_prefix("First start: generated admin password: ")
                {
                    let _ = found.send(password.to_owned());
                }
            }
        });
        // Killed by `Drop` from here on, whatever fails below.
        let mut server = Server {
            child,
            addr: format!("127.0.0.1:{port}").parse().unwrap(),
            admin_password: ADMIN_PASSWORD.to_owned(),
        };
        let client = reqwest::Client::new();
        for _ in 0..100 {
            if client
                .get(server.url("/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
            {
                if options.generated_admin_password {
                    server.admin_password = printed.recv().expect("a generated admin password");
                }
                let slot = client
                    .put(server.url("/admin/api/slots/nanobanana/3"))
                    .basic_auth(ADMIN_USER, Some(&server.admin_password))
                    .json(&serde_json::json!({"kind": "prompt", "prompt": "vintage"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(slot.status(), 200);
                return server;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the server did not start");
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The server process's resident memory now, and its peak so far, in MB.
    pub fn memory_mb(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let field = |name: &str| {
            let line = status.lines().find(|l| l.starts_with(name)).unwrap();
            let kb: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
            kb / 1024.0
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}
