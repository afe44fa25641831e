//! A model's tab: its 20 slot cards, saving one card, a card's reference image, and "Try it".

use super::card::{CardPartial, CardView, Cards};
use super::i18n::Strings;
use super::layout::{Choice, Layout, Page};
use super::models::{self, ModelBanner};
use super::slot_edit::{self, Field, SlotEdit};
use super::{Ctx, assets::image_file, render};
use crate::AppState;
use crate::checks::PeopleRule;
use crate::config::Settings;
use crate::domain::{Kind, Provider, Slot};
use crate::error::{AppError, AppResult};
use crate::extract::{SlotPath, blank_is_none};
use crate::ingest::{self, JobStart};
use crate::placeholders::BoothValues;
use crate::providers::health::Status;
use crate::providers::registry;
use askama::Template;
use axum::Router;
use axum::extract::{Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use std::collections::HashMap;
use tokio::time::Instant;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/references/{provider}/{slot}", get(reference_image))
        .route("/{provider}", get(provider_page))
        .route("/{provider}/{slot}", get(open_card).post(save_slot_card))
        .route("/{provider}/{slot}/try", post(try_slot))
}

#[derive(Template)]
#[template(path = "provider.html")]
pub struct ProviderPage {
    pub layout: Layout,
    pub provider_name: &'static str,
    pub provider_slug: &'static str,
    /// Every slot's id, for the cards' "copy to slot" field.
    pub all_slots: Vec<String>,
    /// Every slot as a fallback choice: the one list all the cards' pickers fill from.
    pub fallback_choices: Vec<Choice>,
    /// Each error reason in the page's language, for "Try it" to say what went wrong.
    pub reason_texts: String,
    /// What the operator should know about how this tab works.
    pub intro: Option<&'static str>,
    /// Warnings about the tab's models (retired, shutting down).
    pub banners: Vec<ModelBanner>,
    /// How to set DSLR Remote Pro up for these slots, step by step.
    pub booth_help: Vec<String>,
    /// `ok`, `degraded` or `down`, its words, and the last provider-side failure.
    pub health: (&'static str, &'static str, Option<String>),
    pub cards: Vec<CardView>,
    /// Some slots were never set up: they are listed apart, one line each.
    pub any_folded: bool,
}

#[derive(Deserialize)]
struct TabQuery {
    /// A folded slot to show open (its "set up" link without the page's script).
    #[serde(default, deserialize_with = "blank_is_none")]
    open: Option<u8>,
}

async fn provider_page(
    ctx: Ctx,
    State(state): State<AppState>,
    Path(provider): Path<String>,
    Query(q): Query<TabQuery>,
) -> AppResult<Response> {
    let provider = Provider::parse(&provider).ok_or(AppError::NotFound)?;
    let slots = state.store.slots(provider).await?;
    let views = Cards::load(&state, &ctx).await?;
    let cards = slots.iter().map(|s| views.listed(s, q.open)).collect();
    Ok(render(&tab_page(&ctx, &state, provider, &views, cards)))
}

/// One card, open: what a folded slot's "set up" link asks the page's script for. A browser
/// without the script gets the tab with that card open.
async fn open_card(
    ctx: Ctx,
    State(state): State<AppState>,
    SlotPath(id): SlotPath,
    headers: HeaderMap,
) -> AppResult<Response> {
    if !headers.contains_key("x-partial") {
        let tab = format!(
            "/admin/{}?open={}#slot-{}",
            id.provider, id.number, id.number
        );
        return Ok(Redirect::to(&tab).into_response());
    }
    let slot = state.store.slot(id).await?;
    let card = Cards::load(&state, &ctx).await?.card(&slot);
    Ok(card_response(&state, &ctx, card, true, StatusCode::OK).await)
}

fn tab_page(
    ctx: &Ctx,
    state: &AppState,
    provider: Provider,
    views: &Cards<'_>,
    cards: Vec<CardView>,
) -> ProviderPage {
    let settings = state.settings();
    ProviderPage {
        layout: Layout::new(ctx, Page::Tab(provider), format!("/admin/{provider}")),
        provider_name: provider.display_name(),
        provider_slug: provider.as_str(),
        all_slots: crate::domain::SlotId::all()
            .map(|id| id.to_string())
            .collect(),
        fallback_choices: views.choices(),
        reason_texts: ctx.t.miss_texts(),
        intro: (provider == Provider::Deepseek).then_some(ctx.t.deepseek_intro),
        banners: models::banners(state, &settings, ctx.t, registry::spec(provider).listings),
        booth_help: booth_help(ctx.t, &settings),
        health: {
            let status = state.health.status(provider);
            let last = (status != Status::Ok)
                .then(|| state.health.last_error(provider))
                .flatten()
                .map(|f| f.message);
            (status.as_str(), ctx.t.health(status), last)
        },
        any_folded: cards.iter().any(|c| c.folded),
        cards,
    }
}

