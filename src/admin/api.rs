//! The admin's JSON API, for scripts: slots and statistics.

use super::slot_edit::{self, SlotEdit};
use super::{Ctx, stats};
use crate::AppState;
use crate::config::Setting;
use crate::domain::{Provider, Slot, SlotId};
use crate::error::{AppError, AppResult};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

fn slot_id(provider: &str, number: &str) -> AppResult<SlotId> {
    SlotId::parse(provider, number).ok_or(AppError::SlotNotFound)
}

fn slot_json(slot: &Slot, base_url: &str) -> Value {
    json!({
        "provider": slot.id.provider,
        "slot": slot.id.number,
        "name": slot.name,
        "enabled": slot.enabled,
        "kind": slot.kind,
        "prompt": slot.prompt,
        "has_reference": slot.reference.is_some(),
        "upload_url": format!("{base_url}{}", slot.id.upload_path()),
        "options": slot.options,
    })
}

pub async fn get_slot(
    ctx: Ctx,
    State(state): State<AppState>,
    Path((p, n)): Path<(String, String)>,
) -> AppResult<Json<Value>> {
    let slot = state.store.slot(slot_id(&p, &n)?).await?;
    Ok(Json(slot_json(&slot, &ctx.base_url)))
}

pub async fn put_slot(
    ctx: Ctx,
    State(state): State<AppState>,
    Path((p, n)): Path<(String, String)>,
    body: Bytes,
) -> AppResult<Json<Value>> {
    let id = slot_id(&p, &n)?;
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| AppError::validation("body", format!("not JSON: {e}")))?;
    let edit = SlotEdit::from_json(&value)?;
    let slot = state.store.slot(id).await?;
    let next = edit
        .apply(&slot)
        .map_err(|errors| AppError::from(errors[0]))?;
    state.store.save_slot(&next).await?;
    Ok(Json(slot_json(&next, &ctx.base_url)))
}

pub async fn put_reference(
    ctx: Ctx,
    State(state): State<AppState>,
    Path((p, n)): Path<(String, String)>,
    body: Bytes,
) -> AppResult<Json<Value>> {
    let id = slot_id(&p, &n)?;
    slot_edit::store_reference(&state, id, body.to_vec()).await?;
    Ok(Json(slot_json(&state.store.slot(id).await?, &ctx.base_url)))
}

pub async fn delete_reference(
    State(state): State<AppState>,
    Path((p, n)): Path<(String, String)>,
) -> AppResult<StatusCode> {
    slot_edit::remove_reference(&state, slot_id(&p, &n)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn stats(State(state): State<AppState>) -> AppResult<Json<Value>> {
    let numbers = stats::gather(&state.store).await?;
    let settings = state.settings();
    let providers: serde_json::Map<String, Value> = Provider::ALL
        .into_iter()
        .map(|p| {
            (
                p.as_str().to_owned(),
                json!(numbers.booth.get(&p).copied().unwrap_or_default()),
            )
        })
        .collect();
    Ok(Json(json!({
        "upload_password": settings.get(Setting::UploadPassword),
        "deadline_secs": settings.integer(Setting::DeadlineSecs),
        "providers": providers,
    })))
}
