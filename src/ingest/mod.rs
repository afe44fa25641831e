//! The booth's endpoint and the job pipeline behind it, with its deadline.
//!
//! Order of work: read the form (bounded; the photo streams to a temporary file) → check the
//! upload password → keep the original and write the job row → check the slot and the photo → prepare the model's input → call the
//! model → fit its answer to the upload → store and answer. From the moment the original is
//! stored, nothing is lost: a failed job's original goes to the trash.

mod chain;
mod form;
mod inputs;
mod inspect;
mod job;
mod pipeline;
mod unverified;

pub use chain::unavailable;
pub use form::{UploadForm, read_form};
pub use job::JobStart;
pub use pipeline::run_job;
use unverified::Limits as UnverifiedLimits;
pub use unverified::UnverifiedBudget;

use crate::AppState;
use crate::alerts::Event;
use crate::config::Settings;
use crate::domain::SlotId;
use crate::error::AppError;
use crate::extract::SlotPath;
use crate::placeholders::BoothValues;
use crate::throttle::{self, Throttle};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::sync::Arc;
use subtle::ConstantTimeEq;
use tokio::time::{Instant, timeout_at};

pub fn routes() -> Router<AppState> {
    // The size cap is a setting, enforced while reading the body.
    Router::new()
        .route(
            "/upload/{provider}/{slot}",
            post(upload_plain).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/upload/{provider}/{slot}/{token}",
            post(upload_by_link).layer(DefaultBodyLimit::disable()),
        )
}

/// How the booth found the slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Link {
    /// `/upload/{provider}/{slot}`: anyone who knows the server can guess it.
    Plain,
    /// The slot's own link, whose random token proves the sender was given it.
    Token,
}

/// The plain path answers only while "Simple links" is on; otherwise it is no slot at all.
async fn upload_plain(
    State(state): State<AppState>,
    SlotPath(slot): SlotPath,
    request: Request,
) -> Response {
    if !state.settings().protection.simple_links {
        return refuse(request, AppError::SlotNotFound).await;
    }
    upload(state, slot, Link::Plain, request).await
}

/// A wrong token is answered like an unknown slot, before a byte of the body is read.
async fn upload_by_link(
    State(state): State<AppState>,
    Path((provider, number, token)): Path<(String, String, String)>,
    request: Request,
) -> Response {
    let Some(slot) = SlotId::parse(&provider, &number) else {
        return refuse(request, AppError::SlotNotFound).await;
    };
    match state.store.link_token(slot).await {
        Ok(expected) if tokens_match(&expected, &token) => {
            upload(state, slot, Link::Token, request).await
        }
        Ok(_) => refuse(request, AppError::SlotNotFound).await,
        Err(e) => refuse(request, e.into()).await,
    }
}

/// How much of an unread body is read past before an early answer, and for how long at most.
const DRAIN_BYTES: usize = 1024 * 1024;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(1);

