//! The admin's stylesheet and script, compiled into the binary, and the language switch.

use crate::AppState;
use crate::error::AppError;
use axum::Router;
use axum::extract::{Path, Query};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/lang/{code}", get(switch_language))
        .route("/static/{file}", get(static_file))
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn switch_language(Path(code): Path<String>, Query(q): Query<NextQuery>) -> Response {
    let code = if code == "en" { "en" } else { "ru" };
    // Only admin pages: never an open redirect.
    let next = super::back_to(q.next.as_deref(), "/admin/turbotext");
    let mut response = Redirect::to(&next).into_response();
    let cookie = format!("lang={code}; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// A file of the admin's own, compiled in.
struct Asset {
    /// Its plain name, served uncached for pages that still ask for it.
    name: &'static str,
    body: &'static str,
    mime: &'static str,
}

const ASSETS: [Asset; 2] = [
    Asset {
        name: "admin.css",
        body: include_str!("../../static/admin.css"),
        mime: "text/css; charset=utf-8",
    },
    Asset {
        name: "admin.js",
        body: include_str!("../../static/admin.js"),
        mime: "text/javascript; charset=utf-8",
    },
];

/// A year, the longest a cache is asked to keep anything.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Each asset's name with a digest of its content in it (`admin.3f2a….css`): a new build's
/// file has a new name, so a browser may keep each one for good.
fn hashed_name(index: usize) -> &'static str {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        ASSETS
            .iter()
            .map(|asset| {
                let digest = Sha256::digest(asset.body.as_bytes());
                let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
                let (stem, ext) = asset.name.rsplit_once('.').unwrap_or((asset.name, ""));
                format!("{stem}.{hex}.{ext}")
            })
            .collect()
    });
    &names[index]
}

/// The stylesheet's and the script's content-hashed names, for the pages to link.
pub fn css_name() -> &'static str {
    hashed_name(0)
}

pub fn js_name() -> &'static str {
    hashed_name(1)
}

/// The admin's stylesheet and script; nothing in them is secret, so the tablet's page gets them
/// from a public path too. Under its hashed name a file is cached for good; under its plain
/// name it is revalidated each time.
pub(super) async fn static_file(Path(file): Path<String>) -> Response {
    let found = ASSETS.iter().enumerate().find_map(|(index, asset)| {
        if file == hashed_name(index) {
            Some((asset, IMMUTABLE))
        } else {
            (file == asset.name).then_some((asset, "no-cache"))
        }
    });
    let Some((asset, cache)) = found else {
        return AppError::NotFound.into_response();
    };
    (
        [
            (header::CONTENT_TYPE, asset.mime),
            (header::CACHE_CONTROL, cache),
        ],
        asset.body,
    )
        .into_response()
}

/// An image file of the admin's (a job's photo, a reference), typed by its bytes.
pub async fn image_file(path: std::path::PathBuf) -> Result<Response, AppError> {
    let bytes = match tokio::fs::read(&path).await {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(AppError::NotFound),
        Err(e) => return Err(e.into()),
    };
    let mime =
        crate::domain::ImageFormat::sniff(&bytes).map_or("application/octet-stream", |f| f.mime());
    // A job's photos never change, and a reference's URL carries its file name: a browser may
    // keep them, for this admin only.
    let cache = "private, max-age=86400";
    Ok((
        [(header::CONTENT_TYPE, mime), (header::CACHE_CONTROL, cache)],
        bytes,
    )
        .into_response())
}
