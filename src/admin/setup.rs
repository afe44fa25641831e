//! Setups that travel: every slot's settings, options, fallbacks, upload-link token and
//! reference image in one ZIP (`slots.json` + `references/`), read back whole or not at all;
//! and a card copied onto another slot.

use super::slot_edit::{MAX_REFERENCE_BYTES, SlotEdit};
use crate::AppState;
use crate::domain::{ImageFormat, Kind, Slot, SlotId};
use crate::error::{AppError, AppResult};
use crate::imaging;
use crate::zipstream::ZipStream;
use axum::body::Bytes;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::io::Read;

/// The format of `slots.json`.
const VERSION: u64 = 1;
const SLOTS_FILE: &str = "slots.json";
const REFERENCES: &str = "references/";
const MAX_SLOTS_JSON: u64 = 4 * 1024 * 1024;
/// All the references of a setup together, unpacked.
const MAX_UNPACKED: u64 = 400 * 1024 * 1024;

/// One slot as `slots.json` carries it: the slot API's fields, its link token and where its
/// reference lies in the archive.
#[derive(Serialize)]
struct SlotEntry<'a> {
    slot: String,
    name: &'a str,
    enabled: bool,
    kind: Kind,
    prompt: &'a str,
    options: &'a Map<String, Value>,
    fallbacks: Vec<String>,
    fallback_after_secs: u32,
    people_check: Option<crate::checks::PeopleRule>,
    link_token: &'a str,
    reference: Option<String>,
}

/// Writes every slot and its reference into `zip`.
pub async fn write_setup(state: &AppState, zip: &mut ZipStream) -> std::io::Result<()> {
    let slots = state
        .store
        .all_slots()
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let now = state.clock.now_ms();
    let entries: Vec<SlotEntry> = slots
        .iter()
        .map(|slot| SlotEntry {
            slot: slot.id.to_string(),
            name: &slot.name,
            enabled: slot.enabled,
            kind: slot.kind,
            prompt: &slot.prompt,
            options: &slot.options,
            fallbacks: slot.fallbacks.iter().map(ToString::to_string).collect(),
            fallback_after_secs: slot.fallback_after_secs,
            people_check: slot.people_check,
            link_token: &slot.link_token,
            reference: slot.reference.as_ref().map(|r| format!("{REFERENCES}{r}")),
        })
        .collect();
    let json = serde_json::json!({"version": VERSION, "slots": entries});
    let mut file = zip.begin_entry(SLOTS_FILE, now).await?;
    file.write(&serde_json::to_vec_pretty(&json)?).await?;
    file.finish().await?;
    for slot in &slots {
        if let Some(name) = &slot.reference {
            let mut file = tokio::fs::File::open(state.media.reference_path(name)).await?;
            zip.add_file(&format!("{REFERENCES}{name}"), now, &mut file)
                .await?;
        }
    }
    Ok(())
}

/// A setup read from its archive: `slots.json` and the files under `references/`.
struct Archive {
    slots_json: Vec<u8>,
    references: HashMap<String, Vec<u8>>,
}

fn invalid(message: impl Into<String>) -> AppError {
    AppError::InvalidSetup(message.into())
}

/// Unpacks the archive, refusing one that unpacks to more than the setup limits.
fn unpack(bytes: &[u8]) -> AppResult<Archive> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| invalid(format!("not a ZIP archive: {e}")))?;
    let mut archive = Archive {
        slots_json: Vec::new(),
        references: HashMap::new(),
    };
    let mut unpacked = 0u64;
    for index in 0..zip.len() {
        let entry = zip
            .by_index(index)
            .map_err(|e| invalid(format!("a damaged entry: {e}")))?;
        let name = entry.name().to_owned();
        let limit = if name == SLOTS_FILE {
            MAX_SLOTS_JSON
        } else if name.starts_with(REFERENCES) && !entry.is_dir() {
            MAX_REFERENCE_BYTES as u64
        } else {
            continue;
        };
        let mut data = Vec::new();
        entry
            .take(limit + 1)
            .read_to_end(&mut data)
            .map_err(|e| invalid(format!("{name} cannot be read: {e}")))?;
        unpacked += data.len() as u64;
        if data.len() as u64 > limit || unpacked > MAX_UNPACKED {
            return Err(invalid(format!("{name} is too large")));
        }
        if name == SLOTS_FILE {
            archive.slots_json = data;
        } else {
            archive.references.insert(name, data);
        }
    }
    if archive.slots_json.is_empty() {
        return Err(invalid(format!("the archive has no {SLOTS_FILE}")));
    }
    Ok(archive)
}

