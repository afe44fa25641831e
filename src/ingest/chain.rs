//! The booth slot and its fallbacks inside one deadline. The next slot starts at once when the
//! current one fails for a provider-side reason, and — hedging — also when the current one has
//! not answered after the booth slot's `fallback_after_secs`; the first image wins and the
//! others are dropped (their HTTP calls cancelled, a Turbotext queue no longer polled). A
//! fallback's own fallbacks are not followed, so no cycle can form.

use crate::AppState;
use crate::config::Settings;
use crate::domain::{Attempt, AttemptOutcome as Outcome, Slot, SlotId, SlotUnavailable};
use crate::error::AppError;
use crate::placeholders::BoothValues;
use crate::providers::health::Admission;
use crate::providers::{self, ImageData, ImageModel, ModelOutput, ModelRequest, ProviderError};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// The attempts of a job, shared with its bookkeeping so that a deadline that cuts the chain
/// short still records them.
#[derive(Clone, Default)]
pub struct Attempts(Arc<Mutex<Vec<Attempt>>>);

impl Attempts {
    fn push(&self, attempt: Attempt) -> usize {
        let mut all = self.0.lock().expect("attempts lock");
        all.push(attempt);
        all.len() - 1
    }

    fn started_ms(&self, index: usize) -> i64 {
        self.0.lock().expect("attempts lock")[index].started_ms
    }

    fn end(&self, index: usize, at: i64, outcome: Outcome, error: Option<&AppError>) {
        let mut all = self.0.lock().expect("attempts lock");
        if let Some(attempt) = all.get_mut(index) {
            attempt.ended_ms = Some(at);
            attempt.outcome = outcome;
            attempt.reason = error.map(|e| e.reason().to_owned());
            attempt.message = error.map(AppError::public_message);
        }
    }

    /// The attempts, those still running closed as `outcome` at `at`.
    pub fn closed(&self, at: i64, outcome: Outcome) -> Vec<Attempt> {
        let mut all = self.0.lock().expect("attempts lock").clone();
        for attempt in all.iter_mut().filter(|a| a.outcome == Outcome::Running) {
            attempt.outcome = outcome;
            attempt.ended_ms = Some(at);
        }
        all
    }
}

/// What the chain needs of the job.
pub struct ChainJob<'a> {
    pub id: &'a str,
    pub started: Instant,
    pub deadline: Instant,
    pub photo: ImageData,
    pub upload_size: (u32, u32),
    pub result_side: u32,
    pub attempts: Attempts,
    /// What fills the prompts' placeholders, the fallbacks' prompts too.
    pub values: &'a BoothValues,
}

/// The slot that drew the image, and what it drew.
pub struct Drawn {
    pub slot: SlotId,
    pub output: ModelOutput,
    pub model_ms: i64,
}

type Running =
    Pin<Box<dyn Future<Output = (usize, SlotId, Result<ModelOutput, ProviderError>)> + Send>>;

/// The slots still to try, and those at work.
struct Chain<'a> {
    state: &'a AppState,
    settings: &'a Settings,
    job: &'a ChainJob<'a>,
    next: Option<Slot>,
    /// The fallbacks after `next`, the last to try first.
    waiting: Vec<SlotId>,
    running: FuturesUnordered<Running>,
    last_error: Option<AppError>,
    hedge_after: Duration,
    /// When the next slot starts as well, if the ones at work have not answered.
    hedge_at: Option<Instant>,
}

/// Runs the booth slot, then its fallbacks as needed, until one draws an image; the last
/// failure is the answer when none does.
pub async fn run(
    state: &AppState,
    settings: &Settings,
    job: &ChainJob<'_>,
    booth: Slot,
) -> Result<Drawn, AppError> {
    let mut waiting = booth.fallbacks.clone();
    waiting.reverse();
    let mut chain = Chain {
        state,
        settings,
        job,
        hedge_after: Duration::from_secs(booth.fallback_after_secs.into()),
        next: Some(booth),
        waiting,
        running: FuturesUnordered::new(),
        last_error: None,
        hedge_at: None,
    };
    chain.start_next().await;
    loop {
        if chain.running.is_empty() {
            return Err(chain.last_error.unwrap_or(AppError::SlotDisabled));
        }
        tokio::select! {
            Some((index, slot, result)) = chain.running.next() => {
                match chain.ended(index, slot, result) {
                    Some(drawn) => return Ok(drawn),
                    // A failure hands over at once, unless another slot is already at work.
                    None if chain.running.is_empty() => chain.start_next().await,
                    None => {}
                }
            }
            () = sleep_until_option(chain.hedge_at) => {
                tracing::info!("no answer yet: the next slot starts as well");
                chain.start_next().await;
            }
        }
    }
}

