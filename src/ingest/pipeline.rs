//! One job from its recorded original to the booth's answer: prepare the photo, call the
//! slot's model, fit its answer to the upload, and record how it ended, all by the deadline.

use super::chain::{self, Attempts, ChainJob, since};
use crate::AppState;
use crate::config::{Setting, Settings};
use crate::domain::{AttemptOutcome, ImageFormat, JobStatus, Slot, SlotId};
use crate::error::{AppError, InternalError};
use crate::imaging::{self, ImagingError, PreparedInput, Turn};
use crate::live::LiveEvent;
use crate::media::{Incoming, Thumb, day_of};
use crate::now_ms;
use crate::placeholders::BoothValues;
use crate::providers::{ImageData, ModelOutput, ProviderError};
use crate::store::{NewJob, Outcome};
use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, timeout_at};
use tracing::Instrument;

/// Time kept back from the deadline to record a job's end before the answer must leave.
const FINALISE_MARGIN: Duration = Duration::from_millis(150);

/// A job about to be recorded.
pub struct JobStart {
    pub slot: SlotId,
    pub is_test: bool,
    pub started: Instant,
    pub deadline: Instant,
    /// What the booth sent that prompts may name, and the form fields kept with the job.
    pub values: BoothValues,
}

/// A recorded job: its original is on disk and its row says `processing`.
struct Job {
    id: String,
    slot: SlotId,
    /// The admin's "try it": kept out of events and the Live page.
    is_test: bool,
    /// What the upload's bytes are, if an image at all.
    format: Option<ImageFormat>,
    day: String,
    original_path: String,
    started: Instant,
    deadline: Instant,
    /// Every slot it tried, kept even when the deadline cuts the chain short.
    attempts: Attempts,
    values: BoothValues,
}