/// A slot of the setup, checked, with its reference's bytes.
struct Incoming {
    slot: Slot,
    reference: Option<(ImageFormat, Vec<u8>)>,
}

/// Every slot of `slots.json`, checked by the same rules as the slot API; slots it leaves out
/// become empty ones. Any problem names the slot and refuses the whole setup.
async fn check(state: &AppState, mut archive: Archive) -> AppResult<Vec<Incoming>> {
    let file: Value = serde_json::from_slice(&archive.slots_json)
        .map_err(|e| invalid(format!("{SLOTS_FILE} is not JSON: {e}")))?;
    if file["version"].as_u64() != Some(VERSION) {
        return Err(invalid(format!("{SLOTS_FILE}: version must be {VERSION}")));
    }
    let entries = file["slots"]
        .as_array()
        .ok_or_else(|| invalid(format!("{SLOTS_FILE}: no list of slots")))?;
    let deadline = state.settings().deadline.as_secs() as u32;
    let mut by_id: HashMap<SlotId, Incoming> = HashMap::new();
    let mut tokens = HashSet::new();
    for entry in entries {
        let id = entry["slot"]
            .as_str()
            .and_then(SlotId::parse_joined)
            .ok_or_else(|| invalid(format!("not a slot: {}", entry["slot"])))?;
        let mut blank = empty_slot(id);
        if let Some(token) = entry.get("link_token").and_then(Value::as_str) {
            if !is_link_token(token) {
                return Err(invalid(format!("{id}: link_token is not a link token")));
            }
            if !tokens.insert(token) {
                return Err(invalid(format!("{id}: its link_token is another slot's")));
            }
            token.clone_into(&mut blank.link_token);
        }
        let edit: SlotEdit =
            serde_json::from_value(entry.clone()).map_err(|e| invalid(format!("{id}: {e}")))?;
        let slot = edit.apply(&blank, deadline).map_err(|errors| {
            let e = AppError::from(errors[0]);
            invalid(format!("{id}: {e}"))
        })?;
        let reference = match entry.get("reference").and_then(Value::as_str) {
            Some(path) => {
                let bytes = archive
                    .references
                    .remove(path)
                    .ok_or_else(|| invalid(format!("{id}: {path} is missing from the archive")))?;
                Some(checked_image(state, id, path, bytes).await?)
            }
            None => None,
        };
        if by_id.insert(id, Incoming { slot, reference }).is_some() {
            return Err(invalid(format!("{id} is listed twice")));
        }
    }
    Ok(SlotId::all()
        .map(|id| {
            by_id.remove(&id).unwrap_or_else(|| Incoming {
                slot: empty_slot(id),
                reference: None,
            })
        })
        .collect())
}

/// A reference that is an image this server reads.
async fn checked_image(
    state: &AppState,
    id: SlotId,
    path: &str,
    bytes: Vec<u8>,
) -> AppResult<(ImageFormat, Vec<u8>)> {
    let format = ImageFormat::sniff(&bytes)
        .ok_or_else(|| invalid(format!("{id}: {path} is not a JPEG, PNG or WebP image")))?;
    let probe = bytes.clone();
    state
        .cpu
        .run(imaging::Turn::Start, move || imaging::thumbnail(&probe))
        .await
        .map_err(|e| invalid(format!("{id}: {path} cannot be read: {e}")))?;
    Ok((format, bytes))
}

