//! One job from its recorded original to the booth's answer: prepare the photo, call the
//! slot's model, fit its answer to the upload, and record how it ended, all by the deadline.

use super::chain::{self, Prepared};
use super::job::{Attempts, Job, JobStart};
use crate::AppState;
use crate::config::Settings;
use crate::domain::{AttemptOutcome, ImageFormat, JobStatus, Slot, SlotId};
use crate::error::{AppError, InternalError};
use crate::imaging::{self, ImagingError, PreparedInput, Turn};
use crate::live::LiveEvent;
use crate::media::{Incoming, Thumb, day_of};
use crate::providers::{ImageData, ModelOutput, ProviderError};
use crate::store::{NewJob, Outcome};
use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::timeout_at;
use tracing::Instrument;

/// What a finished job answers.
struct Success {
    bytes: Vec<u8>,
    format: ImageFormat,
    model_ms: i64,
    prompt_used: Option<String>,
    /// The slot whose model drew it.
    answered_by: SlotId,
    /// Where the result was kept, under the media folder.
    result_path: String,
    /// What the checks made of it; `None` with the checks off.
    check: Option<crate::checks::Check>,
}

/// Records the upload, then runs it through the slot's model, answering by the deadline.
/// The booth's upload and the admin's "try it" both come through here.
pub async fn run_job(state: AppState, start: JobStart, photo: Incoming) -> Response {
    let slot = match state.store.slot(start.slot).await {
        Ok(slot) => slot,
        Err(e) => return AppError::from(e).into_response(),
    };
    // From here the photo is an original on disk: a job waiting for the CPU pool holds no
    // copy of it in memory.
    let job = match record(&state, start, &slot, photo).await {
        Ok(job) => job,
        Err(e) => return e.into_response(),
    };
    let span = tracing::info_span!("job", job = %job.id, provider = %slot.id.provider, slot = slot.id.number);
    let job_id = job.id.clone();
    let deadline = job.start.deadline;
    let (answer, answered) = tokio::sync::oneshot::channel();
    // Its own task: a booth that hangs up does not cancel the job's bookkeeping.
    tokio::spawn(
        async move {
            let _in_flight = state.metrics.job_started();
            let result = match timeout_at(job.model_deadline(), process(&state, &job, slot)).await {
                Ok(result) => result,
                Err(_) => Err(AppError::Timeout),
            };
            let response = finalise(&state, &job, result).await;
            let _ = answer.send(response);
        }
        .instrument(span),
    );
    tokio::select! {
        response = answered => response.unwrap_or_else(|_| AppError::Timeout.into_response_for_job(Some(&job_id))),
        () = tokio::time::sleep_until(deadline) => AppError::Timeout.into_response_for_job(Some(&job_id)),
    }
}

/// Keeps the original and writes the job row, before any check that could refuse the photo.
async fn record(
    state: &AppState,
    start: JobStart,
    slot: &Slot,
    photo: Incoming,
) -> Result<Job, AppError> {
    let id = uuid::Uuid::now_v7().to_string();
    let created_at = state.clock.now_ms();
    let day = day_of(created_at);
    let format = ImageFormat::sniff(photo.head());
    let ext = format.map_or("bin", ImageFormat::extension);
    let original_path = state.media.keep_original(photo, &id, &day, ext).await?;
    let prompt = start.values.fill(&slot.prompt);
    let event = match start.is_test {
        true => None,
        false => state.store.running_event().await?.map(|e| e.id),
    };
    let booth_name = start
        .values
        .fields()
        .get("name")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    state
        .store
        .insert_job(&NewJob {
            id: id.clone(),
            created_at,
            slot: slot.id,
            kind: slot.kind,
            is_test: start.is_test,
            original_path: original_path.clone(),
            booth_name,
            booth_address: start.address.map(|ip| ip.to_string()),
            fields: start.values.fields().clone(),
            prompt: prompt.clone(),
            event,
        })
        .await?;
    if !start.is_test {
        state.live.publish(LiveEvent::Started {
            job: id.clone(),
            slot: slot.id.to_string(),
            started_at: created_at,
        });
    }
    Ok(Job {
        id,
        start,
        format,
        day,
        original_path,
        prompt,
        attempts: Attempts::default(),
        drill: Default::default(),
    })
}

fn upload_error(e: ImagingError) -> AppError {
    match e {
        ImagingError::UnknownFormat => AppError::UnsupportedMediaType,
        other => AppError::UnreadableImage(other.to_string()),
    }
}