/// What a finished job answers.
struct Success {
    bytes: Vec<u8>,
    format: ImageFormat,
    model_ms: i64,
    prompt_used: Option<String>,
    /// The slot whose model drew it.
    answered_by: SlotId,
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
    let job = match record(&state, &start, &slot, photo).await {
        Ok(job) => job,
        Err(e) => return e.into_response(),
    };
    let span = tracing::info_span!("job", job = %job.id, provider = %slot.id.provider, slot = slot.id.number);
    let job_id = job.id.clone();
    let deadline = job.deadline;
    let (answer, answered) = tokio::sync::oneshot::channel();
    // Its own task: a booth that hangs up does not cancel the job's bookkeeping.
    tokio::spawn(
        async move {
            let _in_flight = state.metrics.job_started();
            let result =
                match timeout_at(job.deadline - FINALISE_MARGIN, process(&state, &job, slot)).await
                {
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
    start: &JobStart,
    slot: &Slot,
    photo: Incoming,
) -> Result<Job, AppError> {
    let id = uuid::Uuid::now_v7().to_string();
    let created_at = now_ms();
    let day = day_of(created_at);
    let format = ImageFormat::sniff(photo.head());
    let ext = format.map_or("bin", ImageFormat::extension);
    let original_path = state.media.keep_original(photo, &id, &day, ext).await?;
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
            fields: start.values.fields().clone(),
            prompt: start.values.fill(&slot.prompt),
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
        slot: slot.id,
        is_test: start.is_test,
        format,
        day,
        original_path,
        started: start.started,
        deadline: start.deadline,
        attempts: Attempts::default(),
        values: start.values.clone(),
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
    let chain_job = ChainJob {
        id: &job.id,
        started: job.started,
        deadline: job.deadline - FINALISE_MARGIN,
        photo: ImageData {
            bytes: Arc::new(prepared.model_input),
            format: prepared.model_format,
            url: None,
        },
        upload_size,
        result_side: upload_size
            .0
            .max(upload_size.1)
            .min(settings.integer(Setting::MaxResultSide) as u32),
        attempts: job.attempts.clone(),
        values: &job.values,
    };
    let drawn = chain::run(state, &settings, &chain_job, slot).await?;
    // The model's input is no longer needed: freed before the answer is decoded.
    drop(chain_job);
    record_warning(state, drawn.slot, &drawn.output);
    tracing::info!(model_ms = drawn.model_ms, answered_by = %drawn.slot, "model answered");
    let out_format = format.result_format();
    let image = drawn.output.image;
    let bytes = fit_answer(state, &settings, job, image, upload_size, out_format).await?;
    Ok(Success {
        bytes,
        format: out_format,
        model_ms: drawn.model_ms,
        prompt_used: drawn.output.prompt_used,
        answered_by: drawn.slot,
    })
}

/// A problem met on the way that the operator must fix, kept for Settings.
fn record_warning(state: &AppState, slot: SlotId, output: &ModelOutput) {
    if let Some(message) = output
        .warning
        .as_ref()
        .and_then(ProviderError::for_operator)
    {
        state.record_provider_error(slot.provider, message);
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
    let max_side = settings.integer(Setting::ProviderMaxSide) as u32;
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

/// Fits the model's answer to the upload and stores it with its thumbnail.
async fn fit_answer(
    state: &AppState,
    settings: &Settings,
    job: &Job,
    image: Vec<u8>,
    upload_size: (u32, u32),
    format: ImageFormat,
) -> Result<Vec<u8>, AppError> {
    let max_side = settings.integer(Setting::MaxResultSide) as u32;
    let finished = state
        .cpu
        .run(Turn::Finish, move || {
            imaging::finish_result(&image, upload_size, max_side, format)
        })
        .await
        .map_err(|e| ProviderError::Protocol(format!("the model's image cannot be used: {e}")))?;
    let media = &state.media;
    media
        .save_result(&job.id, &job.day, format, &finished.bytes)
        .await?;
    media
        .save_thumb(&job.id, Thumb::After, &finished.thumbnail)
        .await?;
    Ok(finished.bytes)
}

pub(super) async fn reference_image(
    state: &AppState,
    slot: &Slot,
) -> Result<Option<ImageData>, AppError> {
    let Some(name) = slot
        .reference
        .as_deref()
        .filter(|_| slot.kind.needs_reference())
    else {
        return Ok(None);
    };
    let bytes = tokio::fs::read(state.media.reference_path(name)).await?;
    let format = ImageFormat::sniff(&bytes).ok_or_else(|| {
        AppError::SlotNotConfigured("the slot's reference image is damaged".into())
    })?;
    Ok(Some(ImageData {
        bytes: Arc::new(bytes),
        format,
        url: None,
    }))
}

/// How long a published input stays reachable after the deadline, for a provider still at work.
const LINK_GRACE_SECS: i64 = 600;

/// Copies a slot's inputs for a job (the reference as it is now) where signed public links
/// serve them.
pub(super) async fn publish(
    state: &AppState,
    settings: &Settings,
    job: &str,
    slot: SlotId,
    photo: &mut ImageData,
    reference: Option<&mut ImageData>,
) -> Result<(), AppError> {
    let base = settings
        .public_url()
        .ok_or_else(|| AppError::ProviderNotConfigured("the public URL is not set".into()))?;
    let expires = now_ms() / 1000 + settings.deadline().as_secs() as i64 + LINK_GRACE_SECS;
    let inputs = [(photo, "input")]
        .into_iter()
        .chain(reference.map(|r| (r, "reference")));
    for (image, role) in inputs {
        let name = format!(
            "{job}-{}{}-{role}.{}",
            slot.provider,
            slot.number,
            image.format.extension()
        );
        let rel = state.media.save_input(&name, &image.bytes).await?;
        image.url = Some(format!(
            "{base}/media/{}",
            crate::media::sign_link(&state.secret, &rel, expires)
        ));
    }
    Ok(())
}

/// Records how the job ended and builds the booth's answer.
async fn finalise(state: &AppState, job: &Job, result: Result<Success, AppError>) -> Response {
    let latency_ms = since(job.started);
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
    if !job.is_test {
        state.live.publish(LiveEvent::Ended {
            job: job.id.clone(),
            slot: job.slot.to_string(),
            status: outcome.status.as_str(),
            latency_ms,
            answered_by: outcome.answered_by.map(|slot| slot.to_string()),
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
    let at = since(job.started);
    Outcome {
        answered_by: Some(success.answered_by),
        attempts: job.attempts.closed(at, AttemptOutcome::Abandoned),
        status: JobStatus::Succeeded,
        reason: None,
        message: None,
        latency_ms,
        model_ms: Some(success.model_ms),
        original_path: job.original_path.clone(),
        result_path: Some(format!(
            "results/{}/{}.{}",
            job.day,
            job.id,
            success.format.extension()
        )),
        prompt_used: success.prompt_used.clone(),
    }
}

/// A failed job's original goes to the trash (or away, if the operator said so).
async fn failure_outcome(state: &AppState, job: &Job, e: &AppError, latency_ms: i64) -> Outcome {
    let keep = state.settings().switch(Setting::KeepFailedInTrash);
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
        attempts: job.attempts.closed(since(job.started), still_running),
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
    }
}

fn count(state: &AppState, job: &Job, outcome: &Outcome) {
    let metrics = &state.metrics;
    metrics.job_ended(
        job.slot.provider.as_str(),
        job.slot.number,
        outcome.status.as_str(),
    );
    metrics.latency.observe(job.started.elapsed());
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
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
