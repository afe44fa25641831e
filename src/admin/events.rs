//! Events: an evening's work, with its figures (counts, AI-result rate, latency, cost) and the
//! Events page; the export of its photos is in `export.rs`.

use super::i18n::Strings;
use super::layout::{Layout, Page};
use super::{Ctx, render};
use crate::AppState;
use crate::clock::{iso_time, local_time, parse_local};
use crate::error::{AppError, AppResult};
use crate::extract::TokenForm;
use crate::report::Report;
use crate::store::{MAX_EVENT_NAME, ScheduledEvent};
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
        .route("/api/events/schedule", get(scheduled).post(schedule))
        .route(
            "/api/events/schedule/{id}",
            axum::routing::delete(unschedule),
        )
        .route("/events/schedule", post(schedule_from_page))
        .route("/events/schedule/{id}/cancel", post(unschedule_from_page))
}

#[derive(Deserialize)]
struct PlannedEvent {
    name: String,
    starts_at: String,
    ends_at: String,
}

/// Plans an event: its times on the operator's clock (or RFC 3339), the end after the start
/// and not past.
async fn plan(state: &AppState, planned: &PlannedEvent) -> AppResult<ScheduledEvent> {
    let name = event_name(&planned.name)?;
    let zone = &state.settings().time_zone;
    let time = |field: &str, text: &str| {
        parse_local(text, zone).ok_or_else(|| {
            AppError::validation(field, "must be a date and time such as 2026-12-05T18:00")
        })
    };
    let starts_at = time("starts_at", &planned.starts_at)?;
    let ends_at = time("ends_at", &planned.ends_at)?;
    if ends_at <= starts_at || ends_at <= state.clock.now_ms() {
        return Err(AppError::validation(
            "ends_at",
            "must be after the start, and not past",
        ));
    }
    let planned = state
        .store
        .schedule_event(&name, starts_at, ends_at)
        .await?;
    tracing::info!(id = planned.id, "an event was scheduled");
    Ok(planned)
}

fn scheduled_json(planned: &ScheduledEvent) -> Value {
    json!({
        "id": planned.id,
        "name": planned.name,
        "starts_at": iso_time(planned.starts_at),
        "ends_at": iso_time(planned.ends_at),
        "event": planned.event_id,
    })
}

async fn schedule(
    State(state): State<AppState>,
    Json(planned): Json<PlannedEvent>,
) -> AppResult<(axum::http::StatusCode, Json<Value>)> {
    let planned = plan(&state, &planned).await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(scheduled_json(&planned)),
    ))
}

async fn scheduled(State(state): State<AppState>) -> AppResult<Json<Value>> {
    let list: Vec<Value> = state
        .store
        .scheduled_events()
        .await?
        .iter()
        .map(scheduled_json)
        .collect();
    Ok(Json(json!({ "scheduled": list })))
}

async fn unschedule(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> AppResult<axum::http::StatusCode> {
    match state
        .store
        .unschedule_event(id, state.clock.now_ms())
        .await?
    {
        true => Ok(axum::http::StatusCode::NO_CONTENT),
        false => Err(AppError::NotFound),
    }
}

async fn schedule_from_page(State(state): State<AppState>, form: TokenForm) -> AppResult<Response> {
    let field = |name: &str| form.0.get(name).cloned().unwrap_or_default();
    let planned = PlannedEvent {
        name: field("name"),
        starts_at: field("starts_at"),
        ends_at: field("ends_at"),
    };
    plan(&state, &planned).await?;
    Ok(Redirect::to("/admin/events").into_response())
}

async fn unschedule_from_page(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    _form: TokenForm,
) -> AppResult<Response> {
    state
        .store
        .unschedule_event(id, state.clock.now_ms())
        .await?;
    Ok(Redirect::to("/admin/events").into_response())
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

/// An amount with at most four decimals, no trailing zeros.
fn amount(value: f64) -> String {
    let text = format!("{value:.4}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[derive(Template)]
#[template(path = "events.html")]
struct EventsPage {
    layout: Layout,
    reports: Vec<Report>,
    running: bool,
    /// The planned events, soonest first, with their times on the operator's clock.
    planned: Vec<(ScheduledEvent, String)>,
    /// The pre-flight offered: what it runs and costs, in words, and its confirmation.
    preflight: (String, String),
    t: &'static Strings,
}

async fn events_page(ctx: Ctx, State(state): State<AppState>) -> AppResult<Response> {
    let mut reports = Vec::new();
    for event in state.store.events().await? {
        reports.push(Report::build(&state.store, &state.settings(), event).await?);
    }
    let zone = state.settings().time_zone.clone();
    let planned = state
        .store
        .scheduled_events()
        .await?
        .into_iter()
        .map(|p| {
            let when = format!(
                "{} – {}",
                local_time(p.starts_at, &zone, "%Y-%m-%d %H:%M"),
                local_time(p.ends_at, &zone, "%Y-%m-%d %H:%M")
            );
            (p, when)
        })
        .collect();
    let (runs, cost) = super::preflight::offer(&state).await?;
    let fill = |text: &str| {
        text.replace("{runs}", &runs.to_string())
            .replace("{cost}", &amount(cost))
            .replace("{currency}", &state.settings().costs.currency)
    };
    Ok(render(&EventsPage {
        preflight: (fill(ctx.t.preflight_runs), fill(ctx.t.preflight_confirm)),
        planned,
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
