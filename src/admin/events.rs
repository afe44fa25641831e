//! Events: an evening's work, with its figures (counts, AI-result rate, latency, cost) and the
//! Events page; the export of its photos is in `export.rs`.

use super::i18n::Strings;
use super::layout::{Layout, Page};
use super::{Ctx, render};
use crate::AppState;
use crate::error::{AppError, AppResult};
use crate::extract::TokenForm;
use crate::report::Report;
use crate::store::MAX_EVENT_NAME;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/events", get(events_page).post(start_from_page))
        .route("/events/{id}/end", post(end_from_page))
        .route("/api/events", get(list).post(start))
        .route("/api/events/{id}", get(one))
        .route("/api/events/{id}/end", post(end))
        .route("/api/events/{id}/export", get(super::export::export))
}

#[derive(Deserialize)]
struct NewEvent {
    name: String,
}

/// Bounded, without control characters; shown escaped wherever it appears.
fn event_name(raw: &str) -> Result<String, AppError> {
    let name: String = raw.chars().filter(|c| !c.is_control()).collect();
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_EVENT_NAME {
        return Err(AppError::validation(
            "name",
            format!("must be 1 to {MAX_EVENT_NAME} characters"),
        ));
    }
    Ok(name.to_owned())
}

async fn report_of(state: &AppState, id: i64) -> AppResult<Report> {
    let event = state.store.event(id).await?.ok_or(AppError::NotFound)?;
    Ok(Report::build(&state.store, &state.settings(), event).await?)
}

async fn list(State(state): State<AppState>) -> AppResult<Json<Value>> {
    let mut events = Vec::new();
    for event in state.store.events().await? {
        events.push(
            Report::build(&state.store, &state.settings(), event)
                .await?
                .json(),
        );
    }
    Ok(Json(json!({ "events": events })))
}

async fn start(
    State(state): State<AppState>,
    Json(new): Json<NewEvent>,
) -> AppResult<(axum::http::StatusCode, Json<Value>)> {
    let name = event_name(&new.name)?;
    let event = state.store.start_event(&name, state.clock.now_ms()).await?;
    tracing::info!(event = event.id, "event started");
    let report = Report::build(&state.store, &state.settings(), event).await?;
    Ok((axum::http::StatusCode::CREATED, Json(report.json())))
}

async fn one(State(state): State<AppState>, Path(id): Path<i64>) -> AppResult<Json<Value>> {
    Ok(Json(report_of(&state, id).await?.json()))
}

/// Ending an event that has ended changes nothing.
async fn end(State(state): State<AppState>, Path(id): Path<i64>) -> AppResult<Json<Value>> {
    let event = state
        .store
        .end_event(id, state.clock.now_ms())
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(
        Report::build(&state.store, &state.settings(), event)
            .await?
            .json(),
    ))
}

#[derive(Template)]
#[template(path = "events.html")]
struct EventsPage {
    layout: Layout,
    reports: Vec<Report>,
    running: bool,
    t: &'static Strings,
}

async fn events_page(ctx: Ctx, State(state): State<AppState>) -> AppResult<Response> {
    let mut reports = Vec::new();
    for event in state.store.events().await? {
        reports.push(Report::build(&state.store, &state.settings(), event).await?);
    }
    Ok(render(&EventsPage {
        running: reports.iter().any(|r| r.event.ended_at.is_none()),
        layout: Layout::new(&ctx, Page::Events, "/admin/events".into()),
        t: ctx.t,
        reports,
    }))
}

async fn start_from_page(State(state): State<AppState>, form: TokenForm) -> AppResult<Response> {
    let name = event_name(form.0.get("name").map_or("", String::as_str))?;
    state.store.start_event(&name, state.clock.now_ms()).await?;
    Ok(Redirect::to("/admin/events").into_response())
}

async fn end_from_page(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    _form: TokenForm,
) -> AppResult<Response> {
    state.store.end_event(id, state.clock.now_ms()).await?;
    Ok(Redirect::to("/admin/events").into_response())
}
