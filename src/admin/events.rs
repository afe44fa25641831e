//! Events: an evening's work, with its figures (counts, AI-result rate, latency, cost), the
//! Events page and the export of its photos as a ZIP streamed to the browser.

use super::i18n::Strings;
use super::layout::Layout;
use super::{Ctx, render};
use crate::AppState;
use crate::config::{Setting, Settings};
use crate::domain::Provider;
use crate::error::{AppError, AppResult, InternalError};
use crate::extract::TokenForm;
use crate::media::Media;
use crate::store::{Billable, EventRecord, JobRecord, MAX_EVENT_NAME, ProviderCounts, Scope};
use askama::Template;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/events", get(events_page).post(start_from_page))
        .route("/events/{id}/end", post(end_from_page))
        .route("/api/events", get(list).post(start))
        .route("/api/events/{id}", get(one))
        .route("/api/events/{id}/end", post(end))
        .route("/api/events/{id}/export", get(export))
}

/// What images cost, by the prices set on Settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Cost {
    pub currency: String,
    pub total: f64,
    pub by_provider: BTreeMap<Provider, f64>,
}

impl Cost {
    /// Images × each provider's price per image, and DeepSeek's writer calls × their price
    /// (counted with DeepSeek).
    pub fn of(billable: &Billable, settings: &Settings) -> Cost {
        let price = |provider| match provider {
            Provider::Turbotext => settings.price(Setting::PriceTurbotext),
            Provider::Deepseek => settings.price(Setting::PriceDeepseek),
            Provider::Nanobanana => settings.price(Setting::PriceNanobanana),
        };
        let by_provider: BTreeMap<Provider, f64> = Provider::ALL
            .into_iter()
            .map(|p| {
                let images = billable.images.get(&p).copied().unwrap_or(0) as f64;
                // Without its key the writer is not called: the slot's own prompt is used.
                let writer_runs = !settings.get(Setting::DeepseekApiKey).is_empty();
                let writer = match p {
                    Provider::Deepseek if writer_runs => {
                        billable.writer_calls as f64 * settings.price(Setting::PriceDeepseekWriter)
                    }
                    _ => 0.0,
                };
                (p, round_money(images * price(p) + writer))
            })
            .collect();
        Cost {
            currency: settings.get(Setting::Currency).to_owned(),
            total: round_money(by_provider.values().sum()),
            by_provider,
        }
    }

    /// "5.42 USD".
    pub fn total_label(&self) -> String {
        format!("{} {}", money(self.total), self.currency)
    }

    /// The total without the currency, for a table whose heading names it.
    pub fn amount_label(&self) -> String {
        money(self.total)
    }

    pub fn provider_label(&self, provider: &Provider) -> String {
        money(self.by_provider.get(provider).copied().unwrap_or(0.0))
    }
}

fn round_money(amount: f64) -> f64 {
    (amount * 10_000.0).round() / 10_000.0
}

/// Two decimals, or up to four when the amount is smaller than a cent's worth would show.
fn money(amount: f64) -> String {
    let two = format!("{amount:.2}");
    if amount == 0.0 || (amount * 100.0).fract().abs() < 1e-9 {
        two
    } else {
        format!("{amount:.4}").trim_end_matches('0').to_owned()
    }
}

/// One slot's share of an event: the photos sent to it, and what they cost (whichever slots
/// drew them).
#[derive(Clone, Debug, Serialize)]
pub struct SlotShare {
    pub slot: String,
    pub jobs: i64,
    pub succeeded: i64,
    pub cost: f64,
}

/// Nearest-rank percentiles of the jobs' response times.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Latency {
    pub p50: Option<i64>,
    pub p95: Option<i64>,
}

impl Latency {
    fn of(sorted: &[i64]) -> Latency {
        let at = |p: f64| {
            let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
            sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied()
        };
        Latency {
            p50: at(50.0),
            p95: at(95.0),
        }
    }
}

/// An event and its figures, as its JSON and its row on the Events page give them.
#[derive(Clone, Debug)]
pub struct Report {
    pub event: EventRecord,
    pub jobs: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub timed_out: i64,
    pub rescued: i64,
    pub ai_result_rate: Option<f64>,
    pub latency: Latency,
    pub cost: Cost,
    pub by_slot: Vec<SlotShare>,
}

