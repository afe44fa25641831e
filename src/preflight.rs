//! Pre-flight: before the guests arrive, one photo goes through each chosen slot and each of its
//! fallbacks on its own, for real, as admin tests (counted apart, priced as tests), at most four
//! at once, each within the booth's deadline. The board of outcomes is kept in memory (the last
//! few runs); a slot whose last pre-flight failed says so on its card until it passes or is
//! edited.

use crate::AppState;
use crate::checks::Verdict;
use crate::domain::{JobStatus, Slot, SlotId};
use crate::error::{AppError, InternalError};
use crate::ingest::{self, JobStart};
use crate::placeholders::BoothValues;
use crate::providers::registry;
use crate::store::JobRecord;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Runs at once within one pre-flight.
const AT_ONCE: usize = 4;
/// Boards kept.
const KEPT: usize = 20;

/// The built-in photo when none is given: Eileen Collins, NASA astronaut (public domain; the
/// scikit-image `astronaut` sample).
pub const SAMPLE_PHOTO: &[u8] = include_bytes!("../static/sample-astronaut.jpg");

/// One run of the board: a slot, on its own, perhaps as another's fallback.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub slot: String,
    pub as_fallback_of: Option<String>,
    /// `pending` until it ends; then `succeeded`, `failed`, `timed_out` or `skipped`.
    pub outcome: &'static str,
    pub seconds: Option<f64>,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub cost: f64,
    /// The result's thumbnail, under the admin.
    pub thumbnail: Option<String>,
    pub job: Option<String>,
    #[serde(skip)]
    pub id: SlotId,
}

/// A pre-flight's board.
#[derive(Clone, Debug, Serialize)]
pub struct Board {
    pub id: String,
    /// `running` or `done`.
    pub status: &'static str,
    pub estimated_cost: f64,
    pub currency: String,
    pub results: Vec<Row>,
}

#[derive(Default)]
pub struct Preflights {
    boards: Mutex<VecDeque<Board>>,
    /// Slots whose last pre-flight failed, and why.
    failed: Mutex<HashMap<SlotId, String>>,
}

impl Preflights {
    pub fn board(&self, id: &str) -> Option<Board> {
        let boards = self.boards.lock().expect("preflight lock");
        boards.iter().find(|b| b.id == id).cloned()
    }

    /// Why the slot's last pre-flight failed, until it passes or the slot is edited.
    pub fn failure(&self, slot: SlotId) -> Option<String> {
        self.failed
            .lock()
            .expect("preflight lock")
            .get(&slot)
            .cloned()
    }

    /// The slot was edited: its last pre-flight says nothing of it any more.
    pub fn forget(&self, slot: SlotId) {
        self.failed.lock().expect("preflight lock").remove(&slot);
    }

    fn keep(&self, board: Board) {
        let mut boards = self.boards.lock().expect("preflight lock");
        boards.push_front(board);
        boards.truncate(KEPT);
    }

    fn update(&self, id: &str, index: usize, row: Row) {
        {
            let mut failed = self.failed.lock().expect("preflight lock");
            match row.outcome {
                "succeeded" => failed.remove(&row.id),
                "skipped" => None,
                _ => failed.insert(row.id, row.message.clone().unwrap_or_default()),
            };
        }
        let mut boards = self.boards.lock().expect("preflight lock");
        if let Some(board) = boards.iter_mut().find(|b| b.id == id) {
            board.results[index] = row;
            if board.results.iter().all(|r| r.outcome != "pending") {
                board.status = "done";
            }
        }
    }
}

/// The slots to run: those asked for, or every enabled slot that is ready; each followed by its
/// fallbacks.
pub async fn plan(state: &AppState, asked: Option<&[SlotId]>) -> Result<Vec<Row>, AppError> {
    let slots = state.store.all_slots().await?;
    let chosen: Vec<&Slot> = match asked {
        Some(ids) => ids
            .iter()
            .map(|id| {
                slots
                    .iter()
                    .find(|s| s.id == *id)
                    .ok_or(AppError::SlotNotFound)
            })
            .collect::<Result<_, _>>()?,
        None => slots
            .iter()
            .filter(|s| s.enabled && s.check_ready().is_ok())
            .collect(),
    };
    let settings = state.settings();
    let row = |id: SlotId, of: Option<SlotId>| Row {
        slot: id.to_string(),
        as_fallback_of: of.map(|s| s.to_string()),
        outcome: "pending",
        seconds: None,
        reason: None,
        message: None,
        cost: price(&settings, id),
        thumbnail: None,
        job: None,
        id,
    };
    let mut rows = Vec::new();
    for slot in chosen {
        rows.push(row(slot.id, None));
        rows.extend(slot.fallbacks.iter().map(|f| row(*f, Some(slot.id))));
    }
    Ok(rows)
}

