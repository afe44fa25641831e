//! The admin's HTML pages and form posts.

use super::i18n::Strings;
use super::slot_edit::{self, SlotEdit};
use super::views::{
    CardPartial, CardView, Choice, JobRow, JobsPage, Layout, ProviderCounts, ProviderPage,
    SettingField, SettingsPage, SettingsSection, SlotStatsRow, StatsPage,
};
use super::{Ctx, parse_provider, render, stats};
use crate::AppState;
use crate::config::{Group, SETTINGS, Setting, Settings, ValueError, ValueKind, mask_secret};
use crate::domain::{JobStatus, Provider, SLOTS_PER_PROVIDER, Slot, SlotId};
use crate::error::{AppError, AppResult};
use crate::ingest::{self, JobStart};
use crate::media::Thumb;
use crate::providers::{deepseek, gemini, turbotext};
use crate::store::{JobFilter, JobRecord, now_ms};
use axum::Form;
use axum::extract::{Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::collections::HashMap;
use tokio::time::Instant;

const JOBS_PER_PAGE: u32 = 50;

pub async fn provider_page(
    ctx: Ctx,
    State(state): State<AppState>,
    Path(provider): Path<String>,
) -> AppResult<Response> {
    let provider = parse_provider(&provider)?;
    let slots = state.store.slots(provider).await?;
    let cards = slots
        .iter()
        .map(|s| CardView::new(s, ctx.t, &ctx.base_url))
        .collect();
    Ok(render(&ProviderPage {
        layout: Layout::new(&ctx, provider.as_str(), format!("/admin/{provider}")),
        provider_name: provider.display_name(),
        intro: tab_intro(ctx.t, provider),
        cards,
    }))
}

fn tab_intro(t: &'static Strings, provider: Provider) -> Option<&'static str> {
    (provider == Provider::Deepseek).then_some(t.deepseek_intro)
}

/// The fields of a slot card's form.
#[derive(Default)]
struct CardForm {
    csrf: Option<String>,
    name: String,
    enabled: bool,
    kind: String,
    prompt: String,
    reference: Option<Vec<u8>>,
    remove_reference: bool,
    raw_prompt: bool,
    tt_method: String,
    tt_extra: String,
    tt_strength: String,
    tt_face_restore: bool,
}

impl CardForm {
    /// The slot's options with what this provider's card edits.
    fn options(&self, slot: &Slot) -> Option<serde_json::Value> {
        use serde_json::Value;
        let mut options = slot.options.clone();
        let mut set_text = |key: &str, value: &str| match value.trim() {
            "" => options.remove(key),
            v => options.insert(key.into(), v.into()),
        };
        match slot.id.provider {
            Provider::Nanobanana => {
                options.insert("raw_prompt".into(), self.raw_prompt.into());
            }
            Provider::Turbotext => {
                set_text("method", &self.tt_method);
                set_text("extra_fields", &self.tt_extra);
                let strength = self.tt_strength.trim();
                if strength.is_empty() {
                    options.remove("strength");
                } else {
                    // A number stays a number; anything else is kept as text for the rule to refuse.
                    let value = strength
                        .parse::<i64>()
                        .map_or_else(|_| Value::from(strength), Value::from);
                    options.insert("strength".into(), value);
                }
                options.insert("face_restore".into(), self.tt_face_restore.into());
            }
            Provider::Deepseek => return None,
        }
        Some(Value::Object(options))
    }
}

async fn read_card_form(mut multipart: Multipart) -> AppResult<CardForm> {
    let broken =
        |e: axum::extract::multipart::MultipartError| AppError::InvalidRequest(e.body_text());
    let mut form = CardForm::default();
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
            continue;
        }
        let text = field.text().await.map_err(broken)?;
        match name.as_str() {
            "csrf" => form.csrf = Some(text),
            "name" => form.name = text,
            "enabled" => form.enabled = true,
            "kind" => form.kind = text,
            "prompt" => form.prompt = text,
            "remove_reference" => form.remove_reference = true,
            "raw_prompt" => form.raw_prompt = true,
            "tt_method" => form.tt_method = text,
            "tt_extra" => form.tt_extra = text,
            "tt_strength" => form.tt_strength = text,
            "tt_face_restore" => form.tt_face_restore = true,
            _ => {}
        }
    }
    Ok(form)
}