impl Report {
    pub async fn build(state: &AppState, event: EventRecord) -> Result<Report, InternalError> {
        let store = &state.store;
        let scope = Scope::event(event.id);
        let providers = store.provider_counts(scope).await?;
        let slots = store.slot_counts(scope).await?;
        let billable = store.billable(scope).await?;
        let settings = state.settings();
        let by_slot: Vec<SlotShare> = slots
            .iter()
            .map(|s| SlotShare {
                slot: format!("{}/{}", s.provider, s.slot),
                jobs: s.counts.processed + s.counts.failed + s.counts.timed_out,
                succeeded: s.counts.processed,
                cost: billable
                    .get(&(s.provider, s.slot))
                    .map_or(0.0, |b| Cost::of(b, &settings).total),
            })
            .collect();
        let total = ProviderCounts::sum(providers.values());
        Ok(Report {
            jobs: by_slot.iter().map(|s| s.jobs).sum(),
            succeeded: total.processed,
            failed: total.failed,
            timed_out: total.timed_out,
            rescued: total.rescued,
            ai_result_rate: store.ai_result_rate(scope).await?,
            latency: Latency::of(&store.latencies(scope).await?),
            cost: Cost::of(&Billable::sum(billable.values()), &settings),
            by_slot,
            event,
        })
    }

    pub fn json(&self) -> Value {
        json!({
            "id": self.event.id,
            "name": self.event.name,
            "started_at": super::iso_time(self.event.started_at),
            "ended_at": self.event.ended_at.map(super::iso_time),
            "jobs": self.jobs,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "timed_out": self.timed_out,
            "rescued": self.rescued,
            "ai_result_rate": self.ai_result_rate,
            "latency_ms": self.latency,
            "cost": self.cost,
            "by_slot": self.by_slot,
        })
    }

    /// "97.5 %", or a dash before any job reached a model.
    pub fn rate_label(&self) -> String {
        self.ai_result_rate
            .map_or("—".into(), |r| format!("{:.1} %", r * 100.0))
    }

    pub fn latency_label(&self) -> String {
        let seconds =
            |ms: Option<i64>| ms.map_or("—".into(), |ms| format!("{:.1}", ms as f64 / 1000.0));
        format!(
            "{} / {}",
            seconds(self.latency.p50),
            seconds(self.latency.p95)
        )
    }

    pub fn started_label(&self) -> String {
        super::iso_time(self.event.started_at)
    }

    pub fn ended_label(&self) -> Option<String> {
        self.event.ended_at.map(super::iso_time)
    }
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
    Ok(Report::build(state, event).await?)
}

async fn list(State(state): State<AppState>) -> AppResult<Json<Value>> {
    let mut events = Vec::new();
    for event in state.store.events().await? {
        events.push(Report::build(&state, event).await?.json());
    }
    Ok(Json(json!({ "events": events })))
}

async fn start(
    State(state): State<AppState>,
    Json(new): Json<NewEvent>,
) -> AppResult<(axum::http::StatusCode, Json<Value>)> {
    let name = event_name(&new.name)?;
    let event = state.store.start_event(&name, crate::now_ms()).await?;
    tracing::info!(event = event.id, "event started");
    let report = Report::build(&state, event).await?;
    Ok((axum::http::StatusCode::CREATED, Json(report.json())))
}

async fn one(State(state): State<AppState>, Path(id): Path<i64>) -> AppResult<Json<Value>> {
    Ok(Json(report_of(&state, id).await?.json()))
}

/// Ending an event that has ended changes nothing.
async fn end(State(state): State<AppState>, Path(id): Path<i64>) -> AppResult<Json<Value>> {
    let event = state
        .store
        .end_event(id, crate::now_ms())
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(Report::build(&state, event).await?.json()))
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
        reports.push(Report::build(&state, event).await?);
    }
    Ok(render(&EventsPage {
        running: reports.iter().any(|r| r.event.ended_at.is_none()),
        layout: Layout::new(&ctx, "events", "/admin/events".into()),
        t: ctx.t,
        reports,
    }))
}

async fn start_from_page(State(state): State<AppState>, form: TokenForm) -> AppResult<Response> {
    let name = event_name(form.0.get("name").map_or("", String::as_str))?;
    state.store.start_event(&name, crate::now_ms()).await?;
    Ok(Redirect::to("/admin/events").into_response())
}

async fn end_from_page(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    _form: TokenForm,
) -> AppResult<Response> {
    state.store.end_event(id, crate::now_ms()).await?;
    Ok(Redirect::to("/admin/events").into_response())
}

/// A ZIP of the event's results and originals with `jobs.csv`, written on a blocking thread
/// into a small channel as the browser reads it: memory stays flat whatever the event's size,
/// and a browser that goes away stops the writing (nothing is left on disk).
async fn export(State(state): State<AppState>, Path(id): Path<i64>) -> AppResult<Response> {
    let event = state.store.event(id).await?.ok_or(AppError::NotFound)?;
    let jobs = state.store.event_jobs(id).await?;
    let (sender, receiver) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    let media = state.media.clone();
    tokio::task::spawn_blocking(move || {
        let writer = ChannelWriter {
            sender,
            buffer: Vec::with_capacity(CHUNK),
        };
        if let Err(e) = write_zip(writer, &media, &jobs) {
            tracing::info!(event = id, error = %e, "export stopped");
        }
    });
    let body = Body::from_stream(futures_util::stream::unfold(receiver, |mut r| async {
        r.recv().await.map(|chunk| (chunk, r))
    }));
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    let file = format!("attachment; filename=\"event-{}.zip\"", event.id);
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&file).expect("ASCII file name"),
    );
    Ok(response)
}

