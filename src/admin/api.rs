//! The admin's JSON API, for scripts: slots and statistics.

use super::Ctx;
use super::jobs::JobsQuery;
use super::slot_edit::{self, SlotEdit};
use super::stats::{self, StatsQuery};
use crate::AppState;
use crate::checks::{Check, PeopleRule};
use crate::clock::iso_time;
use crate::config::Settings;
use crate::domain::{Attempt, AttemptOutcome, JobStatus, Kind, Provider, Slot};
use crate::error::{AppError, AppResult};
use crate::extract::{Filters, SlotPath};
use crate::providers::catalog::Listing;
use crate::providers::health::Status;
use crate::providers::registry::{self, ProviderSpec, REGISTRY};
use crate::report::Cost;
use crate::store::JobRecord;
use crate::store::{CheckCounts, ProviderCounts};
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Map;
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/stats", get(stats))
        .route("/api/providers", get(providers))
        .route("/api/jobs", get(jobs))
        .route("/api/jobs/{id}", get(job))
        .route("/api/slots/{provider}/{slot}", get(get_slot).put(put_slot))
        .route(
            "/api/slots/{provider}/{slot}/reference",
            put(put_reference).delete(delete_reference),
        )
        .route("/api/slots/{provider}/{slot}/link", post(renew_link))
        .route("/api/links/renew", post(renew_all_links))
        .route("/api/live-link", post(make_live_link))
        .route("/api/alerts", get(alerts))
        .route("/api/alerts/test", post(send_test_alert))
}

/// The last alerts, newest first, with how each was delivered.
async fn alerts(State(state): State<AppState>) -> AppResult<Json<Value>> {
    let alerts: Vec<Value> = state
        .store
        .alerts()
        .await?
        .into_iter()
        .map(|a| {
            json!({
                "kind": a.kind,
                "subject": a.subject,
                "message": a.message,
                "at": iso_time(a.at),
                "delivery": {"telegram": a.telegram, "webhook": a.webhook},
            })
        })
        .collect();
    Ok(Json(json!({ "alerts": alerts })))
}

/// Sends a test alert to every channel set up, and says how each went.
async fn send_test_alert(State(state): State<AppState>) -> Json<Value> {
    let delivery = crate::alerts::deliver::send_test(&state).await;
    Json(json!({
        "delivery": {"telegram": delivery.telegram, "webhook": delivery.webhook},
    }))
}

/// A slot as the JSON API gives it.
#[derive(Serialize)]
struct SlotJson<'a> {
    provider: Provider,
    slot: u8,
    name: &'a str,
    enabled: bool,
    kind: Kind,
    prompt: &'a str,
    has_reference: bool,
    upload_url: String,
    options: &'a Map<String, Value>,
    fallbacks: Vec<String>,
    fallback_after_secs: u32,
    /// The slot's own people rule; `null` follows its type.
    people_check: Option<PeopleRule>,
    /// The rule its results are checked by.
    people_rule: PeopleRule,
}

pub(super) fn slot_json(slot: &Slot, base_url: &str) -> Value {
    json!(SlotJson {
        provider: slot.id.provider,
        slot: slot.id.number,
        name: &slot.name,
        enabled: slot.enabled,
        kind: slot.kind,
        prompt: &slot.prompt,
        has_reference: slot.reference.is_some(),
        upload_url: format!("{base_url}{}", slot.upload_path()),
        options: &slot.options,
        fallbacks: slot.fallbacks.iter().map(ToString::to_string).collect(),
        fallback_after_secs: slot.fallback_after_secs,
        people_check: slot.people_check,
        people_rule: slot.people_rule(),
    })
}

async fn get_slot(
    ctx: Ctx,
    State(state): State<AppState>,
    SlotPath(id): SlotPath,
) -> AppResult<Json<Value>> {
    let slot = state.store.slot(id).await?;
    Ok(Json(slot_json(&slot, &ctx.base_url)))
}

async fn put_slot(
    ctx: Ctx,
    State(state): State<AppState>,
    SlotPath(id): SlotPath,
    body: Bytes,
) -> AppResult<Json<Value>> {
    let edit: SlotEdit = serde_json::from_slice(&body)
        .map_err(|e| AppError::validation("body", format!("not a JSON object: {e}")))?;
    let slot = state.store.slot(id).await?;
    let next = edit
        .apply(&slot, state.settings().deadline.as_secs() as u32)
        .map_err(|errors| AppError::from(errors[0]))?;
    state.store.save_slot(&next).await?;
    state.preflights.forget(next.id);
    Ok(Json(slot_json(&next, &ctx.base_url)))
}