/// Saves one card. The page's script asks for the card alone (header `x-partial`); a plain
/// form post gets the whole tab back.
pub async fn save_slot_card(
    ctx: Ctx,
    State(state): State<AppState>,
    Path((provider, number)): Path<(String, String)>,
    headers: HeaderMap,
    multipart: Multipart,
) -> AppResult<Response> {
    let id = SlotId::parse(&provider, &number).ok_or(AppError::NotFound)?;
    let form = read_card_form(multipart).await?;
    let slot = state.store.slot(id).await?;
    let partial = headers.contains_key("x-partial");
    if !state.admin.csrf_matches(form.csrf.as_deref()) {
        let card = card_with_errors(
            &ctx,
            &slot,
            vec![("form", ctx.t.err_form_expired.to_owned())],
        );
        return Ok(card_response(&state, &ctx, card, partial, StatusCode::FORBIDDEN).await);
    }
    let options = form.options(&slot);
    let typed_options = options.as_ref().and_then(|o| o.as_object().cloned());
    let edit = SlotEdit {
        name: Some(form.name.clone()),
        enabled: Some(form.enabled),
        kind: Some(form.kind.clone()),
        prompt: Some(form.prompt.clone()),
        options,
    };
    let next = match edit.apply(&slot) {
        Ok(next) => next,
        Err(errors) => {
            // The card comes back with what was typed, next to what was wrong with it.
            let draft = Slot {
                name: form.name,
                prompt: form.prompt,
                enabled: form.enabled,
                options: typed_options.unwrap_or_else(|| slot.options.clone()),
                ..slot
            };
            let errors = errors
                .iter()
                .map(|e| (e.field, e.localized(ctx.t)))
                .collect();
            let card = card_with_errors(&ctx, &draft, errors);
            return Ok(card_response(
                &state,
                &ctx,
                card,
                partial,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await);
        }
    };
    state.store.save_slot(&next).await?;
    let reference_result = if form.remove_reference {
        slot_edit::remove_reference(&state, id).await
    } else if let Some(bytes) = form.reference {
        slot_edit::store_reference(&state, id, bytes).await
    } else {
        Ok(())
    };
    let saved = state.store.slot(id).await?;
    let card = match reference_result {
        Ok(()) => CardView {
            saved: true,
            ..CardView::new(&saved, ctx.t, &ctx.base_url)
        },
        Err(e) => {
            let message = match e {
                AppError::UnsupportedMediaType => ctx.t.err_reference_type.to_owned(),
                AppError::UnreadableImage(_) => ctx.t.err_reference_unreadable.to_owned(),
                AppError::PayloadTooLarge { .. } => e.to_string(),
                other => return Err(other),
            };
            card_with_errors(&ctx, &saved, vec![("reference", message)])
        }
    };
    let status = if card.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    if !partial && status == StatusCode::OK {
        return Ok(
            Redirect::to(&format!("/admin/{}#slot-{}", id.provider, id.number)).into_response(),
        );
    }
    Ok(card_response(&state, &ctx, card, partial, status).await)
}

fn card_with_errors(ctx: &Ctx, slot: &Slot, errors: Vec<(&'static str, String)>) -> CardView {
    CardView {
        errors,
        ..CardView::new(slot, ctx.t, &ctx.base_url)
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
    let provider = Provider::parse(card.provider).unwrap_or(Provider::Turbotext);
    let layout = Layout::new(ctx, provider.as_str(), format!("/admin/{provider}"));
    if partial {
        return (status, render(&CardPartial { layout, card })).into_response();
    }
    let slots = match state.store.slots(provider).await {
        Ok(slots) => slots,
        Err(e) => return AppError::from(e).into_response(),
    };
    let number = card.number;
    let mut edited = Some(card);
    let cards = slots
        .iter()
        .map(|s| match s.id.number == number {
            true => edited
                .take()
                .unwrap_or_else(|| CardView::new(s, ctx.t, &ctx.base_url)),
            false => CardView::new(s, ctx.t, &ctx.base_url),
        })
        .collect();
    let page = ProviderPage {
        layout,
        provider_name: provider.display_name(),
        intro: tab_intro(ctx.t, provider),
        cards,
    };
    (status, render(&page)).into_response()
}

/// "Try it": runs a photo from the admin's browser through the slot, as a test job.
pub async fn try_slot(
    State(state): State<AppState>,
    Path((provider, number)): Path<(String, String)>,
    request: Request,
) -> Response {
    let started = Instant::now();
    let settings = state.settings();
    let Some(slot) = SlotId::parse(&provider, &number) else {
        return AppError::NotFound.into_response();
    };
    let form = match ingest::read_form(request, settings.max_upload_bytes(), &["csrf"]).await {
        Ok(form) => form,
        Err(e) => return e.into_response(),
    };
    if let Err(e) = state.admin.require_csrf(form.secret.as_deref()) {
        return e.into_response();
    }
    let Some(photo) = form.photo else {
        return AppError::InvalidRequest("no photo".into()).into_response();
    };
    let fields = serde_json::Map::from_iter([("name".to_owned(), "admin".into())]);
    let start = JobStart {
        slot,
        is_test: true,
        started,
        deadline: started + settings.deadline(),
        fields,
    };
    ingest::run_job(state, start, photo).await
}

pub async fn reference_image(
    State(state): State<AppState>,
    Path((provider, number)): Path<(String, String)>,
) -> AppResult<Response> {
    let id = SlotId::parse(&provider, &number).ok_or(AppError::NotFound)?;
    let name = state
        .store
        .slot(id)
        .await?
        .reference
        .ok_or(AppError::NotFound)?;
    serve_file(state.media.reference_path(&name)).await
}

pub async fn stats_page(ctx: Ctx, State(state): State<AppState>) -> AppResult<Response> {
    let numbers = stats::gather(&state.store).await?;
    let settings = state.settings();
    let per_provider = |counts: &HashMap<Provider, _>| {
        Provider::ALL
            .into_iter()
            .map(|p| ProviderCounts {
                name: p.display_name(),
                counts: counts.get(&p).copied().unwrap_or_default(),
            })
            .collect()
    };
    let slots = numbers
        .slots
        .iter()
        .filter_map(|s| {
            let provider = Provider::parse(&s.provider)?;
            Some(SlotStatsRow {
                provider: provider.display_name(),
                number: s.slot,
                counts: s.counts,
            })
        })
        .collect();
    Ok(render(&StatsPage {
        layout: Layout::new(&ctx, "stats", "/admin/stats".into()),
        upload_password: settings.get(Setting::UploadPassword).to_owned(),
        password_from_env: settings.is_from_env(Setting::UploadPassword),
        deadline_secs: settings.integer(Setting::DeadlineSecs),
        booth: per_provider(&numbers.booth),
        tests: per_provider(&numbers.tests),
        slots,
        chart: stats::chart_svg(&numbers.days, now_ms()),
    }))
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

pub async fn regenerate_upload_password(
    State(state): State<AppState>,
    Form(form): Form<CsrfForm>,
) -> AppResult<Response> {
    state.admin.require_csrf(form.csrf.as_deref())?;
    if state.settings().is_from_env(Setting::UploadPassword) {
        return Err(AppError::Forbidden(
            "the upload password is set by BOOTHGATE_UPLOAD_PASSWORD".into(),
        ));
    }
    let password = crate::generate_password(12);
    state
        .store
        .save_settings(&[(Setting::UploadPassword.def().name, password)])
        .await?;
    state.reload_settings().await?;
    tracing::info!("upload password regenerated");
    Ok(Redirect::to("/admin/stats").into_response())
}

#[derive(Deserialize)]
pub struct SavedQuery {
    saved: Option<String>,
}

pub async fn settings_page(
    ctx: Ctx,
    State(state): State<AppState>,
    Query(q): Query<SavedQuery>,
) -> Response {
    let page = current_settings_page(&ctx, &state, q.saved.is_some()).await;
    render(&page)
}

/// The Settings page with the stored values, the retention preview and the model suggestions;
/// the buttons that test or discover something add their outcome to it.
async fn current_settings_page(ctx: &Ctx, state: &AppState, saved: bool) -> SettingsPage {
    let settings = state.settings();
    let mut page = settings_view(
        ctx,
        state,
        &settings,
        &HashMap::new(),
        &HashMap::new(),
        saved,
    );
    offer_gemini_models(state, &settings, &mut page).await;
    let retention = match crate::retention::preview(state).await {
        Some((files, bytes)) => ctx
            .t
            .retention_next
            .replace("{files}", &files.to_string())
            .replace("{mb}", &format!("{:.1}", bytes as f64 / 1_048_576.0)),
        None => ctx.t.retention_off.to_owned(),
    };
    if let Some(general) = page.sections.first_mut() {
        general.note = Some(retention);
    }
    page
}

/// With a key set, the model field suggests the image models Gemini offers that key.
async fn offer_gemini_models(state: &AppState, settings: &Settings, page: &mut SettingsPage) {
    let key = settings.get(Setting::GeminiApiKey);
    if key.is_empty() {
        return;
    }
    let models =
        gemini::list_image_models(&state.http, settings.get(Setting::GeminiBaseUrl), key).await;
    let name = Setting::GeminiModel.def().name;
    let Some(section) = page
        .sections
        .iter_mut()
        .find(|s| s.fields.iter().any(|f| f.name == name))
    else {
        return;
    };
    match models {
        Ok(models) => {
            if let Some(field) = section.fields.iter_mut().find(|f| f.name == name) {
                field.suggestions = models;
            }
        }
        Err(e) => section.last_error = section.last_error.take().or(Some(e.to_string())),
    }
}

/// "Test connection" of the DeepSeek tab's two stages, shown in the stage's section.
pub async fn test_connection(
    ctx: Ctx,
    State(state): State<AppState>,
    Path(stage): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> AppResult<Response> {
    state
        .admin
        .require_csrf(form.get("csrf").map(String::as_str))?;
    let settings = state.settings();
    let (stage, key) = match stage.as_str() {
        "deepseek" => ("deepseek", Setting::DeepseekApiKey),
        "images" => ("images", Setting::ImagesApiKey),
        _ => return Err(AppError::NotFound),
    };
    let outcome = match settings.get(key) {
        "" => Err("no API key is set".to_owned()),
        key if stage == "deepseek" => {
            deepseek::check_writer(
                &state.http,
                settings.get(Setting::DeepseekBaseUrl),
                key,
                settings.get(Setting::DeepseekModel),
            )
            .await
        }
        key => {
            deepseek::check_renderer(&state.http, settings.get(Setting::ImagesBaseUrl), key).await
        }
    };
    let mut page = current_settings_page(&ctx, &state, false).await;
    if let Some(section) = page.sections.iter_mut().find(|s| s.test == Some(stage)) {
        section.test_result = Some(match outcome {
            Ok(()) => (true, ctx.t.connection_ok.to_owned()),
            Err(e) => (false, e),
        });
    }
    Ok(render(&page))
}

/// Why Turbotext will not be able to fetch the photos, if the settings say so.
fn turbotext_link_warning(t: &'static Strings, settings: &Settings) -> Option<&'static str> {
    match settings.public_url() {
        None => Some(t.tt_warn_no_public_url),
        Some(url)
            if is_private_address(url)
                && settings
                    .get(Setting::TurbotextBaseUrl)
                    .contains("turbotext.ru") =>
        {
            Some(t.tt_warn_private_url)
        }
        Some(_) => None,
    }
}

/// Whether a URL's host is this machine or a private network, out of an internet service's reach.
fn is_private_address(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => {
            ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified()
        }
        Ok(std::net::IpAddr::V6(ip)) => {
            ip.is_loopback() || ip.is_unspecified() || (ip.segments()[0] & 0xfe00) == 0xfc00
        }
        Err(_) => {
            host.eq_ignore_ascii_case("localhost")
                || host.ends_with(".local")
                || host.ends_with(".localhost")
        }
    }
}

/// Asks Turbotext which API methods the key may call and lists them in its section.
pub async fn discover_turbotext_methods(
    ctx: Ctx,
    State(state): State<AppState>,
    Form(form): Form<HashMap<String, String>>,
) -> AppResult<Response> {
    state
        .admin
        .require_csrf(form.get("csrf").map(String::as_str))?;
    let settings = state.settings();
    let mut page = current_settings_page(&ctx, &state, false).await;
    let key = settings.get(Setting::TurbotextApiKey);
    let found = if key.is_empty() {
        Err("no API key is set for Turbotext".to_owned())
    } else {
        let client = turbotext::Turbotext::new(
            state.http.clone(),
            settings.get(Setting::TurbotextBaseUrl),
            key,
            std::time::Duration::from_millis(settings.integer(Setting::TurbotextPollMs) as u64),
        );
        let deadline = Instant::now() + std::time::Duration::from_secs(30);
        turbotext::available_methods(&client, deadline)
            .await
            .map_err(|e| e.to_string())
    };
    if let Some(section) = page.sections.iter_mut().find(|s| s.discovery.is_some()) {
        match found {
            Ok(methods) => section.discovery = Some(methods),
            Err(e) => section.last_error = Some(e),
        }
    }
    Ok(render(&page))
}

/// The provider whose errors a settings section shows.
fn group_provider(group: Group) -> Option<Provider> {
    match group {
        Group::Turbotext => Some(Provider::Turbotext),
        Group::Gemini => Some(Provider::Nanobanana),
        Group::Deepseek | Group::Images => Some(Provider::Deepseek),
        Group::General | Group::Booth => None,
    }
}

fn group_title(t: &Strings, group: Group) -> &'static str {
    match group {
        Group::General | Group::Booth => t.group_general,
        Group::Turbotext => t.group_turbotext,
        Group::Gemini => t.group_gemini,
        Group::Deepseek => t.group_deepseek,
        Group::Images => t.group_images,
    }
}

/// The Settings page; `submitted` and `errors` refill a form that was refused.
fn settings_view(
    ctx: &Ctx,
    state: &AppState,
    settings: &Settings,
    submitted: &HashMap<String, String>,
    errors: &HashMap<&str, String>,
    saved: bool,
) -> SettingsPage {
    let sections = Group::ON_SETTINGS_PAGE
        .into_iter()
        .map(|group| SettingsSection {
            title: group_title(ctx.t, group),
            last_error: group_provider(group).and_then(|p| state.last_provider_error(p)),
            warning: (group == Group::Turbotext)
                .then(|| turbotext_link_warning(ctx.t, settings))
                .flatten(),
            discovery: (group == Group::Turbotext).then(Vec::new),
            test: match group {
                Group::Deepseek => Some("deepseek"),
                Group::Images => Some("images"),
                _ => None,
            },
            test_result: None,
            note: None,
            fields: SETTINGS
                .iter()
                .filter(|d| d.group == group)
                .map(|def| {
                    let current = settings.get(def.key);
                    let (input, value, placeholder) = match def.kind {
                        ValueKind::Secret => {
                            let mask = mask_secret(current);
                            let hint = if mask.is_empty() {
                                String::new()
                            } else {
                                format!("{mask} — {}", ctx.t.secret_keep)
                            };
                            ("password", String::new(), hint)
                        }
                        ValueKind::Switch => ("checkbox", current.to_owned(), String::new()),
                        ValueKind::Integer { .. } => ("number", current.to_owned(), String::new()),
                        ValueKind::Url if def.key == Setting::PublicUrl => (
                            "url",
                            current.to_owned(),
                            ctx.t.public_url_from_request.to_owned(),
                        ),
                        ValueKind::Url => ("url", current.to_owned(), def.default.to_owned()),
                        ValueKind::Text => ("text", current.to_owned(), def.default.to_owned()),
                    };
                    let value = match (def.kind, submitted.get(def.name)) {
                        (ValueKind::Secret, _) | (_, None) => value,
                        (_, Some(typed)) => typed.clone(),
                    };
                    SettingField {
                        name: def.name,
                        label: ctx.t.setting_label(def.key),
                        input,
                        value,
                        placeholder,
                        from_env: settings.is_from_env(def.key),
                        error: errors.get(def.name).cloned(),
                        suggestions: Vec::new(),
                    }
                })
                .collect(),
        })
        .collect();
    SettingsPage {
        layout: Layout::new(ctx, "settings", "/admin/settings".into()),
        sections,
        saved,
    }
}

fn localized_value_error(t: &Strings, e: ValueError) -> String {
    match e {
        ValueError::NotInteger { min, max } => t.integer_error(min, max),
        ValueError::NotUrl => t.err_url.to_owned(),
        ValueError::TooLong => t.err_too_long.to_owned(),
    }
}

pub async fn save_settings(
    ctx: Ctx,
    State(state): State<AppState>,
    Form(form): Form<HashMap<String, String>>,
) -> AppResult<Response> {
    state
        .admin
        .require_csrf(form.get("csrf").map(String::as_str))?;
    let settings = state.settings();
    let mut values = Vec::new();
    let mut errors = HashMap::new();
    let editable = SETTINGS
        .iter()
        .filter(|d| Group::ON_SETTINGS_PAGE.contains(&d.group) && !settings.is_from_env(d.key));
    for def in editable {
        let typed = form.get(def.name).map(String::as_str);
        let value = match def.kind {
            ValueKind::Secret if form.contains_key(&format!("clear_{}", def.name)) => {
                Ok(String::new())
            }
            // An empty secret field keeps the stored key: it is never sent to the browser.
            ValueKind::Secret if typed.is_none_or(|v| v.trim().is_empty()) => continue,
            ValueKind::Switch => Ok(if typed.is_some() {
                "1".to_owned()
            } else {
                "0".to_owned()
            }),
            // A field the form did not carry keeps its value.
            _ if typed.is_none() => continue,
            // An emptied address or model goes back to the default.
            ValueKind::Url | ValueKind::Text if typed.is_some_and(|v| v.trim().is_empty()) => {
                Ok(def.default.to_owned())
            }
            kind => kind.normalize(typed.unwrap_or_default()),
        };
        match value {
            Ok(value) => values.push((def.name, value)),
            Err(e) => {
                errors.insert(def.name, localized_value_error(ctx.t, e));
            }
        }
    }
    if !errors.is_empty() {
        let page = settings_view(&ctx, &state, &settings, &form, &errors, false);
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response());
    }
    state.store.save_settings(&values).await?;
    state.reload_settings().await?;
    tracing::info!(changed = values.len(), "settings saved");
    Ok(Redirect::to("/admin/settings?saved=1").into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn private_addresses_are_recognised() {
        for url in [
            "http://localhost:8080",
            "http://127.0.0.1",
            "https://192.168.1.20/x",
            "http://10.0.0.5:80",
            "http://[::1]:8080",
            "http://[fd00::1]",
            "http://booth.local",
        ] {
            assert!(super::is_private_address(url), "{url}");
        }
        for url in [
            "https://booth.example.com",
            "http://203.0.113.7:8080",
            "https://[2001:db8::1]",
        ] {
            assert!(!super::is_private_address(url), "{url}");
        }
    }
}

#[derive(Deserialize, Default)]
pub struct JobsQuery {
    provider: Option<String>,
    slot: Option<String>,
    status: Option<String>,
    before: Option<i64>,
}

fn choices(options: impl Iterator<Item = (String, String)>, selected: &str) -> Vec<Choice> {
    options
        .map(|(value, label)| Choice {
            selected: value == selected,
            value,
            label,
        })
        .collect()
}

fn job_row(t: &Strings, media: &crate::media::Media, job: JobRecord) -> JobRow {
    let status = JobStatus::parse(&job.status).unwrap_or(JobStatus::Failed);
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    JobRow {
        time: time::OffsetDateTime::from_unix_timestamp(job.created_at / 1000)
            .ok()
            .and_then(|t| t.format(format).ok())
            .unwrap_or_default(),
        created_ms: job.created_at,
        provider: Provider::parse(&job.provider).map_or("?", Provider::display_name),
        slot: job.slot,
        status: status.as_str(),
        status_label: t.status(status),
        is_test: job.is_test,
        latency: job
            .latency_ms
            .map(|ms| format!("{:.1}", ms as f64 / 1000.0))
            .unwrap_or_default(),
        reason: job.reason.unwrap_or_default(),
        message: job.message.unwrap_or_default(),
        booth: job.booth_name.unwrap_or_default(),
        prompt: job.prompt.unwrap_or_default(),
        prompt_used: job.prompt_used.unwrap_or_default(),
        has_original: !job.original_path.is_empty(),
        // An upload that never decoded has no thumbnail: the page links the file instead.
        has_before_thumb: media.thumb_path(&job.id, Thumb::Before).is_file(),
        has_result: job.result_path.is_some(),
        id: job.id,
    }
}

pub async fn jobs_page(
    ctx: Ctx,
    State(state): State<AppState>,
    Query(q): Query<JobsQuery>,
) -> AppResult<Response> {
    let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    let (provider, slot, status) = (
        nonempty(&q.provider),
        nonempty(&q.slot),
        nonempty(&q.status),
    );
    let filter = JobFilter {
        provider: provider.as_deref().and_then(Provider::parse),
        slot: slot.as_deref().and_then(|s| s.parse().ok()),
        status: status.as_deref().and_then(JobStatus::parse),
        before: q.before,
        limit: JOBS_PER_PAGE,
    };
    let jobs = state.store.jobs(&filter).await?;
    let older = (jobs.len() == JOBS_PER_PAGE as usize).then(|| {
        let last = jobs.last().map_or(0, |j| j.created_at);
        let keep = |k: &str, v: &Option<String>| {
            v.as_ref().map(|v| format!("&{k}={v}")).unwrap_or_default()
        };
        format!(
            "/admin/jobs?before={last}{}{}{}",
            keep("provider", &provider),
            keep("slot", &slot),
            keep("status", &status)
        )
    });
    let page = JobsPage {
        layout: Layout::new(&ctx, "jobs", "/admin/jobs".into()),
        rows: jobs
            .into_iter()
            .map(|j| job_row(ctx.t, &state.media, j))
            .collect(),
        providers: choices(
            Provider::ALL
                .iter()
                .map(|p| (p.as_str().to_owned(), p.display_name().to_owned())),
            provider.as_deref().unwrap_or_default(),
        ),
        slots: choices(
            (1..=SLOTS_PER_PROVIDER).map(|n| (n.to_string(), n.to_string())),
            slot.as_deref().unwrap_or_default(),
        ),
        statuses: choices(
            JobStatus::ALL
                .iter()
                .map(|s| (s.as_str().to_owned(), ctx.t.status(*s).to_owned())),
            status.as_deref().unwrap_or_default(),
        ),
        older,
    };
    Ok(render(&page))
}

/// A job's original, result or thumbnails, found through its row: never a client path.
pub async fn job_file(
    State(state): State<AppState>,
    Path((id, file)): Path<(String, String)>,
) -> AppResult<Response> {
    let job = state.store.job(&id).await?.ok_or(AppError::NotFound)?;
    let path = match (file.as_str(), Thumb::parse(&file)) {
        ("original", _) => state.media.absolute(&job.original_path),
        ("result", _) => job
            .result_path
            .as_deref()
            .and_then(|p| state.media.absolute(p)),
        (_, Some(which)) => Some(state.media.thumb_path(&job.id, which)),
        _ => None,
    };
    serve_file(path.ok_or(AppError::NotFound)?).await
}

async fn serve_file(path: std::path::PathBuf) -> AppResult<Response> {
    let bytes = match tokio::fs::read(&path).await {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(AppError::NotFound),
        Err(e) => return Err(e.into()),
    };
    let mime =
        crate::domain::ImageFormat::sniff(&bytes).map_or("application/octet-stream", |f| f.mime());
    Ok(([(header::CONTENT_TYPE, mime)], bytes).into_response())
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn switch_language(Path(code): Path<String>, Query(q): Query<NextQuery>) -> Response {
    let code = if code == "en" { "en" } else { "ru" };
    // Only admin pages: never an open redirect.
    let next = q
        .next
        .filter(|n| n.starts_with("/admin/") && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or_else(|| "/admin/turbotext".into());
    let mut response = Redirect::to(&next).into_response();
    let cookie = format!("lang={code}; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

pub async fn static_file(Path(file): Path<String>) -> Response {
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