/// A slot as a new install has it, keeping its upload link.
fn empty_slot(id: SlotId) -> Slot {
    Slot {
        id,
        name: String::new(),
        enabled: true,
        kind: Kind::Prompt,
        prompt: String::new(),
        reference: None,
        options: Map::new(),
        fallbacks: Vec::new(),
        fallback_after_secs: 25,
        link_token: crate::store::new_link_token(),
        people_check: None,
    }
}

/// What [`crate::store::new_link_token`] makes, or a token of a similar alphabet and length.
fn is_link_token(token: &str) -> bool {
    (16..=64).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Replaces every slot with the setup in `bytes`, after checking all of it; nothing changes
/// when anything is wrong. How many slots the setup set up (those it names).
pub async fn import(state: &AppState, bytes: Bytes) -> AppResult<usize> {
    let archive = tokio::task::spawn_blocking(move || unpack(&bytes))
        .await
        .map_err(|e| AppError::Internal(crate::error::InternalError::Other(e.to_string())))??;
    let incoming = check(state, archive).await?;
    let mut written = Vec::new();
    let mut slots = Vec::new();
    let mut named = HashSet::new();
    for Incoming {
        mut slot,
        reference,
    } in incoming
    {
        if let Some((format, bytes)) = reference {
            let name = match state.media.save_reference(slot.id, format, &bytes).await {
                Ok(name) => name,
                Err(e) => {
                    remove_references(state, &written).await;
                    return Err(e.into());
                }
            };
            written.push(name.clone());
            slot.reference = Some(name);
        }
        if !slot.name.is_empty() || !slot.prompt.is_empty() || slot.reference.is_some() {
            named.insert(slot.id);
        }
        slots.push(slot);
    }
    match state.store.replace_slots(&slots).await {
        Ok(previous) => {
            remove_references(state, &previous).await;
            SlotId::all().for_each(|id| state.preflights.forget(id));
            tracing::warn!(slots = named.len(), "a setup was imported");
            Ok(named.len())
        }
        Err(e) => {
            remove_references(state, &written).await;
            Err(e.into())
        }
    }
}

async fn remove_references(state: &AppState, names: &[String]) {
    for name in names {
        if let Err(e) = state.media.remove_reference(name).await {
            tracing::warn!(error = %e, file = name, "a reference file could not be removed");
        }
    }
}

/// Copies a card onto another slot — its settings, options and fallbacks (less the target
/// itself) and a copy of its reference — keeping the target's own upload link.
pub async fn copy_slot(state: &AppState, from: SlotId, to: SlotId) -> AppResult<Slot> {
    if from == to {
        return Err(AppError::validation(
            "to",
            "a slot cannot be copied onto itself",
        ));
    }
    let source = state.store.slot(from).await?;
    let target = state.store.slot(to).await?;
    let mut copy = Slot {
        id: to,
        link_token: target.link_token.clone(),
        reference: None,
        ..source.clone()
    };
    copy.fallbacks.retain(|id| *id != to);
    // Options are each provider's own: a copy to another tab keeps only what that tab takes.
    if from.provider != to.provider {
        copy.options = Map::new();
    }
    if let Some(name) = &source.reference {
        let bytes = tokio::fs::read(state.media.reference_path(name)).await?;
        let format = ImageFormat::sniff(&bytes).ok_or(AppError::UnsupportedMediaType)?;
        copy.reference = Some(state.media.save_reference(to, format, &bytes).await?);
    }
    let previous = state
        .store
        .replace_slots(std::slice::from_ref(&copy))
        .await?;
    remove_references(state, &previous).await;
    Ok(copy)
}

pub fn routes() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/api/slots/export", get(export))
        .route("/api/slots/import", post(import_api))
        .route("/api/slots/{provider}/{slot}/copy", post(copy_api))
        .route("/{provider}/{slot}/copy", post(copy_from_card))
        .route("/settings/setup", post(import_from_settings))
}

