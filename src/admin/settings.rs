//! Settings: every value of the one settings list, the providers' connection tests and
//! discovery, the retention preview, and the last configuration error of each provider.

use super::i18n::Strings;
use super::layout::{Layout, Page};
use super::models::{self, ModelBanner};
use super::{Ctx, render};
use crate::AppState;
use crate::clock::local_time;
use crate::config::{
    Group, MODEL_SETTINGS, SETTINGS, Setting, Settings, ValueError, ValueKind, mask_secret,
};
use crate::error::{AppError, AppResult};
use crate::extract::TokenForm;
use crate::lifecycle;
use crate::providers::catalog::Listing;
use crate::providers::registry::{self, REGISTRY};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings", get(settings_page).post(save_settings))
        .route(
            "/settings/turbotext-methods",
            post(discover_turbotext_methods),
        )
        .route("/settings/test/{stage}", post(test_connection))
        .route("/settings/model", post(choose_model))
        .route("/settings/links/renew", post(renew_all_links))
        .route("/settings/live-link", post(make_live_link))
        .route("/settings/alerts/test", post(send_test_alert))
}

pub struct SettingsSection {
    pub title: &'static str,
    pub fields: Vec<SettingField>,
    /// The last error its provider met that the operator has to fix.
    pub last_error: Option<String>,
    /// Something about the settings that will make the provider fail.
    pub warning: Option<&'static str>,
    /// Turbotext's method discovery: offered in its section, filled once asked.
    pub discovery: Option<Vec<(String, String)>>,
    /// Why the methods could not be listed, beside its button: a one-off answer, not the
    /// provider's last error (nothing the booth does failed).
    pub discovery_failed: Option<TestResult>,
    /// A fact worth knowing about this section's settings (what retention will delete).
    pub note: Option<String>,
    /// The connection test this section offers, by its stage (`deepseek`, `images`).
    pub test: Option<&'static str>,
    /// The outcome of that test, once run: whether it worked, and what was said.
    pub test_result: Option<TestResult>,
    /// Offers to renew every slot's upload link.
    pub renew_links: bool,
    /// The alerts' section: its test button and the alerts raised.
    pub alerts: Option<AlertsView>,
}

/// A connection test's outcome: in the page's words, the provider's own beneath.
pub struct TestResult {
    pub ok: bool,
    pub text: &'static str,
    pub detail: Option<String>,
}

/// What the alerts' section shows beside its settings.
#[derive(Default)]
pub struct AlertsView {
    /// The last alerts, newest first: time (in the operator's zone), kind, message, deliveries.
    pub recent: Vec<AlertRow>,
    /// How the test alert just sent was delivered.
    pub test_outcome: Option<String>,
}

pub struct AlertRow {
    pub at: String,
    pub kind: &'static str,
    pub message: String,
    pub telegram: &'static str,
    pub webhook: &'static str,
}

/// How a setting is typed on the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettingInput {
    Text,
    Url,
    Password,
    Number,
    Checkbox,
}

impl SettingInput {
    /// The `<input>`'s `type`.
    pub fn html_type(self) -> &'static str {
        match self {
            SettingInput::Text => "text",
            SettingInput::Url => "url",
            SettingInput::Password => "password",
            SettingInput::Number => "number",
            SettingInput::Checkbox => "checkbox",
        }
    }
}

pub struct SettingField {
    pub name: &'static str,
    pub label: &'static str,
    pub input: SettingInput,
    pub value: String,
    pub placeholder: String,
    pub from_env: bool,
    pub error: Option<String>,
    /// Suggestions offered with the free text (the models a key can use).
    pub suggestions: Vec<String>,
}

#[derive(Template)]
#[template(path = "settings.html")]
pub struct SettingsPage {
    pub layout: Layout,
    /// Warnings about the configured models, above the form.
    pub banners: Vec<ModelBanner>,
    pub sections: Vec<SettingsSection>,
    pub saved: bool,
    /// Every upload link was just renewed.
    pub links_renewed: bool,
    /// The tablet's new Live link, shown once.
    pub live_link: Option<String>,
    /// How an imported setup went: taken or not, and what was said.
    pub setup_outcome: Option<(bool, String)>,
}

#[derive(Deserialize)]
struct SavedQuery {
    saved: Option<String>,
    renewed: Option<String>,
}

