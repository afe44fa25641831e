//! The one job value, made when the upload is recorded and borrowed by everything after: the
//! pipeline, the chain of slots and the bookkeeping of its end.

use crate::domain::{Attempt, AttemptOutcome, ImageFormat, SlotId};
use crate::error::AppError;
use crate::placeholders::BoothValues;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Time kept back from the deadline to record a job's end before the answer must leave.
pub const FINALISE_MARGIN: Duration = Duration::from_millis(150);

/// A job about to be recorded: what the booth's upload (or the admin's "try it") asks for.
pub struct JobStart {
    pub slot: SlotId,
    /// The admin's "try it": kept out of events and the Live page.
    pub is_test: bool,
    pub started: Instant,
    /// When the booth's answer must leave.
    pub deadline: Instant,
    /// What the booth sent that prompts may name, and the form fields kept with the job.
    pub values: BoothValues,
    /// Where the booth's request came from; `None` for the admin's test.
    pub address: Option<std::net::IpAddr>,
    /// The slot on its own, none of its fallbacks (a pre-flight's run).
    pub alone: bool,
}

/// A recorded job: its original is on disk and its row says `processing`.
pub struct Job {
    pub id: String,
    pub start: JobStart,
    /// What the upload's bytes are, if an image at all.
    pub format: Option<ImageFormat>,
    /// The day folder its files go in.
    pub day: String,
    pub original_path: String,
    /// The booth slot's prompt, its placeholders filled.
    pub prompt: String,
    /// Every slot it tried, kept even when the deadline cuts the chain short.
    pub attempts: Attempts,
    /// Its chain met a provider under a fire drill.
    pub drill: std::sync::atomic::AtomicBool,
}

impl Job {
    /// When the models must have answered, so that the end is recorded before the deadline.
    pub fn model_deadline(&self) -> Instant {
        self.start.deadline - FINALISE_MARGIN
    }

    pub fn met_drill(&self) -> bool {
        self.drill.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Milliseconds since the job started.
    pub fn elapsed_ms(&self) -> i64 {
        since(self.start.started)
    }
}

/// Milliseconds since `started`.
pub fn since(started: Instant) -> i64 {
    started.elapsed().as_millis() as i64
}

/// The attempts of a job, shared with its bookkeeping so that a deadline that cuts the chain
/// short still records them.
#[derive(Clone, Default)]
pub struct Attempts(Arc<Mutex<Vec<Attempt>>>);

impl Attempts {
    /// A slot's attempt begins at `at`; its index, to end it by.
    pub fn begin(&self, slot: SlotId, at: i64) -> usize {
        let mut all = self.0.lock().expect("attempts lock");
        all.push(Attempt {
            slot,
            started_ms: at,
            ended_ms: None,
            outcome: AttemptOutcome::Running,
            reason: None,
            message: None,
            check: None,
        });
        all.len() - 1
    }

    pub fn started_ms(&self, index: usize) -> i64 {
        self.0.lock().expect("attempts lock")[index].started_ms
    }

    pub fn end(&self, index: usize, at: i64, outcome: AttemptOutcome, error: Option<&AppError>) {
        let mut all = self.0.lock().expect("attempts lock");
        if let Some(attempt) = all.get_mut(index) {
            attempt.ended_ms = Some(at);
            attempt.outcome = outcome;
            attempt.reason = error.map(|e| e.reason().to_owned());
            attempt.message = error.map(AppError::public_message);
        }
    }

    /// What the result checks made of an attempt's image.
    pub fn set_check(&self, index: usize, check: Option<crate::checks::Check>) {
        if let Some(attempt) = self.0.lock().expect("attempts lock").get_mut(index) {
            attempt.check = check;
        }
    }

    /// The attempts, those still running closed as `outcome` at `at`.
    pub fn closed(&self, at: i64, outcome: AttemptOutcome) -> Vec<Attempt> {
        let mut all = self.0.lock().expect("attempts lock").clone();
        for attempt in all
            .iter_mut()
            .filter(|a| a.outcome == AttemptOutcome::Running)
        {
            attempt.outcome = outcome;
            attempt.ended_ms = Some(at);
        }
        all
    }
}
