//! History: every job with its thumbnails, status, latency and reason, filtered and paged.

use super::assets::image_file;
use super::i18n::Strings;
use super::layout::{Choice, Layout, Page};
use super::{Ctx, render};
use crate::AppState;
use crate::checks::Verdict;
use crate::domain::{Attempt, AttemptOutcome, JobStatus, Provider, SLOTS_PER_PROVIDER};
use crate::error::{AppError, AppResult};
use crate::extract::{Filters, blank_is_none};
use crate::media::{Media, Thumb};
use crate::store::{JobFilter, JobRecord};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

const JOBS_PER_PAGE: u32 = 50;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/jobs", get(jobs_page))
        .route("/jobs/{id}/{file}", get(job_file))
}

pub struct JobRow {
    pub id: String,
    /// UTC, for when the page's script does not run; the script shows the browser's local time.
    pub time: String,
    pub created_ms: i64,
    pub provider: &'static str,
    pub slot: i64,
    pub status: &'static str,
    pub status_label: &'static str,
    pub is_test: bool,
    /// Its chain met a provider under a fire drill.
    pub drill: bool,
    pub latency: String,
    pub reason: String,
    /// The reason in the page's language: what the operator reads first.
    pub reason_text: &'static str,
    pub message: String,
    pub booth: String,
    pub prompt: String,
    pub prompt_used: String,
    pub has_original: bool,
    pub has_before_thumb: bool,
    pub has_result: bool,
    /// The slots tried, when more than the booth's own: "NanoBanana 1 ✗ … → DeepSeek 3 ✓ 8.1 s".
    pub chain: Option<String>,
    /// The image answered failed its check (people missing) and was printed all the same.
    pub check_failed: bool,
    /// Why each rejected image was rejected, in the page's language.
    pub rejections: Vec<String>,
}

#[derive(Template)]
#[template(path = "jobs.html")]
pub struct JobsPage {
    pub layout: Layout,
    pub rows: Vec<JobRow>,
    pub providers: Vec<Choice>,
    pub slots: Vec<Choice>,
    pub statuses: Vec<Choice>,
    pub older: Option<String>,
}

#[derive(Deserialize, Default)]
pub(super) struct JobsQuery {
    /// Only this job: where the Live page's failures link to.
    #[serde(default, deserialize_with = "blank_is_none")]
    job: Option<String>,
    #[serde(default, deserialize_with = "blank_is_none")]
    provider: Option<Provider>,
    #[serde(default, deserialize_with = "blank_is_none")]
    slot: Option<u8>,
    #[serde(default, deserialize_with = "blank_is_none")]
    status: Option<JobStatus>,
    #[serde(default, deserialize_with = "blank_is_none")]
    event: Option<i64>,
    /// Only jobs created before this time, for the next page.
    #[serde(default, deserialize_with = "blank_is_none")]
    before: Option<i64>,
    #[serde(default, deserialize_with = "blank_is_none")]
    limit: Option<u32>,
}

impl JobsQuery {
    pub(super) fn filter(&self) -> JobFilter {
        JobFilter {
            id: self.job.clone(),
            failures: false,
            provider: self.provider,
            slot: self.slot,
            status: self.status,
            event: self.event,
            before: self.before,
            limit: self.limit.unwrap_or(JOBS_PER_PAGE),
        }
    }
}

fn utc_time(ms: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    time::OffsetDateTime::from_unix_timestamp(ms / 1000)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_default()
}

/// The attempts as one line, when the job tried more than its own slot.
fn chain_line(attempts: &[Attempt]) -> Option<String> {
    if attempts.len() < 2 {
        return None;
    }
    let step = |a: &Attempt| {
        let mark = match a.outcome {
            AttemptOutcome::Succeeded => "✓",
            AttemptOutcome::Skipped => "↷",
            AttemptOutcome::Abandoned | AttemptOutcome::TimedOut => "…",
            AttemptOutcome::Failed | AttemptOutcome::Running => "✗",
            AttemptOutcome::Rejected => "⊘",
        };
        let secs = a.ended_ms.unwrap_or(a.started_ms) - a.started_ms;
        let detail = match a.outcome {
            AttemptOutcome::Succeeded => format!("{:.1} s", secs as f64 / 1000.0),
            // Said in the page's language beside the chain.
            AttemptOutcome::Rejected => String::new(),
            _ => a.message.clone().unwrap_or_default(),
        };
        let who = a.slot.label();
        format!("{who} {mark} {detail}").trim_end().to_owned()
    };
    Some(attempts.iter().map(step).collect::<Vec<_>>().join(" → "))
}

fn job_row(t: &Strings, media: &Media, job: JobRecord, attempts: &[Attempt]) -> JobRow {
    JobRow {
        chain: chain_line(attempts),
        check_failed: job.check_verdict.as_deref() == Some(Verdict::People.as_str()),
        rejections: attempts
            .iter()
            .filter_map(|a| a.check.as_ref().filter(|c| !c.passed()))
            .map(|check| t.verdict(check))
            .collect(),
        time: utc_time(job.created_at),
        created_ms: job.created_at,
        provider: job.provider.display_name(),
        slot: job.slot,
        status: job.status.as_str(),
        status_label: t.status(job.status),
        is_test: job.is_test,
        drill: job.drill,
        latency: job
            .latency_ms
            .map(|ms| format!("{:.1}", ms as f64 / 1000.0))
            .unwrap_or_default(),
        reason_text: job.reason.as_deref().map_or("", |r| t.miss(r)),
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

async fn jobs_page(
    ctx: Ctx,
    State(state): State<AppState>,
    Filters(q): Filters<JobsQuery>,
) -> AppResult<Response> {
    let filter = JobFilter {
        limit: JOBS_PER_PAGE,
        ..q.filter()
    };
    let provider = q.provider.map(|p| p.as_str().to_owned());
    let slot = q.slot.map(|n| n.to_string());
    let status = q.status.map(|s| s.as_str().to_owned());
    let jobs = state.store.jobs(&filter).await?;
    let mut rows = Vec::with_capacity(jobs.len());
    for job in &jobs {
        let attempts = state.store.attempts(&job.id).await?;
        rows.push(job_row(ctx.t, &state.media, job.clone(), &attempts));
    }
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
        layout: Layout::new(&ctx, Page::Jobs, "/admin/jobs".into()),
        rows,
        providers: Choice::list(
            Provider::ALL
                .iter()
                .map(|p| (p.as_str().to_owned(), p.display_name().to_owned())),
            provider.as_deref().unwrap_or_default(),
        ),
        slots: Choice::list(
            (1..=SLOTS_PER_PROVIDER).map(|n| (n.to_string(), n.to_string())),
            slot.as_deref().unwrap_or_default(),
        ),
        statuses: Choice::list(
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
async fn job_file(
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
    image_file(path.ok_or(AppError::NotFound)?).await
}