/// Where DSLR Remote Pro takes a slot's URL and what to set beside it, from the settings
/// (the booth's timeout follows the deadline; its image size, what the models are sent).
fn booth_help(t: &Strings, settings: &Settings) -> Vec<String> {
    let deadline = settings.deadline.as_secs();
    vec![
        t.booth_help_where.to_owned(),
        t.booth_help_password.to_owned(),
        t.booth_help_timeout
            .replace("{booth}", &(deadline + 5).to_string())
            .replace("{deadline}", &deadline.to_string()),
        t.booth_help_size
            .replace("{side}", &settings.provider_max_side.to_string()),
        t.booth_help_survey.to_owned(),
    ]
}

/// The fields of a slot card's form: its text fields by name, and the reference file.
struct CardForm {
    fields: HashMap<String, String>,
    reference: Option<Vec<u8>>,
}

impl CardForm {
    async fn read(mut multipart: Multipart) -> AppResult<CardForm> {
        let broken =
            |e: axum::extract::multipart::MultipartError| AppError::InvalidRequest(e.body_text());
        let mut form = CardForm {
            fields: HashMap::new(),
            reference: None,
        };
        while let Some(field) = multipart.next_field().await.map_err(broken)? {
            let name = field.name().unwrap_or_default().to_owned();
            if name == "reference" {
                let bytes = field.bytes().await.map_err(broken)?;
                if bytes.len() > slot_edit::MAX_REFERENCE_BYTES {
                    return Err(AppError::PayloadTooLarge {
                        limit_mb: slot_edit::MAX_REFERENCE_BYTES / (1024 * 1024),
                    });
                }
                form.reference = (!bytes.is_empty()).then(|| bytes.to_vec());
            } else {
                let text = field.text().await.map_err(broken)?;
                form.fields.insert(name, text);
            }
        }
        Ok(form)
    }

    fn text(&self, name: &str) -> String {
        self.fields.get(name).cloned().unwrap_or_default()
    }

    /// A checkbox is sent only when ticked.
    fn ticked(&self, name: &str) -> bool {
        self.fields.contains_key(name)
    }

    /// The slot's options with this provider's fields of the card applied.
    fn options(&self, slot: &Slot) -> serde_json::Map<String, serde_json::Value> {
        let mut options = slot.options.clone();
        for spec in registry::spec(slot.id.provider).options {
            let typed = self.fields.get(&format!("opt_{}", spec.key));
            match spec.input.from_form(typed.map(String::as_str)) {
                Some(value) => options.insert(spec.key.to_owned(), value),
                None => options.remove(spec.key),
            };
        }
        options
    }

    fn edit(&self, slot: &Slot) -> SlotEdit {
        let given = |name: &str, value| match self.fields.contains_key(name) {
            true => Field::Set(value),
            false => Field::Absent,
        };
        SlotEdit {
            name: Field::Set(self.text("name")),
            enabled: Field::Set(self.ticked("enabled")),
            kind: Field::parsed(Kind::parse(&self.text("kind"))),
            prompt: Field::Set(self.text("prompt")),
            options: Field::Set(self.options(slot)),
            // A form without the picker (an older page) keeps the slot's fallbacks.
            fallbacks: given(
                "fallback_1",
                vec![self.text("fallback_1"), self.text("fallback_2")],
            ),
            fallback_after_secs: match self.fields.get("fallback_after_secs") {
                Some(secs) => Field::parsed(secs.trim().parse().ok()),
                None => Field::Absent,
            },
            // Blank: the type's own rule.
            people_check: match self.fields.get("people_check").map(|v| v.trim()) {
                Some("") => Field::Set(None),
                Some(rule) => Field::parsed(PeopleRule::parse(rule).map(Some)),
                None => Field::Absent,
            },
        }
    }

    /// The slot as typed, to show beside what was wrong with it.
    fn draft(&self, slot: Slot) -> Slot {
        Slot {
            name: self.text("name"),
            prompt: self.text("prompt"),
            enabled: self.ticked("enabled"),
            options: self.options(&slot),
            ..slot
        }
    }
}

