//! The operator's admin: pages, the JSON API and statistics, all behind HTTP Basic Auth.

mod api;
mod assets;
pub mod auth;
mod booths;
mod card;
mod drill;
mod events;
pub(crate) mod export;
pub mod i18n;
mod jobs;
mod layout;
mod live;
mod models;
mod preflight;
mod settings;
mod setup;
mod slot_edit;
mod stats;
mod tablet;
mod tabs;

use crate::AppState;
use crate::clock::local_time;
use crate::error::AppError;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Router, middleware};
use i18n::{Lang, Strings};
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::set_header::SetResponseHeaderLayer;

/// Reference images and "try it" photos travel through the admin; the upload cap bounds the latter.
const ADMIN_BODY_LIMIT: usize = 210 * 1024 * 1024;

const CSP: &str = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; \
                   object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub fn routes(state: AppState) -> Router<AppState> {
    let admin = Router::new()
        .merge(tabs::routes())
        .merge(settings::routes())
        .merge(jobs::routes())
        .merge(stats::routes())
        .merge(events::routes())
        .merge(live::routes())
        .merge(booths::routes())
        .merge(drill::routes())
        .merge(setup::routes())
        .merge(preflight::routes())
        .merge(api::routes())
        .merge(assets::routes())
        .layer(DefaultBodyLimit::max(ADMIN_BODY_LIMIT))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::refuse_cross_site,
        ))
        .layer(middleware::from_fn_with_state(state, auth::require_admin));
    secured(admin)
}

/// The tablet's Live link and the public assets, without the admin's credentials.
pub fn tablet_routes() -> Router<AppState> {
    secured(tablet::routes())
}

/// The headers every page of ours carries.
fn secured(router: Router<AppState>) -> Router<AppState> {
    let header = |name: &'static str, value: &'static str| {
        SetResponseHeaderLayer::overriding(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        )
    };
    router
        .layer(header("content-security-policy", CSP))
        .layer(header("x-frame-options", "DENY"))
        .layer(header("x-content-type-options", "nosniff"))
        .layer(header("referrer-policy", "same-origin"))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(compression())
}

/// Pages, scripts and JSON gzipped at the fastest level (a tablet on mobile data gets a tab in
/// a tenth of its size for well under a millisecond); images, the ZIP exports and the event
/// streams are left as they are.
fn compression() -> CompressionLayer<impl Predicate> {
    let predicate = DefaultPredicate::new().and(NotForContentType::const_new("application/zip"));
    CompressionLayer::new()
        .quality(CompressionLevel::Fastest)
        .compress_when(predicate)
}

/// `/metrics`, for Prometheus, behind the admin's credentials.
pub fn metrics_route(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/metrics", get(metrics))
        // A route layer: paths that match nothing stay a plain 404.
        .route_layer(middleware::from_fn_with_state(state, auth::require_admin))
}

async fn metrics(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    let mut text = state.metrics.render();
    text.push_str(
        "# HELP boothgate_provider_health Provider health: 0 ok, 1 degraded, 2 down.\n\
         # TYPE boothgate_provider_health gauge\n",
    );
    for provider in crate::domain::Provider::ALL {
        let level = state.health.status(provider).level();
        text.push_str(&format!(
            "boothgate_provider_health{{provider=\"{provider}\"}} {level}\n"
        ));
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// What every admin page knows about the request: language, form token, base URL.
pub struct Ctx {
    pub lang: Lang,
    pub t: &'static Strings,
    pub csrf: String,
    pub demo: bool,
    /// Where booths reach this server: the public URL setting, else this request's host.
    pub base_url: String,
    /// New photos are being refused for want of disk space.
    pub disk_low: Option<crate::disk::DiskLow>,
    /// The fire drills on, each with its end on the operator's clock (`21:40`).
    pub drills: Vec<(crate::domain::Provider, String)>,
    /// Each provider's health, for the dots beside the tabs' names.
    pub health: Vec<crate::providers::health::Status>,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let lang = Lang::from_cookie_header(
            parts
                .headers
                .get(header::COOKIE)
                .and_then(|v| v.to_str().ok()),
        );
        let settings = state.settings();
        let base_url = match settings.public_url.as_deref() {
            Some(url) => url.to_owned(),
            None => {
                let host = parts
                    .headers
                    .get(header::HOST)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("localhost");
                let https = parts
                    .headers
                    .get("x-forwarded-proto")
                    .is_some_and(|v| v == "https");
                format!("{}://{host}", if https { "https" } else { "http" })
            }
        };
        Ok(Ctx {
            lang,
            t: lang.strings(),
            csrf: state.admin.csrf_token(),
            demo: state.demo,
            base_url,
            disk_low: state.disk.low(),
            drills: state
                .drills
                .on(state.clock.now_ms())
                .into_iter()
                .map(|(p, until)| (p, local_time(until, &settings.time_zone, "%H:%M")))
                .collect(),
            health: crate::domain::Provider::ALL
                .into_iter()
                .map(|p| state.health.status(p))
                .collect(),
        })
    }
}

/// Where to go back to after a form: `next` if it is an admin page (never an open redirect),
/// else `default`.
pub(crate) fn back_to(next: Option<&str>, default: &str) -> String {
    next.filter(|n| n.starts_with("/admin/") && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or(default)
        .to_owned()
}

pub(crate) fn render(template: &impl askama::Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => AppError::Internal(crate::error::InternalError::Other(format!("template: {e}")))
            .into_response(),
    }
}
