//! Boothgate: a photo booth posts a guest's photo, an AI model processes it, the booth gets
//! the result back in the same HTTP request.

pub mod admin;
pub mod alerts;
pub mod checks;
pub mod clock;
pub mod config;
pub mod disk;
pub mod domain;
pub mod drill;
pub mod error;
pub mod imaging;
pub mod ingest;
pub mod lifecycle;
pub mod live;
pub mod media;
pub mod metrics;
pub mod net;
pub mod placeholders;
pub mod preflight;
pub mod providers;
pub mod report;
pub mod retention;
pub mod schedule;
mod serve;
pub use serve::install_crypto_provider;
pub mod extract;
pub mod store;
pub mod throttle;
pub mod zipstream;

use crate::admin::auth::AdminAuth;
use crate::clock::Clock;
use crate::config::{Config, Setting, Settings, SharedSettings};
use crate::error::InternalError;
use crate::imaging::CpuPool;
use crate::media::Media;
use crate::store::Store;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use rand::Rng;
use rand::distr::Alphanumeric;
use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpListener;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub media: Media,
    pub cpu: CpuPool,
    pub demo: bool,
    pub metrics: Arc<metrics::Metrics>,
    /// Wrong admin passwords, per address.
    pub admin_throttle: Arc<throttle::Throttle>,
    /// Wrong upload passwords, per address.
    pub upload_throttle: Arc<throttle::Throttle>,
    /// Photos on disk whose password has not been checked yet.
    pub unverified: Arc<ingest::UnverifiedBudget>,
    /// Free disk space against the reserve.
    pub disk: Arc<disk::DiskFloor>,
    /// Places for event exports being written.
    pub exports: Arc<tokio::sync::Semaphore>,
    /// Shared by every provider, so connections are reused.
    pub http: providers::Http,
    /// The models each provider offers, kept fresh in the background.
    pub catalog: Arc<providers::catalog::Catalog>,
    /// Each provider's health, from its recent attempts.
    pub health: Arc<providers::health::Health>,
    /// Booth jobs starting and ending, for the Live page.
    pub live: live::Feed,
    /// What the operator is told away from the screen.
    pub alerts: Arc<alerts::Alerts>,
    /// Providers whose calls fail on purpose for a while.
    pub drills: Arc<drill::Drills>,
    /// The pre-flight boards, and the slots whose last one failed.
    pub preflights: Arc<preflight::Preflights>,
    pub admin: Arc<AdminAuth>,
    /// Per-install random key: signs CSRF tokens.
    pub secret: Arc<[u8; 32]>,
    /// The time every stored date is read from.
    pub clock: Clock,
    overrides: Arc<HashMap<Setting, String>>,
    settings: SharedSettings,
}

impl AppState {
    /// The settings in force now; a snapshot that a request keeps to its end.
    pub fn settings(&self) -> Arc<Settings> {
        self.settings.current()
    }

    /// Re-reads the stored settings after an operator changed them.
    pub async fn reload_settings(&self) -> Result<(), InternalError> {
        let stored = self.store.stored_settings().await?;
        self.settings
            .replace(Settings::resolve(&self.overrides, &stored));
        self.health.forget_operator_errors();
        self.catalog.refresh_soon();
        Ok(())
    }
}

/// A built server, ready to serve; `generated` lists the secrets made at this first start.
pub struct App {
    pub router: Router,
    pub state: AppState,
    pub generated: Vec<(&'static str, String)>,
    /// Present when the server speaks HTTPS itself.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    header_timeout: std::time::Duration,
    write_timeout: std::time::Duration,
    max_connections: usize,
    watch_every: std::time::Duration,
}

/// Opens the data folder and the database, recovers from a crash, and builds the router.
pub async fn build_app(config: Config) -> Result<App, InternalError> {
    let clock = Clock::default();
    let store = Store::open(&config.data_dir, clock.clone()).await?;
    let media = Media::new(&config.data_dir);
    let interrupted = store
        .mark_interrupted(|rel| media.locate_original(rel))
        .await?;
    if interrupted > 0 {
        tracing::warn!(
            interrupted,
            "jobs left running by the last stop are marked interrupted"
        );
    }
    let tls = match &config.tls {
        Some((cert, key)) => Some(serve::tls_acceptor(cert, key)?),
        None => None,
    };
    let secret = load_or_create_secret(&config.data_dir)?;
    let mut generated = Vec::new();
    let admin = AdminAuth::init(&store, &config, &secret, &mut generated).await?;
    ensure_upload_password(&store, &config, &mut generated).await?;
    let catalog = Arc::new(providers::catalog::Catalog::default());
    lifecycle::load(&store, &catalog).await?;
    let stored = store.stored_settings().await?;
    let metrics = Arc::new(metrics::Metrics::default());
    media.clear_incoming()?;
    // The disk floor asks this folder's file system for its free space.
    std::fs::create_dir_all(media.root())?;
    let state = AppState {
        media,
        cpu: CpuPool::machine_wide(metrics.cpu_wait.clone()),
        demo: config.demo,
        metrics,
        admin_throttle: Arc::default(),
        upload_throttle: Arc::default(),
        unverified: Arc::default(),
        disk: Arc::default(),
        exports: Arc::new(tokio::sync::Semaphore::new(
            admin::export::CONCURRENT_EXPORTS,
        )),
        http: providers::Http::new(),
        catalog,
        health: Arc::new(providers::health::Health::new(config.provider_cooldown)),
        live: live::Feed::default(),
        alerts: Arc::new(alerts::Alerts::new(clock.clone())),
        drills: Arc::default(),
        preflights: Arc::default(),
        admin: Arc::new(admin),
        secret: Arc::new(secret),
        settings: SharedSettings::new(Settings::resolve(&config.overrides, &stored)),
        overrides: Arc::new(config.overrides),
        clock,
        store,
    };
    Ok(App {
        router: router(state.clone()),
        state,
        generated,
        tls,
        header_timeout: config.header_timeout,
        write_timeout: config.write_timeout,
        max_connections: config.max_connections,
        watch_every: config.watch_every,
    })
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/admin/turbotext") }))
        .route("/healthz", get(healthz))
        .route("/media/{token}", get(public_media))
        .merge(ingest::routes())
        .nest("/admin", admin::routes(state.clone()))
        .merge(admin::metrics_route(state.clone()))
        .merge(admin::tablet_routes())
        .fallback(no_such_page)
        .with_state(state)
}

/// A path that is nothing: under `/upload/` no slot, in the JSON a booth understands.
async fn no_such_page(uri: axum::http::Uri) -> error::AppError {
    if uri.path().starts_with("/upload/") {
        error::AppError::SlotNotFound
    } else {
        error::AppError::NotFound
    }
}

async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    if state.store.ping().await {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
    }
}

