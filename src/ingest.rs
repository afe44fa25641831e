//! The booth's endpoint and the job pipeline behind it, with its deadline.
//!
//! Order of work: read the form (bounded) → check the upload password → store the original
//! and the job row → check the slot and the photo → prepare the model's input → call the
//! model → fit its answer to the upload → store and answer. From the moment the original is
//! stored, nothing is lost: a failed job's original goes to the trash.

use crate::AppState;
use crate::config::{Setting, Settings};
use crate::domain::{ImageFormat, JobStatus, Slot, SlotId, SlotUnavailable};
use crate::error::AppError;
use crate::imaging::{self, ImagingError};
use crate::media::{Thumb, day_of};
use crate::providers::{self, ImageData, ModelRequest, ProviderError};
use crate::store::{NewJob, Outcome, now_ms};
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;
use tokio::time::{Instant, timeout_at};
use tracing::Instrument;

/// Form fields under which a photo is accepted, DSLR Remote Pro's own first.
const PHOTO_FIELDS: [&str; 3] = ["fileToUpload", "file", "image"];
const MAX_FIELDS: usize = 200;
const MAX_TEXT_FIELD: usize = 64 * 1024;
/// Time kept back from the deadline to record a job's end before the answer must leave.
const FINALISE_MARGIN: Duration = Duration::from_millis(150);

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/upload/{provider}/{slot}",
        // The size cap is a setting, enforced while reading the body.
        post(upload).layer(DefaultBodyLimit::disable()),
    )
}

/// What a booth's form carried.
#[derive(Default)]
pub struct UploadForm {
    pub photo: Option<Vec<u8>>,
    /// The value of the one secret field (the upload password, or an admin form's token).
    pub secret: Option<String>,
    pub fields: serde_json::Map<String, serde_json::Value>,
}

