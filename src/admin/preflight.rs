//! The pre-flight from the admin: the Events page's button (with what it will cost), the board
//! page filling in as results come, and the JSON API.

use super::i18n::Strings;
use super::layout::{Layout, Page};
use super::{Ctx, render};
use crate::AppState;
use crate::domain::{ImageFormat, SlotId};
use crate::error::{AppError, AppResult};
use crate::preflight::{self, Board, SAMPLE_PHOTO};
use askama::Template;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/preflight", post(start_api))
        .route("/api/preflight/{id}", get(board_api))
        .route("/preflight", post(start_from_page))
        .route("/preflight/{id}", get(board_page))
}

/// What a pre-flight is asked for: its slots (`None`: every ready one) and its photo.
struct Asked {
    slots: Option<Vec<SlotId>>,
    photo: Option<Vec<u8>>,
    /// The form's token, when it came from the page.
    csrf: Option<String>,
}

fn slot_ids<'a>(names: impl Iterator<Item = &'a str>) -> AppResult<Option<Vec<SlotId>>> {
    let ids: Vec<SlotId> = names
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| {
            SlotId::parse_joined(n)
                .ok_or_else(|| AppError::validation("slots", format!("not a slot: {n}")))
        })
        .collect::<AppResult<_>>()?;
    Ok((!ids.is_empty()).then_some(ids))
}

/// JSON `{"slots": […]}`, nothing, or a multipart form with `slots` and a `photo` file.
async fn read_asked(state: &AppState, request: Request) -> AppResult<Asked> {
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !multipart {
        let body = axum::body::to_bytes(request.into_body(), 1024 * 1024)
            .await
            .map_err(|e| AppError::InvalidRequest(e.to_string()))?;
        let json: Value = if body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            serde_json::from_slice(&body)
                .map_err(|e| AppError::validation("body", format!("not JSON: {e}")))?
        };
        let names: Vec<&str> = json["slots"]
            .as_array()
            .map(|list| list.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        return Ok(Asked {
            slots: slot_ids(names.into_iter())?,
            photo: None,
            csrf: None,
        });
    }
    let broken =
        |e: axum::extract::multipart::MultipartError| AppError::InvalidRequest(e.body_text());
    let mut form = Multipart::from_request(request, state)
        .await
        .map_err(|e| AppError::InvalidRequest(e.body_text()))?;
    let mut asked = Asked {
        slots: None,
        photo: None,
        csrf: None,
    };
    let mut names = Vec::new();
    while let Some(field) = form.next_field().await.map_err(broken)? {
        match field.name() {
            Some("csrf") => asked.csrf = Some(field.text().await.map_err(broken)?),
            Some("slots") => names.push(field.text().await.map_err(broken)?),
            Some("photo") => {
                let bytes = field.bytes().await.map_err(broken)?;
                if !bytes.is_empty() {
                    ImageFormat::sniff(&bytes).ok_or(AppError::UnsupportedMediaType)?;
                    asked.photo = Some(bytes.to_vec());
                }
            }
            _ => {}
        }
    }
    asked.slots = slot_ids(names.iter().flat_map(|n| n.split([',', ' ', '\n'])))?;
    Ok(asked)
}

async fn begin(state: &AppState, asked: Asked) -> AppResult<String> {
    let rows = preflight::plan(state, asked.slots.as_deref()).await?;
    let photo = asked.photo.unwrap_or_else(|| SAMPLE_PHOTO.to_vec());
    tracing::info!(runs = rows.len(), "pre-flight started");
    Ok(preflight::start(state, rows, photo))
}

async fn start_api(State(state): State<AppState>, request: Request) -> AppResult<Response> {
    let asked = read_asked(&state, request).await?;
    let id = begin(&state, asked).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "id": id }))).into_response())
}

async fn board_api(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> AppResult<Json<Board>> {
    state
        .preflights
        .board(&id)
        .map(Json)
        .ok_or(AppError::NotFound)
}

/// The Events page's button: its token checked before anything runs.
async fn start_from_page(State(state): State<AppState>, request: Request) -> AppResult<Response> {
    let asked = read_asked(&state, request).await?;
    state.admin.require_csrf(asked.csrf.as_deref())?;
    let id = begin(&state, asked).await?;
    Ok(Redirect::to(&format!("/admin/preflight/{id}")).into_response())
}

#[derive(Template)]
#[template(path = "preflight.html")]
struct BoardPage {
    layout: Layout,
    t: &'static Strings,
    board: Board,
}

impl BoardPage {
    fn outcome_label(&self, outcome: &str) -> &'static str {
        self.t.preflight_outcome(outcome)
    }
}

async fn board_page(
    ctx: Ctx,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let board = state.preflights.board(&id).ok_or(AppError::NotFound)?;
    Ok(render(&BoardPage {
        layout: Layout::new(&ctx, Page::Events, format!("/admin/preflight/{id}")),
        t: ctx.t,
        board,
    }))
}

/// What the Events page offers: how many runs a pre-flight of every ready slot makes, and what
/// it costs at most.
pub async fn offer(state: &AppState) -> AppResult<(usize, f64)> {
    let rows = preflight::plan(state, None).await?;
    Ok((rows.len(), preflight::estimate(&rows)))
}