/// A short-lived public link to a job's input, for providers that fetch images by URL. Any
/// token that is not genuine and current gets a bare 404.
async fn public_media(
    State(state): State<AppState>,
    axum::extract::Path(token): axum::extract::Path<String>,
) -> axum::response::Response {
    let now = state.clock.now_secs();
    let Some(path) = media::verify_link(&state.media, &state.secret, &token, now) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match tokio::fs::read(path).await {
        Ok(bytes) => {
            let mime =
                domain::ImageFormat::sniff(&bytes).map_or("application/octet-stream", |f| f.mime());
            ([(axum::http::header::CONTENT_TYPE, mime)], bytes).into_response()
        }
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Serves until `shutdown` completes, then stops accepting and lets the uploads in flight
/// finish (up to the deadline).
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = serve::Limits {
        header_timeout: app.header_timeout,
        write_timeout: app.write_timeout,
        max_connections: app.max_connections,
        drain: app.state.settings().deadline + std::time::Duration::from_secs(5),
    };
    let state = &app.state;
    let cleanup = tokio::spawn(retention::run_forever(
        state.media.root().to_owned(),
        state.settings.clone(),
    ));
    let lists = tokio::spawn(providers::catalog::run_forever(
        state.catalog.clone(),
        state.http.clone(),
        state.settings.clone(),
        state.clock.clone(),
    ));
    let follow = tokio::spawn(lifecycle::run_forever(state.clone()));
    let alerts = tokio::spawn(alerts::deliver::run_forever(state.clone()));
    let watch = tokio::spawn(alerts::watch::run_forever(state.clone(), app.watch_every));
    let planned = tokio::spawn(schedule::run_forever(state.clone(), app.watch_every));
    let live = state.live.clone();
    let shutdown = async move {
        shutdown.await;
        live.stop();
    };
    serve::run(listener, app.router, app.tls, limits, shutdown).await;
    cleanup.abort();
    lists.abort();
    follow.abort();
    watch.abort();
    planned.abort();
    alerts.abort();
    app.state.store.close().await;
    Ok(())
}

/// A random password of letters and digits, easy to read out over the phone.
pub fn generate_password(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

fn load_or_create_secret(data_dir: &Path) -> Result<[u8; 32], InternalError> {
    let path = data_dir.join("secret.key");
    match std::fs::read(&path) {
        Ok(bytes) if bytes.len() == 32 => {
            #[cfg(unix)]
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
            Ok(bytes.try_into().expect("32 bytes"))
        }
        Ok(_) => Err(InternalError::Other(format!(
            "{} is damaged",
            path.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret: [u8; 32] = rand::random();
            write_private(&path, &secret)?;
            Ok(secret)
        }
        Err(e) => Err(e.into()),
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}

async fn ensure_upload_password(
    store: &Store,
    config: &Config,
    generated: &mut Vec<(&'static str, String)>,
) -> Result<(), InternalError> {
    let name = Setting::UploadPassword.def().name;
    if config.overrides.contains_key(&Setting::UploadPassword)
        || store.stored_setting(name).await?.is_some()
    {
        return Ok(());
    }
    let password = generate_password(12);
    store.save_settings(&[(name, password.clone())]).await?;
    generated.push(("upload password", password));
    Ok(())
}