/// Saves one card. The page's script asks for the card alone (header `x-partial`); a plain
/// form post gets the whole tab back.
async fn save_slot_card(
    ctx: Ctx,
    State(state): State<AppState>,
    SlotPath(id): SlotPath,
    headers: HeaderMap,
    multipart: Multipart,
) -> AppResult<Response> {
    let form = CardForm::read(multipart).await?;
    let slot = state.store.slot(id).await?;
    let partial = headers.contains_key("x-partial");
    let views = Cards::load(&state, &ctx).await?;
    let card = |slot: &Slot| views.card(slot);
    if !state
        .admin
        .csrf_matches(form.fields.get("csrf").map(String::as_str))
    {
        let refused = card(&slot).with_errors(vec![("form", ctx.t.err_form_expired.to_owned())]);
        return Ok(card_response(&state, &ctx, refused, partial, StatusCode::FORBIDDEN).await);
    }
    let deadline_secs = state.settings().deadline.as_secs() as u32;
    let next = match form.edit(&slot).apply(&slot, deadline_secs) {
        Ok(next) => next,
        Err(errors) => {
            let errors = errors.iter().map(|e| (e.field, e.message(ctx.t))).collect();
            let refused = card(&form.draft(slot)).with_errors(errors);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(card_response(&state, &ctx, refused, partial, status).await);
        }
    };
    state.store.save_slot(&next).await?;
    state.preflights.forget(next.id);
    if form.ticked("renew_link") {
        state.store.renew_link(id).await?;
        tracing::warn!(slot = %id, "upload link renewed");
    }
    let reference = save_reference(&state, &ctx, &form, id).await?;
    let saved = state.store.slot(id).await?;
    let view = match reference {
        None => CardView {
            saved: true,
            ..card(&saved)
        },
        Some(message) => card(&saved).with_errors(vec![("reference", message)]),
    };
    if view.errors.is_empty() && !partial {
        let tab = format!("/admin/{}#slot-{}", id.provider, id.number);
        return Ok(Redirect::to(&tab).into_response());
    }
    let status = if view.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(card_response(&state, &ctx, view, partial, status).await)
}

/// Replaces or removes the card's reference image as its form asks; what was wrong with a new
/// image, in the page's language.
async fn save_reference(
    state: &AppState,
    ctx: &Ctx,
    form: &CardForm,
    id: crate::domain::SlotId,
) -> AppResult<Option<String>> {
    let result = if form.ticked("remove_reference") {
        slot_edit::remove_reference(state, id).await
    } else if let Some(bytes) = &form.reference {
        slot_edit::store_reference(state, id, bytes.clone()).await
    } else {
        Ok(())
    };
    match result {
        Ok(()) => Ok(None),
        Err(AppError::UnsupportedMediaType) => Ok(Some(ctx.t.err_reference_type.to_owned())),
        Err(AppError::UnreadableImage(_)) => Ok(Some(ctx.t.err_reference_unreadable.to_owned())),
        Err(e @ AppError::PayloadTooLarge { .. }) => Ok(Some(e.to_string())),
        Err(other) => Err(other),
    }
}

/// The card alone, or the whole tab with this card in place of the stored one.
async fn card_response(
    state: &AppState,
    ctx: &Ctx,
    card: CardView,
    partial: bool,
    status: StatusCode,
) -> Response {
    let provider = card.provider;
    if partial {
        let layout = Layout::new(ctx, Page::Tab(provider), format!("/admin/{provider}"));
        return (status, render(&CardPartial { layout, card })).into_response();
    }
    let (slots, views) = match (
        state.store.slots(provider).await,
        Cards::load(state, ctx).await,
    ) {
        (Ok(slots), Ok(views)) => (slots, views),
        (Err(e), _) => return AppError::from(e).into_response(),
        (_, Err(e)) => return e.into_response(),
    };
    let number = card.number;
    let mut edited = Some(card);
    let cards = slots
        .iter()
        .map(|s| match edited.take_if(|_| s.id.number == number) {
            Some(card) => card,
            None => views.listed(s, None),
        })
        .collect();
    (
        status,
        render(&tab_page(ctx, state, provider, &views, cards)),
    )
        .into_response()
}

/// "Try it": runs a photo from the admin's browser through the slot, as a test job.
async fn try_slot(
    State(state): State<AppState>,
    SlotPath(slot): SlotPath,
    request: Request,
) -> Response {
    let started = Instant::now();
    let settings = state.settings();
    let check_token = |token: &str, _: &_| state.admin.require_csrf(Some(token));
    let read = ingest::read_form(
        request,
        &state.media,
        settings.max_upload_bytes,
        "csrf",
        check_token,
        None,
    );
    let form = match read.await {
        Ok(form) => form,
        Err(e) => return e.into_response(),
    };
    let Some(photo) = form.photo.filter(|p| !p.is_empty()) else {
        return AppError::InvalidRequest("no photo".into()).into_response();
    };
    let fields = serde_json::Map::from_iter([("name".to_owned(), "admin".into())]);
    let start = JobStart {
        slot,
        is_test: true,
        started,
        deadline: started + settings.deadline,
        values: BoothValues::new(Vec::new(), fields),
        address: None,
        alone: false,
    };
    ingest::run_job(state, start, photo).await
}

async fn reference_image(
    State(state): State<AppState>,
    SlotPath(id): SlotPath,
) -> AppResult<Response> {
    let slot = state.store.slot(id).await?;
    let name = slot.reference.ok_or(AppError::NotFound)?;
    image_file(state.media.reference_path(&name)).await
}