/// Settings → "Import a setup": the file field `setup`, after the form's token.
async fn import_from_settings(
    ctx: super::Ctx,
    axum::extract::State(state): axum::extract::State<AppState>,
    mut multipart: axum::extract::Multipart,
) -> AppResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let broken =
        |e: axum::extract::multipart::MultipartError| AppError::InvalidRequest(e.body_text());
    let mut token = None;
    let mut file = None;
    while let Some(field) = multipart.next_field().await.map_err(broken)? {
        match field.name() {
            Some("csrf") => token = Some(field.text().await.map_err(broken)?),
            Some("setup") => {
                state.admin.require_csrf(token.as_deref())?;
                file = Some(field.bytes().await.map_err(broken)?);
            }
            _ => {}
        }
    }
    let bytes = file.ok_or_else(|| AppError::validation("setup", "no file"))?;
    let outcome = import(&state, bytes).await;
    let mut page = super::settings::current_settings_page(&ctx, &state, false).await;
    let status = match &outcome {
        Ok(_) => axum::http::StatusCode::OK,
        Err(e) => e.status(),
    };
    page.setup_outcome = Some(match outcome {
        Ok(count) => (
            true,
            ctx.t.setup_imported.replace("{count}", &count.to_string()),
        ),
        Err(e) => (
            false,
            ctx.t.setup_refused.replace("{why}", &e.public_message()),
        ),
    });
    Ok((status, super::render(&page)).into_response())
}

/// `GET /admin/api/slots/export`: the whole setup as a ZIP, written as it goes.
async fn export(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> AppResult<axum::response::Response> {
    let place = std::sync::Arc::clone(&state.exports)
        .try_acquire_owned()
        .map_err(|_| AppError::Busy("other exports are being written; try again shortly"))?;
    let (mut zip, response) = super::export::streamed_zip("boothgate-setup.zip");
    tokio::spawn(async move {
        let written = match write_setup(&state, &mut zip).await {
            Ok(()) => zip.finish().await,
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            tracing::info!(error = %e, "setup export stopped");
        }
        drop(place);
    });
    Ok(response)
}

async fn import_api(
    axum::extract::State(state): axum::extract::State<AppState>,
    body: Bytes,
) -> AppResult<axum::Json<Value>> {
    let slots = import(&state, body).await?;
    Ok(axum::Json(serde_json::json!({ "imported": slots })))
}

#[derive(serde::Deserialize)]
struct CopyRequest {
    to: String,
}

fn target(to: &str) -> AppResult<SlotId> {
    SlotId::parse_joined(to.trim()).ok_or_else(|| AppError::validation("to", "not a slot"))
}

async fn copy_api(
    ctx: super::Ctx,
    axum::extract::State(state): axum::extract::State<AppState>,
    crate::extract::SlotPath(from): crate::extract::SlotPath,
    axum::Json(request): axum::Json<CopyRequest>,
) -> AppResult<axum::Json<Value>> {
    let copy = copy_slot(&state, from, target(&request.to)?).await?;
    Ok(axum::Json(super::api::slot_json(&copy, &ctx.base_url)))
}

/// "Copy to slot…" on a card: to the target's tab, at its card.
async fn copy_from_card(
    axum::extract::State(state): axum::extract::State<AppState>,
    crate::extract::SlotPath(from): crate::extract::SlotPath,
    crate::extract::TokenForm(form): crate::extract::TokenForm,
) -> AppResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let to = target(form.get("to").map(String::as_str).unwrap_or_default())?;
    copy_slot(&state, from, to).await?;
    let at = format!("/admin/{}#slot-{}", to.provider, to.number);
    Ok(axum::response::Redirect::to(&at).into_response())
}