async fn settings_page(
    ctx: Ctx,
    State(state): State<AppState>,
    Query(q): Query<SavedQuery>,
) -> Response {
    let mut page = current_settings_page(&ctx, &state, q.saved.is_some()).await;
    page.links_renewed = q.renewed.is_some();
    render(&page)
}

/// The Settings page with the stored values, the retention preview and the model suggestions;
/// the buttons that test or discover something add their outcome to it.
pub(super) async fn current_settings_page(
    ctx: &Ctx,
    state: &AppState,
    saved: bool,
) -> SettingsPage {
    let settings = state.settings();
    let mut page = settings_view(
        ctx,
        state,
        &settings,
        &HashMap::new(),
        &HashMap::new(),
        saved,
    );
    offer_listed_models(state, &mut page);
    let retention = match crate::retention::preview(state.media.root(), &settings).await {
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
    if let Some(view) = page.sections.iter_mut().find_map(|s| s.alerts.as_mut()) {
        view.recent = recent_alerts(ctx.t, state, &settings).await;
    }
    page
}

/// The alerts kept, for the page: times on the operator's clock, words in the page's language.
async fn recent_alerts(
    t: &'static Strings,
    state: &AppState,
    settings: &Settings,
) -> Vec<AlertRow> {
    let alerts = state.store.alerts().await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "the alerts could not be read");
        Vec::new()
    });
    alerts
        .into_iter()
        .map(|a| AlertRow {
            at: local_time(a.at, &settings.time_zone, "%Y-%m-%d %H:%M"),
            kind: t.alert_kind(&a.kind),
            message: a.message,
            telegram: t.delivery(&a.telegram),
            webhook: t.delivery(&a.webhook),
        })
        .collect()
}

/// "Send a test alert": sent now to every channel set up, its outcome in the alerts' section.
async fn send_test_alert(
    ctx: Ctx,
    State(state): State<AppState>,
    _form: TokenForm,
) -> AppResult<Response> {
    let delivery = crate::alerts::deliver::send_test(&state).await;
    let mut page = current_settings_page(&ctx, &state, false).await;
    if let Some(view) = page.sections.iter_mut().find_map(|s| s.alerts.as_mut()) {
        view.test_outcome = Some(
            ctx.t
                .alert_test_outcome
                .replace("{telegram}", ctx.t.delivery(delivery.telegram.as_str()))
                .replace("{webhook}", ctx.t.delivery(delivery.webhook.as_str())),
        );
    }
    Ok(render(&page))
}

/// Each model field suggests the models its provider lists; each list's trouble (it could not
/// be fetched) is shown in its section.
fn offer_listed_models(state: &AppState, page: &mut SettingsPage) {
    for listing in Listing::ALL {
        let list = state.catalog.list(listing);
        let name = listing.model_setting().def().name;
        let Some(section) = page
            .sections
            .iter_mut()
            .find(|s| s.fields.iter().any(|f| f.name == name))
        else {
            continue;
        };
        if let Some(e) = list.error {
            section.last_error = section.last_error.take().or(Some(e));
        }
        if let Some(field) = section.fields.iter_mut().find(|f| f.name == name) {
            field.suggestions = list.models.into_iter().map(|m| m.id).collect();
        }
    }
}

/// A model chosen from a warning's list: saved at once, and back to the page it was chosen on.
async fn choose_model(
    State(state): State<AppState>,
    TokenForm(form): TokenForm,
) -> AppResult<Response> {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let listing = Listing::ALL
        .into_iter()
        .find(|l| l.model_setting().def().name == field("setting"))
        .ok_or_else(|| AppError::validation("setting", "not a model setting"))?;
    let setting = listing.model_setting();
    if state.settings().is_from_env(setting) {
        return Err(AppError::Forbidden(format!(
            "{} is set by {}",
            field("setting"),
            setting.def().env
        )));
    }
    // Only a model the provider's own list names: the value goes into request URLs.
    let list = state.catalog.list(listing);
    if list.checked_at.is_none() || list.models.is_empty() {
        return Err(AppError::validation(
            "value",
            "the provider's model list is not loaded yet; try again in a moment",
        ));
    }
    let value = list
        .models
        .into_iter()
        .map(|m| m.id)
        .find(|id| id == field("value"))
        .ok_or_else(|| AppError::validation("value", "not a model the provider lists"))?;
    let mut values = lifecycle::chosen(setting, true).to_vec();
    values.push((setting.def().name.to_owned(), value));
    lifecycle::save(&state.store, &values).await?;
    state.reload_settings().await?;
    let next = super::back_to(form.get("next").map(String::as_str), "/admin/settings");
    Ok(Redirect::to(&next).into_response())
}