/// What one image of the slot's provider costs, its prompt writer's call included.
fn price(settings: &crate::config::Settings, id: SlotId) -> f64 {
    let spec = registry::spec(id.provider);
    (spec.price)(settings) + (spec.writer_price)(settings).unwrap_or(0.0)
}

/// What a plan will cost at most (every run drawing an image), at the prices on Settings.
pub fn estimate(rows: &[Row]) -> f64 {
    let total: f64 = rows.iter().map(|r| r.cost).sum();
    (total * 10_000.0).round() / 10_000.0
}

/// Starts the runs of `rows` with `photo` in the background; the board's id.
pub fn start(state: &AppState, rows: Vec<Row>, photo: Vec<u8>) -> String {
    let id = uuid::Uuid::now_v7().simple().to_string();
    let board = Board {
        id: id.clone(),
        status: if rows.is_empty() { "done" } else { "running" },
        estimated_cost: estimate(&rows),
        currency: state.settings().costs.currency.clone(),
        results: rows.clone(),
    };
    state.preflights.keep(board);
    let photo = Arc::new(photo);
    let places = Arc::new(Semaphore::new(AT_ONCE));
    for (index, row) in rows.into_iter().enumerate() {
        let (state, photo, places, id) = (state.clone(), photo.clone(), places.clone(), id.clone());
        tokio::spawn(async move {
            let Ok(_place) = places.acquire().await else {
                return;
            };
            let done = run_one(&state, row, &photo).await;
            state.preflights.update(&id, index, done);
        });
    }
    id
}

/// One slot, on its own, as an admin test.
async fn run_one(state: &AppState, mut row: Row, photo: &[u8]) -> Row {
    let skipped = match state.store.slot(row.id).await {
        Ok(slot) => slot.check_ready().err().map(crate::ingest::unavailable),
        Err(e) => Some(AppError::from(e)),
    };
    if let Some(e) = skipped {
        row.outcome = "skipped";
        row.reason = Some(e.reason().to_owned());
        row.message = Some(e.public_message());
        row.cost = 0.0;
        return row;
    }
    match run_job(state, row.id, photo).await {
        Ok(job) => {
            // An image that failed the result checks was drawn (and billed) but would not
            // have been printed as it is: the slot needs a look before the event.
            let people_missing = job.check_verdict.as_deref() == Some(Verdict::People.as_str());
            let rejected = job.reason.as_deref() == Some("rejected_result");
            row.outcome = match job.status {
                JobStatus::Succeeded if people_missing => "rejected",
                JobStatus::Succeeded => "succeeded",
                JobStatus::TimedOut => "timed_out",
                _ if rejected => "rejected",
                _ => "failed",
            };
            row.seconds = job.latency_ms.map(|ms| ms as f64 / 1000.0);
            row.reason = job.reason.clone();
            row.message = job.message.clone();
            if people_missing {
                row.reason = Some("rejected_result".into());
                row.message = Some("the image answered has people missing".into());
            }
            if job.status == JobStatus::Succeeded {
                row.thumbnail = Some(format!("/admin/jobs/{}/after", job.id));
            } else if !rejected {
                row.cost = 0.0;
            }
            row.job = Some(job.id);
        }
        Err(e) => {
            row.outcome = "failed";
            row.reason = Some(e.reason().to_owned());
            row.message = Some(e.public_message());
            row.cost = 0.0;
        }
    }
    row
}

/// The job an answer names: in its header when it is a photo, in its JSON when it is an error.
async fn job_of(answer: axum::response::Response) -> Option<String> {
    if let Some(job) = answer.headers().get("x-boothgate-job") {
        return job.to_str().ok().map(str::to_owned);
    }
    let body = axum::body::to_bytes(answer.into_body(), 64 * 1024)
        .await
        .ok()?;
    let json: serde_json::Value = serde_json::from_slice(&body).ok()?;
    json["job"].as_str().map(str::to_owned)
}

/// Runs the photo through the slot alone, within the booth's deadline, and reads back its job.
async fn run_job(state: &AppState, id: SlotId, photo: &[u8]) -> Result<JobRecord, AppError> {
    let mut incoming = state.media.receive(true).await?;
    incoming.write(photo).await?;
    incoming.close().await?;
    let started = Instant::now();
    let fields = serde_json::Map::from_iter([("name".to_owned(), "preflight".into())]);
    let start = JobStart {
        slot: id,
        is_test: true,
        started,
        deadline: started + state.settings().deadline,
        values: BoothValues::new(Vec::new(), fields),
        address: None,
        alone: true,
    };
    let answer = ingest::run_job(state.clone(), start, incoming).await;
    let job = job_of(answer)
        .await
        .ok_or_else(|| AppError::Internal(InternalError::Other("a run recorded no job".into())))?;
    // An answer sent at the deadline may come just before its job's end is recorded.
    for _ in 0..100 {
        if let Some(record) = state.store.job(&job).await?
            && record.status != JobStatus::Processing
        {
            return Ok(record);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    Err(AppError::Timeout)
}