async fn process(state: &AppState, job: &Job, slot: Slot) -> Result<Success, AppError> {
    let settings = state.settings();
    // The booth's own slot switched off or half set up refuses the photo, as it always has.
    if let Err(reason) = slot.check_ready() {
        return Err(chain::unavailable(reason));
    }
    let format = job.format.ok_or(AppError::UnsupportedMediaType)?;
    // A photo that cannot be read fails here, before any model: no fallback can help.
    let prepared = prepare_photo(state, &settings, job).await?;
    let upload_size = (prepared.width, prepared.height);
    let inputs = Prepared {
        photo: ImageData {
            bytes: Arc::new(prepared.model_input),
            format: prepared.model_format,
            url: None,
        },
        upload_size,
        result_side: upload_size
            .0
            .max(upload_size.1)
            .min(settings.max_result_side),
        glance: Arc::new(prepared.glance),
    };
    let drawn = chain::run(state, &settings, job, &inputs, slot).await?;
    // The model's input is no longer needed: freed before the answer is decoded.
    drop(inputs);
    record_warning(state, drawn.slot, &drawn.output);
    if let Some(status) = drawn.output.model_status.clone() {
        tokio::spawn(crate::lifecycle::observe(
            state.clone(),
            drawn.slot.provider,
            status,
        ));
    }
    tracing::info!(model_ms = drawn.model_ms, answered_by = %drawn.slot, "model answered");
    let out_format = format.result_format();
    let (bytes, result_path) = fit_answer(state, job, drawn.decoded, out_format).await?;
    Ok(Success {
        bytes,
        result_path,
        format: out_format,
        model_ms: drawn.model_ms,
        prompt_used: drawn.output.prompt_used,
        answered_by: drawn.slot,
        check: drawn.check,
    })
}

/// A problem met on the way, kept with the provider's health for Settings; a model that is
/// not found may have a successor to follow.
fn record_warning(state: &AppState, slot: SlotId, output: &ModelOutput) {
    if let Some(warning) = &output.warning {
        state.health.note(slot.provider, warning);
        if matches!(warning, ProviderError::ModelNotFound(_)) {
            let state = state.clone();
            tokio::spawn(async move {
                let listings = crate::providers::registry::spec(slot.provider).listings;
                crate::lifecycle::follow(&state, listings, crate::lifecycle::Sign::NotFound).await;
            });
        }
    }
}

/// Decodes the stored original, turns it upright, scales it for the model and keeps its
/// thumbnail. A photo that does not decode is the booth's fault (415/422).
async fn prepare_photo(
    state: &AppState,
    settings: &Settings,
    job: &Job,
) -> Result<PreparedInput, AppError> {
    let original = state
        .media
        .absolute(&job.original_path)
        .ok_or_else(|| InternalError::Other("bad original path".into()))?;
    let max_side = settings.provider_max_side;
    let prepared = state
        .cpu
        .run(Turn::Start, move || {
            let photo = std::fs::read(&original).map_err(|e| {
                ImagingError::Unreadable(format!("the stored original cannot be read: {e}"))
            })?;
            imaging::prepare_input(&photo, max_side)
        })
        .await
        .map_err(upload_error)?;
    state
        .media
        .save_thumb(&job.id, Thumb::Before, &prepared.thumbnail)
        .await?;
    Ok(prepared)
}

/// Fits the model's answer to the upload and stores it with its thumbnail; the answer and
/// where it was kept.
async fn fit_answer(
    state: &AppState,
    job: &Job,
    decoded: imaging::Decoded,
    format: ImageFormat,
) -> Result<(Vec<u8>, String), AppError> {
    let finished = state
        .cpu
        .run(Turn::Finish, move || {
            imaging::finish_result(decoded, format)
        })
        .await
        .map_err(|e| ProviderError::Protocol(format!("the model's image cannot be used: {e}")))?;
    let media = &state.media;
    let result_path = media
        .save_result(&job.id, &job.day, format, &finished.bytes)
        .await?;
    media
        .save_thumb(&job.id, Thumb::After, &finished.thumbnail)
        .await?;
    Ok((finished.bytes, result_path))
}