async fn upload(
    State(state): State<AppState>,
    Path((provider, slot)): Path<(String, String)>,
    request: Request,
) -> Response {
    // The deadline runs from the moment the request's headers are in.
    let started = Instant::now();
    let ip = crate::throttle::peer_ip(&request);
    if let Err(wait) = state.upload_throttle.check(ip) {
        return crate::throttle::too_many(wait).into_response();
    }
    let settings = state.settings();
    let deadline = started + settings.deadline();
    let Some(slot) = SlotId::parse(&provider, &slot) else {
        return AppError::SlotNotFound.into_response();
    };
    let form = match timeout_at(
        deadline,
        read_form(request, settings.max_upload_bytes(), &["password"]),
    )
    .await
    {
        Err(_) => return AppError::Timeout.into_response(),
        Ok(Err(e)) => return e.into_response(),
        Ok(Ok(form)) => form,
    };
    if !upload_password_matches(&settings, form.secret.as_deref()) {
        tracing::warn!(%ip, "wrong upload password");
        state.upload_throttle.failed(ip);
        return AppError::InvalidPassword.into_response();
    }
    state.upload_throttle.succeeded(ip);
    let Some(photo) = form.photo.filter(|p| !p.is_empty()) else {
        return AppError::InvalidRequest(
            "no photo, or an empty one, in the form field fileToUpload".into(),
        )
        .into_response();
    };
    let job = JobStart {
        slot,
        is_test: false,
        started,
        deadline,
        fields: form.fields,
    };
    run_job(state, job, photo).await
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// Constant-time, and independent of the lengths involved.
fn upload_password_matches(settings: &Settings, given: Option<&str>) -> bool {
    let expected = settings.get(Setting::UploadPassword);
    let given = given.unwrap_or_default();
    !expected.is_empty() && bool::from(digest(expected).ct_eq(&digest(given)))
}

/// Reads a multipart form as a stream, refusing it once it passes `max_bytes`. Text fields are
/// kept (bounded) except the `secret_fields`, which are returned apart and never stored.
pub async fn read_form(
    request: Request,
    max_bytes: usize,
    secret_fields: &[&str],
) -> Result<UploadForm, AppError> {
    let too_large = || AppError::PayloadTooLarge {
        limit_mb: max_bytes / (1024 * 1024),
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|len| len > max_bytes) {
        // Answered before the body is read: with `Expect: 100-continue` it is never sent.
        return Err(too_large());
    }
    let mut multipart = Multipart::from_request(request, &()).await.map_err(|e| {
        AppError::InvalidRequest(format!(
            "expected a multipart/form-data upload: {}",
            e.body_text()
        ))
    })?;
    let broken = |e: axum::extract::multipart::MultipartError| {
        AppError::InvalidRequest(format!("broken multipart body: {}", e.body_text()))
    };
    let mut form = UploadForm::default();
    let mut total = 0usize;
    let mut count = 0usize;
    while let Some(mut field) = multipart.next_field().await.map_err(broken)? {
        count += 1;
        if count > MAX_FIELDS {
            return Err(AppError::InvalidRequest(format!(
                "more than {MAX_FIELDS} form fields"
            )));
        }
        let name = field.name().unwrap_or_default().to_owned();
        let is_file = field.file_name().is_some() || PHOTO_FIELDS.contains(&name.as_str());
        // The first photo field is kept; any other file is read past, not stored.
        let keep_photo = is_file && form.photo.is_none() && PHOTO_FIELDS.contains(&name.as_str());
        // Sized once from the declared length: no doubling of a 40 MB buffer while it grows.
        let mut bytes = if keep_photo {
            Vec::with_capacity(declared.unwrap_or(0).min(max_bytes))
        } else {
            Vec::new()
        };
        while let Some(chunk) = field.chunk().await.map_err(broken)? {
            total += chunk.len();
            if total > max_bytes {
                return Err(too_large());
            }
            if is_file && !keep_photo {
                continue;
            }
            if !is_file && bytes.len() + chunk.len() > MAX_TEXT_FIELD {
                return Err(AppError::InvalidRequest(format!(
                    "form field '{name}' is too long"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        if keep_photo {
            form.photo = Some(bytes);
        } else if is_file {
            continue;
        } else if secret_fields.contains(&name.as_str()) {
            form.secret = Some(String::from_utf8_lossy(&bytes).into_owned());
        } else if name.len() <= 256 {
            form.fields
                .insert(name, String::from_utf8_lossy(&bytes).into_owned().into());
        }
    }
    Ok(form)
}

/// A job about to be recorded.
pub struct JobStart {
    pub slot: SlotId,
    pub is_test: bool,
    pub started: Instant,
    pub deadline: Instant,
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// A recorded job: its original is on disk and its row says `processing`.
struct Job {
    id: String,
    slot: SlotId,
    /// What the upload's bytes are, if an image at all.
    format: Option<ImageFormat>,
    day: String,
    original_path: String,
    started: Instant,
    deadline: Instant,
}

/// What a finished job answers.
struct Success {
    bytes: Vec<u8>,
    format: ImageFormat,
    model_ms: i64,
    prompt_used: Option<String>,
}

/// Records the upload, then runs it through the slot's model, answering by the deadline.
/// The booth's upload and the admin's "try it" both come through here.
pub async fn run_job(state: AppState, start: JobStart, photo: Vec<u8>) -> Response {
    let slot = match state.store.slot(start.slot).await {
        Ok(slot) => slot,
        Err(e) => return AppError::from(e).into_response(),
    };
    let job = match record(&state, &start, &slot, &photo).await {
        Ok(job) => job,
        Err(e) => return e.into_response(),
    };
    // The photo is safe on disk: a job waiting for the CPU pool holds no copy in memory.
    drop(photo);
    let span = tracing::info_span!("job", job = %job.id, provider = %slot.id.provider, slot = slot.id.number);
    let job_id = job.id.clone();
    let deadline = job.deadline;
    let (answer, answered) = tokio::sync::oneshot::channel();
    // Its own task: a booth that hangs up does not cancel the job's bookkeeping.
    tokio::spawn(
        async move {
            let _in_flight = state.metrics.job_started();
            let result = match timeout_at(
                job.deadline - FINALISE_MARGIN,
                process(&state, &job, &slot),
            )
            .await
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

/// Writes the original and the job row, before any check that could refuse the photo.
async fn record(
    state: &AppState,
    start: &JobStart,
    slot: &Slot,
    photo: &[u8],
) -> Result<Job, AppError> {
    let id = uuid::Uuid::now_v7().to_string();
    let created_at = now_ms();
    let day = day_of(created_at);
    let format = ImageFormat::sniff(photo);
    let ext = format.map_or("bin", ImageFormat::extension);
    let original_path = state.media.save_original(&id, &day, ext, photo).await?;
    let booth_name = start
        .fields
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
            fields: start.fields.clone(),
            prompt: slot.prompt.clone(),
        })
        .await?;
    Ok(Job {
        id,
        slot: slot.id,
        format,
        day,
        original_path,
        started: start.started,
        deadline: start.deadline,
    })
}

fn unavailable(reason: SlotUnavailable) -> AppError {
    match reason {
        SlotUnavailable::Disabled => AppError::SlotDisabled,
        SlotUnavailable::MissingReference => {
            AppError::SlotNotConfigured("this slot's type needs a reference image".into())
        }
        SlotUnavailable::MissingPrompt => {
            AppError::SlotNotConfigured("this slot's type needs a prompt".into())
        }
    }
}

fn upload_error(e: ImagingError) -> AppError {
    match e {
        ImagingError::UnknownFormat => AppError::UnsupportedMediaType,
        other => AppError::UnreadableImage(other.to_string()),
    }
}

async fn process(state: &AppState, job: &Job, slot: &Slot) -> Result<Success, AppError> {
    let settings = state.settings();
    slot.check_ready().map_err(unavailable)?;
    let model = providers::model_for(
        slot.id.provider,
        &settings,
        state.demo,
        &state.cpu,
        &state.http,
    )
    .map_err(AppError::ProviderNotConfigured)?;
    let format = job.format.ok_or(AppError::UnsupportedMediaType)?;
    let original = state.media.absolute(&job.original_path).ok_or_else(|| {
        AppError::Internal(crate::error::InternalError::Other(
            "bad original path".into(),
        ))
    })?;
    let max_side = settings.integer(Setting::ProviderMaxSide) as u32;
    let prepared = state
        .cpu
        .run(move || {
            let photo = std::fs::read(&original).map_err(|e| {
                ImagingError::Unreadable(format!("the stored original cannot be read: {e}"))
            })?;
            imaging::prepare_input(&photo, max_side)
        })
        .await
        .map_err(upload_error)?;
    let upload_size = (prepared.width, prepared.height);
    state
        .media
        .save_thumb(&job.id, Thumb::Before, &prepared.thumbnail)
        .await?;

    let mut photo = ImageData {
        bytes: Arc::new(prepared.model_input),
        format: prepared.model_format,
        url: None,
    };
    let mut reference = reference_image(state, slot).await?;
    if model.needs_public_links() {
        publish(state, &settings, job, &mut photo, reference.as_mut()).await?;
    }
    let request = ModelRequest {
        kind: slot.kind,
        prompt: slot.prompt.clone(),
        options: slot.options.clone(),
        photo,
        reference,
        upload_size,
        deadline: job.deadline - FINALISE_MARGIN,
    };
    let model_started = Instant::now();
    let output = model.generate(request).await.map_err(|e| {
        match e {
            ProviderError::OutOfTime => return AppError::Timeout,
            ProviderError::BadConfig(ref message) => {
                state.record_provider_error(slot.id.provider, message.clone())
            }
            _ => {}
        }
        AppError::Provider(e.to_string())
    })?;
    let model_ms = model_started.elapsed().as_millis() as i64;
    let (image, prompt_used) = (output.image, output.prompt_used);
    tracing::info!(model_ms, "model answered");

    let out_format = format.result_format();
    let max_result_side = settings.integer(Setting::MaxResultSide) as u32;
    let finished = state
        .cpu
        .run(move || imaging::finish_result(&image, upload_size, max_result_side, out_format))
        .await
        .map_err(|e| AppError::Provider(format!("the model's image cannot be used: {e}")))?;
    state
        .media
        .save_result(&job.id, &job.day, out_format, &finished.bytes)
        .await?;
    state
        .media
        .save_thumb(&job.id, Thumb::After, &finished.thumbnail)
        .await?;
    Ok(Success {
        bytes: finished.bytes,
        format: out_format,
        model_ms,
        prompt_used,
    })
}

async fn reference_image(state: &AppState, slot: &Slot) -> Result<Option<ImageData>, AppError> {
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

/// Copies the job's inputs (the reference as it is now) where signed public links serve them.
async fn publish(
    state: &AppState,
    settings: &Settings,
    job: &Job,
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
        let name = format!("{}-{role}.{}", job.id, image.format.extension());
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
    let latency_ms = job.started.elapsed().as_millis() as i64;
    let outcome = match &result {
        Ok(success) => Outcome {
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
        },
        Err(e) => {
            let keep = state.settings().switch(Setting::KeepFailedInTrash);
            let original_path = match state.media.discard_original(&job.original_path, keep).await {
                Ok(path) => path,
                Err(io) => {
                    tracing::error!(error = %io, "could not move the original to the trash");
                    job.original_path.clone()
                }
            };
            Outcome {
                status: if matches!(e, AppError::Timeout) {
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
    };
    if let Err(e) = state.store.finish_job(&job.id, &outcome).await {
        tracing::error!(error = %e, "could not record the job's end");
    }
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
    match result {
        Ok(success) => {
            tracing::info!(latency_ms, "job succeeded");
            let mut response = Response::new(Body::from(success.bytes));
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(success.format.mime()),
            );
            headers.insert(
                "x-boothgate-job",
                HeaderValue::from_str(&job.id).expect("uuid is a valid header"),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => {
            tracing::warn!(latency_ms, reason = e.reason(), message = %e, "job failed");
            e.into_response_for_job(Some(&job.id))
        }
    }
}