impl Chain<'_> {
    /// Starts the next slot that can take the photo; those that cannot are recorded and passed.
    async fn start_next(&mut self) {
        self.hedge_at = None;
        loop {
            if self.next.is_none() {
                self.next = load_next(self.state, &mut self.waiting).await;
            }
            let Some(slot) = self.next.take() else {
                return;
            };
            let more = !self.waiting.is_empty();
            match start(self.state, self.settings, self.job, slot, more).await {
                Ok(attempt) => {
                    self.running.push(attempt);
                    if more && !self.hedge_after.is_zero() {
                        self.hedge_at = Some(Instant::now() + self.hedge_after);
                    }
                    return;
                }
                Err(e) => self.last_error = Some(e),
            }
        }
    }

    /// Records an attempt's end; the image, if it drew one.
    fn ended(
        &mut self,
        index: usize,
        slot: SlotId,
        result: Result<ModelOutput, ProviderError>,
    ) -> Option<Drawn> {
        let job = self.job;
        let at = since(job.started);
        match result {
            Ok(output) => {
                job.attempts.end(index, at, Outcome::Succeeded, None);
                self.state.health.record(slot.provider, Ok(()));
                let model_ms = at - job.attempts.started_ms(index);
                // The others are dropped with the chain: abandoned.
                Some(Drawn {
                    slot,
                    output,
                    model_ms,
                })
            }
            Err(e) => {
                if counts_against(&e) {
                    self.state.health.record(slot.provider, Err(&e.to_string()));
                }
                if let Some(message) = e.for_operator() {
                    self.state.record_provider_error(slot.provider, message);
                }
                let error = AppError::from(e);
                let outcome = if matches!(error, AppError::Timeout) {
                    Outcome::TimedOut
                } else {
                    Outcome::Failed
                };
                job.attempts.end(index, at, outcome, Some(&error));
                tracing::warn!(%slot, reason = error.reason(), %error, "slot failed");
                self.last_error = Some(error);
                None
            }
        }
    }
}

async fn sleep_until_option(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Milliseconds since the job started.
pub(super) fn since(started: Instant) -> i64 {
    started.elapsed().as_millis() as i64
}

/// A failure that says something about the provider, not about this photo.
fn counts_against(e: &ProviderError) -> bool {
    !matches!(e, ProviderError::Refused(_))
}

/// The next fallback that exists; a deleted one is simply passed over.
async fn load_next(state: &AppState, waiting: &mut Vec<SlotId>) -> Option<Slot> {
    while let Some(id) = waiting.pop() {
        match state.store.slot(id).await {
            Ok(slot) => return Some(slot),
            Err(e) => tracing::warn!(slot = %id, error = %e, "fallback slot unavailable"),
        }
    }
    None
}

pub(super) fn unavailable(reason: SlotUnavailable) -> AppError {
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

/// Starts one slot's model, or records why it could not start.
async fn start(
    state: &AppState,
    settings: &Settings,
    job: &ChainJob<'_>,
    slot: Slot,
    more: bool,
) -> Result<Running, AppError> {
    let at = since(job.started);
    let index = job.attempts.push(Attempt {
        slot: slot.id,
        started_ms: at,
        ended_ms: None,
        outcome: Outcome::Running,
        reason: None,
        message: None,
    });
    let refuse = |outcome: Outcome, error: AppError| {
        job.attempts
            .end(index, since(job.started), outcome, Some(&error));
        Err(error)
    };
    if let Err(reason) = slot.check_ready() {
        return refuse(Outcome::Skipped, unavailable(reason));
    }
    // A provider that is down is passed over while another slot can take the photo; the last
    // slot of the chain is tried all the same.
    if more && state.health.admit(slot.id.provider) == Admission::Skip {
        let down = format!(
            "{} is down; its slots hand over",
            slot.id.provider.display_name()
        );
        return refuse(
            Outcome::Skipped,
            AppError::Provider(ProviderError::Transient(down)),
        );
    }
    let model = match providers::model_for(
        slot.id.provider,
        settings,
        state.demo,
        &state.cpu,
        &state.http,
    ) {
        Ok(model) => model,
        Err(e) => return refuse(Outcome::Failed, AppError::ProviderNotConfigured(e)),
    };
    let request = match request_for(state, settings, job, &slot, model.as_ref(), more).await {
        Ok(request) => request,
        Err(e) => return refuse(Outcome::Failed, e),
    };
    let id = slot.id;
    Ok(Box::pin(async move {
        let result = model.generate(request).await;
        (index, id, result)
    }))
}

/// Everything a slot's model gets: the prepared photo, the slot's own kind, prompt, options
/// and reference, published by link for a model that fetches its inputs.
async fn request_for(
    state: &AppState,
    settings: &Settings,
    job: &ChainJob<'_>,
    slot: &Slot,
    model: &dyn ImageModel,
    more: bool,
) -> Result<ModelRequest, AppError> {
    let mut photo = job.photo.clone();
    let mut reference = super::pipeline::reference_image(state, slot).await?;
    if model.needs_public_links() {
        super::pipeline::publish(
            state,
            settings,
            job.id,
            slot.id,
            &mut photo,
            reference.as_mut(),
        )
        .await?;
    }
    Ok(ModelRequest {
        kind: slot.kind,
        prompt: job.values.fill(&slot.prompt),
        options: slot.options.clone(),
        photo,
        reference,
        upload_size: job.upload_size,
        result_side: job.result_side,
        deadline: job.deadline,
        // A slot with somewhere to hand over to does not spend the deadline on retries.
        may_retry: !more,
    })
}