/// New upload links for every slot: the old ones stop working at once.
async fn renew_all_links(State(state): State<AppState>, _form: TokenForm) -> AppResult<Response> {
    state.store.renew_all_links().await?;
    tracing::warn!("every upload link renewed");
    Ok(Redirect::to("/admin/settings?renewed=1").into_response())
}

/// A new read-only Live link for the tablet, shown once on the page (only its hash is kept).
async fn make_live_link(
    ctx: Ctx,
    State(state): State<AppState>,
    _form: TokenForm,
) -> AppResult<Response> {
    let token = super::tablet::renew(&state.store).await?;
    let mut page = current_settings_page(&ctx, &state, false).await;
    page.live_link = Some(super::tablet::url(&ctx.base_url, &token));
    Ok(render(&page))
}

/// "Test connection" of the DeepSeek tab's two stages, shown in the stage's section.
async fn test_connection(
    ctx: Ctx,
    State(state): State<AppState>,
    Path(stage): Path<String>,
    _form: TokenForm,
) -> AppResult<Response> {
    let test = registry::test_named(&stage).ok_or(AppError::NotFound)?;
    let outcome = (test.run)(&state.http, &state.settings()).await;
    let mut page = current_settings_page(&ctx, &state, false).await;
    if let Some(section) = page
        .sections
        .iter_mut()
        .find(|s| s.test == Some(test.stage))
    {
        section.test_result = Some(match outcome {
            Ok(()) => TestResult {
                ok: true,
                text: ctx.t.connection_ok,
                detail: None,
            },
            Err(e) => TestResult {
                ok: false,
                text: ctx.t.connection_failed,
                detail: Some(e),
            },
        });
    }
    Ok(render(&page))
}

