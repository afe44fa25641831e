//! Fire drills from the admin: a button on each tab, a banner on every page while one is on,
//! and the JSON API for scripts.

use crate::AppState;
use crate::clock::iso_time;
use crate::domain::Provider;
use crate::drill::MAX_MINUTES;
use crate::error::{AppError, AppResult};
use crate::extract::TokenForm;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

/// A drill started from a tab's button lasts this long.
pub const BUTTON_MINUTES: u32 = 10;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/drill", post(start_from_tab))
        .route("/drill/end", post(end_from_banner))
        .route("/api/drill", post(start).delete(end))
}

#[derive(Deserialize)]
struct DrillRequest {
    provider: String,
    minutes: u32,
}

/// Starts a drill of `provider` for `minutes`; when it ends (ms).
fn begin(state: &AppState, provider: &str, minutes: u32) -> AppResult<(Provider, i64)> {
    let provider = Provider::parse(provider)
        .ok_or_else(|| AppError::validation("provider", "no such provider"))?;
    if !(1..=MAX_MINUTES).contains(&minutes) {
        return Err(AppError::validation(
            "minutes",
            format!("must be from 1 to {MAX_MINUTES}"),
        ));
    }
    let until = state.clock.now_ms() + i64::from(minutes) * 60_000;
    state.drills.start(provider, until);
    tracing::warn!(%provider, minutes, "fire drill started");
    Ok((provider, until))
}

async fn start(
    State(state): State<AppState>,
    Json(request): Json<DrillRequest>,
) -> AppResult<Json<Value>> {
    let (provider, until) = begin(&state, &request.provider, request.minutes)?;
    Ok(Json(
        json!({"provider": provider, "until": iso_time(until)}),
    ))
}

#[derive(Deserialize)]
struct EndQuery {
    provider: Option<String>,
}

/// Ends every drill, or `?provider=`'s.
async fn end(State(state): State<AppState>, Query(q): Query<EndQuery>) -> AppResult<StatusCode> {
    let provider = match q.provider.as_deref() {
        Some(p) => Some(Provider::parse(p).ok_or(AppError::NotFound)?),
        None => None,
    };
    state.drills.end(provider);
    tracing::info!(?provider, "fire drill ended");
    Ok(StatusCode::NO_CONTENT)
}

async fn start_from_tab(
    State(state): State<AppState>,
    TokenForm(form): TokenForm,
) -> AppResult<Response> {
    let provider = form.get("provider").map(String::as_str).unwrap_or_default();
    begin(&state, provider, BUTTON_MINUTES)?;
    Ok(Redirect::to(&format!("/admin/{provider}")).into_response())
}

async fn end_from_banner(
    State(state): State<AppState>,
    TokenForm(form): TokenForm,
) -> AppResult<Response> {
    state.drills.end(None);
    let next = super::back_to(form.get("next").map(String::as_str), "/admin/nanobanana");
    Ok(Redirect::to(&next).into_response())
}