const CHUNK: usize = 64 * 1024;

/// Hands the ZIP to the response body in chunks; fails once the browser has gone.
struct ChannelWriter {
    sender: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
    buffer: Vec<u8>,
}

impl Write for ChannelWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= CHUNK {
            self.flush()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(CHUNK),
        ));
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "browser gone"))
    }
}

fn write_zip(
    writer: ChannelWriter,
    media: &Media,
    jobs: &[JobRecord],
) -> zip::result::ZipResult<()> {
    let mut zip = zip::ZipWriter::new_stream(writer);
    // Photos are compressed already; storing them costs no CPU.
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("jobs.csv", options)?;
    zip.write_all(&jobs_csv(jobs))?;
    for job in jobs {
        let files = [
            ("results", job.result_path.as_deref()),
            ("originals", Some(job.original_path.as_str())),
        ];
        for (folder, rel) in files {
            let Some(path) = rel.and_then(|rel| media.absolute(rel)) else {
                continue;
            };
            let Ok(mut file) = std::fs::File::open(&path) else {
                continue;
            };
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("bin");
            zip.start_file(format!("{folder}/{}.{ext}", job.id), options)?;
            std::io::copy(&mut file, &mut zip)?;
        }
    }
    zip.finish()?.flush()?;
    Ok(())
}

/// One row per job, UTF-8 with a byte-order mark so that Excel reads Cyrillic right.
fn jobs_csv(jobs: &[JobRecord]) -> Vec<u8> {
    let mut csv =
        "\u{FEFF}time,job,slot,status,reason,latency_ms,answered_by,prompt,booth,fields\r\n"
            .to_owned();
    for job in jobs {
        let row = [
            super::iso_time(job.created_at),
            job.id.clone(),
            format!("{}/{}", job.provider, job.slot),
            job.status.as_str().to_owned(),
            job.reason.clone().unwrap_or_default(),
            job.latency_ms.map(|ms| ms.to_string()).unwrap_or_default(),
            job.answered_by.clone().unwrap_or_default(),
            job.prompt.clone().unwrap_or_default(),
            job.booth_name.clone().unwrap_or_default(),
            job.fields.clone(),
        ];
        let cells: Vec<String> = row.iter().map(|cell| csv_cell(cell)).collect();
        csv.push_str(&cells.join(","));
        csv.push_str("\r\n");
    }
    csv.into_bytes()
}

/// Quoted when it must be; a cell a spreadsheet would run as a formula is kept as text.
fn csv_cell(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let latency = Latency::of(&(1..=100).collect::<Vec<_>>());
        assert_eq!((latency.p50, latency.p95), (Some(50), Some(95)));
        let one = Latency::of(&[700]);
        assert_eq!((one.p50, one.p95), (Some(700), Some(700)));
        assert_eq!(Latency::of(&[]).p50, None);
    }

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }

    #[test]
    fn cost_prices_images_and_the_writer_s_calls_when_it_runs() {
        let stored = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let billable = Billable {
            images: [(Provider::Nanobanana, 3), (Provider::Deepseek, 2)].into(),
            writer_calls: 4,
        };
        let prices = [
            ("price_nanobanana", "0.039"),
            ("price_deepseek", "0.04"),
            ("price_deepseek_writer", "0.001"),
            ("currency", "EUR"),
        ];
        let without_key = Settings::resolve(&Default::default(), &stored(&prices));
        let cost = Cost::of(&billable, &without_key);
        assert_eq!(cost.by_provider[&Provider::Nanobanana], 0.117);
        assert_eq!(cost.by_provider[&Provider::Deepseek], 0.08);
        assert_eq!(cost.total, 0.197);
        assert_eq!(cost.total_label(), "0.197 EUR");
        let mut with_key = prices.to_vec();
        with_key.push(("deepseek_api_key", "sk-1"));
        let cost = Cost::of(
            &billable,
            &Settings::resolve(&Default::default(), &stored(&with_key)),
        );
        assert_eq!(cost.by_provider[&Provider::Deepseek], 0.084);
    }

    #[test]
    fn money_shows_cents_or_the_fraction_that_matters() {
        assert_eq!(money(5.42), "5.42");
        assert_eq!(money(0.039), "0.039");
        assert_eq!(money(0.0), "0.00");
    }
}