/// An answer given before the body is read. A client that waits for `100 Continue` has sent
/// none of it, and never will. One that did not wait has sent some: closing on unread bytes
/// resets the connection and loses the answer, so a little of it is read past first.
async fn refuse(request: Request, error: AppError) -> Response {
    if !request.headers().contains_key(header::EXPECT) {
        let mut body = request.into_body().into_data_stream();
        let drained = async {
            let mut read = 0;
            while let Some(Ok(chunk)) = futures_util::StreamExt::next(&mut body).await {
                read += chunk.len();
                if read > DRAIN_BYTES {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(DRAIN_TIME, drained).await;
    }
    error.into_response()
}

fn tokens_match(expected: &str, given: &str) -> bool {
    !expected.is_empty() && bool::from(digest(expected).ct_eq(&digest(given)))
}

async fn upload(state: AppState, slot: SlotId, link: Link, request: Request) -> Response {
    // The deadline runs from the moment the request's headers are in.
    let started = Instant::now();
    // DSLR Remote Pro puts survey answers into the URL as tokens; a malformed query is ignored.
    let query = Query::<Vec<(String, String)>>::try_from_uri(request.uri())
        .map(|Query(pairs)| pairs)
        .unwrap_or_default();
    let settings = state.settings();
    let ip = crate::net::client_ip(&request, &settings.protection.trusted_proxies);
    if let Err(wait) = state.upload_throttle.check(ip) {
        return refuse(request, throttle::too_many(wait)).await;
    }
    let declared = form::declared_length(&request);
    let reserve = settings.protection.disk_reserve_bytes;
    let was_low = state.disk.low().is_some();
    if let Err(e) = state.disk.admit(
        state.media.root(),
        reserve,
        declared.unwrap_or(0) as u64,
        state.clock.now_ms(),
    ) {
        if let Some(low) = state.disk.low().filter(|_| !was_low) {
            state.alerts.raise(Event::DiskLow {
                free_mb: low.free_bytes >> 20,
                reserve_mb: low.reserve_bytes >> 20,
            });
        }
        return refuse(request, e).await;
    }
    let deadline = started + settings.deadline;
    // With a plain link, an upload that ends before its password is a guess that failed.
    let mut hang_up = HangUp {
        throttle: (link == Link::Plain).then(|| Arc::clone(&state.upload_throttle)),
        ip,
    };
    // Checked as soon as its field arrives: a wrong guess's photo is never read.
    let check_password = |given: &str, fields: &serde_json::Map<String, serde_json::Value>| {
        hang_up.throttle = None;
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
            record_wrong_password(&state, ip, fields, slot, link);
            Err(AppError::InvalidPassword)
        }
    };
    let unverified = state.unverified.claim(ip, unverified_limits(&settings));
    let read = read_form(
        request,
        &state.media,
        settings.max_upload_bytes,
        "password",
        check_password,
        Some(unverified),
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
        address: Some(ip),
        alone: false,
    };
    run_job(state, job, photo).await
}

/// Keeps a wrong password's trace for the Booths page, in the background: the booth's answer
/// never waits for it. Only the address, the booth's name and the slot are kept.
fn record_wrong_password(
    state: &AppState,
    ip: IpAddr,
    fields: &serde_json::Map<String, serde_json::Value>,
    slot: SlotId,
    link: Link,
) {
    let name = fields
        .get("name")
        .and_then(|v| v.as_str())
        .map(|n| n.chars().take(MAX_BOOTH_NAME).collect::<String>())
        .filter(|n| !n.trim().is_empty());
    let path = match link {
        Link::Plain => slot.upload_path(),
        Link::Token => format!("{}/…", slot.upload_path()),
    };
    state
        .alerts
        .wrong_password(name.as_deref().unwrap_or(&ip.to_string()));
    let store = state.store.clone();
    tokio::spawn(async move {
        if let Err(e) = store
            .record_wrong_password(&ip.to_string(), name.as_deref(), &path)
            .await
        {
            tracing::warn!(error = %e, "a wrong password could not be recorded");
        }
    });
}

/// The most of a booth's name kept with a wrong password.
const MAX_BOOTH_NAME: usize = 80;

fn unverified_limits(settings: &Settings) -> UnverifiedLimits {
    UnverifiedLimits {
        max_bytes: settings.protection.max_unverified_bytes,
        max_per_address: settings.protection.max_unverified_per_address,
    }
}

/// Counts an upload that ends (however: cut short, timed out, refused) before its password
/// was checked as a failed guess of it.
struct HangUp {
    /// Set until the password is checked.
    throttle: Option<Arc<Throttle>>,
    ip: IpAddr,
}

impl Drop for HangUp {
    fn drop(&mut self) {
        if let Some(throttle) = self.throttle.take() {
            tracing::debug!(ip = %self.ip, "upload ended before its password");
            if let Ok(attempt) = throttle.reserve(self.ip) {
                attempt.failed();
            }
        }
    }
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// Constant-time, and independent of the lengths involved.
fn upload_password_matches(settings: &Settings, given: &str) -> bool {
    let expected = settings.upload_password.as_str();
    !expected.is_empty() && bool::from(digest(expected).ct_eq(&digest(given)))
}