async fn put_reference(
    ctx: Ctx,
    State(state): State<AppState>,
    SlotPath(id): SlotPath,
    body: Bytes,
) -> AppResult<Json<Value>> {
    slot_edit::store_reference(&state, id, body.to_vec()).await?;
    Ok(Json(slot_json(&state.store.slot(id).await?, &ctx.base_url)))
}

/// A new upload link for the slot; the old one stops working at once.
async fn renew_link(
    ctx: Ctx,
    State(state): State<AppState>,
    SlotPath(id): SlotPath,
) -> AppResult<Json<Value>> {
    state.store.renew_link(id).await?;
    tracing::warn!(slot = %id, "upload link renewed");
    Ok(Json(slot_json(&state.store.slot(id).await?, &ctx.base_url)))
}

/// New upload links for every slot.
async fn renew_all_links(State(state): State<AppState>) -> AppResult<Json<Value>> {
    state.store.renew_all_links().await?;
    tracing::warn!("every upload link renewed");
    Ok(Json(
        json!({ "renewed": crate::domain::SlotId::all().count() }),
    ))
}

/// A new read-only Live link for the tablet; the old one stops working at once.
async fn make_live_link(ctx: Ctx, State(state): State<AppState>) -> AppResult<Json<Value>> {
    let token = super::tablet::renew(&state.store).await?;
    Ok(Json(
        json!({ "url": super::tablet::url(&ctx.base_url, &token) }),
    ))
}

async fn delete_reference(
    State(state): State<AppState>,
    SlotPath(id): SlotPath,
) -> AppResult<StatusCode> {
    slot_edit::remove_reference(&state, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The statistics JSON.
#[derive(Serialize)]
struct StatsJson {
    upload_password: String,
    deadline_secs: u64,
    providers: BTreeMap<Provider, ProviderStats>,
    /// Guests with an AI photo ÷ every booth photo.
    ai_result_rate: Option<f64>,
    /// The same over the photos that reached a model.
    model_success_rate: Option<f64>,
    /// The photos that got no AI image, by reason.
    misses: BTreeMap<String, i64>,
    event: Option<i64>,
    cost: Cost,
    tests_cost: Cost,
    /// Images the result checks rejected, and photos a later try rescued.
    checks: CheckCounts,
}

/// One provider's counts and health.
#[derive(Serialize)]
struct ProviderStats {
    #[serde(flatten)]
    counts: ProviderCounts,
    health: Status,
}

async fn stats(
    State(state): State<AppState>,
    Query(q): Query<StatsQuery>,
) -> AppResult<Json<StatsJson>> {
    let numbers = stats::gather(&state, q.event).await?;
    let settings = state.settings();
    let providers = Provider::ALL
        .into_iter()
        .map(|p| {
            let counts = numbers.booth.get(&p).copied().unwrap_or_default();
            let health = state.health.status(p);
            (p, ProviderStats { counts, health })
        })
        .collect();
    Ok(Json(StatsJson {
        upload_password: settings.upload_password.clone(),
        deadline_secs: settings.deadline.as_secs(),
        providers,
        ai_result_rate: numbers.delivery.ai_result_rate(),
        model_success_rate: numbers.delivery.model_success_rate(),
        misses: numbers.delivery.misses,
        event: q.event,
        cost: numbers.cost,
        tests_cost: numbers.tests_cost,
        checks: numbers.checks,
    }))
}

/// What a model list says of one configured model, as the providers JSON shows it.
#[derive(Serialize)]
struct ModelJson {
    model: String,
    model_listed: Option<bool>,
    /// The list's shutdown date, or the day an answer said the model retires.
    shutdown_date: Option<String>,
    /// What the last answer said of the model's life.
    model_stage: Option<String>,
    retirement_time: Option<String>,
    model_message: Option<String>,
    /// The operator chose it: it never follows a successor by itself.
    model_pinned: bool,
    /// The built-in default it took over from, and when.
    model_switched_from: Option<String>,
    model_switched_at: Option<String>,
    models: Vec<String>,
    list_error: Option<String>,
    checked_at: Option<String>,
}

impl ModelJson {
    fn of(state: &AppState, settings: &Settings, listing: Listing) -> ModelJson {
        let check = state.catalog.check(listing, settings);
        let list = state.catalog.list(listing);
        let choice = settings.model_choice(listing.model_setting());
        let status = check.status;
        let (switched_from, switched_at) = choice.switched_from.unzip();
        ModelJson {
            model: check.model,
            model_listed: check.listed,
            shutdown_date: check.shutdown_date.map(|d| d.to_string()),
            model_stage: status.as_ref().map(|s| s.stage.clone()),
            retirement_time: status
                .as_ref()
                .and_then(|s| s.retirement_ms)
                .map(crate::clock::iso_time),
            model_message: status.and_then(|s| s.message),
            model_pinned: choice.pinned,
            model_switched_from: switched_from,
            model_switched_at: switched_at.map(crate::clock::iso_time),
            models: list.models.into_iter().map(|m| m.id).collect(),
            list_error: list.error,
            checked_at: list.checked_at.map(crate::clock::iso_time),
        }
    }

    /// Its fields under `prefix`, beside a provider's own.
    fn prefixed(self, prefix: &str) -> impl Iterator<Item = (String, Value)> {
        let fields = match json!(self) {
            Value::Object(fields) => fields,
            _ => Map::new(),
        };
        let prefix = prefix.to_owned();
        fields
            .into_iter()
            .map(move |(key, value)| (format!("{prefix}{key}"), value))
    }
}

/// A provider's entry in the providers JSON.
#[derive(Serialize)]
struct ProviderJson {
    configured: bool,
    health: Status,
    /// The last failure its calls met.
    health_error: Option<String>,
    health_error_kind: Option<&'static str>,
    /// The last failure, if the operator has to fix it.
    last_error: Option<String>,
    /// The tab's own model list unprefixed, the others it depends on under their prefix.
    #[serde(flatten)]
    models: Map<String, Value>,
}

/// The providers' model lists, what they say of the configured models, and last errors.
async fn providers(State(state): State<AppState>) -> Json<BTreeMap<Provider, ProviderJson>> {
    let settings = state.settings();
    let entry = |spec: &ProviderSpec| {
        let provider = spec.provider;
        let failure = state.health.last_error(provider);
        let models = spec.listings.iter().enumerate().flat_map(|(i, &listing)| {
            let prefix = if i == 0 { "" } else { listing.json_prefix() };
            ModelJson::of(&state, &settings, listing).prefixed(prefix)
        });
        ProviderJson {
            configured: registry::model_for(provider, &settings, false, &state.cpu, &state.http)
                .is_ok(),
            health: state.health.status(provider),
            health_error: failure.as_ref().map(|f| f.message.clone()),
            health_error_kind: failure.as_ref().map(|f| f.kind),
            last_error: failure.filter(|f| f.for_operator).map(|f| f.message),
            models: models.collect(),
        }
    };
    Json(
        REGISTRY
            .iter()
            .map(|spec| (spec.provider, entry(spec)))
            .collect(),
    )
}

/// A job with every slot it tried, as the jobs JSON gives it.
#[derive(Serialize)]
struct JobJson<'a> {
    id: &'a str,
    created_at: String,
    provider: Provider,
    slot: i64,
    kind: Kind,
    status: JobStatus,
    reason: &'a Option<String>,
    message: &'a Option<String>,
    latency_ms: Option<i64>,
    is_test: bool,
    /// Its chain met a provider under a fire drill.
    drill: bool,
    answered_by: &'a Option<String>,
    /// The verdict of the image answered, where it was checked.
    check_verdict: &'a Option<String>,
    event: Option<i64>,
    attempts: Vec<AttemptJson<'a>>,
}

#[derive(Serialize)]
struct AttemptJson<'a> {
    slot: String,
    started_ms: i64,
    ended_ms: Option<i64>,
    outcome: AttemptOutcome,
    reason: &'a Option<String>,
    message: &'a Option<String>,
    check: &'a Option<Check>,
}