/// Why a provider that fetches the photos by link will not reach them, if the settings say so.
fn link_warning(t: &'static Strings, settings: &Settings) -> Option<&'static str> {
    match settings.public_url.as_deref() {
        None => Some(t.tt_warn_no_public_url),
        Some(url)
            if crate::net::is_private_address(url)
                && settings.turbotext.base_url.contains("turbotext.ru") =>
        {
            Some(t.tt_warn_private_url)
        }
        Some(_) => None,
    }
}

/// Asks Turbotext which API methods the key may call and lists them in its section.
async fn discover_turbotext_methods(
    ctx: Ctx,
    State(state): State<AppState>,
    _form: TokenForm,
) -> AppResult<Response> {
    let methods = REGISTRY
        .iter()
        .find_map(|spec| spec.methods)
        .ok_or(AppError::NotFound)?;
    let found = methods(&state.http, &state.settings()).await;
    let mut page = current_settings_page(&ctx, &state, false).await;
    if let Some(section) = page.sections.iter_mut().find(|s| s.discovery.is_some()) {
        match found {
            Ok(methods) => section.discovery = Some(methods),
            Err(e) => {
                section.discovery_failed = Some(TestResult {
                    ok: false,
                    text: ctx.t.tt_methods_failed,
                    detail: Some(e),
                })
            }
        }
    }
    Ok(render(&page))
}

fn group_title(t: &Strings, group: Group) -> &'static str {
    match group {
        Group::General | Group::Booth => t.group_general,
        Group::Protection => t.group_protection,
        Group::Turbotext => t.group_turbotext,
        Group::Nanobanana => t.group_nanobanana,
        Group::Deepseek => t.group_deepseek,
        Group::Images => t.group_images,
        Group::Costs => t.group_costs,
        Group::Alerts => t.group_alerts,
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
        .map(|group| {
            let owner = registry::owner_of(group);
            let own = owner.filter(|spec| spec.groups[0] == group);
            SettingsSection {
                title: group_title(ctx.t, group),
                last_error: owner.and_then(|spec| state.health.operator_error(spec.provider)),
                warning: match group {
                    _ if own.is_some_and(|spec| spec.fetches_by_link) => {
                        link_warning(ctx.t, settings)
                    }
                    Group::Protection if settings.protection.simple_links => {
                        Some(ctx.t.simple_links_warning)
                    }
                    _ => None,
                },
                renew_links: group == Group::Protection,
                alerts: (group == Group::Alerts).then(AlertsView::default),
                discovery: own.and_then(|spec| spec.methods).map(|_| Vec::new()),
                discovery_failed: None,
                test: owner
                    .and_then(|spec| spec.tests.iter().find(|t| t.group == group))
                    .map(|t| t.stage),
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
                                (SettingInput::Password, String::new(), hint)
                            }
                            ValueKind::Switch => {
                                (SettingInput::Checkbox, current.to_owned(), String::new())
                            }
                            ValueKind::Integer { .. } => {
                                (SettingInput::Number, current.to_owned(), String::new())
                            }
                            ValueKind::Url if def.key == Setting::PublicUrl => (
                                SettingInput::Url,
                                current.to_owned(),
                                ctx.t.public_url_from_request.to_owned(),
                            ),
                            ValueKind::Url => (
                                SettingInput::Url,
                                current.to_owned(),
                                def.default.to_owned(),
                            ),
                            ValueKind::Text => (
                                SettingInput::Text,
                                current.to_owned(),
                                def.default.to_owned(),
                            ),
                            // Text, so that "0,039" typed with a Russian keyboard is accepted.
                            ValueKind::Price => {
                                (SettingInput::Text, current.to_owned(), "0.039".to_owned())
                            }
                            ValueKind::Addresses => (
                                SettingInput::Text,
                                current.to_owned(),
                                "127.0.0.1, 10.0.0.0/8".to_owned(),
                            ),
                            ValueKind::Choice(_) | ValueKind::TimeZone => (
                                SettingInput::Text,
                                current.to_owned(),
                                def.default.to_owned(),
                            ),
                        };
                        let suggestions = match def.kind {
                            ValueKind::Choice(codes) => {
                                codes.iter().map(|c| (*c).to_owned()).collect()
                            }
                            _ => Vec::new(),
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
                            suggestions,
                        }
                    })
                    .collect(),
            }
        })
        .collect();
    SettingsPage {
        layout: Layout::new(ctx, Page::Settings, "/admin/settings".into()),
        banners: models::banners(state, settings, ctx.t, &Listing::ALL),
        sections,
        saved,
        links_renewed: false,
        live_link: None,
        setup_outcome: None,
    }
}

fn localized_value_error(t: &Strings, e: ValueError) -> String {
    match e {
        ValueError::NotInteger { min, max } => t.integer_error(min, max),
        ValueError::NotUrl => t.err_url.to_owned(),
        ValueError::TooLong => t.err_too_long.to_owned(),
        ValueError::NotPrice => t.err_price.to_owned(),
        ValueError::NotAddresses => t.err_addresses.to_owned(),
        ValueError::NotChoice(codes) => t.err_choice.replace("{codes}", &codes.join(", ")),
        ValueError::NotTimeZone => t.err_time_zone.to_owned(),
    }
}

async fn save_settings(
    ctx: Ctx,
    State(state): State<AppState>,
    TokenForm(form): TokenForm,
) -> AppResult<Response> {
    let settings = state.settings();
    let mut values: Vec<(String, String)> = Vec::new();
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
            // A model is written, and pinned, only when the operator changed it; an emptied
            // one goes back to the built-in default, which follows its successors.
            Ok(value) if MODEL_SETTINGS.contains(&def.key) => {
                if value != settings.get(def.key) {
                    let pinned = typed.is_some_and(|v| !v.trim().is_empty());
                    values.extend(lifecycle::chosen(def.key, pinned));
                    values.push((def.name.to_owned(), value));
                }
            }
            Ok(value) => values.push((def.name.to_owned(), value)),
            Err(e) => {
                errors.insert(def.name, localized_value_error(ctx.t, e));
            }
        }
    }
    if !errors.is_empty() {
        let page = settings_view(&ctx, &state, &settings, &form, &errors, false);
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response());
    }
    lifecycle::save(&state.store, &values).await?;
    state.reload_settings().await?;
    tracing::info!(changed = values.len(), "settings saved");
    Ok(Redirect::to("/admin/settings?saved=1").into_response())
}
