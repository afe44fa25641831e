//! The admin's stylesheet and script, compiled into the binary, and the language switch.

use crate::AppState;
use crate::error::AppError;
use axum::Router;
use axum::extract::{Path, Query};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

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

/// The admin's stylesheet and script; nothing in them is secret, so the tablet's page gets them
/// from a public path too.
pub(super) async fn static_file(Path(file): Path<String>) -> Response {
    let (body, mime) = match file.as_str() {
        "admin.css" => (
            include_str!("../../static/admin.css"),
            "text/css; charset=utf-8",
        ),
        "admin.js" => (
            include_str!("../../static/admin.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => return AppError::NotFound.into_response(),
    };
    ([(header::CONTENT_TYPE, mime)], body).into_response()
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
    Ok(([(header::CONTENT_TYPE, mime)], bytes).into_response())
}