fn job_json(job: &JobRecord, attempts: &[Attempt]) -> Value {
    json!(JobJson {
        id: &job.id,
        created_at: crate::clock::iso_time(job.created_at),
        provider: job.provider,
        slot: job.slot,
        kind: job.kind,
        status: job.status,
        reason: &job.reason,
        message: &job.message,
        latency_ms: job.latency_ms,
        is_test: job.is_test,
        drill: job.drill,
        answered_by: &job.answered_by,
        check_verdict: &job.check_verdict,
        event: job.event_id,
        attempts: attempts
            .iter()
            .map(|a| AttemptJson {
                slot: a.slot.to_string(),
                started_ms: a.started_ms,
                ended_ms: a.ended_ms,
                outcome: a.outcome,
                reason: &a.reason,
                message: &a.message,
                check: &a.check,
            })
            .collect(),
    })
}

/// Newest first, with their attempts.
async fn jobs(
    State(state): State<AppState>,
    Filters(q): Filters<JobsQuery>,
) -> AppResult<Json<Value>> {
    let mut list = Vec::new();
    for job in state.store.jobs(&q.filter()).await? {
        let attempts = state.store.attempts(&job.id).await?;
        list.push(job_json(&job, &attempts));
    }
    Ok(Json(json!({"jobs": list})))
}

async fn job(State(state): State<AppState>, Path(id): Path<String>) -> AppResult<Json<Value>> {
    let job = state.store.job(&id).await?.ok_or(AppError::NotFound)?;
    let attempts = state.store.attempts(&id).await?;
    Ok(Json(job_json(&job, &attempts)))
}
