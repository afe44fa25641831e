//! The booth's endpoint and the job pipeline behind it, with its deadline.
//!
//! Order of work: read the form (bounded; the photo streams to a temporary file) → check the
//! upload password → keep the original and write the job row → check the slot and the photo → prepare the model's input → call the
//! model → fit its answer to the upload → store and answer. From the moment the original is
//! stored, nothing is lost: a failed job's original goes to the trash.

mod chain;
mod form;
mod pipeline;

pub use form::{UploadForm, read_form};
pub use pipeline::{JobStart, run_job};

use crate::AppState;
use crate::config::{Setting, Settings};
use crate::error::AppError;
use crate::extract::SlotPath;
use crate::placeholders::BoothValues;
use crate::throttle;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::time::{Instant, timeout_at};

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/upload/{provider}/{slot}",
        // The size cap is a setting, enforced while reading the body.
        post(upload).layer(DefaultBodyLimit::disable()),
    )
}

async fn upload(
    State(state): State<AppState>,
    SlotPath(slot): SlotPath,
    request: Request,
) -> Response {
    // The deadline runs from the moment the request's headers are in.
    let started = Instant::now();
    // DSLR Remote Pro puts survey answers into the URL as tokens; a malformed query is ignored.
    let query = Query::<Vec<(String, String)>>::try_from_uri(request.uri())
        .map(|Query(pairs)| pairs)
        .unwrap_or_default();
    let ip = throttle::peer_ip(&request);
    if let Err(wait) = state.upload_throttle.check(ip) {
        return throttle::too_many(wait).into_response();
    }
    let settings = state.settings();
    let deadline = started + settings.deadline();
    // Checked as soon as its field arrives: a wrong guess's photo is never read.
    let check_password = |given: &str| {
        let attempt = state
            .upload_throttle
            .reserve(ip)
            .map_err(throttle::too_many)?;
        if upload_password_matches(&settings, given) {
            attempt.succeeded();
            Ok(())
        } else {
            tracing::warn!(%ip, "wrong upload password");
            attempt.failed();
            Err(AppError::InvalidPassword)
        }
    };
    let read = read_form(
        request,
        &state.media,
        settings.max_upload_bytes(),
        "password",
        check_password,
    );
    let form = match timeout_at(deadline, read).await {
        Err(_) => return AppError::Timeout.into_response(),
        Ok(Err(e)) => return e.into_response(),
        Ok(Ok(form)) => form,
    };
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
        values: BoothValues::new(query, form.fields),
    };
    run_job(state, job, photo).await
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// Constant-time, and independent of the lengths involved.
fn upload_password_matches(settings: &Settings, given: &str) -> bool {
    let expected = settings.get(Setting::UploadPassword);
    !expected.is_empty() && bool::from(digest(expected).ct_eq(&digest(given)))
}