/// Records how the job ended and builds the booth's answer.
async fn finalise(state: &AppState, job: &Job, result: Result<Success, AppError>) -> Response {
    let latency_ms = job.elapsed_ms();
    let outcome = match &result {
        Ok(success) => success_outcome(job, success, latency_ms),
        Err(e) => failure_outcome(state, job, e, latency_ms).await,
    };
    if let Err(e) = state.store.finish_job(&job.id, &outcome).await {
        tracing::error!(error = %e, "could not record the job's end; trying again in the background");
        tokio::spawn(record_later(
            state.store.clone(),
            job.id.clone(),
            outcome.clone(),
        ));
    }
    count(state, job, &outcome);
    if !job.start.is_test {
        state.live.publish(LiveEvent::Ended {
            job: job.id.clone(),
            slot: job.start.slot.to_string(),
            status: outcome.status.as_str(),
            latency_ms,
            answered_by: outcome.answered_by.map(|slot| slot.to_string()),
            reason: outcome.reason.clone(),
            rejected: outcome
                .attempts
                .iter()
                .filter(|a| a.outcome == AttemptOutcome::Rejected)
                .count(),
            check_failed: outcome
                .check
                .is_some_and(|v| v != crate::checks::Verdict::Passed),
        });
    }
    match result {
        Ok(success) => {
            tracing::info!(latency_ms, "job succeeded");
            image_response(&job.id, success)
        }
        Err(e) => {
            tracing::warn!(latency_ms, reason = e.reason(), message = %e, "job failed");
            e.into_response_for_job(Some(&job.id))
        }
    }
}

/// How often, and how many times, a job's end that could not be written (a full disk, a busy
/// database) is tried again; until then its row says `processing` (and a restart, `interrupted`).
const RECORD_RETRY: Duration = Duration::from_secs(10);
const RECORD_TRIES: u32 = 60;

/// Writes a job's end once the database takes it again, so its row agrees with its files
/// without waiting for a restart.
async fn record_later(store: crate::store::Store, job: String, outcome: Outcome) {
    for _ in 0..RECORD_TRIES {
        tokio::time::sleep(RECORD_RETRY).await;
        match store.finish_job(&job, &outcome).await {
            Ok(()) => {
                tracing::info!(job, "the job's end is recorded at last");
                return;
            }
            Err(e) => tracing::warn!(job, error = %e, "the job's end still cannot be recorded"),
        }
    }
}

fn success_outcome(job: &Job, success: &Success, latency_ms: i64) -> Outcome {
    let at = job.elapsed_ms();
    Outcome {
        answered_by: Some(success.answered_by),
        attempts: job.attempts.closed(at, AttemptOutcome::Abandoned),
        status: JobStatus::Succeeded,
        reason: None,
        message: None,
        latency_ms,
        model_ms: Some(success.model_ms),
        original_path: job.original_path.clone(),
        result_path: Some(success.result_path.clone()),
        prompt_used: success.prompt_used.clone(),
        drill: job.met_drill(),
        check: success.check.as_ref().map(|c| c.verdict),
    }
}

/// A failed job's original goes to the trash (or away, if the operator said so).
async fn failure_outcome(state: &AppState, job: &Job, e: &AppError, latency_ms: i64) -> Outcome {
    let keep = state.settings().keep_failed_in_trash;
    let original_path = match state.media.discard_original(&job.original_path, keep).await {
        Ok(path) => path,
        Err(io) => {
            tracing::error!(error = %io, "could not move the original to the trash");
            job.original_path.clone()
        }
    };
    let timed_out = matches!(e, AppError::Timeout);
    let still_running = if timed_out {
        AttemptOutcome::TimedOut
    } else {
        AttemptOutcome::Abandoned
    };
    Outcome {
        answered_by: None,
        attempts: job.attempts.closed(job.elapsed_ms(), still_running),
        status: if timed_out {
            JobStatus::TimedOut
        } else {
            JobStatus::Failed
        },
        reason: Some(e.reason().to_owned()),
        message: Some(e.public_message()),
        latency_ms,
        model_ms: None,
        original_path,
        result_path: None,
        prompt_used: None,
        drill: job.met_drill(),
        check: None,
    }
}

fn count(state: &AppState, job: &Job, outcome: &Outcome) {
    let metrics = &state.metrics;
    let slot = job.start.slot;
    metrics.job_ended(slot.provider.as_str(), slot.number, outcome.status.as_str());
    metrics.latency.observe(job.start.started.elapsed());
    if let Some(model_ms) = outcome.model_ms {
        metrics
            .model_latency
            .observe(Duration::from_millis(model_ms as u64));
    }
}

/// The processed photo as the booth's answer.
fn image_response(job: &str, success: Success) -> Response {
    let mut response = Response::new(Body::from(success.bytes));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(success.format.mime()),
    );
    headers.insert(
        "x-boothgate-job",
        HeaderValue::from_str(job).expect("uuid is a valid header"),
    );
    headers.insert(
        "x-boothgate-answered-by",
        HeaderValue::from_str(&success.answered_by.to_string())
            .expect("a slot id is a valid header"),
    );
    // An image answered although it failed its check (people missing): the booth prints it,
    // and anything reading the answer can tell.
    if success.check.as_ref().is_some_and(|c| !c.passed()) {
        headers.insert("x-boothgate-check", HeaderValue::from_static("failed"));
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
